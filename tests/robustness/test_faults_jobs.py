"""Local processing jobs under faults: signals to a job and to its runner, a job store left by a crashed
process, two runners racing for one job name, eight jobs at once on one store.

Already held elsewhere (tests/processing/test_local_runtime.py) and not repeated here: a runner killed
with SIGKILL leaves a Failed job and no orphans; MaxRuntimeInSeconds and `job stop` send SIGTERM, then
SIGKILL after the grace period; two jobs at once see only their own files.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from prepline.processing.store import JobStore
from tests.conftest import REPO
from tests.processing.conftest import prepline, request, s3_input, script, write_request
from tests.robustness.conftest import env_without_debug, no_traceback

pytestmark = pytest.mark.usefixtures("namespaces")

SLEEPER = (
    "import time\n"
    "open('/opt/ml/processing/output/partial.txt', 'w').write('half done')\n"
    "print('sleeping', flush=True)\n"
    "time.sleep(120)\n"
)


def _runner(tmp_path: Path, name: str, body: str, out: Path | None = None) -> subprocess.Popen[str]:
    code = script(tmp_path / f"code-{name}", body)
    req = request(name, [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                  (out or tmp_path / f"out-{name}").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"])
    path = write_request(tmp_path, req)
    return subprocess.Popen([sys.executable, "-m", "prepline", "job", "run", str(path)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_without_debug())


def _wait_for_log(home: Path, name: str, text: str, timeout: float = 90) -> None:
    log = home / "jobs" / name / "logs" / "algo-1.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and text in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {log}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


def _gone(pid: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    return not _alive(pid)


def _describe(name: str) -> dict[str, object]:
    done = prepline("job", "describe", name, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_runner_stops_the_job_and_its_instances(tmp_path, home, sig):
    runner = _runner(tmp_path, "runner-signalled", SLEEPER)
    _wait_for_log(home, "runner-signalled", "sleeping")
    instance = JobStore(home).get("runner-signalled")["instances"][0]["pid"]
    runner.send_signal(sig)
    _, err = runner.communicate(timeout=90)
    assert runner.returncode == 1  # the job ended Stopped: the work did not finish
    no_traceback(err)
    described = _describe("runner-signalled")
    assert described["ProcessingJobStatus"] == "Stopped"
    assert described["FailureReason"] == f"Runner received signal {sig.name}"
    assert _gone(instance)
    assert not (tmp_path / "out-runner-signalled").exists()  # a stopped job uploads nothing


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_job_killed_by_a_signal_fails_naming_it(tmp_path, home, sig):
    runner = _runner(tmp_path, f"killed-{sig.name.lower()}", SLEEPER)
    name = f"killed-{sig.name.lower()}"
    _wait_for_log(home, name, "sleeping")
    instance = JobStore(home).get(name)["instances"][0]["pid"]
    os.killpg(instance, sig)  # as the OOM killer or an operator would
    _, err = runner.communicate(timeout=90)
    assert runner.returncode == 1
    no_traceback(err)
    described = _describe(name)
    assert described["ProcessingJobStatus"] == "Failed"
    assert f"instance algo-1 was killed by {sig.name} (exit code -{int(sig)})" in str(described["FailureReason"])
    assert not (tmp_path / f"out-{name}").exists()


CRASHING_WRITER = textwrap.dedent("""
    import os, signal, sqlite3, sys
    from pathlib import Path
    from prepline.processing.store import JobStore, now, process_start_time
    store = JobStore(Path(sys.argv[1]))
    db = sqlite3.connect(store.path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    # a job this process runs, committed ...
    db.execute("INSERT INTO jobs (name, arn, request, status, creation_time, last_modified_time, workdir, runner_pid,"
               " runner_start) VALUES ('crashed-job', 'arn', '{}', 'InProgress', ?, ?, '/nonexistent', ?, ?)",
               (now(), now(), os.getpid(), process_start_time(os.getpid())))
    # ... and a write in flight when the process dies
    db.execute("BEGIN IMMEDIATE")
    db.execute("UPDATE jobs SET status = 'Completed' WHERE name = 'crashed-job'")
    db.execute("INSERT INTO jobs (name, arn, request, status, creation_time, last_modified_time, workdir)"
               " VALUES ('half-written', 'arn', '{}', 'InProgress', 'x', 'x', '/nonexistent')")
    print("in transaction", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_job_store_left_by_a_crashed_runner_recovers(tmp_path, home):
    crashed = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(home)], capture_output=True, text=True,
                             timeout=60, cwd=REPO)
    assert crashed.returncode == -signal.SIGKILL and "in transaction" in crashed.stdout
    assert (home / "jobs.sqlite3-wal").exists()  # the crash left the write-ahead log behind

    listed = prepline("job", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    jobs = {j["ProcessingJobName"]: j for j in json.loads(listed.stdout)["ProcessingJobSummaries"]}
    assert list(jobs) == ["crashed-job"]  # the write in flight was rolled back
    assert jobs["crashed-job"]["ProcessingJobStatus"] == "Failed"
    assert "runner exited unexpectedly" in str(_describe("crashed-job")["FailureReason"])
    with sqlite3.connect(home / "jobs.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    after = _runner(tmp_path, "after-the-crash", "print('fine')\n")  # the store takes new jobs
    _, err = after.communicate(timeout=120)
    assert after.returncode == 0, err


def test_two_runners_racing_for_one_job_name(tmp_path, home):
    code = script(tmp_path / "code", "import time\ntime.sleep(0.5)\nprint('done')\n")
    body = request("one-name", [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"])
    path = write_request(tmp_path, body)
    runners = [subprocess.Popen([sys.executable, "-m", "prepline", "job", "run", str(path)], cwd=REPO, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env_without_debug())
               for _ in range(2)]
    results = [(r.wait(timeout=120), r.communicate()[1]) for r in runners]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "a processing job named 'one-name' already exists (ResourceInUse)" in loser
    for _, err in results:
        no_traceback(err)
    jobs = json.loads(prepline("job", "list", "--json").stdout)["ProcessingJobSummaries"]
    assert [(j["ProcessingJobName"], j["ProcessingJobStatus"]) for j in jobs] == [("one-name", "Completed")]


WRITER = (
    "import json, time\n"
    "job = json.load(open('/opt/ml/config/processingjobconfig.json'))['ProcessingJobName']\n"
    "time.sleep(0.5)\n"
    "open('/opt/ml/processing/output/result.txt', 'w').write(job)\n"
)


def test_eight_jobs_at_once_on_one_store(tmp_path, home):
    names = [f"parallel-{i}" for i in range(8)]
    runners = [_runner(tmp_path, name, WRITER) for name in names]
    readers = 0
    while any(r.poll() is None for r in runners):  # people watching while the jobs write the store
        listed = prepline("job", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        readers += 1
    for runner in runners:
        _, err = runner.communicate(timeout=300)
        assert runner.returncode == 0, err
        assert "locked" not in err
    assert readers >= 1
    jobs = {j["ProcessingJobName"]: j["ProcessingJobStatus"] for j in json.loads(prepline("job", "list", "--json").stdout)["ProcessingJobSummaries"]}
    assert jobs == dict.fromkeys(names, "Completed")
    for name in names:
        assert (tmp_path / f"out-{name}" / "result.txt").read_text() == name  # each job's own output
    with sqlite3.connect(home / "jobs.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
