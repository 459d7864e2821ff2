"""Template-wide IAM rules: no wildcard actions, no managed FullAccess policies, '*' only where AWS requires it."""

from __future__ import annotations

import pytest

from tests.infra.cfn import all_statements, as_list, resources

pytestmark = pytest.mark.infra

# Actions that have no resource-level permissions, so IAM only accepts Resource "*".
UNSCOPABLE = {
    "ecr:GetAuthorizationToken",
    "sagemaker:ListProcessingJobs",
    # Step Functions execution logging and X-Ray tracing (added by CDK for logs/tracing):
    "logs:CreateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "logs:GetLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:UpdateLogDelivery",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
}


AUTO_DELETE_ROLE = "CustomS3AutoDeleteObjectsCustomResourceProviderRole3B1BD092"


def identity_statements(template: dict) -> list[dict]:
    found = []
    for kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in resources(template, kind).values():
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for role in resources(template, "AWS::IAM::Role").values():
        for inline in role["Properties"].get("Policies", []):
            found.extend(inline["PolicyDocument"]["Statement"])
    return found


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_no_identity_policy_allows_a_wildcard_action(synth, variant):
    for statement in identity_statements(synth.templates[variant]):
        assert "NotAction" not in statement
        for action in as_list(statement["Action"]):
            assert "*" not in action, statement


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_the_only_wildcard_allow_anywhere_is_the_default_key_policy(synth, variant):
    # KMS's default key policy gives the account kms:* so IAM policies can grant key use;
    # without it a key becomes unmanageable. With env=dev, CDK's bucket-emptying Lambda
    # gets s3:List*/GetBucket*/DeleteObject* in each bucket's policy. Every other Allow
    # names its actions.
    template = synth.templates[variant]
    keys = {
        id(s)
        for key in resources(template, "AWS::KMS::Key").values()
        for s in key["Properties"]["KeyPolicy"]["Statement"]
    }
    for statement in all_statements(template):
        if statement.get("Effect") != "Allow":
            continue
        wildcard = [a for a in as_list(statement.get("Action", [])) if "*" in a]
        if (
            wildcard
            and variant == "dev"
            and statement["Principal"] == {"AWS": {"Fn::GetAtt": [AUTO_DELETE_ROLE, "Arn"]}}
        ):
            assert set(wildcard) == {"s3:DeleteObject*", "s3:GetBucket*", "s3:List*"}
        elif wildcard:
            assert id(statement) in keys and wildcard == ["kms:*"], statement
            assert statement["Principal"] == {
                "AWS": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":iam::",
                            {"Ref": "AWS::AccountId"},
                            ":root",
                        ],
                    ]
                }
            }


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_resource_star_only_for_actions_without_resource_level_permissions(synth, variant):
    for statement in identity_statements(synth.templates[variant]):
        if "*" in as_list(statement["Resource"]):
            assert set(as_list(statement["Action"])) <= UNSCOPABLE, statement


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_no_managed_full_access_policy(synth, variant):
    template = synth.templates[variant]
    assert not resources(template, "AWS::IAM::ManagedPolicy")
    attached = [
        arn
        for role in resources(template, "AWS::IAM::Role").values()
        for arn in role["Properties"].get("ManagedPolicyArns", [])
    ]
    assert not any("FullAccess" in str(arn) for arn in attached)
    if variant == "prod":
        assert attached == []
    else:
        # Only CDK's bucket-emptying Lambda (env=dev) carries a managed policy: basic logging.
        assert attached == [
            {
                "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            }
        ]
