"""Fixtures for processing jobs: a private job store and request builders."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "prepline-home"
    monkeypatch.setenv("PREPLINE_HOME", str(path))
    monkeypatch.setenv("PREPLINE_STOP_GRACE_SECONDS", "2")
    return path


@pytest.fixture(scope="session")
def namespaces() -> None:
    """Skip when this machine cannot give an instance a private /opt/ml."""
    from prepline.errors import PreplineError
    from prepline.processing.local.isolation import NamespaceIsolation

    try:
        NamespaceIsolation().check()
    except PreplineError as exc:
        pytest.skip(f"private mount namespaces are unavailable here: {exc}")


ROLE = "arn:aws:iam::123456789012:role/prepline-processing"


def request(name: str, inputs: list[dict[str, Any]], output_uri: str, entrypoint: list[str], *,
            count: int = 1, max_runtime: int = 600, env: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": copy.deepcopy(inputs),
        "ProcessingOutputConfig": {"Outputs": [{
            "OutputName": "out",
            "S3Output": {"S3Uri": output_uri, "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"},
        }]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": count, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": "prepline:test", "ContainerEntrypoint": entrypoint},
        "RoleArn": ROLE,
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }
    if env:
        body["Environment"] = env
    return body


def s3_input(name: str, uri: str, local: str, *, sharded: bool = False, kind: str = "S3Prefix") -> dict[str, Any]:
    return {"InputName": name, "S3Input": {
        "S3Uri": uri, "LocalPath": local, "S3DataType": kind, "S3InputMode": "File",
        "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated"}}


def script(folder: Path, body: str, name: str = "script.py") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def write_request(folder: Path, body: dict[str, Any]) -> Path:
    path = folder / f"{body['ProcessingJobName']}.json"
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def prepline(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "prepline", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env, **kwargs)
