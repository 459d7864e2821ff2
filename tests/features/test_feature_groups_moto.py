"""Feature groups against the moto server (127.0.0.1), for what moto models.

moto 5 models CreateFeatureGroup (with an offline store; an online-only group
gives a 500) and DescribeFeatureGroup of an existing group (Created at once).
Everything else is stubbed in test_feature_ingest.py.
"""

from __future__ import annotations

import uuid

import boto3
import polars as pl
import pytest

from prepline.errors import InputError
from prepline.features import FeatureStoreIngestor, derive_definitions

ROLE = "arn:aws:iam::123456789012:role/feature-store-offline"
DATA = pl.DataFrame({"id": [1], "name": ["a"], "age": [31.5], "event_time": ["2024-01-02T03:04:05Z"]})
SCHEMA = derive_definitions(DATA.schema, "id", "event_time")


@pytest.fixture
def ingestor(aws: str) -> FeatureStoreIngestor:
    # PutRecord is not modelled: a runtime client that is never called.
    return FeatureStoreIngestor(runtime=object(), sleep=lambda s: None)


def name() -> str:
    return f"fg-{uuid.uuid4().hex[:10]}"


def test_create_group_sends_a_request_moto_accepts_and_waits_for_created(ingestor, s3_bucket):
    group = name()
    offline = f"s3://{s3_bucket}/feature-store/"
    described = ingestor.create_group(group, SCHEMA.definitions, "id", "event_time",
                                      role_arn=ROLE, offline_s3_uri=offline)
    assert described["FeatureGroupStatus"] == "Created"
    assert described["FeatureDefinitions"] == SCHEMA.api_definitions()
    assert described["OfflineStoreConfig"]["S3StorageConfig"]["S3Uri"] == offline
    assert described["RoleArn"] == ROLE
    # and an existing group is checked, not created again
    check = ingestor.ensure_group(group, SCHEMA.definitions, "id", "event_time")
    assert (check.created, check.status, check.extra_features, check.offline_s3_uri) == (False, "Created", (), offline)
    assert check.arn == f"arn:aws:sagemaker:us-east-1:123456789012:feature-group/{group}"


def existing(group: str, bucket: str, definitions: list[dict]) -> None:
    boto3.client("sagemaker").create_feature_group(
        FeatureGroupName=group, RecordIdentifierFeatureName="id", EventTimeFeatureName="event_time",
        FeatureDefinitions=definitions, RoleArn=ROLE,
        OfflineStoreConfig={"S3StorageConfig": {"S3Uri": f"s3://{bucket}/feature-store/"}},
    )


def test_an_existing_group_with_more_features_accepts_the_data(ingestor, s3_bucket):
    group = name()
    existing(group, s3_bucket, [*SCHEMA.api_definitions(), {"FeatureName": "salary", "FeatureType": "Fractional"}])
    check = ingestor.ensure_group(group, SCHEMA.definitions, "id", "event_time", create=False)
    assert (check.created, check.extra_features) == (False, ("salary",))


def test_an_existing_group_with_a_conflicting_schema_is_refused_naming_the_columns(ingestor, s3_bucket):
    group = name()
    existing(group, s3_bucket, [
        {"FeatureName": "id", "FeatureType": "Integral"},
        {"FeatureName": "age", "FeatureType": "Integral"},
        {"FeatureName": "event_time", "FeatureType": "String"},
    ])
    with pytest.raises(InputError) as caught:
        ingestor.ensure_group(group, SCHEMA.definitions, "id", "event_time")
    assert caught.value.message == (
        f"the data does not fit feature group {group!r}:\n"
        "  - name: String in the data (String), not in the group\n"
        "  - age: Fractional in the data (Float64), Integral in the group"
    )
    assert "update-feature-group --feature-additions" in str(caught.value.hint)
