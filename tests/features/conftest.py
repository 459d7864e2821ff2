"""Shared helpers: stubbed SageMaker and Feature Store runtime clients, and a small dataset."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import polars as pl
from botocore.stub import Stubber

from prepline.features import FeatureStoreIngestor, derive_definitions

GROUP = "employees"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:feature-group/{GROUP}"
ROLE = "arn:aws:iam::123456789012:role/feature-store-offline"
TS = "2024-01-02T03:04:05.000Z"


def frame(rows: int = 3) -> pl.DataFrame:
    return pl.DataFrame({
        "id": list(range(1, rows + 1)),
        "name": [f"n{i}" for i in range(1, rows + 1)],
        "age": [30.5 + i for i in range(rows)],
        "event_time": [TS] * rows,
    })


SCHEMA = derive_definitions(frame().schema, "id", "event_time")
DEFINITIONS = SCHEMA.api_definitions()


def described(status: str = "Created", definitions: list[dict] | None = None, **extra) -> dict:
    return {
        "FeatureGroupArn": ARN,
        "FeatureGroupName": GROUP,
        "RecordIdentifierFeatureName": "id",
        "EventTimeFeatureName": "event_time",
        "FeatureDefinitions": DEFINITIONS if definitions is None else definitions,
        "CreationTime": datetime(2024, 1, 1, tzinfo=UTC),
        "OnlineStoreConfig": {"EnableOnlineStore": True},
        "FeatureGroupStatus": status,
        "NextToken": "",
        **extra,
    }


class Stubbed:
    """An ingestor on stubbed clients; ``sleeps`` records every backoff."""

    def __init__(self, workers: int = 1):
        self.sm = boto3.client("sagemaker", region_name="us-east-1")
        self.runtime = boto3.client("sagemaker-featurestore-runtime", region_name="us-east-1")
        self.sm_stub = Stubber(self.sm)
        self.rt_stub = Stubber(self.runtime)
        self.sleeps: list[float] = []
        self.ingestor = FeatureStoreIngestor(sagemaker=self.sm, runtime=self.runtime, sleep=self.sleeps.append,
                                             workers=workers)

    def __enter__(self) -> Stubbed:
        self.sm_stub.activate()
        self.rt_stub.activate()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sm_stub.deactivate()
        self.rt_stub.deactivate()

    def verify(self) -> None:
        self.sm_stub.assert_no_pending_responses()
        self.rt_stub.assert_no_pending_responses()

    def describe(self, **kwargs) -> None:
        self.sm_stub.add_response("describe_feature_group", described(**kwargs), {"FeatureGroupName": GROUP})

    def missing(self) -> None:
        self.sm_stub.add_client_error(
            "describe_feature_group", service_error_code="ResourceNotFound", http_status_code=400,
            service_message=f"Resource Not Found: Amazon SageMaker can't find a FeatureGroup with name {GROUP}",
            expected_params={"FeatureGroupName": GROUP},
        )

    def put_ok(self, record: dict | None = None) -> None:
        self.rt_stub.add_response("put_record", {}, None if record is None else expected(record))

    def put_error(self, code: str, status: int, record: dict | None = None, message: str = "") -> None:
        self.rt_stub.add_client_error("put_record", service_error_code=code, http_status_code=status,
                                      service_message=message or code,
                                      expected_params=None if record is None else expected(record))


def expected(record: dict) -> dict:
    return {"FeatureGroupName": GROUP,
            "Record": [{"FeatureName": k, "ValueAsString": v} for k, v in record.items()]}


def row(i: int) -> dict:
    return {"id": str(i), "name": f"n{i}", "age": str(30.5 + i - 1), "event_time": TS}
