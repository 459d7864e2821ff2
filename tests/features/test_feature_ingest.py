"""Feature groups and PutRecord with botocore's Stubber: what moto does not model.

moto (5.x) has no Feature Store runtime (PutRecord answers 404), answers a
DescribeFeatureGroup of a missing group with a 500 instead of ResourceNotFound,
and creates a group already Created; so the creation-and-wait flow, throttling,
and partial failures are stubbed here. No test opens a socket.
"""

from __future__ import annotations

import json

import polars as pl
import pytest
from botocore.stub import ANY

from prepline.cloud.aws_errors import AwsError
from prepline.errors import InputError, PreplineError
from prepline.features.groups import compare
from tests.features.conftest import (
    ARN,
    DEFINITIONS,
    GROUP,
    ROLE,
    SCHEMA,
    Stubbed,
    described,
    frame,
    row,
)


def ensure(stubbed: Stubbed, **kwargs):
    return stubbed.ingestor.ensure_group(GROUP, SCHEMA.definitions, "id", "event_time", **kwargs)


# --- the feature group -------------------------------------------------------------------------


def test_a_missing_group_is_created_then_waited_for_until_created():
    with Stubbed() as s:
        s.missing()
        s.sm_stub.add_response("create_feature_group", {"FeatureGroupArn": ARN}, {
            "FeatureGroupName": GROUP,
            "RecordIdentifierFeatureName": "id",
            "EventTimeFeatureName": "event_time",
            "FeatureDefinitions": DEFINITIONS,
            "Description": "created by prepline features ingest",
            "OnlineStoreConfig": {"EnableOnlineStore": True},
            "OfflineStoreConfig": {"S3StorageConfig": {"S3Uri": "s3://processed/feature-store/"}},
            "RoleArn": ROLE,
        })
        for status in ("Creating", "Creating", "Creating", "Created"):
            s.describe(status=status)
        check = ensure(s, role_arn=ROLE, offline_s3_uri="s3://processed/feature-store/")
        s.verify()
    assert s.sleeps == [1.0, 2.0, 4.0]
    assert (check.created, check.status, check.arn, check.extra_features) == (True, "Created", ARN, ())


def test_an_online_only_group_needs_no_role():
    with Stubbed() as s:
        s.missing()
        s.sm_stub.add_response("create_feature_group", {"FeatureGroupArn": ARN}, {
            "FeatureGroupName": GROUP, "RecordIdentifierFeatureName": "id", "EventTimeFeatureName": "event_time",
            "FeatureDefinitions": DEFINITIONS, "Description": ANY, "OnlineStoreConfig": {"EnableOnlineStore": True},
        })
        s.describe()
        assert ensure(s).created is True
        s.verify()
    assert s.sleeps == []


def test_a_group_that_fails_to_create_is_reported_with_its_reason():
    with Stubbed() as s:
        s.missing()
        s.sm_stub.add_response("create_feature_group", {"FeatureGroupArn": ARN})
        s.describe(status="Creating")
        s.describe(status="CreateFailed", FailureReason="The role cannot write s3://processed/feature-store/")
        with pytest.raises(PreplineError, match="feature group 'employees' is CreateFailed: The role cannot write") as caught:
            ensure(s, role_arn=ROLE, offline_s3_uri="s3://processed/feature-store/")
    assert "delete-feature-group --feature-group-name employees" in str(caught.value.hint)


def test_a_create_request_sagemaker_refuses_says_what_to_check():
    with Stubbed() as s:
        s.missing()
        s.sm_stub.add_client_error("create_feature_group", service_error_code="ValidationException", http_status_code=400,
                                   service_message="The execution role ARN is invalid.")
        with pytest.raises(AwsError, match="cannot create feature group employees: SageMaker rejected the request") as caught:
            ensure(s, role_arn=ROLE, offline_s3_uri="s3://processed/feature-store")
        s.verify()
    assert "check the role (--role" in str(caught.value.hint)


def test_a_group_still_creating_after_the_timeout_is_reported_as_transient():
    with Stubbed() as s:
        s.missing()
        s.sm_stub.add_response("create_feature_group", {"FeatureGroupArn": ARN})
        for _ in range(4):
            s.describe(status="Creating")
        with pytest.raises(PreplineError, match="still Creating after 5 s") as caught:
            ensure(s, timeout=5)
    assert caught.value.transient is True
    assert s.sleeps == [1.0, 2.0, 4.0]


def test_a_group_created_meanwhile_by_someone_else_is_checked_instead():
    with Stubbed() as s:
        s.missing()
        s.sm_stub.add_client_error("create_feature_group", service_error_code="ResourceInUse",
                                   service_message="Resource Already Exists", http_status_code=400)
        s.describe()
        assert ensure(s).created is False
        s.verify()


def test_no_create_refuses_a_missing_group():
    with Stubbed() as s:
        s.missing()
        with pytest.raises(PreplineError, match="feature group 'employees' does not exist") as caught:
            ensure(s, create=False)
        s.verify()
    assert "drop --no-create" in str(caught.value.hint)


def test_a_group_without_any_store_or_an_offline_store_without_role_is_refused_before_creating():
    with Stubbed() as s:
        s.missing()
        with pytest.raises(InputError, match="would have no store"):
            ensure(s, online=False)
        s.missing()
        with pytest.raises(InputError, match="an offline store needs a role"):
            ensure(s, offline_s3_uri="s3://processed/feature-store/")
        s.verify()


def test_throttled_describes_are_retried_with_backoff():
    with Stubbed() as s:
        for _ in range(2):
            s.sm_stub.add_client_error("describe_feature_group", service_error_code="ThrottlingException",
                                       http_status_code=400, service_message="Rate exceeded")
        s.describe(definitions=[*DEFINITIONS, {"FeatureName": "salary", "FeatureType": "Fractional"}])
        check = ensure(s)
        s.verify()
    assert s.sleeps == [1.0, 2.0]
    assert (check.created, check.extra_features) == (False, ("salary",))


def test_throttling_on_describe_gives_up_after_five_attempts():
    with Stubbed() as s:
        for _ in range(5):
            s.sm_stub.add_client_error("describe_feature_group", service_error_code="ThrottlingException",
                                       http_status_code=400, service_message="Rate exceeded")
        with pytest.raises(AwsError, match=r"AWS is throttling requests .*gave up after 5 attempts") as caught:
            ensure(s)
    assert caught.value.transient is True
    assert s.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_a_conflicting_schema_names_each_column_and_both_types():
    group = described(definitions=[
        {"FeatureName": "id", "FeatureType": "String"},
        {"FeatureName": "full_name", "FeatureType": "String"},
        {"FeatureName": "age", "FeatureType": "Integral"},
        {"FeatureName": "event_time", "FeatureType": "String"},
    ], RecordIdentifierFeatureName="employee_id")
    with pytest.raises(InputError) as caught:
        compare(GROUP, group, SCHEMA.definitions, "id", "event_time")
    assert caught.value.message == (
        "the data does not fit feature group 'employees':\n"
        "  - record identifier: 'id' in this ingest, 'employee_id' in the group\n"
        "  - id: Integral in the data (Int64), String in the group\n"
        "  - name: String in the data (String), not in the group (the group has 'full_name')\n"
        "  - age: Fractional in the data (Float64), Integral in the group"
    )


# --- records ----------------------------------------------------------------------------------


def test_every_record_is_put_with_nulls_left_out_and_values_as_text(tmp_path):
    data = frame(5).with_columns(pl.when(pl.col("id") == 2).then(None).otherwise(pl.col("name")).alias("name"))
    progress: list[int] = []
    with Stubbed() as s:
        for i in range(1, 6):
            record = row(i)
            if i == 2:
                del record["name"]
            s.put_ok(record)
        result = s.ingestor.ingest(data, GROUP, schema=SCHEMA, batch_size=2, failed_output=tmp_path / "f.jsonl",
                                   on_progress=progress.append)
        s.verify()
    assert (result.total, result.written, result.failed, result.failed_path) == (5, 5, 0, None)
    assert progress == [1] * 5
    assert not (tmp_path / "f.jsonl").exists()


def test_a_throttled_record_is_retried_then_written(tmp_path):
    with Stubbed() as s:
        s.put_error("ThrottlingException", 400, row(1))
        s.put_error("ServiceUnavailable", 503, row(1))
        s.put_ok(row(1))
        s.put_ok(row(2))
        result = s.ingestor.ingest(frame(2), GROUP, schema=SCHEMA, failed_output=tmp_path / "f.jsonl")
        s.verify()
    assert (result.written, result.failed) == (2, 0)
    assert s.sleeps == [0.5, 1.0]


def test_a_record_throttled_past_its_attempts_is_kept_with_its_error(tmp_path):
    failed = tmp_path / "failed" / "employees-failed.jsonl"
    with Stubbed() as s:
        s.put_ok(row(1))
        for _ in range(3):
            s.put_error("ThrottlingException", 400, row(2), "Rate exceeded")
        s.put_ok(row(3))
        result = s.ingestor.ingest(frame(3), GROUP, schema=SCHEMA, max_attempts=3, failed_output=failed)
        s.verify()
    assert (result.total, result.written, result.failed, result.failed_path) == (3, 2, 1, failed)
    assert s.sleeps == [0.5, 1.0]
    lines = failed.read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{
        "row": 2,
        "error": {"code": "ThrottlingException", "message": "Rate exceeded (gave up after 3 attempts)", "attempts": 3},
        "record": row(2),
    }]


def test_a_record_refused_by_feature_store_fails_alone_and_is_not_retried(tmp_path):
    with Stubbed() as s:
        for i in range(1, 6):
            if i == 3:
                s.put_error("ValidationError", 400, row(3), "Invalid value for feature age")
            else:
                s.put_ok(row(i))
        result = s.ingestor.ingest(frame(5), GROUP, schema=SCHEMA, failed_output=tmp_path / "f.jsonl")
        s.verify()
    assert (result.written, result.failed) == (4, 1)
    assert s.sleeps == []
    (line,) = (tmp_path / "f.jsonl").read_text().splitlines()
    assert json.loads(line)["error"] == {"code": "ValidationError", "message": "Invalid value for feature age", "attempts": 1}


def test_a_null_record_identifier_fails_without_a_call(tmp_path):
    data = frame(2).with_columns(pl.when(pl.col("id") == 1).then(None).otherwise(pl.col("id")).alias("id"))
    with Stubbed() as s:
        s.put_ok(row(2))
        result = s.ingestor.ingest(data, GROUP, schema=SCHEMA, failed_output=tmp_path / "f.jsonl")
        s.verify()
    assert (result.written, result.failed) == (1, 1)
    failure = json.loads((tmp_path / "f.jsonl").read_text())
    assert failure["error"] == {"code": "MissingValue", "message": "the record identifier 'id' is null", "attempts": 0}
    assert "id" not in failure["record"]


def test_access_denied_stops_the_run_and_says_how_far_it_got(tmp_path):
    with Stubbed() as s:
        s.put_ok(row(1))
        s.put_error("AccessForbidden", 403, row(2),
                    "User: arn:aws:sts::123456789012:assumed-role/x/y is not authorized to perform: "
                    f"sagemaker:PutRecord on resource: {ARN}")
        with pytest.raises(AwsError) as caught:
            s.ingestor.ingest(frame(3), GROUP, schema=SCHEMA, failed_output=tmp_path / "f.jsonl")
    message = str(caught.value)
    assert "cannot put records into feature group employees" in message
    assert "sagemaker:PutRecord" in message
    assert "(1 of 3 records were written before this)" in message
    assert caught.value.exit_code == 2


def test_many_records_in_parallel_are_all_counted(tmp_path):
    with Stubbed(workers=8) as s:
        for _ in range(120):
            s.put_ok()
        result = s.ingestor.ingest(frame(120), GROUP, schema=SCHEMA, batch_size=50, failed_output=tmp_path / "f.jsonl")
        s.verify()
    assert (result.total, result.written, result.failed) == (120, 120, 0)


def test_ingest_reads_a_file_and_derives_the_schema_itself(tmp_path):
    path = tmp_path / "data.csv"
    frame(2).write_csv(path)
    with Stubbed() as s:
        s.put_ok(row(1))
        s.put_ok(row(2))
        result = s.ingestor.ingest(path, GROUP, record_id="id", event_time="event_time",
                                   failed_output=tmp_path / "f.jsonl")
        s.verify()
    assert (result.written, result.failed) == (2, 0)
