"""`job create` names where each split part lands, as training channels (one S3 prefix per part)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.validate import validate_parameters

from prepline.errors import JobRequestError
from prepline.processing.create import (
    CreateOptions,
    build_request,
    input_data_config,
    training_channels,
)
from tests.conftest import REPO, write_recipe
from tests.processing.conftest import ROLE, prepline

RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/prepline:1"
PARTS = ["train", "validation", "test"]


def test_each_split_part_of_the_employees_recipe_is_one_channel():
    channels = training_channels(RECIPE, "s3://b/out/job-1/", engine="polars", instance_count=1, output_format="csv")
    assert [(c.name, c.prefixes, c.content_type) for c in channels] == [
        (p, (f"s3://b/out/job-1/{p}.parquet",), "application/x-parquet") for p in PARTS
    ]
    config = input_data_config(channels)
    # a valid InputDataConfig for CreateTrainingJob, by botocore's own model of the API
    model = boto3.client("sagemaker", region_name="us-east-1").meta.service_model
    validate_parameters(
        {"TrainingJobName": "t", "RoleArn": ROLE, "InputDataConfig": config,
         "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
         "OutputDataConfig": {"S3OutputPath": "s3://b/models/"},
         "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
         "StoppingCondition": {"MaxRuntimeInSeconds": 3600}},
        model.operation_model("CreateTrainingJob").input_shape,
    )
    assert config[0]["DataSource"]["S3DataSource"] == {
        "S3DataType": "S3Prefix", "S3Uri": "s3://b/out/job-1/train.parquet", "S3DataDistributionType": "FullyReplicated"}


def test_parts_follow_the_run_format_and_partitioning(tmp_path):
    recipe = write_recipe(tmp_path, """
        name: t
        input: {format: csv, columns: {id: int64, d: string}}
        steps:
          - split: {by: id, parts: {fit: 0.5, holdout: 0.5}}
          - split: {by: id, parts: {a: 0.5, b: 0.5}, format: parquet, parquet: {partition_by: d}}
    """)
    channels = training_channels(recipe, "s3://b/o/j", engine="polars", instance_count=1, output_format="csv")
    assert {c.name: (c.prefixes[0], c.content_type) for c in channels} == {
        "fit": ("s3://b/o/j/fit.csv", "text/csv"), "holdout": ("s3://b/o/j/holdout.csv", "text/csv"),
        "a": ("s3://b/o/j/a/", "application/x-parquet"), "b": ("s3://b/o/j/b/", "application/x-parquet"),
    }


def test_sharded_polars_instances_write_a_part_per_instance_which_is_not_one_channel():
    channels = training_channels(RECIPE, "s3://b/o/j/", engine="polars", instance_count=2, output_format="csv")
    assert channels[0].prefixes == ("s3://b/o/j/algo-1/train.parquet", "s3://b/o/j/algo-2/train.parquet")
    with pytest.raises(JobRequestError, match="written once per instance") as info:
        input_data_config(channels)
    assert "--instance-count 1" in (info.value.hint or "")
    spark = training_channels(RECIPE, "s3://b/o/j/", engine="spark", instance_count=3, output_format="csv")
    assert spark[0].prefixes == ("s3://b/o/j/train.parquet",)  # one driver writes for the cluster


def test_job_create_prints_the_channels_and_writes_them(tmp_path, s3_bucket):
    channels_file = tmp_path / "channels.json"
    created = prepline("job", "create", "--recipe", str(RECIPE), "--input", f"s3://{s3_bucket}/input/",
                       "--output", f"s3://{s3_bucket}/output", "--role", ROLE, "--image", IMAGE,
                       "--output-file", str(tmp_path / "job.json"), "--channels-file", str(channels_file))
    assert created.returncode == 0, created.stderr
    name = json.loads((tmp_path / "job.json").read_text())["ProcessingJobName"]
    for part in PARTS:
        assert f"training channel {part} (application/x-parquet): s3://{s3_bucket}/output/{name}/{part}.parquet" in created.stderr
    config = json.loads(channels_file.read_text())
    assert [c["ChannelName"] for c in config] == PARTS
    no_split = write_recipe(tmp_path, "name: t\ninput: {format: csv, columns: {id: int64}}\nsteps: [{output: o}]\n")
    refused = prepline("job", "create", "--recipe", str(no_split), "--input", f"s3://{s3_bucket}/input/",
                       "--output", f"s3://{s3_bucket}/output", "--role", ROLE, "--image", IMAGE,
                       "--channels-file", str(tmp_path / "none.json"))
    assert refused.returncode == 2
    assert "has no split step, so no training channels" in refused.stderr
    assert not (tmp_path / "none.json").exists()


def test_the_channels_name_the_objects_the_job_writes(tmp_path, s3_bucket, home, mock_data, namespaces):
    s3 = boto3.client("s3")
    s3.upload_file(str(mock_data), s3_bucket, "input/mock_data.csv")
    body, facts = build_request(CreateOptions(recipe=RECIPE, input_uri=f"s3://{s3_bucket}/input/",
                                              output_uri=f"s3://{s3_bucket}/output", role_arn=ROLE, image_uri=IMAGE))
    path = tmp_path / "job.json"
    path.write_text(json.dumps(body))
    result = prepline("job", "run", str(path), timeout=300)
    assert result.returncode == 0, result.stderr
    manifest_key = facts["output_uri"][len(f"s3://{s3_bucket}/"):] + "_manifest.json"
    manifest = json.loads(s3.get_object(Bucket=s3_bucket, Key=manifest_key)["Body"].read())
    channels = training_channels(RECIPE, facts["output_uri"], engine="polars", instance_count=1, output_format="csv")
    assert [c.name for c in channels] == PARTS
    for channel in channels:
        prefix = channel.prefixes[0][len(f"s3://{s3_bucket}/"):]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["Contents"]]
        assert keys == [prefix]  # exactly the part's file: what the channel copies to /opt/ml/input/data/<name>/
        assert Path(prefix).name == manifest["outputs"][channel.name]["path"]
