"""A finished job as Markdown, for ``$GITHUB_STEP_SUMMARY``: status, duration, rows, cost, links."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from prepline.processing.describe import duration_seconds

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def _region(described: dict[str, Any]) -> str:
    arn = str(described.get("ProcessingJobArn", ""))
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else "us-east-1"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", "<br>").replace("`", "'")


def read_output_manifest(described: dict[str, Any]) -> dict[str, Any] | None:
    """The prepline manifest at the job's output URI, if there is one."""
    outputs = described.get("ProcessingOutputConfig", {}).get("Outputs", [])
    if not outputs or "S3Output" not in outputs[0]:
        return None
    uri = outputs[0]["S3Output"]["S3Uri"].rstrip("/") + "/_manifest.json"
    try:
        from prepline.processing.staging import read_text

        return json.loads(read_text(uri))
    except Exception:  # no manifest: not a recipe job, or it did not complete
        return None


def markdown(described: dict[str, Any], manifest: dict[str, Any] | None, backend: str = "sagemaker") -> str:
    from prepline.processing.cost import cost_summary

    name = described["ProcessingJobName"]
    status = described["ProcessingJobStatus"]
    region = _region(described)
    lines = [f"## Processing job `{name}`: {status}", "", "| | |", "|---|---|"]
    cluster = described.get("ProcessingResources", {}).get("ClusterConfig", {})
    lines.append(f"| status | **{_cell(status)}** |")
    if cluster:
        lines.append(f"| instances | {cluster.get('InstanceCount')} x {_cell(cluster.get('InstanceType'))} |")
    seconds = duration_seconds(described)
    if seconds is not None:
        lines.append(f"| duration | {seconds:.0f} s |")
    cost = cost_summary(described)
    if cost:
        lines.append(f"| cost | {_cell(cost)} |")
    for key in ("FailureReason", "ExitMessage"):
        if described.get(key):
            lines.append(f"| {key} | {_cell(described[key])} |")
    if manifest:
        lines.append(f"| rows in | {manifest.get('rows_in', 0):,} |")
        for out_name, info in manifest.get("outputs", {}).items():
            lines.append(f"| rows out: {_cell(out_name)} | {info.get('rows', 0):,} |")
    if backend == "local":
        lines.append(f"| logs | `prepline job logs {_cell(name)}` |")
    else:
        group = quote(quote(LOG_GROUP, safe=""), safe="").replace("%", "$")
        logs = (f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
                f"#logsV2:log-groups/log-group/{group}$3FlogStreamNameFilter$3D{quote(name)}")
        lines.append(f"| logs | [CloudWatch]({logs}) |")
    for item in described.get("ProcessingOutputConfig", {}).get("Outputs", []):
        uri = item.get("S3Output", {}).get("S3Uri", "")
        if uri.startswith("s3://"):
            bucket, _, prefix = uri[len("s3://"):].partition("/")
            link = f"https://s3.console.aws.amazon.com/s3/buckets/{bucket}?region={region}&prefix={quote(prefix)}"
            lines.append(f"| output {_cell(item['OutputName'])} | [{_cell(uri)}]({link}) |")
        elif uri:
            lines.append(f"| output {_cell(item['OutputName'])} | `{_cell(uri)}` |")
    return "\n".join(lines) + "\n"
