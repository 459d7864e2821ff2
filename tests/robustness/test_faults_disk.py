"""A disk that fills up while prepline writes its outputs: a clean error, nothing published, the
previous outputs intact, no staging folder left. The disk is a 2 MiB tmpfs (root only)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.robustness.conftest import leftovers, no_traceback, tree_digest

RECIPE = """name: disk
input:
  format: csv
  columns: {id: int64, name: string, age: float64}
steps:
  - output: out
report: {enabled: false}
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB file system mounted for this test (tmpfs), unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_fails_cleanly_and_keeps_the_previous_outputs(small_disk, tmp_path, cli):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    small = tmp_path / "small.csv"
    small.write_text("id,name,age\n1,Ann,30\n2,Bob,40\n", encoding="utf-8")
    big = tmp_path / "big.csv"  # about 5 MB of output: more than the disk holds
    with open(big, "w", encoding="utf-8") as handle:
        handle.write("id,name,age\n")
        for i in range(200_000):
            handle.write(f"{i},name-{i:08d},{i % 90}\n")
    out = small_disk / "out"

    first = cli("run", recipe, "--input", small, "--output", out)
    assert first.code == 0, first.stderr
    before = tree_digest(out)

    result = cli("run", recipe, "--input", big, "--output", out)
    assert result.code == 2, result.stderr
    assert f"cannot write the outputs of {out}: the disk holding {small_disk} is full" in result.stderr
    assert "nothing was published and earlier outputs are intact" in result.stderr
    no_traceback(result.stderr)
    assert tree_digest(out) == before  # the previous outputs, byte for byte
    assert leftovers(small_disk) == []  # the half-written staging folder is gone
    assert sorted(p.name for p in small_disk.iterdir()) == ["out"]
