"""The local job store (``processing/store.py``): a SQLite file several runners share."""

from __future__ import annotations

import sqlite3
import threading
import time

from prepline.processing.store import JobStore, _use_wal


def test_wal_mode_waits_for_a_runner_holding_the_store(tmp_path):
    """Changing the journal mode does not wait for SQLite's busy timeout: a runner opening the
    store while another holds it used to fail with "database is locked". It now retries."""
    path = tmp_path / "jobs.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    opener = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    try:
        opener.execute("PRAGMA journal_mode=WAL")
        raise AssertionError("expected SQLite to refuse while the store is held")
    except sqlite3.OperationalError as exc:
        assert "locked" in str(exc)  # what _use_wal retries on
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    started = time.monotonic()
    _use_wal(opener, patience=10)
    release.join()
    assert opener.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert time.monotonic() - started >= 0.25  # it waited for the holder, then switched


def test_a_store_is_in_wal_mode_for_every_later_connection(tmp_path):
    JobStore(tmp_path)
    assert sqlite3.connect(tmp_path / "jobs.sqlite3").execute("PRAGMA journal_mode").fetchone()[0] == "wal"
