"""Helpers for the robustness tests: run the CLI the way a person does, and look at what it left."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.processing.conftest import home, namespaces  # noqa: F401 - the job fixtures, for the fault tests


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """``cli("run", RECIPE, ...)``: prepline's CLI in this process, through its error boundary (main())."""
    from prepline.cli.app import main

    def run(*args: str | Path) -> Result:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file below ``folder`` (relative path -> SHA-256): what 'unchanged' means."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def leftovers(folder: Path) -> list[str]:
    """Staging or backup folders a run left next to its output."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and (".staging-" in p.name or ".previous-" in p.name))


def no_traceback(text: str) -> None:
    assert "Traceback" not in text, text
    assert "Internal error" not in text, text


def env_without_debug() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PREPLINE_DEBUG", None)
    return env
