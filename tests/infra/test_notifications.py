"""Job notifications: EventBridge rule on this project's ended jobs -> encrypted SNS topic."""

from __future__ import annotations

import pytest

from tests.infra.cfn import resources

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_rule_matches_ended_jobs_with_the_project_prefix(synth, variant):
    ids = synth.ids[variant]
    rule = synth.templates[variant]["Resources"][ids["rule"]]["Properties"]
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Processing Job State Change"],
        "detail": {
            "ProcessingJobStatus": ["Completed", "Failed", "Stopped"],
            "ProcessingJobName": [{"prefix": "prepline-"}],
        },
    }
    assert rule["State"] == "ENABLED"
    # Publishing goes through the topic policy: AWS advises no target role for encrypted topics.
    assert rule["Targets"] == [{"Arn": {"Ref": ids["topic"]}, "Id": "Target0"}]


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_topic_is_encrypted_with_a_rotated_customer_key(synth, variant):
    ids = synth.ids[variant]
    template = synth.templates[variant]
    topic = template["Resources"][ids["topic"]]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [ids["notifications_key"], "Arn"]}
    key = template["Resources"][ids["notifications_key"]]["Properties"]
    assert key["EnableKeyRotation"] is True
    events_statements = [
        s
        for s in key["KeyPolicy"]["Statement"]
        if s["Principal"] == {"Service": "events.amazonaws.com"}
    ]
    assert events_statements == [
        {
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": "*",
            "Sid": "EventBridgeEncryptsWhatItPublishes",
        }
    ]


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_only_the_rule_may_publish_and_only_over_tls(synth, variant):
    ids = synth.ids[variant]
    (policy,) = resources(synth.templates[variant], "AWS::SNS::TopicPolicy").values()
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {
        "Action": "sns:Publish",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": "*",
        "Resource": {"Ref": ids["topic"]},
        "Sid": "AllowPublishThroughSSLOnly",
    } in statements
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert allows == [
        {
            "Action": "sns:Publish",
            "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [ids["rule"], "Arn"]}}},
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": {"Ref": ids["topic"]},
            "Sid": "OnlyTheJobEndedRulePublishes",
        }
    ]


def test_email_subscription_only_when_configured(templates, synth):
    templates["prod"].resource_count_is("AWS::SNS::Subscription", 0)
    templates["dev"].has_resource_properties(
        "AWS::SNS::Subscription",
        {
            "Protocol": "email",
            "Endpoint": "data-team@example.com",
            "TopicArn": {"Ref": synth.ids["dev"]["topic"]},
        },
    )
