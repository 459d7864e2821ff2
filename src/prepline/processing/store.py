"""The local job store: one SQLite file under ``$PREPLINE_HOME`` shared by every runner and command.

WAL mode and a busy timeout let several runners and readers use it at once. A
job whose runner process is gone while the job is still ``InProgress`` or
``Stopping`` is marked ``Failed`` ("runner exited unexpectedly") by the next
command that reads it, so no job stays stuck.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prepline.errors import JobError, JobRequestError

TERMINAL = ("Completed", "Failed", "Stopped")
ACTIVE = ("InProgress", "Stopping")
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    name TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    request TEXT NOT NULL,
    status TEXT NOT NULL,
    failure_reason TEXT,
    exit_message TEXT,
    creation_time TEXT NOT NULL,
    start_time TEXT,
    end_time TEXT,
    last_modified_time TEXT NOT NULL,
    runner_pid INTEGER,
    runner_start TEXT,
    stop_requested INTEGER NOT NULL DEFAULT 0,
    workdir TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS instances (
    job TEXT NOT NULL REFERENCES jobs(name),
    host TEXT NOT NULL,
    pid INTEGER,
    exit_code INTEGER,
    PRIMARY KEY (job, host)
);
"""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (to tell a live runner from a reused PID), or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return fields[19]
    except (OSError, IndexError):
        return None


def _use_wal(db: sqlite3.Connection, patience: float = 30.0) -> None:
    """Put the store in WAL mode (kept in the file: once is enough). Changing the journal mode
    does not wait for the busy timeout: two runners opening a new store at once could fail with
    "database is locked", so this retries. Without WAL the store still works, one writer at a time."""
    deadline = time.monotonic() + patience
    while True:
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            mode = None
        if (mode or "").lower() == "wal" or time.monotonic() > deadline:
            return
        time.sleep(0.05)


class JobStore:
    def __init__(self, home: Path):
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / "jobs.sqlite3"
        with self._connect() as db:
            _use_wal(db)
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.row_factory = sqlite3.Row
            yield db
        finally:
            db.close()

    def job_dir(self, name: str) -> Path:
        return self.home / "jobs" / name

    # --- writes -----------------------------------------------------------------------------------

    def create(self, request: dict[str, Any], arn: str) -> Path:
        name = request["ProcessingJobName"]
        workdir = self.job_dir(name)
        stamp = now()
        with self._connect() as db:
            try:
                db.execute(
                    "INSERT INTO jobs (name, arn, request, status, creation_time, last_modified_time, workdir,"
                    " runner_pid, runner_start, start_time) VALUES (?, ?, ?, 'InProgress', ?, ?, ?, ?, ?, ?)",
                    (name, arn, json.dumps(request), stamp, stamp, str(workdir), os.getpid(),
                     process_start_time(os.getpid()), stamp),
                )
            except sqlite3.IntegrityError:
                raise JobRequestError(
                    f"a processing job named {name!r} already exists (ResourceInUse)",
                    hint="job names are unique, as in SageMaker: choose another ProcessingJobName",
                ) from None
        workdir.mkdir(parents=True, exist_ok=True)
        return workdir

    def set_instance(self, name: str, host: str, pid: int | None = None, exit_code: int | None = None) -> None:
        with self._connect() as db:
            db.execute(
                "INSERT INTO instances (job, host, pid, exit_code) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(job, host) DO UPDATE SET pid = COALESCE(excluded.pid, pid),"
                " exit_code = COALESCE(excluded.exit_code, exit_code)",
                (name, host, pid, exit_code),
            )

    def finish(self, name: str, status: str, failure_reason: str | None = None, exit_message: str | None = None) -> None:
        stamp = now()
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET status = ?, failure_reason = ?, exit_message = ?, end_time = ?,"
                " last_modified_time = ? WHERE name = ? AND status IN ('InProgress', 'Stopping')",
                (status, failure_reason, exit_message, stamp, stamp, name),
            )

    def request_stop(self, name: str) -> dict[str, Any]:
        job = self.get(name)
        if job["status"] in TERMINAL:
            raise JobError(
                f"job {name!r} is already {job['status']}; only InProgress jobs can be stopped",
            ).with_exit(2)
        with self._connect() as db:
            db.execute(
                "UPDATE jobs SET stop_requested = 1, status = 'Stopping', last_modified_time = ?"
                " WHERE name = ? AND status IN ('InProgress', 'Stopping')",
                (now(), name),
            )
        return self.get(name)

    def stop_requested(self, name: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT stop_requested FROM jobs WHERE name = ?", (name,)).fetchone()
        return bool(row and row["stop_requested"])

    # --- reads ------------------------------------------------------------------------------------

    def get(self, name: str) -> dict[str, Any]:
        self.reap()
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE name = ?", (name,)).fetchone()
            instances = db.execute("SELECT host, pid, exit_code FROM instances WHERE job = ? ORDER BY host", (name,)).fetchall()
        if row is None:
            raise JobError(f"no local processing job named {name!r}",
                           hint="`prepline job list` shows the jobs this machine knows").with_exit(2)
        job = dict(row)
        job["instances"] = [dict(i) for i in instances]
        return job

    def list(self, status: str | None = None, name_contains: str | None = None) -> list[dict[str, Any]]:
        self.reap()
        query, args = "SELECT * FROM jobs WHERE 1 = 1", []
        if status:
            query += " AND status = ?"
            args.append(status)
        if name_contains:
            query += " AND instr(name, ?) > 0"
            args.append(name_contains)
        query += " ORDER BY creation_time DESC"
        with self._connect() as db:
            return [dict(r) for r in db.execute(query, args).fetchall()]

    def reap(self) -> list[str]:
        """Mark jobs whose runner is gone as Failed and kill what their instances left behind."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT name, runner_pid, runner_start FROM jobs WHERE status IN ('InProgress', 'Stopping')"
            ).fetchall()
        reaped = []
        for row in rows:
            alive = row["runner_pid"] and process_start_time(row["runner_pid"]) == row["runner_start"]
            if alive:
                continue
            self._kill_instances(row["name"])
            self.finish(row["name"], "Failed", failure_reason="InternalServerError: runner exited unexpectedly")
            reaped.append(row["name"])
        return reaped

    def _kill_instances(self, name: str) -> None:
        import signal

        with self._connect() as db:
            pids = [r["pid"] for r in db.execute("SELECT pid FROM instances WHERE job = ? AND pid IS NOT NULL", (name,))]
        for pid in pids:
            with suppress(ProcessLookupError, PermissionError):  # the group has gone already
                os.killpg(pid, signal.SIGKILL)
