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

DEFAULT_STOP_GRACE_SECONDS = 30.0


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
