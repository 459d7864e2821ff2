"""The local runtime runs CreateProcessingJob requests the way SageMaker does: /opt/ml layout,
instances, sharding, timeouts, stops, failures, uploads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from prepline.errors import JobRequestError
from prepline.processing.local.runtime import LocalRuntime
from prepline.processing.store import JobStore
from tests.conftest import MOCK_DATA, REPO, SHARED
from tests.processing.conftest import prepline, request, s3_input, script, write_request

pytestmark = pytest.mark.usefixtures("namespaces")

COUNT_ROWS = """
import csv, glob, json, os
rows = 0
for path in sorted(glob.glob('/opt/ml/processing/input/*.csv')):
    with open(path, newline='') as handle:
        rows += sum(1 for _ in csv.DictReader(handle))
host = json.load(open('/opt/ml/config/resourceconfig.json'))['current_host']
job = json.load(open('/opt/ml/config/processingjobconfig.json'))['ProcessingJobName']
with open('/opt/ml/processing/output/count.txt', 'w') as out:
    out.write(f"{job} {host} {rows} {os.environ.get('LOG_LEVEL')}\\n")
print('counted', rows)
"""


def runtime(home: Path) -> LocalRuntime:
    return LocalRuntime(JobStore(home), progress=False, stop_grace=2)


def test_the_upstream_template_runs_with_file_uris(tmp_path, home):
    template = SHARED / "seed" / "job-config.template.json"
    if not template.is_file() or not MOCK_DATA.is_file():
        pytest.skip("../shared is not available")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "mock_data.csv").write_bytes(MOCK_DATA.read_bytes())
    code = script(tmp_path / "code", COUNT_ROWS, "preprocessing_script.py")
    values = {
        "JOB_NAME": "seed-template-1", "INPUT_PATH": (tmp_path / "in").as_uri(), "SCRIPT_PATH": code.as_uri(),
        "OUTPUT_PATH": (tmp_path / "out").as_uri(), "INSTANCE_COUNT": "1", "INSTANCE_TYPE": "ml.t3.medium",
        "IMAGE_URI": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        "ROLE_ARN": "arn:aws:iam::123456789012:role/prepline-processing",
    }
    args = ["job", "render", str(template), "--output", str(tmp_path / "job.json")]
    for key, value in values.items():
        args += ["--set", f"{key}={value}"]
    assert prepline(*args).returncode == 0
    result = prepline("job", "run", str(tmp_path / "job.json"))
    assert result.returncode == 0, result.stderr
    # a script with hard-coded /opt/ml paths saw the input, its config and the request's Environment
    assert (tmp_path / "out" / "count.txt").read_text() == "seed-template-1 algo-1 20000 INFO\n"
    described = json.loads(prepline("job", "describe", "seed-template-1", "--json").stdout)
    assert described["ProcessingJobStatus"] == "Completed"
    logs = prepline("job", "logs", "seed-template-1").stdout
    assert "[algo-1]" in logs and "counted 20000" in logs


def test_describe_has_the_fields_of_describe_processing_job(tmp_path, home):
    import botocore.session

    code = script(tmp_path / "code", "print('hello')\n")
    body = request("describe-me", [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"],
                   env={"A": "1"})
    body["Tags"] = [{"Key": "k", "Value": "v"}]
    runtime(home).run(body)
    described = json.loads(prepline("job", "describe", "describe-me", "--json").stdout)
    shape = botocore.session.get_session().get_service_model("sagemaker").operation_model(
        "DescribeProcessingJob").output_shape
    assert set(described) <= set(shape.members)
    for key in ("ProcessingJobName", "ProcessingJobArn", "ProcessingJobStatus", "ProcessingInputs",
                "ProcessingOutputConfig", "ProcessingResources", "StoppingCondition", "AppSpecification",
                "Environment", "RoleArn", "CreationTime", "ProcessingStartTime", "ProcessingEndTime",
                "LastModifiedTime"):
        assert key in described, key
    assert described["ProcessingJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:processing-job/describe-me"
    assert described["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] == "FullyReplicated"
    listed = json.loads(prepline("job", "list", "--json", "--status", "Completed").stdout)
    assert [j["ProcessingJobName"] for j in listed["ProcessingJobSummaries"]] == ["describe-me"]


def test_a_failing_script_fails_the_job_with_reason_and_message(tmp_path, home):
    code = script(tmp_path / "code", (
        "import sys\n"
        "open('/opt/ml/output/message', 'w').write('bad input: column x is missing' + 'y' * 2000)\n"
        "print('about to fail', file=sys.stderr)\n"
        "sys.exit(3)\n"
    ))
    body = request("failing-job", [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"])
    path = write_request(tmp_path, body)
    result = prepline("job", "run", str(path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    described = json.loads(prepline("job", "describe", "failing-job", "--json").stdout)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "exited with code 3" in described["FailureReason"]
    assert "about to fail" in described["FailureReason"]
    assert described["ExitMessage"].startswith("bad input: column x is missing")
    assert len(described["ExitMessage"].encode()) == 1024
    assert not (tmp_path / "out").exists()  # a failed job uploads nothing


def test_max_runtime_stops_the_job(tmp_path, home):
    code = script(tmp_path / "code", "import time\nprint('working', flush=True)\ntime.sleep(60)\n")
    body = request("slow-job", [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"],
                   max_runtime=1)
    started = time.monotonic()
    job = runtime(home).run(body)
    assert job["status"] == "Stopped"
    assert "MaxRuntimeInSeconds (1 s) exceeded" in job["failure_reason"]
    assert time.monotonic() - started < 30


def test_a_script_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path, home):
    code = script(tmp_path / "code", (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: print('ignoring SIGTERM', flush=True))\n"
        "print('ready', flush=True)\n"
        "while True: time.sleep(0.1)\n"
    ))
    body = request("stubborn-job", [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"],
                   max_runtime=1)
    job = runtime(home).run(body)
    assert job["status"] == "Stopped"
    assert job["instances"][0]["exit_code"] == -signal.SIGKILL


def test_sharded_inputs_split_objects_across_instances(tmp_path, home):
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        (data / f"part-{i}.csv").write_text(f"id\n{i}\n")
    code = script(tmp_path / "code", (
        "import glob, json, os, shutil\n"
        "host = json.load(open('/opt/ml/config/resourceconfig.json'))['current_host']\n"
        "for p in glob.glob('/opt/ml/processing/input/data/*.csv'):\n"
        "    shutil.copy(p, f'/opt/ml/processing/output/{host}-' + os.path.basename(p))\n"
    ))
    body = request("sharded-job", [
        s3_input("data", data.as_uri(), "/opt/ml/processing/input/data", sharded=True),
        s3_input("code", code.as_uri(), "/opt/ml/processing/input/code"),
    ], (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"], count=2)
    job = runtime(home).run(body)
    assert job["status"] == "Completed", job["failure_reason"]
    produced = sorted(p.name for p in (tmp_path / "out").iterdir())
    parts = sorted(name.split("-", 2)[2] for name in produced)
    assert parts == [f"part-{i}.csv" for i in range(5)]  # every object processed exactly once
    assert sum(n.startswith("algo-1-") for n in produced) == 3
    assert sum(n.startswith("algo-2-") for n in produced) == 2


def test_two_jobs_at_once_see_only_their_own_files(tmp_path, home):
    code = script(tmp_path / "code", (
        "import json, os, time\n"
        "job = json.load(open('/opt/ml/config/processingjobconfig.json'))['ProcessingJobName']\n"
        "open('/opt/ml/processing/output/mine.txt', 'w').write(job)\n"
        "time.sleep(1.0)\n"
        "seen = sorted(os.listdir('/opt/ml/processing/output'))\n"
        "assert seen == ['mine.txt'], seen\n"
        "assert open('/opt/ml/processing/output/mine.txt').read() == job\n"
    ))
    procs = []
    for name in ("concurrent-a", "concurrent-b"):
        body = request(name, [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                       (tmp_path / name).as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"])
        path = write_request(tmp_path, body)
        procs.append(subprocess.Popen([sys.executable, "-m", "prepline", "job", "run", str(path)], cwd=REPO,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert (tmp_path / "concurrent-a" / "mine.txt").read_text() == "concurrent-a"
    assert (tmp_path / "concurrent-b" / "mine.txt").read_text() == "concurrent-b"


def _start_sleeper(tmp_path: Path, name: str) -> tuple[subprocess.Popen[str], Path]:
    code = script(tmp_path / "code", "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n")
    body = request(name, [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"])
    path = write_request(tmp_path, body)
    proc = subprocess.Popen([sys.executable, "-m", "prepline", "job", "run", str(path)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, path


def _wait_for_log(home: Path, name: str, text: str, timeout: float = 60) -> None:
    log = home / "jobs" / name / "logs" / "algo-1.log"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.is_file() and text in log.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared in {log}")


def test_job_stop_from_another_process_stops_the_job(tmp_path, home):
    proc, _ = _start_sleeper(tmp_path, "stop-me")
    _wait_for_log(home, "stop-me", "sleeping")
    stopped = prepline("job", "stop", "stop-me")
    assert stopped.returncode == 0, stopped.stderr
    proc.communicate(timeout=60)
    assert proc.returncode == 1
    described = json.loads(prepline("job", "describe", "stop-me", "--json").stdout)
    assert described["ProcessingJobStatus"] == "Stopped"
    assert described["FailureReason"] == "Stopped by request"
    again = prepline("job", "stop", "stop-me")
    assert again.returncode == 2 and "already Stopped" in again.stderr


def test_a_runner_killed_with_sigkill_leaves_a_failed_job_and_no_orphans(tmp_path, home):
    proc, _ = _start_sleeper(tmp_path, "orphaned")
    _wait_for_log(home, "orphaned", "sleeping")
    instance_pid = JobStore(home).get("orphaned")["instances"][0]["pid"]
    proc.kill()
    proc.wait(timeout=30)
    described = json.loads(prepline("job", "describe", "orphaned", "--json").stdout)
    assert described["ProcessingJobStatus"] == "Failed"
    assert "runner exited unexpectedly" in described["FailureReason"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(instance_pid):
        time.sleep(0.1)
    assert not _alive(instance_pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_a_duplicate_job_name_is_refused(tmp_path, home):
    code = script(tmp_path / "code", "print(1)\n")
    body = request("twice", [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"])
    runtime(home).run(body)
    with pytest.raises(JobRequestError, match="already exists"):
        runtime(home).run(body)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("S3InputMode", "Pipe", "S3InputMode Pipe cannot run locally"),
])
def test_modes_the_runtime_cannot_honour_are_refused(tmp_path, home, field, value, message):
    body = request("pipe-mode", [s3_input("data", (tmp_path).as_uri(), "/opt/ml/processing/input")],
                   (tmp_path / "out").as_uri(), ["true"])
    body["ProcessingInputs"][0]["S3Input"][field] = value
    with pytest.raises(JobRequestError, match=message):
        runtime(home).run(body)


def test_continuous_upload_is_refused(tmp_path, home):
    body = request("continuous", [], (tmp_path / "out").as_uri(), ["true"])
    body["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] = "Continuous"
    with pytest.raises(JobRequestError, match="Continuous is not supported locally"):
        runtime(home).run(body)


def test_symbolic_links_in_outputs_are_not_uploaded(tmp_path, home):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    code = script(tmp_path / "code", (
        "import os\n"
        "open('/opt/ml/processing/output/real.txt', 'w').write('ok')\n"
        f"os.symlink({str(secret)!r}, '/opt/ml/processing/output/link.txt')\n"
    ))
    body = request("symlinks", [s3_input("code", code.as_uri(), "/opt/ml/processing/input/code")],
                   (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/input/code/script.py"])
    assert runtime(home).run(body)["status"] == "Completed"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["real.txt"]


def test_s3_to_job_to_s3(tmp_path, home, s3_bucket):
    import boto3

    s3 = boto3.client("s3")
    s3.put_object(Bucket=s3_bucket, Key="input/a.csv", Body=b"id,name\n1,x\n2,y\n")
    s3.put_object(Bucket=s3_bucket, Key="input/b.csv", Body=b"id,name\n3,z\n")
    s3.put_object(Bucket=s3_bucket, Key="code/script.py", Body=COUNT_ROWS.encode())
    body = request("s3-roundtrip", [
        s3_input("data", f"s3://{s3_bucket}/input/", "/opt/ml/processing/input"),
        s3_input("code", f"s3://{s3_bucket}/code/script.py", "/opt/ml/processing/code"),
    ], f"s3://{s3_bucket}/output/run-1", ["python3", "/opt/ml/processing/code/script.py"], env={"LOG_LEVEL": "DEBUG"})
    job = runtime(home).run(body)
    assert job["status"] == "Completed", job["failure_reason"]
    result = s3.get_object(Bucket=s3_bucket, Key="output/run-1/count.txt")["Body"].read().decode()
    assert result == "s3-roundtrip algo-1 3 DEBUG\n"


def test_a_manifest_file_input_downloads_the_listed_objects(tmp_path, home, s3_bucket):
    import boto3

    s3 = boto3.client("s3")
    for key in ("data/a.csv", "data/b.csv", "data/c.csv"):
        s3.put_object(Bucket=s3_bucket, Key=key, Body=b"id\n1\n")
    manifest = [{"prefix": f"s3://{s3_bucket}/data/"}, "a.csv", "c.csv"]
    s3.put_object(Bucket=s3_bucket, Key="manifest.json", Body=json.dumps(manifest).encode())
    code = script(tmp_path / "code", (
        "import os\n"
        "open('/opt/ml/processing/output/seen.txt', 'w').write(' '.join(sorted(os.listdir('/opt/ml/processing/input'))))\n"
    ))
    body = request("manifest-input", [
        s3_input("data", f"s3://{s3_bucket}/manifest.json", "/opt/ml/processing/input", kind="ManifestFile"),
        s3_input("code", code.as_uri(), "/opt/ml/processing/code"),
    ], (tmp_path / "out").as_uri(), ["python3", "/opt/ml/processing/code/script.py"])
    assert runtime(home).run(body)["status"] == "Completed"
    assert (tmp_path / "out" / "seen.txt").read_text() == "a.csv c.csv"


def test_a_key_that_would_escape_its_local_path_is_refused(tmp_path, home, s3_bucket):
    import boto3

    manifest = [{"prefix": f"s3://{s3_bucket}/data/"}, "../../etc/passwd"]
    boto3.client("s3").put_object(Bucket=s3_bucket, Key="evil.json", Body=json.dumps(manifest).encode())
    body = request("escape", [s3_input("data", f"s3://{s3_bucket}/evil.json", "/opt/ml/processing/input", kind="ManifestFile")],
                   (tmp_path / "out").as_uri(), ["true"])
    job = runtime(home).run(body)
    assert job["status"] == "Failed"
    assert "outside its LocalPath" in job["failure_reason"]


def test_the_employees_recipe_runs_as_a_job(tmp_path, home, mock_data):
    from prepline.processing.template import render

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "employees.csv").write_bytes(mock_data.read_bytes())
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "recipe.yaml").write_bytes((REPO / "examples/employees/recipe.yaml").read_bytes())
    text = render((REPO / "examples/employees/job.json").read_text(), {
        "JOB_NAME": "employees-job", "INPUT_URI": (tmp_path / "in").as_uri(), "RECIPE_URI": (tmp_path / "code").as_uri(),
        "OUTPUT_URI": (tmp_path / "out").as_uri(), "INSTANCE_COUNT": "1", "INSTANCE_TYPE": "ml.m5.large",
        "IMAGE_URI": "prepline:test", "ROLE_ARN": "arn:aws:iam::123456789012:role/prepline-processing",
    })
    job = runtime(home).run(json.loads(text))
    assert job["status"] == "Completed", job["failure_reason"]
    manifest = json.loads((tmp_path / "out" / "_manifest.json").read_text())
    assert manifest["rows_in"] == 20000
    assert {n: o["rows"] for n, o in manifest["outputs"].items()} == {
        "cleaned_data": 20000, "transformed_data": 20000, "train": 15984, "validation": 1997, "test": 2019,
        "department_statistics": 5, "rejected": 0}


def test_a_recipe_job_with_a_bad_input_reports_why(tmp_path, home):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "employees.csv").write_text("id,name\n1,x\n")
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "recipe.yaml").write_bytes((REPO / "examples/employees/recipe.yaml").read_bytes())
    body = request("bad-recipe-input", [
        s3_input("input-data", (tmp_path / "in").as_uri(), "/opt/ml/processing/input/data"),
        s3_input("code", (tmp_path / "code").as_uri(), "/opt/ml/processing/input/code"),
    ], (tmp_path / "out").as_uri(), ["python3", "-m", "prepline.processing"])
    job = runtime(home).run(body)
    assert job["status"] == "Failed"
    assert "lacks required column(s) 'age'" in job["exit_message"]
    assert "exited with code 2" in job["failure_reason"]


def test_the_docker_runtime_builds_the_same_container_view():
    from prepline.processing.local.isolation import DockerIsolation

    cmd = DockerIsolation().command(Path("/jobs/x/algo-1/opt/ml"), ["python3", "-m", "prepline.processing", "--format", "csv"],
                                    {"B": "2", "A": "1"}, "x-algo-1", "123.dkr.ecr/prepline:1")
    assert cmd == ["docker", "run", "--rm", "--name", "x-algo-1", "--init", "--volume", "/jobs/x/algo-1/opt/ml:/opt/ml",
                   "--env", "A=1", "--env", "B=2", "--entrypoint", "python3", "123.dkr.ecr/prepline:1",
                   "-m", "prepline.processing", "--format", "csv"]


def test_the_docker_runtime_says_when_no_engine_answers(tmp_path, home, monkeypatch):
    from prepline.errors import JobError
    from prepline.processing.local.isolation import DockerIsolation

    monkeypatch.setenv("PATH", str(tmp_path))  # no docker command at all
    with pytest.raises(JobError, match="docker"):
        DockerIsolation().check()


def test_an_instance_log_is_closed_by_the_last_of_its_writers(tmp_path):
    """stdout and stderr are pumped into one log; the first pump to finish used to close it while
    the other still wrote ("write to closed file")."""
    from prepline.processing.local.runtime import _InstanceLog

    log = _InstanceLog(tmp_path / "algo-1.log", writers=2)
    log.write(b"from stderr\n")
    log.done()  # stderr ended first
    log.write(b"from stdout, later")  # no line end: one is added
    log.done()
    lines = (tmp_path / "algo-1.log").read_bytes().splitlines()
    assert [line.split(b" ", 1)[1] for line in lines] == [b"from stderr", b"from stdout, later"]
    assert log._file.closed
