"""`python infra/app.py` synthesizes offline, with no context, into $CDK_OUTDIR."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.infra.cfn import INFRA

pytestmark = pytest.mark.infra


def run_app(tmp_path: Path, context: dict | None = None) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("aws_cdk")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "AWS_"))}
    env["CDK_OUTDIR"] = str(tmp_path / "cdk.out")
    env.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    if context is not None:
        env["CDK_CONTEXT_JSON"] = json.dumps(context)
    return subprocess.run(
        [sys.executable, str(INFRA / "app.py")],
        cwd=tmp_path,  # not the repository: paths must not depend on the working directory
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_bare_app_synthesizes_offline_into_cdk_outdir(tmp_path):
    result = run_app(tmp_path)
    assert result.returncode == 0, result.stderr
    outdir = tmp_path / "cdk.out"
    template = json.loads((outdir / "prepline-prod.template.json").read_text())
    report = json.loads((outdir / "validation-report.json").read_text())
    assert report["pluginReports"] == []  # cdk-nag ran and found nothing unacknowledged
    # Defaults: production retention, no CI role until a repository is named, no schedule.
    buckets = [r for r in template["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    assert len(buckets) == 4 and all(b["DeletionPolicy"] == "Retain" for b in buckets)
    assert "CiRoleArn" not in template["Outputs"]
    assert "StateMachineArn" not in template["Outputs"]
    assert "prepline-prod" in result.stderr


def test_bad_context_is_refused_with_the_fix(tmp_path):
    result = run_app(tmp_path, {"env": "staging"})
    assert result.returncode == 2
    assert "context 'env' must be one of dev, prod, got 'staging'" in result.stderr
    assert "Traceback" not in result.stderr
