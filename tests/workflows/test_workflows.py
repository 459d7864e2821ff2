"""The GitHub workflows parse, pin every action to a commit, pass zizmor, and run commands that exist."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    data = yaml.load(path.read_text(), Loader=yaml.BaseLoader)  # BaseLoader keeps `on` a string key
    assert isinstance(data, dict)
    return data


def steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_there_are_the_two_workflows():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "preprocess.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_commit_with_its_version(path):
    text = path.read_text()
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for ref, rest in uses:
        assert PINNED.match(ref), f"{path.name}: {ref} is not pinned to a 40-hex commit"
        assert re.search(r"#\s*v\d+\.\d+", rest), f"{path.name}: {ref} lacks a '# vX.Y.Z' comment"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_least_privilege_and_no_expressions_in_shell(path):
    workflow = load(path)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        if job.get("permissions", {}).get("id-token") == "write":
            assert name == "run" and path.name == "preprocess.yml"
    for step in steps(workflow):
        assert "${{" not in step.get("run", ""), f"{path.name}: an expression inside run: {step.get('name')}"
    for step in steps(workflow):
        if "actions/checkout" in step.get("uses", ""):
            assert step["with"]["persist-credentials"] == "false"


def test_the_preprocess_workflow_uses_oidc_and_waits_for_the_job():
    workflow = load(REPO / ".github/workflows/preprocess.yml")
    assert set(workflow["on"]) == {"workflow_dispatch", "push"}
    assert set(workflow["on"]["workflow_dispatch"]["inputs"]) == {"recipe", "input_uri", "output_uri", "instance_type", "instance_count"}
    assert workflow["concurrency"]["cancel-in-progress"] == "false"
    creds = [s for s in steps(workflow) if "configure-aws-credentials" in s.get("uses", "")]
    assert creds and "role-to-assume" in creds[0]["with"] and "aws-access-key-id" not in creds[0]["with"]
    runs = "\n".join(s.get("run", "") for s in steps(workflow))
    assert "prepline job create" in runs and "prepline job submit job.json --wait --logs" in runs
    assert "--format markdown >> \"$GITHUB_STEP_SUMMARY\"" in runs


def test_zizmor_finds_nothing_even_as_an_auditor():
    zizmor = shutil.which("zizmor") or str(Path(sys.executable).parent / "zizmor")
    if not Path(zizmor).exists():
        pytest.skip("zizmor is not installed")
    result = subprocess.run([zizmor, "--offline", "--persona", "auditor", "--no-progress", str(REPO / ".github/workflows")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def prepline_commands() -> list[list[str]]:
    """Every `prepline ...` command line the workflows run, as argument lists up to the first option."""
    found = []
    for path in WORKFLOWS:
        for step in steps(load(path)):
            for line in step.get("run", "").replace("\\\n", " ").splitlines():
                line = line.strip()
                if line.startswith("prepline "):
                    words = shlex.split(line.split(">>")[0].split("||")[0])
                    found.append([w for w in words[1:] if not w.startswith("-") and "$" not in w][:2])
    return found


def test_the_workflows_only_run_commands_that_exist():
    commands = prepline_commands()
    assert ["job", "create"] in commands and ["job", "submit"] in commands and ["diff"] in [c[:1] for c in commands]
    for words in commands:
        head = words[:2] if words[0] in ("job", "sample", "recipe", "infra") else words[:1]
        result = subprocess.run([sys.executable, "-m", "prepline", *head, "--help"], capture_output=True, text=True, cwd=REPO)
        assert result.returncode == 0, f"prepline {' '.join(head)}: {result.stderr}"
