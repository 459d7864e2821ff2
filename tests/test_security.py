"""Promises of SECURITY.md that no other test already holds."""

from __future__ import annotations

import hashlib
import json
import os

from prepline.pipeline import run_recipe
from tests.conftest import REPO

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


def test_inputs_are_not_modified_and_credentials_leave_no_trace(tmp_path, monkeypatch, mock_data):
    source = tmp_path / "employees.csv"
    source.write_bytes(mock_data.read_bytes())
    os.utime(source, (1_600_000_000, 1_600_000_000))
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRET + "-token")
    out = tmp_path / "out"
    run_recipe(REPO / "examples/employees/recipe.yaml", str(source), str(out))
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    assert source.stat().st_mtime == 1_600_000_000
    for path in out.iterdir():
        assert SECRET not in path.read_text(encoding="utf-8", errors="replace"), path.name
    manifest = json.loads((out / "_manifest.json").read_text())
    assert set(manifest) == {
        "manifest_version", "prepline_version", "created_at", "recipe", "input", "output", "engine",
        "rows_in", "outputs", "splits", "fills", "counters", "notes", "timings_s", "rules",
    }
