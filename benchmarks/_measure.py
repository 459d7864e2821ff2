"""Run one command as a child process and measure it: wall time, CPU time, peak memory.

Shared by the benchmark scripts in this folder, with what they all need around it: the
child's environment, the exception a failed child raises, reaping Spark's JVM, package versions. POSIX only: it reaps the child with
``os.wait4``, whose resource usage is the kernel's own accounting of that child (and of
any grandchildren it waited for), so nothing is sampled and short peaks are not missed.

* wall time: ``time.perf_counter()`` from just before the spawn to the reap;
* CPU time: ``ru_utime + ru_stime`` (all threads, user and kernel);
* peak RSS: ``ru_maxrss`` — KiB on Linux, bytes on macOS — reported in MiB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import IO

TAIL_LINES = 40

# ru_maxrss unit: bytes on macOS, KiB elsewhere (Linux, the BSDs).
_MAXRSS_BYTES = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True)
class Measurement:
    """What one run of a command cost, and how it ended."""

    cmd: tuple[str, ...]
    wall_s: float
    cpu_s: float
    peak_rss_mb: float  # MiB (2**20 bytes)
    returncode: int  # negative: killed by that signal
    stderr_tail: str
    stdout_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["cmd"] = list(self.cmd)
        return data


def _tail(stream: IO[bytes], lines: int) -> str:
    stream.seek(0)
    text = stream.read().decode("utf-8", errors="replace")
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


def measure(
    cmd: Sequence[str | os.PathLike[str]],
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    *,
    tail_lines: int = TAIL_LINES,
) -> Measurement:
    """Run ``cmd`` to completion and return its wall time, CPU time and peak RSS.

    ``env`` replaces the environment (as in ``subprocess``); pass ``{**os.environ, ...}``
    to extend it. The child's stdout and stderr go to temporary files (never a pipe, so
    a chatty child cannot block); the last ``tail_lines`` lines of each are kept.
    """
    if not hasattr(os, "wait4"):
        raise RuntimeError("benchmarks/_measure.py needs os.wait4 (Linux or macOS)")
    argv = tuple(os.fspath(part) for part in cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, env=dict(env) if env is not None else None, cwd=cwd, stdout=out, stderr=err
        )
        try:
            _, status, usage = os.wait4(child.pid, 0)
        except BaseException:  # Ctrl-C while waiting: do not leave the child running
            child.kill()
            child.wait()
            raise
        wall = time.perf_counter() - started
        # We reaped the child ourselves; tell Popen so it never waits for it again.
        child.returncode = os.waitstatus_to_exitcode(status)
        return Measurement(
            cmd=argv,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            peak_rss_mb=usage.ru_maxrss * _MAXRSS_BYTES / 2**20,
            returncode=child.returncode,
            stderr_tail=_tail(err, tail_lines),
            stdout_tail=_tail(out, tail_lines),
        )


def file_mb(path: str | os.PathLike[str]) -> float:
    """Size of a file in MiB."""
    return Path(path).stat().st_size / 2**20


def count_data_lines(path: str | os.PathLike[str]) -> int:
    """Lines after the header in a CSV without embedded newlines (fast, byte-level)."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            lines += block.count(b"\n")
            last = block[-1:]
    if last != b"\n":  # final line without a newline
        lines += 1
    return max(lines - 1, 0)


# --- what every benchmark script needs ------------------------------------------------------

REPO = Path(__file__).resolve().parent.parent


class BenchmarkFailed(Exception):
    """A child process failed or left no outputs; the message says which and why."""


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment with this checkout's ``src`` first on PYTHONPATH, so ``python -m prepline``
    runs the working tree whether or not it is installed, and ``extra`` on top."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))])
    env.setdefault("NO_COLOR", "1")
    return env | dict(extra or {})


def reap(cmd: list[str]) -> int:
    """Run ``cmd`` and wait for every descendant (Spark's JVM is re-parented to this process), so
    that ``os.wait4`` of this process accounts for all of them."""
    import ctypes

    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    code = subprocess.call(cmd)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return code


def package_version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
