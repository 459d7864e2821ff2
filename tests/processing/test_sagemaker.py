"""Processing jobs on SageMaker: the whole flow against the moto server, the failure paths with botocore's Stubber."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from prepline.cloud.aws_errors import AwsError
from prepline.errors import JobError, JobRequestError
from prepline.processing.create import CreateOptions, build_request, job_name
from prepline.processing.sagemaker import LOG_GROUP, SageMakerJobs
from tests.conftest import REPO
from tests.processing.conftest import ROLE, prepline

RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/prepline:1"


def options(bucket: str, **overrides) -> CreateOptions:
    values = dict(recipe=RECIPE, input_uri=f"s3://{bucket}/input/", output_uri=f"s3://{bucket}/output",
                  role_arn=ROLE, image_uri=IMAGE)
    values.update(overrides)
    return CreateOptions(**values)


# --- job create --------------------------------------------------------------------------------


def test_job_names_are_unique_valid_and_short():
    import re

    names = {job_name("a-very-long-project-prefix", "an-even-longer-recipe-name-that-goes-on-and-on") for _ in range(20)}
    assert len(names) == 20
    for name in names:
        assert len(name) <= 63
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name), name


def test_create_ships_the_recipe_once_and_writes_a_valid_cloud_request(s3_bucket):
    from prepline.processing.request import validate_request

    first, facts = build_request(options(s3_bucket))
    second, facts_again = build_request(options(s3_bucket))
    assert facts["uploaded"] is True and facts_again["uploaded"] is False
    assert first["ProcessingJobName"] != second["ProcessingJobName"]
    code = first["ProcessingInputs"][1]["S3Input"]["S3Uri"]
    assert code.startswith(f"s3://{s3_bucket}/code/") and code == second["ProcessingInputs"][1]["S3Input"]["S3Uri"]
    body = boto3.client("s3").get_object(Bucket=s3_bucket, Key=code[len(f"s3://{s3_bucket}/"):] + "recipe.yaml")["Body"].read()
    assert body == RECIPE.read_bytes()
    validate_request(first, local=False)
    assert first["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "prepline.processing"]
    assert {t["Key"] for t in first["Tags"]} >= {"project", "recipe", "recipe-sha256"}
    assert first["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"].endswith(f"/{first['ProcessingJobName']}/")


def test_several_instances_shard_the_input(s3_bucket):
    body, _ = build_request(options(s3_bucket, instance_count=3))
    assert body["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert body["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3


def test_create_refuses_a_local_path_as_input(s3_bucket):
    with pytest.raises(JobRequestError, match="must be an s3:// or file:// URI"):
        build_request(options(s3_bucket, input_uri="/data/in"))


# --- the flow against moto ---------------------------------------------------------------------


def test_create_submit_wait_logs_list_describe_against_moto(tmp_path, s3_bucket, home):
    path = tmp_path / "job.json"
    args = ["job", "create", "--recipe", str(RECIPE), "--input", f"s3://{s3_bucket}/input/",
            "--output", f"s3://{s3_bucket}/output", "--role", ROLE, "--image", IMAGE, "--output-file", str(path)]
    created = prepline(*args)
    assert created.returncode == 0, created.stderr
    name = json.loads(path.read_text())["ProcessingJobName"]
    logs = boto3.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):  # made by an earlier test
        logs.create_log_group(logGroupName=LOG_GROUP)
    for host in ("algo-1", "algo-2"):
        stream = f"{name}/{host}-1700000000"
        logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=[
            {"timestamp": int(time.time() * 1000), "message": f"hello from {host}"}])
    submitted = prepline("job", "submit", str(path), "--wait", "--logs", "--json")
    assert submitted.returncode == 0, submitted.stderr
    lines = submitted.stdout.splitlines()
    assert "[algo-1] hello from algo-1" in lines and "[algo-2] hello from algo-2" in lines
    described = json.loads(prepline("job", "describe", name, "--backend", "sagemaker", "--json").stdout)
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["ProcessingJobName"] == name
    listed = json.loads(prepline("job", "list", "--backend", "sagemaker", "--json", "--name-contains", name).stdout)
    assert [j["ProcessingJobName"] for j in listed["ProcessingJobSummaries"]] == [name]
    only_two = prepline("job", "logs", name, "--backend", "sagemaker", "--instance", "algo-2").stdout
    assert only_two.strip() == "[algo-2] hello from algo-2"


def test_the_created_request_also_runs_locally(tmp_path, s3_bucket, home, mock_data, namespaces):
    boto3.client("s3").upload_file(str(mock_data), s3_bucket, "input/mock_data.csv")
    body, facts = build_request(options(s3_bucket))
    path = tmp_path / "job.json"
    path.write_text(json.dumps(body))
    result = prepline("job", "run", str(path))
    assert result.returncode == 0, result.stderr
    key = facts["output_uri"][len(f"s3://{s3_bucket}/"):] + "_manifest.json"
    manifest = json.loads(boto3.client("s3").get_object(Bucket=s3_bucket, Key=key)["Body"].read())
    assert manifest["outputs"]["transformed_data"]["rows"] == 20000


# --- failure paths with the Stubber ----------------------------------------------------------


def stubbed() -> tuple[SageMakerJobs, Stubber, list[float]]:
    client = boto3.client("sagemaker", region_name="us-east-1")
    logs = boto3.client("logs", region_name="us-east-1")
    sleeps: list[float] = []
    jobs = SageMakerJobs(sagemaker=client, logs=logs, sleep=sleeps.append)
    stub = Stubber(client)
    stub.activate()
    return jobs, stub, sleeps


def described(status: str, **extra) -> dict:
    base = {
        "ProcessingJobName": "j", "ProcessingJobArn": "arn:aws:sagemaker:us-east-1:123456789012:processing-job/j",
        "ProcessingJobStatus": status, "CreationTime": datetime(2026, 1, 1, tzinfo=UTC),
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 30}},
        "AppSpecification": {"ImageUri": IMAGE},
    }
    base.update(extra)
    return base


def test_wait_polls_with_backoff_until_the_job_ends():
    jobs, stub, sleeps = stubbed()
    for status in ("InProgress", "InProgress", "InProgress", "Completed"):
        stub.add_response("describe_processing_job", described(status), {"ProcessingJobName": "j"})
    seen = []
    final = jobs.wait("j", on_poll=lambda d: seen.append(d["ProcessingJobStatus"]))
    assert final["ProcessingJobStatus"] == "Completed"
    assert seen == ["InProgress", "InProgress", "InProgress", "Completed"]
    assert sleeps == [2.0, 4.0, 8.0]
    assert final["CreationTime"] == "2026-01-01T00:00:00+00:00"  # JSON-ready


@pytest.mark.parametrize("status", ["Failed", "Stopped"])
def test_a_job_that_does_not_complete_exits_non_zero_with_its_reasons(status, capsys):
    from prepline.cli.job_cmd import _finish

    with pytest.raises(JobError) as err:
        _finish(described(status, FailureReason="AlgorithmError: exit 3", ExitMessage="column x missing"), as_json=False)
    assert err.value.exit_code == 1
    assert f"ended {status}" in str(err.value)
    assert "FailureReason: AlgorithmError: exit 3" in str(err.value)
    assert "ExitMessage: column x missing" in str(err.value)


def test_throttling_is_retried_with_backoff_then_reported():
    jobs, stub, sleeps = stubbed()
    for _ in range(5):
        stub.add_client_error("describe_processing_job", service_error_code="ThrottlingException",
                              service_message="Rate exceeded", http_status_code=400)
    with pytest.raises(AwsError) as err:
        jobs.describe("j")
    assert err.value.transient and "throttling" in str(err.value) and "gave up after 5 attempts" in str(err.value)
    assert sleeps == [1.0, 2.0, 4.0, 8.0]


def test_throttling_then_success_succeeds():
    jobs, stub, sleeps = stubbed()
    stub.add_client_error("describe_processing_job", service_error_code="ThrottlingException", http_status_code=400)
    stub.add_response("describe_processing_job", described("Completed"), {"ProcessingJobName": "j"})
    assert jobs.describe("j")["ProcessingJobStatus"] == "Completed"
    assert sleeps == [1.0]


REQUEST = {
    "ProcessingJobName": "prepline-x-1", "RoleArn": ROLE,
    "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.t3.medium", "VolumeSizeInGB": 30}},
    "AppSpecification": {"ImageUri": IMAGE}, "Tags": [{"Key": "project", "Value": "prepline"}],
}
CI_USER = "arn:aws:sts::123456789012:assumed-role/prepline-ci/GitHubActions"


@pytest.mark.parametrize(
    ("code", "message", "expected", "hint"),
    [
        ("AccessDeniedException",
         f"User: {CI_USER} is not authorized to perform: iam:PassRole on resource: {ROLE}",
         f"may not call iam:PassRole on {ROLE}", "iam:PassedToService = sagemaker.amazonaws.com"),
        ("AccessDeniedException",
         f"User: {CI_USER} is not authorized to perform: sagemaker:AddTags on resource: arn:aws:sagemaker:us-east-1:123456789012:processing-job/prepline-x-1",
         "may not call sagemaker:AddTags", "creating a job with Tags also needs sagemaker:AddTags"),
        ("AccessDeniedException",
         f"User: {CI_USER} is not authorized to perform: sagemaker:CreateProcessingJob on resource: arn:aws:sagemaker:us-east-1:123456789012:processing-job/prepline-x-1",
         "may not call sagemaker:CreateProcessingJob", "allow sagemaker:CreateProcessingJob for"),
        ("ResourceLimitExceeded", "The account-level service limit 'ml.t3.medium for processing job usage' is 0 Instances",
         "an account quota is exhausted", "Service Quotas"),
        ("ValidationException", "1 validation error detected: Value 'x' at 'roleArn' failed to satisfy constraint",
         "(field roleArn)", "prepline job validate --cloud"),
        ("ResourceInUse", "Job name must be unique within an AWS account and region", "must be unique", "choose another"),
    ],
)
def test_aws_errors_say_what_to_do(code, message, expected, hint):
    jobs, stub, _ = stubbed()
    stub.add_client_error("create_processing_job", service_error_code=code, service_message=message, http_status_code=400)
    with pytest.raises(AwsError) as err:
        jobs.submit(REQUEST)
    assert expected in err.value.message, err.value.message
    assert hint in (err.value.hint or ""), err.value.hint
    assert err.value.exit_code == 2


def test_missing_credentials_say_how_to_configure_them(monkeypatch, tmp_path):
    import botocore.session

    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # never reached: signing fails first
    session = boto3.session.Session(botocore_session=botocore.session.Session(), region_name="us-east-1")
    jobs = SageMakerJobs(session=session)
    with pytest.raises(AwsError) as err:
        jobs.submit(REQUEST)
    assert "no AWS credentials" in err.value.message
    assert "OIDC" in err.value.hint and "AWS_PROFILE" in err.value.hint


def test_submit_validates_before_calling_aws():
    jobs, stub, _ = stubbed()  # no responses queued: any call would fail the stubber
    bad = dict(REQUEST, ProcessingJobName="bad_name")
    with pytest.raises(JobRequestError, match="does not match the pattern"):
        jobs.submit(bad)
    stub.assert_no_pending_responses()


def test_stop_refuses_a_finished_job():
    jobs, stub, _ = stubbed()
    stub.add_response("describe_processing_job", described("Completed"), {"ProcessingJobName": "j"})
    with pytest.raises(JobError, match="already Completed"):
        jobs.stop("j")


# --- the image -----------------------------------------------------------------------------------


def test_the_dockerfile_runs_as_non_root_with_an_exec_form_entrypoint():
    lines = [ln.strip() for ln in (REPO / "Dockerfile").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    entry = [ln for ln in lines if ln.startswith("ENTRYPOINT ")]
    assert len(entry) == 1
    assert json.loads(entry[0][len("ENTRYPOINT "):]) == ["python3", "-m", "prepline.processing"]
    base = next(ln for ln in lines if ln.startswith("FROM "))
    assert "@sha256:" in base or ":" in base.split()[1]  # a pinned tag, never :latest
    assert not base.split()[1].endswith(":latest")


def test_create_reads_role_image_and_prefixes_from_the_stack_outputs(tmp_path, s3_bucket):
    from prepline.cloud.stack_outputs import StackOutputs

    outputs = StackOutputs(
        stack_name="prepline-prod", raw_bucket=s3_bucket, processed_bucket=s3_bucket, artifacts_bucket=s3_bucket,
        logs_bucket="logs", processing_role_arn=ROLE, topic_arn="arn:aws:sns:us-east-1:123456789012:t",
        image_uri=IMAGE, raw_input_uri=f"s3://{s3_bucket}/input/", processed_output_uri=f"s3://{s3_bucket}/output/",
        code_uri=f"s3://{s3_bucket}/artifacts-code/", job_name_prefix="acme")
    outputs.write(tmp_path / "stack.json")
    result = prepline("job", "create", "--recipe", str(RECIPE), "--stack-file", str(tmp_path / "stack.json"),
                      "--output-file", str(tmp_path / "job.json"))
    assert result.returncode == 0, result.stderr
    body = json.loads((tmp_path / "job.json").read_text())
    assert body["RoleArn"] == ROLE and body["AppSpecification"]["ImageUri"] == IMAGE
    assert body["ProcessingJobName"].startswith("acme-employees-")
    assert body["ProcessingInputs"][0]["S3Input"]["S3Uri"] == f"s3://{s3_bucket}/input/"
    assert body["ProcessingInputs"][1]["S3Input"]["S3Uri"].startswith(f"s3://{s3_bucket}/artifacts-code/")
    missing = prepline("job", "create", "--recipe", str(RECIPE))
    assert missing.returncode == 2 and "--input, --output, --role, --image" in missing.stderr
