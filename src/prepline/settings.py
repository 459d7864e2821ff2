"""Settings: an explicit argument wins over a ``PREPLINE_*`` environment variable, which wins over the default.

Every environment variable prepline reads is named here.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VAR = "PREPLINE_HOME"  # the job store, job folders and logs
STOP_GRACE_VAR = "PREPLINE_STOP_GRACE_SECONDS"  # SIGTERM -> SIGKILL delay for local jobs
DEBUG_VAR = "PREPLINE_DEBUG"
ENGINE_VAR = "PREPLINE_ENGINE"
STACK_VAR = "PREPLINE_STACK"  # the CloudFormation stack `prepline infra outputs` reads
SPARK_MASTER_VAR = "PREPLINE_SPARK_MASTER"  # the spark engine's master URL when --spark-master is not given

S3_ATTEMPTS_VAR = "PREPLINE_S3_MAX_ATTEMPTS"  # tries per S3 request (boto3 and Polars), backoff between them

DEFAULT_STOP_GRACE_SECONDS = 30.0
DEFAULT_S3_ATTEMPTS = 5


def home(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    if os.environ.get(HOME_VAR):
        return Path(os.environ[HOME_VAR]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("prepline", appauthor=False))


def stop_grace_seconds(explicit: float | None = None) -> float:
    if explicit is not None:
        return explicit
    value = os.environ.get(STOP_GRACE_VAR)
    return float(value) if value else DEFAULT_STOP_GRACE_SECONDS


def s3_attempts(explicit: int | None = None) -> int:
    """How many times one S3 request is tried (1 = no retry) before the error is reported."""
    if explicit is not None:
        return max(1, explicit)
    value = os.environ.get(S3_ATTEMPTS_VAR)
    return max(1, int(value)) if value else DEFAULT_S3_ATTEMPTS
