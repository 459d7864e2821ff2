"""The job backends behind `prepline job list/describe/logs/wait/stop`: one contract, local and SageMaker.

Both answer in the SageMaker API's shapes, so scripts read local and cloud jobs the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from prepline import settings
from prepline.errors import JobError
from prepline.processing import describe as shapes
from prepline.processing.store import TERMINAL, JobStore


class JobBackend(Protocol):
    name: str

    def describe(self, name: str) -> dict[str, Any]: ...

    def list(self, status: str | None = None, name_contains: str | None = None, max_results: int = 100) -> list[dict[str, Any]]: ...

    def stop(self, name: str) -> dict[str, Any]: ...

    def logs(self, name: str, instance: str | None = None, follow: bool = False) -> Iterator[str]: ...

    def wait(self, name: str, timeout: float | None = None) -> dict[str, Any]: ...


class LocalJobs:
    name = "local"

    def __init__(self, store: JobStore | None = None):
        self.store = store or JobStore(settings.home())

    def describe(self, name: str) -> dict[str, Any]:
        return shapes.describe(self.store.get(name))

    def list(self, status: str | None = None, name_contains: str | None = None, max_results: int = 100) -> list[dict[str, Any]]:
        return [shapes.summary(j) for j in self.store.list(status, name_contains)[:max_results]]

    def stop(self, name: str) -> dict[str, Any]:
        self.store.request_stop(name)
        return self.describe(name)

    def log_files(self, name: str, instance: str | None = None) -> list[Path]:
        self.store.get(name)  # raises for an unknown job
        folder = self.store.job_dir(name) / "logs"
        files = sorted(folder.glob("algo-*.log"), key=lambda p: int(p.stem.split("-")[1])) if folder.is_dir() else []
        if instance:
            files = [f for f in files if f.stem == instance]
            if not files:
                raise JobError(f"job {name!r} has no instance {instance!r}",
                               hint="instances are named algo-1 ... algo-N").with_exit(2)
        return files

    def logs(self, name: str, instance: str | None = None, follow: bool = False) -> Iterator[str]:
        """Log lines prefixed with their instance; with ``follow``, until the job ends."""
        offsets: dict[Path, int] = {}
        while True:
            files = self.log_files(name, instance)
            for path in files:
                with open(path, "rb") as handle:
                    handle.seek(offsets.get(path, 0))
                    data = handle.read()
                    complete = data.rfind(b"\n") + 1 if follow else len(data)
                    offsets[path] = offsets.get(path, 0) + complete
                for line in data[:complete].decode("utf-8", errors="replace").splitlines():
                    yield f"[{path.stem}] {line}"
            if not follow or (self.store.get(name)["status"] in TERMINAL and all(
                offsets.get(p, 0) >= p.stat().st_size for p in self.log_files(name, instance)
            )):
                return
            time.sleep(0.2)

    def wait(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.1
        while True:
            job = self.store.get(name)
            if job["status"] in TERMINAL:
                return shapes.describe(job)
            if deadline is not None and time.monotonic() > deadline:
                raise JobError(f"job {name!r} is still {job['status']} after {timeout:g} s",
                               hint="wait longer (--timeout) or stop it: prepline job stop " + name)
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)


def backend(name: str) -> JobBackend:
    if name == "local":
        return LocalJobs()
    if name == "sagemaker":
        from prepline.processing.sagemaker import SageMakerJobs

        return SageMakerJobs()
    raise JobError(f"unknown backend {name!r}", hint="use --backend local or --backend sagemaker").with_exit(2)
