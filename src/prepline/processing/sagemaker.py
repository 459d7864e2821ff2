"""Processing jobs on AWS SageMaker through boto3: submit, describe, list, wait, stop, logs.

Clients come from the standard AWS configuration (profile, region,
``AWS_ENDPOINT_URL``) or are injected; throttled calls are retried by botocore's
standard retry mode with backoff, then reported with a fix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prepline.cloud.aws_errors import THROTTLING, AwsError, translate
from prepline.errors import JobError
from prepline.processing.request import validate_request

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
TERMINAL = ("Completed", "Failed", "Stopped")
MAX_ATTEMPTS = 6  # botocore's own retries per call (connection errors, 5xx)
THROTTLE_ATTEMPTS = 5  # ours, on top, for throttling: backoff 1, 2, 4, 8 s


def _clients(session: Any = None) -> tuple[Any, Any]:
    import boto3
    from botocore.config import Config

    session = session or boto3.session.Session()
    config = Config(retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS})
    return session.client("sagemaker", config=config), session.client("logs", config=config)


def jsonable(value: Any) -> Any:
    """boto3's datetimes as ISO 8601 text, so the output is the CLI's JSON."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


class SageMakerJobs:
    name = "sagemaker"

    def __init__(self, sagemaker: Any = None, logs: Any = None, session: Any = None,
                 sleep: Callable[[float], None] = time.sleep):
        if sagemaker is None or logs is None:
            default_sm, default_logs = _clients(session)
            sagemaker = sagemaker or default_sm
            logs = logs or default_logs
        self.sm = sagemaker
        self.logs_client = logs
        self.sleep = sleep

    def _call(self, action: str, method: str, **kwargs: Any) -> Any:
        """Call the SageMaker API; throttling is retried with exponential backoff, then reported."""
        delay = 1.0
        for attempt in range(1, THROTTLE_ATTEMPTS + 1):
            try:
                return getattr(self.sm, method)(**kwargs)
            except Exception as exc:
                error = translate(exc, action)
                if not (isinstance(error, AwsError) and error.code in THROTTLING) or attempt == THROTTLE_ATTEMPTS:
                    if isinstance(error, AwsError) and error.code in THROTTLING:
                        error.message += f" (gave up after {attempt} attempts with backoff)"
                    raise error from None
                self.sleep(delay)
                delay = min(delay * 2, 20.0)
        raise AssertionError("unreachable")

    # --- the JobBackend contract ---------------------------------------------------------------

    def submit(self, request: dict[str, Any], source: str = "request") -> str:
        validate_request(request, local=False, source=source)
        name = request["ProcessingJobName"]
        response = self._call(f"create processing job {name}", "create_processing_job", **request)
        return str(response["ProcessingJobArn"])

    def describe(self, name: str) -> dict[str, Any]:
        return jsonable(self._call(f"describe processing job {name}", "describe_processing_job", ProcessingJobName=name))

    def list(self, status: str | None = None, name_contains: str | None = None, max_results: int = 100) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": min(max_results, 100)}
        if status:
            kwargs["StatusEquals"] = status
        if name_contains:
            kwargs["NameContains"] = name_contains
        found: list[dict[str, Any]] = []
        while len(found) < max_results:
            page = self._call("list processing jobs", "list_processing_jobs", **kwargs)
            found.extend(jsonable(page.get("ProcessingJobSummaries", [])))
            if not page.get("NextToken"):
                break
            kwargs["NextToken"] = page["NextToken"]
        return found[:max_results]

    def stop(self, name: str) -> dict[str, Any]:
        described = self.describe(name)
        if described["ProcessingJobStatus"] in TERMINAL:
            raise JobError(f"job {name!r} is already {described['ProcessingJobStatus']}; only InProgress jobs can be stopped").with_exit(2)
        self._call(f"stop processing job {name}", "stop_processing_job", ProcessingJobName=name)
        return self.describe(name)

    def wait(self, name: str, timeout: float | None = None, on_poll: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
        """Poll with backoff (2 s doubling to 30 s) until the job ends."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 2.0
        while True:
            described = self.describe(name)
            if on_poll:
                on_poll(described)
            if described["ProcessingJobStatus"] in TERMINAL:
                return described
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {name!r} is still {described['ProcessingJobStatus']} after {timeout:g} s",
                               hint=f"wait longer or stop it: prepline job stop {name} --backend sagemaker")
            self.sleep(delay)
            delay = min(delay * 2, 30.0)

    # --- logs -----------------------------------------------------------------------------------

    def log_streams(self, name: str) -> list[str]:
        streams: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamNamePrefix": f"{name}/"}
        while True:
            try:
                page = self.logs_client.describe_log_streams(**kwargs)
            except Exception as exc:
                code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
                if code == "ResourceNotFoundException":
                    return []  # no log group yet: the job has not logged anything
                raise translate(exc, f"read the logs of {name}") from None
            streams.extend(s["logStreamName"] for s in page.get("logStreams", []))
            if not page.get("nextToken"):
                return sorted(streams)
            kwargs["nextToken"] = page["nextToken"]

    def logs(self, name: str, instance: str | None = None, follow: bool = False) -> Iterator[str]:
        """CloudWatch log lines, each prefixed with its instance (algo-N); with ``follow``, until the job ends."""
        tokens: dict[str, str | None] = {}
        while True:
            finished = follow and self.describe(name)["ProcessingJobStatus"] in TERMINAL
            for stream in self.log_streams(name):
                host = _instance_of(stream)
                if instance and host != instance:
                    continue
                yield from self._stream_events(stream, host, tokens)
            if not follow or finished:
                return
            self.sleep(5.0)

    def _stream_events(self, stream: str, host: str, tokens: dict[str, str | None]) -> Iterator[str]:
        while True:
            kwargs: dict[str, Any] = {"logGroupName": LOG_GROUP, "logStreamName": stream, "startFromHead": True}
            if tokens.get(stream):
                kwargs["nextToken"] = tokens[stream]
            try:
                page = self.logs_client.get_log_events(**kwargs)
            except Exception as exc:
                raise translate(exc, f"read log stream {stream}") from None
            for event in page.get("events", []):
                yield f"[{host}] {event['message'].rstrip()}"
            token = page.get("nextForwardToken")
            if not token or token == tokens.get(stream):
                tokens[stream] = token
                return
            tokens[stream] = token


def _instance_of(stream: str) -> str:
    """``job-name/algo-2-1700000000`` -> ``algo-2``."""
    tail = stream.split("/", 1)[-1]
    parts = tail.split("-")
    return "-".join(parts[:2]) if len(parts) >= 2 and parts[0] == "algo" else tail
