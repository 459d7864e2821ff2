"""Jobs in the shapes of the SageMaker API: DescribeProcessingJob, ListProcessingJobs, the
container's processingjobconfig.json, and ARNs."""

from __future__ import annotations

import copy
import json
import os
import re
from datetime import datetime
from typing import Any

_ACCOUNT = re.compile(r"arn:aws[a-z\-]*:iam::(\d{12}):")

INPUT_DEFAULTS = {"S3InputMode": "File", "S3DataDistributionType": "FullyReplicated", "S3CompressionType": "None"}

def arn_for(request: dict[str, Any]) -> str:
    match = _ACCOUNT.match(str(request.get("RoleArn", "")))
    account = match.group(1) if match else "000000000000"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return f"arn:aws:sagemaker:{region}:{account}:processing-job/{request['ProcessingJobName'].lower()}"

def with_defaults(request: dict[str, Any]) -> dict[str, Any]:
    """The request as SageMaker echoes it back: optional input fields filled with their defaults."""
    filled = copy.deepcopy(request)
    for item in filled.get("ProcessingInputs") or []:
        item.setdefault("AppManaged", False)
        if "S3Input" in item:
            for key, value in INPUT_DEFAULTS.items():
                item["S3Input"].setdefault(key, value)
    for item in (filled.get("ProcessingOutputConfig") or {}).get("Outputs") or []:
        item.setdefault("AppManaged", False)
        if "S3Output" in item:
            item["S3Output"].setdefault("S3UploadMode", "EndOfJob")
    return filled

def config_document(request: dict[str, Any]) -> dict[str, Any]:
    """``/opt/ml/config/processingjobconfig.json``: the job's own description, as the container sees it."""
    doc = with_defaults(request)
    doc.pop("Tags", None)
    doc["ProcessingJobArn"] = arn_for(request)
    return doc

def describe(job: dict[str, Any]) -> dict[str, Any]:
    """A local job as DescribeProcessingJob returns it (same field names; times in ISO 8601)."""
    request = with_defaults(json.loads(job["request"]))
    out: dict[str, Any] = {}
    for key in ("ProcessingInputs", "ProcessingOutputConfig"):
        if key in request:
            out[key] = request[key]
    out["ProcessingJobName"] = job["name"]
    for key in ("ProcessingResources", "StoppingCondition", "AppSpecification", "Environment", "NetworkConfig", "RoleArn", "ExperimentConfig"):
        if key in request:
            out[key] = request[key]
    out["ProcessingJobArn"] = job["arn"]
    out["ProcessingJobStatus"] = job["status"]
    if job.get("exit_message"):
        out["ExitMessage"] = job["exit_message"]
    if job.get("failure_reason"):
        out["FailureReason"] = job["failure_reason"]
    if job.get("end_time"):
        out["ProcessingEndTime"] = job["end_time"]
    if job.get("start_time"):
        out["ProcessingStartTime"] = job["start_time"]
    out["LastModifiedTime"] = job["last_modified_time"]
    out["CreationTime"] = job["creation_time"]
    return out

def summary(job: dict[str, Any]) -> dict[str, Any]:
    """A ListProcessingJobs ProcessingJobSummary."""
    out = {
        "ProcessingJobName": job["name"],
        "ProcessingJobArn": job["arn"],
        "CreationTime": job["creation_time"],
        "ProcessingJobStatus": job["status"],
    }
    if job.get("end_time"):
        out["ProcessingEndTime"] = job["end_time"]
    if job.get("last_modified_time"):
        out["LastModifiedTime"] = job["last_modified_time"]
    if job.get("failure_reason"):
        out["FailureReason"] = job["failure_reason"]
    if job.get("exit_message"):
        out["ExitMessage"] = job["exit_message"]
    return out

def duration_seconds(described: dict[str, Any]) -> float | None:
    start, end = described.get("ProcessingStartTime"), described.get("ProcessingEndTime")
    if not start or not end:
        return None
    return (_parse(end) - _parse(start)).total_seconds()

def _parse(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
