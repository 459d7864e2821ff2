"""Requests are checked against botocore's SageMaker model and the processing contract; all problems are listed."""

from __future__ import annotations

import copy

import pytest

from prepline.errors import JobRequestError
from prepline.processing.request import validate_request
from tests.processing.conftest import request, s3_input

GOOD = request("good-job-1", [s3_input("data", "s3://bucket/in/", "/opt/ml/processing/input")],
               "s3://bucket/out/", ["python3", "x.py"])


def problems(body, local=True):
    with pytest.raises(JobRequestError) as err:
        validate_request(body, local=local)
    return err.value.problems


def test_a_good_request_passes():
    validate_request(GOOD, local=False)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b.update(ProcessingJobName="bad_name"), "does not match the pattern"),
        (lambda b: b.update(ProcessingJobName="-starts-with-dash"), "does not match the pattern"),
        (lambda b: b.update(ProcessingJobName="x" * 64), "at most 63 allowed"),
        (lambda b: b.pop("RoleArn"), "RoleArn: required field is missing"),
        (lambda b: b.update(RoleArn="not-an-arn-at-all-xxxxxx"), "RoleArn"),
        (lambda b: b["ProcessingResources"]["ClusterConfig"].update(InstanceCount=0), "below the minimum 1"),
        (lambda b: b["ProcessingResources"]["ClusterConfig"].update(InstanceCount="2"), "expected integer, got str"),
        (lambda b: b["ProcessingResources"]["ClusterConfig"].update(InstanceType="ml.nope"), "is not one of"),
        (lambda b: b["StoppingCondition"].update(MaxRuntimeInSeconds=10**7), "above the maximum"),
        (lambda b: b.update(Colour="red"), "Colour: unknown field"),
        (lambda b: b["ProcessingInputs"][0]["S3Input"].update(S3DataType="Folder"), "is not one of ManifestFile, S3Prefix"),
        (lambda b: b["ProcessingInputs"][0]["S3Input"].update(LocalPath="/tmp/data"), "must be a path under /opt/ml/processing/"),
        (lambda b: b["ProcessingInputs"][0]["S3Input"].update(LocalPath="/opt/ml/processing/../x"), "must be a path under"),
        (lambda b: b["ProcessingInputs"][0].update(InputName="out"), "'out' is used more than once"),
        (lambda b: b["AppSpecification"].pop("ImageUri"), "ImageUri: required field is missing"),
    ],
)
def test_each_problem_is_named(mutate, expected):
    body = copy.deepcopy(GOOD)
    mutate(body)
    found = problems(body)
    assert any(expected in p for p in found), found


def test_all_problems_are_listed_at_once():
    body = copy.deepcopy(GOOD)
    body["ProcessingJobName"] = "bad_name"
    body["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 0
    body.pop("RoleArn")
    found = problems(body)
    assert len(found) == 3, found


def test_file_uris_are_local_only():
    body = copy.deepcopy(GOOD)
    body["ProcessingInputs"][0]["S3Input"]["S3Uri"] = "file:///data/in"
    validate_request(body, local=True)
    assert any("file://" in p for p in problems(body, local=False))
