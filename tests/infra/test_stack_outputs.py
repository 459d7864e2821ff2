"""Reading the deployed stack's outputs from CloudFormation (a local moto server)."""

from __future__ import annotations

import json
import socket
import uuid

import pytest

from prepline.cloud.stack_outputs import OUTPUT_KEYS, StackOutputs, read_stack_outputs
from prepline.errors import PreplineError

OUTPUTS = {
    "RawBucketName": "prepline-prod-storageraw-1a2b3c",
    "ProcessedBucketName": "prepline-prod-storageprocessed-4d5e6f",
    "ArtifactsBucketName": "prepline-prod-storageartifacts-7a8b9c",
    "LogsBucketName": "prepline-prod-storagelogs-0d1e2f",
    "ProcessingRoleArn": "arn:aws:iam::123456789012:role/prepline-prod-ProcessingRole-ABC",
    "CiRoleArn": "arn:aws:iam::123456789012:role/prepline-prod-CiAccessRole-DEF",
    "NotificationTopicArn": "arn:aws:sns:us-east-1:123456789012:prepline-prod-Topic-GHI",
    "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/cdk-hnb659fds-container-assets-123456789012-us-east-1:abc123",
    "RawInputUri": "s3://prepline-prod-storageraw-1a2b3c/input/",
    "ProcessedOutputUri": "s3://prepline-prod-storageprocessed-4d5e6f/output/",
    "CodeUri": "s3://prepline-prod-storageartifacts-7a8b9c/code/",
    "JobNamePrefix": "prepline-",
}


def create_stack(outputs: dict[str, str]) -> str:
    """A CloudFormation stack on the moto server with these outputs; returns its name."""
    import boto3

    name = f"prepline-test-{uuid.uuid4().hex[:8]}"
    template = {
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def test_outputs_are_mapped_to_named_fields(aws):
    name = create_stack(OUTPUTS)
    result = read_stack_outputs(name)
    assert result.stack_name == name and result.region == "us-east-1"
    assert result.raw_bucket == OUTPUTS["RawBucketName"]
    assert result.processed_bucket == OUTPUTS["ProcessedBucketName"]
    assert result.artifacts_bucket == OUTPUTS["ArtifactsBucketName"]
    assert result.logs_bucket == OUTPUTS["LogsBucketName"]
    assert result.processing_role_arn == OUTPUTS["ProcessingRoleArn"]
    assert result.ci_role_arn == OUTPUTS["CiRoleArn"]
    assert result.topic_arn == OUTPUTS["NotificationTopicArn"]
    assert result.image_uri == OUTPUTS["ImageUri"]
    assert result.code_uri == OUTPUTS["CodeUri"]
    assert result.state_machine_arn is None  # no schedule deployed


def test_a_client_can_be_injected(aws):
    import boto3

    name = create_stack(OUTPUTS)
    client = boto3.Session(region_name="us-east-1").client("cloudformation")
    assert read_stack_outputs(name, client=client).raw_bucket == OUTPUTS["RawBucketName"]


def test_the_ci_role_is_optional(aws):
    name = create_stack({k: v for k, v in OUTPUTS.items() if k != "CiRoleArn"})
    assert read_stack_outputs(name).ci_role_arn is None


def test_a_missing_stack_names_the_stack_and_how_to_deploy_it(aws):
    with pytest.raises(PreplineError) as caught:
        read_stack_outputs("prepline-nowhere")
    message = str(caught.value)
    assert "CloudFormation stack 'prepline-nowhere' does not exist in us-east-1" in message
    assert "cdk deploy" in message
    assert caught.value.exit_code == 2 and not caught.value.transient


def test_a_stack_without_prepline_outputs_is_refused(aws):
    name = create_stack({"Something": "else", "RawBucketName": "b"})
    with pytest.raises(PreplineError) as caught:
        read_stack_outputs(name)
    message = str(caught.value)
    assert (
        f"stack {name!r} (status CREATE_COMPLETE) lacks the output(s) ArtifactsBucketName, CodeUri"
        in message
    )
    assert "CiRoleArn" not in message


def test_an_unreachable_endpoint_is_a_transient_error(monkeypatch):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    with pytest.raises(PreplineError) as caught:
        read_stack_outputs("prepline-prod", region="us-east-1")
    assert caught.value.transient
    assert (
        "cannot read the outputs of stack 'prepline-prod': the AWS endpoint did not answer"
        in str(caught.value)
    )


def test_an_unknown_profile_says_how_to_list_profiles(monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    with pytest.raises(PreplineError) as caught:
        read_stack_outputs("prepline-prod", profile="nobody")
    assert "AWS profile 'nobody' does not exist" in str(caught.value)


def test_outputs_round_trip_through_a_file(tmp_path):
    outputs = [{"OutputKey": k, "OutputValue": v} for k, v in OUTPUTS.items()]
    written = StackOutputs.from_cloudformation("prepline-prod", outputs, region="eu-west-1")
    path = written.write(tmp_path / "nested" / "stack.json")
    assert StackOutputs.read(path) == written
    assert json.loads(path.read_text())["processing_role_arn"] == OUTPUTS["ProcessingRoleArn"]
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_every_output_id_maps_to_a_field():
    fields = set(StackOutputs.__dataclass_fields__)
    assert set(OUTPUT_KEYS.values()) <= fields
