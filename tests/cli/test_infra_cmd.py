"""`prepline infra outputs` against a local moto server."""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from prepline.cli.infra_cmd import app
from prepline.errors import PreplineError

OUTPUTS = {
    "RawBucketName": "raw-bucket",
    "ProcessedBucketName": "processed-bucket",
    "ArtifactsBucketName": "artifacts-bucket",
    "LogsBucketName": "logs-bucket",
    "ProcessingRoleArn": "arn:aws:iam::123456789012:role/processing",
    "CiRoleArn": "arn:aws:iam::123456789012:role/ci",
    "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:jobs",
    "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/repo:tag",
    "RawInputUri": "s3://raw-bucket/input/",
    "ProcessedOutputUri": "s3://processed-bucket/output/",
    "CodeUri": "s3://artifacts-bucket/code/",
    "JobNamePrefix": "prepline-",
}

runner = CliRunner()


@pytest.fixture
def stack(aws: str) -> str:
    import boto3

    name = f"prepline-cli-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in OUTPUTS.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def test_outputs_json(stack):
    result = runner.invoke(app, ["outputs", "--stack", stack, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["stack_name"] == stack and data["region"] == "us-east-1"
    assert data["processing_role_arn"] == OUTPUTS["ProcessingRoleArn"]
    assert data["ci_role_arn"] == OUTPUTS["CiRoleArn"]
    assert data["image_uri"] == OUTPUTS["ImageUri"]
    assert data["state_machine_arn"] is None


def test_outputs_table_for_people(stack):
    result = runner.invoke(app, ["outputs", "--stack", stack], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for field in ("raw_bucket", "processing_role_arn", "topic_arn"):
        assert field in result.stdout
    assert OUTPUTS["ProcessingRoleArn"] in result.stdout
    assert "state_machine_arn" not in result.stdout  # absent outputs are not listed


def test_stack_name_from_the_environment(stack):
    result = runner.invoke(app, ["outputs", "--json"], env={"PREPLINE_STACK": stack})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["stack_name"] == stack


def test_write_saves_the_outputs_for_later_commands(stack, tmp_path):
    target = tmp_path / "stack.json"
    result = runner.invoke(app, ["outputs", "--stack", stack, "--write", str(target)])
    assert result.exit_code == 0, result.output
    saved = json.loads(target.read_text())
    assert saved["raw_bucket"] == OUTPUTS["RawBucketName"] and saved["stack_name"] == stack


def test_missing_stack_raises_the_error_the_root_app_renders(aws):
    result = runner.invoke(app, ["outputs", "--stack", "prepline-absent"])
    assert isinstance(result.exception, PreplineError)
    assert "'prepline-absent' does not exist" in str(result.exception)
    assert result.exception.exit_code == 2


def test_no_arguments_shows_help():
    result = runner.invoke(app, [])
    assert "outputs" in result.output
