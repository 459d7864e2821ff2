"""Nothing lost: inputs are only read, reruns give the same bytes, a job's instances cannot touch
each other's inputs."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.processing.conftest import request, s3_input, script
from tests.robustness.conftest import tree_digest

RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
STAMP = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?\+00:00| \d\d:\d\d UTC)")


@pytest.fixture(scope="module")
def employees(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20,000 realistic rows with missing values, bad JSON and impossible ages (seeded)."""
    from prepline.sample.employees import write_employees

    path = tmp_path_factory.mktemp("data") / "employees.csv"
    write_employees(path, rows=20_000, seed=11)
    return path


def _without(data: Any, keys: set[str]) -> Any:
    if isinstance(data, dict):
        return {k: _without(v, keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [_without(v, keys) for v in data]
    return data


def _report(path: Path) -> str:
    """report.html without what differs between two runs by design: when it ran and how long it took."""
    text = STAMP.sub("<time>", path.read_text(encoding="utf-8"))
    return re.sub(r"\d+(\.\d+)? s\b", "<seconds>", text)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_two_runs_give_byte_identical_outputs(employees, tmp_path, cli, fmt):
    out = tmp_path / "out"
    before = tree_digest(employees.parent)
    runs = []
    for attempt in (1, 2):  # the same command twice: the second run replaces the first
        result = cli("run", RECIPE, "--input", employees, "--output", out, "--format", fmt)
        assert result.code == 0, result.stderr
        runs.append(tmp_path / f"run-{attempt}")
        shutil.copytree(out, runs[-1])
    assert tree_digest(employees.parent) == before  # the input is only read
    first, second = runs
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    data = [n for n in names if n.endswith(f".{fmt}")]
    assert len(data) >= 4  # cleaned, transformed, statistics, rejected (and any splits)
    for name in data:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    manifests = [json.loads((run / "_manifest.json").read_text()) for run in runs]
    assert _without(manifests[0], {"created_at", "timings_s"}) == _without(manifests[1], {"created_at", "timings_s"})
    for name in data:  # the manifest's hashes are the files'
        assert manifests[0]["outputs"][name.rsplit(".", 1)[0]]["sha256"] == hashlib.sha256((first / name).read_bytes()).hexdigest()
    profiles = [json.loads((run / "profile.json").read_text()) for run in runs]
    assert _without(profiles[0], {"created_at"}) == _without(profiles[1], {"created_at"})
    for profile in profiles[0]["outputs"].values():
        assert "staging" not in profile["source"]["uri"]  # profiles name published files, not staging ones
    assert _report(first / "report.html") == _report(second / "report.html")


WRITES_ITS_INPUT = """
import json, time
host = json.load(open('/opt/ml/config/resourceconfig.json'))['current_host']
path = '/opt/ml/processing/input/data/people.csv'
if host == 'algo-1':
    with open(path, 'w') as handle:  # truncates the file in place
        handle.write('overwritten by algo-1\\n')
else:
    time.sleep(2)
open(f'/opt/ml/processing/output/{host}.txt', 'w').write(open(path).read())
"""


@pytest.mark.usefixtures("namespaces")
def test_an_instance_that_writes_its_input_changes_neither_the_source_nor_another_instance(tmp_path, home):
    from prepline.processing.local.runtime import LocalRuntime
    from prepline.processing.store import JobStore

    data = tmp_path / "data"
    data.mkdir()
    (data / "people.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    before = tree_digest(data)
    code = script(tmp_path / "code", WRITES_ITS_INPUT)
    body = request("writes-input", [
        s3_input("data", data.as_uri(), "/opt/ml/processing/input/data"),
        s3_input("code", code.as_uri(), "/opt/ml/processing/input/code"),
    ], (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"], count=2)
    job = LocalRuntime(JobStore(home), progress=False, stop_grace=2).run(body)
    assert job["status"] == "Completed", job["failure_reason"]
    assert (tmp_path / "out" / "algo-1.txt").read_text() == "overwritten by algo-1\n"
    assert (tmp_path / "out" / "algo-2.txt").read_text() == "id,name\n1,Ann\n"  # its own copy
    assert tree_digest(data) == before  # the source is untouched
