"""The four buckets: private, TLS-only, encrypted, owner-enforced, logged, versioned where it matters."""

from __future__ import annotations

import pytest

from tests.infra.cfn import resources

pytestmark = pytest.mark.infra

DATA_BUCKETS = ("raw", "processed", "artifacts")
BUCKETS = (*DATA_BUCKETS, "logs")


def bucket(synth, variant: str, name: str) -> dict:
    return synth.templates[variant]["Resources"][synth.ids[variant][name]]


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_every_bucket_blocks_public_access_and_enforces_object_ownership(templates, variant):
    template = templates[variant]
    template.resource_count_is("AWS::S3::Bucket", 4)
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_every_bucket_refuses_plain_http_and_old_tls(synth, variant):
    template = synth.templates[variant]
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
    }
    for name in BUCKETS:
        statements = policies[synth.ids[variant][name]]
        denies = [s for s in statements if s["Effect"] == "Deny"]
        assert any(
            s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in denies
        ), name
        assert any(
            s.get("Condition") == {"NumericLessThan": {"s3:TlsVersion": 1.2}} for s in denies
        ), name


def test_buckets_use_s3_managed_keys_by_default(synth):
    for name in BUCKETS:
        rules = bucket(synth, "prod", name)["Properties"]["BucketEncryption"][
            "ServerSideEncryptionConfiguration"
        ]
        assert rules == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}], name


def test_kms_option_encrypts_the_data_buckets_with_a_rotated_key(synth):
    key_id = synth.ids["dev"]["data_key"]
    key = synth.templates["dev"]["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    for name in DATA_BUCKETS:
        rules = bucket(synth, "dev", name)["Properties"]["BucketEncryption"][
            "ServerSideEncryptionConfiguration"
        ]
        assert rules == [
            {
                "BucketKeyEnabled": True,
                "ServerSideEncryptionByDefault": {
                    "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                    "SSEAlgorithm": "aws:kms",
                },
            }
        ], name
    # S3 server access logging can only deliver into an SSE-S3 bucket.
    logs = bucket(synth, "dev", "logs")["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ]
    assert logs == [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_raw_and_artifacts_are_versioned_with_noncurrent_expiry(synth, variant):
    for name in ("raw", "artifacts"):
        props = bucket(synth, variant, name)["Properties"]
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        rules = props["LifecycleConfiguration"]["Rules"]
        assert {
            "Id": "expire-noncurrent-versions",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
            "Status": "Enabled",
        } in rules
    for name in ("processed", "logs"):
        assert "VersioningConfiguration" not in bucket(synth, variant, name)["Properties"], name


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_every_bucket_aborts_incomplete_multipart_uploads(synth, variant):
    for name in BUCKETS:
        rules = bucket(synth, variant, name)["Properties"]["LifecycleConfiguration"]["Rules"]
        assert {
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            "Id": "abort-incomplete-multipart-uploads",
            "Status": "Enabled",
        } in rules, name


def test_processed_data_moves_to_infrequent_access_only_when_asked(synth):
    prod_rules = bucket(synth, "prod", "processed")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert not any("Transitions" in rule for rule in prod_rules)
    dev_rules = bucket(synth, "dev", "processed")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {
        "Id": "processed-to-infrequent-access",
        "Status": "Enabled",
        "Transitions": [{"StorageClass": "STANDARD_IA", "TransitionInDays": 60}],
    } in dev_rules


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_data_buckets_log_access_into_the_logs_bucket(synth, variant):
    logs_id = synth.ids[variant]["logs"]
    for name in DATA_BUCKETS:
        assert bucket(synth, variant, name)["Properties"]["LoggingConfiguration"] == {
            "DestinationBucketName": {"Ref": logs_id},
            "LogFilePrefix": f"{name}/",
        }
    logs_policy = next(
        p
        for p in resources(synth.templates[variant], "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": logs_id}
    )
    delivery = [
        s
        for s in logs_policy["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert delivery and all(s["Action"] == "s3:PutObject" for s in delivery)
    rules = bucket(synth, variant, "logs")["Properties"]["LifecycleConfiguration"]["Rules"]
    assert {"ExpirationInDays": 365, "Id": "expire-access-logs", "Status": "Enabled"} in rules


def test_prod_retains_buckets_and_keys(synth):
    template = synth.templates["prod"]
    for name in (*BUCKETS, "notifications_key"):
        resource = template["Resources"][synth.ids["prod"][name]]
        assert resource["DeletionPolicy"] == "Retain", name
        assert resource["UpdateReplacePolicy"] == "Retain", name
    assert not resources(template, "Custom::S3AutoDeleteObjects")


def test_dev_destroys_and_empties_buckets(synth):
    template = synth.templates["dev"]
    for name in BUCKETS:
        assert template["Resources"][synth.ids["dev"][name]]["DeletionPolicy"] == "Delete", name
    emptied = {
        r["Properties"]["BucketName"]["Ref"]
        for r in resources(template, "Custom::S3AutoDeleteObjects").values()
    }
    assert emptied == {synth.ids["dev"][name] for name in BUCKETS}


def test_bucket_names_are_left_to_cloudformation(synth):
    # Globally unique names chosen by CloudFormation; the CLI reads them from the outputs.
    for variant in ("prod", "dev"):
        for name in BUCKETS:
            assert "BucketName" not in bucket(synth, variant, name)["Properties"]
