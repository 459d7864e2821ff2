"""The GitHub Actions role: exact OIDC trust, and only this project's jobs, role, code and logs."""

from __future__ import annotations

import json

import pytest

from tests.infra.cfn import (
    actions_of,
    as_list,
    render,
    render_any,
    resources,
    statements_of_role,
    statements_with,
)

pytestmark = pytest.mark.infra

ISSUER = "token.actions.githubusercontent.com"
IMPORTED = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"


def ci_role(synth, variant: str) -> dict:
    return synth.templates[variant]["Resources"][synth.ids[variant]["ci_role"]]["Properties"]


def ci_statements(synth, variant: str = "prod") -> list[dict]:
    return statements_of_role(synth.templates[variant], synth.ids[variant]["ci_role"])


def test_trust_is_exactly_one_repository_on_one_branch(synth):
    (provider_id,) = resources(synth.templates["prod"], "AWS::IAM::OIDCProvider")
    assert ci_role(synth, "prod")["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                    f"{ISSUER}:sub": "repo:acme/prepline:ref:refs/heads/main",
                }
            },
            "Effect": "Allow",
            "Principal": {"Federated": {"Ref": provider_id}},
        }
    ]


def test_trust_can_name_a_github_environment_and_an_existing_provider(synth):
    assert ci_role(synth, "dev")["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{ISSUER}:aud": "sts.amazonaws.com",
                    f"{ISSUER}:sub": "repo:acme/prepline:environment:dev",
                }
            },
            "Effect": "Allow",
            "Principal": {"Federated": IMPORTED},
        }
    ]
    assert not resources(synth.templates["dev"], "AWS::IAM::OIDCProvider")


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_trust_has_no_wildcards_or_set_operators(synth, variant):
    trust = json.dumps(ci_role(synth, variant)["AssumeRolePolicyDocument"])
    for forbidden in ("StringLike", "ForAllValues", "ForAnyValue", "*"):
        assert forbidden not in trust


def test_the_stack_creates_the_github_provider_when_none_is_imported(templates):
    templates["prod"].has_resource_properties(
        "AWS::IAM::OIDCProvider",
        {"Url": f"https://{ISSUER}", "ClientIdList": ["sts.amazonaws.com"]},
    )


def test_sessions_last_at_most_an_hour(synth):
    assert ci_role(synth, "prod")["MaxSessionDuration"] == 3600
    assert "ManagedPolicyArns" not in ci_role(synth, "prod")


def test_it_can_do_exactly_what_ci_needs(synth):
    assert actions_of(ci_statements(synth)) == {
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:AddTags",
        "sagemaker:ListProcessingJobs",
        "iam:PassRole",
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "logs:DescribeLogStreams",
        "logs:FilterLogEvents",
        "logs:GetLogEvents",
        "cloudformation:DescribeStacks",
    }


def test_job_actions_are_limited_to_the_project_prefix(synth):
    for statement in ci_statements(synth):
        for action in as_list(statement["Action"]):
            if action.startswith("sagemaker:") and action != "sagemaker:ListProcessingJobs":
                assert render(statement["Resource"]).endswith(":processing-job/prepline-*"), action
    (listing,) = statements_with(ci_statements(synth), "sagemaker:ListProcessingJobs")
    assert listing["Action"] == "sagemaker:ListProcessingJobs" and listing["Resource"] == "*"


def test_it_passes_only_the_processing_role_and_only_to_sagemaker(synth):
    (passing,) = statements_with(ci_statements(synth), "iam:PassRole")
    assert passing["Resource"] == {"Fn::GetAtt": [synth.ids["prod"]["processing_role"], "Arn"]}
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }


def test_it_uploads_and_checks_only_under_the_code_prefix(synth):
    artifacts = synth.ids["prod"]["artifacts"]
    (upload,) = statements_with(ci_statements(synth), "s3:PutObject")
    assert set(as_list(upload["Action"])) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:AbortMultipartUpload",
    }
    assert render(upload["Resource"]) == f"<{artifacts}.Arn>/code/*"
    # Listing is bucket-wide (HeadObject says 404 rather than 403 only then), and only this bucket.
    (listing,) = statements_with(ci_statements(synth), "s3:ListBucket")
    assert render(listing["Resource"]) == f"<{artifacts}.Arn>"


def test_it_reads_only_the_processing_job_logs_and_its_own_stack(synth):
    statements = ci_statements(synth)
    for action in ("logs:DescribeLogStreams", "logs:FilterLogEvents", "logs:GetLogEvents"):
        for statement in statements_with(statements, action):
            for resource in as_list(statement["Resource"]):
                assert ":log-group:/aws/sagemaker/ProcessingJobs" in render_any(resource)
    (streams,) = statements_with(statements, "logs:GetLogEvents")
    assert render(streams["Resource"]).endswith(":log-stream:prepline-*")
    (describe,) = statements_with(statements, "cloudformation:DescribeStacks")
    assert describe["Resource"] == {"Ref": "AWS::StackId"}
