"""The SageMaker processing role: trusted by SageMaker for this account, scoped to its prefixes."""

from __future__ import annotations

import pytest

from tests.infra.cfn import (
    actions_of,
    as_list,
    render,
    render_any,
    statements_of_role,
    statements_with,
)

pytestmark = pytest.mark.infra

LOG_GROUP = ":log-group:/aws/sagemaker/ProcessingJobs"


def role_statements(synth, variant: str = "prod") -> list[dict]:
    return statements_of_role(synth.templates[variant], synth.ids[variant]["processing_role"])


def resources_of(statements: list[dict]) -> set[str]:
    return {render_any(r) for s in statements for r in as_list(s["Resource"])}


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_only_sagemaker_for_this_account_can_assume_it(synth, variant):
    role = synth.templates[variant]["Resources"][synth.ids[variant]["processing_role"]][
        "Properties"
    ]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
        }
    ]
    assert "ManagedPolicyArns" not in role
    assert "Policies" not in role


def test_it_can_do_exactly_what_a_job_needs(synth):
    assert actions_of(role_statements(synth)) == {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "logs:CreateLogGroup",
        "logs:DescribeLogStreams",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
        "ecr:GetAuthorizationToken",
    }
    dev_extra = actions_of(role_statements(synth, "dev")) - actions_of(role_statements(synth))
    # dev also declares a feature group: `prepline features ingest` checks it and puts records
    assert dev_extra == {
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "sagemaker:DescribeFeatureGroup",
        "sagemaker:PutRecord",
    }


def test_it_reads_the_raw_input_and_code_prefixes_only(synth):
    ids = synth.ids["prod"]
    statements = role_statements(synth)
    assert resources_of(statements_with(statements, "s3:GetObject")) == {
        f"<{ids['raw']}.Arn>/input/*",
        f"<{ids['artifacts']}.Arn>/code/*",
    }


def test_it_writes_the_processed_prefix_only(synth):
    ids = synth.ids["prod"]
    for action in ("s3:PutObject", "s3:AbortMultipartUpload"):
        assert resources_of(statements_with(role_statements(synth), action)) == {
            f"<{ids['processed']}.Arn>/output/*"
        }


def test_it_lists_buckets_only_under_its_prefixes(synth):
    ids = synth.ids["prod"]
    listed = {
        render(s["Resource"]): s["Condition"]
        for s in statements_with(role_statements(synth), "s3:ListBucket")
    }
    assert listed == {
        f"<{ids['raw']}.Arn>": {"StringLike": {"s3:prefix": ["input/*"]}},
        f"<{ids['artifacts']}.Arn>": {"StringLike": {"s3:prefix": ["code/*"]}},
        f"<{ids['processed']}.Arn>": {"StringLike": {"s3:prefix": ["output/*"]}},
    }


def test_it_writes_only_this_projects_job_log_streams(synth):
    statements = role_statements(synth)
    (streams,) = statements_with(statements, "logs:PutLogEvents")
    assert as_list(streams["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert render(streams["Resource"]).endswith(f"{LOG_GROUP}:log-stream:prepline-*")
    (group,) = statements_with(statements, "logs:CreateLogGroup")
    assert sorted(render(r) for r in group["Resource"]) == [
        f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>{LOG_GROUP}",
        f"arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>{LOG_GROUP}:*",
    ]


def test_it_pulls_the_image_from_the_asset_repository_only(synth):
    statements = role_statements(synth)
    (pull,) = statements_with(statements, "ecr:BatchGetImage")
    assert "cdk-hnb659fds-container-assets-" in render_any(pull["Resource"])
    (token,) = statements_with(statements, "ecr:GetAuthorizationToken")
    assert token["Action"] == "ecr:GetAuthorizationToken"  # alone: it cannot be scoped


def test_with_kms_it_may_use_the_data_key_only(synth):
    key = f"<{synth.ids['dev']['data_key']}.Arn>"
    kms = [
        s
        for s in role_statements(synth, "dev")
        if any(a.startswith("kms:") for a in as_list(s["Action"]))
    ]
    assert kms and all(render(s["Resource"]) == key for s in kms)
