"""The pipeline on S3 (a local moto server): s3:// input and output, the manifest last, prefixes."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import polars as pl
import pytest

from prepline.errors import InputError
from prepline.pipeline import run_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
HEADER = "id,name,age,salary,hire_date,profile,department,bonus\n"
ROWS = [
    '1,Ann,34,52000,2020-01-02,"{""address"": ""1 Main St"", ""phone"": ""0123"", ""email"": ""a@x.org""}",Sales,100\n',
    "2,Bob,,61000,2019-05-06,,HR,\n",
    '3,Cy,58,,2018-07-08,"{""address"": ""2 Side St""}",,200.5\n',
]
OUTPUTS = ["cleaned_data.csv", "transformed_data.csv", "department_statistics.csv", "rejected.csv",
           "train.parquet", "validation.parquet", "test.parquet"]


@pytest.fixture
def s3(aws):
    import boto3

    return boto3.client("s3")


def _get(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def _keys(s3, bucket: str, prefix: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(obj["Key"] for obj in listed)


def _rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def test_s3_input_and_output(s3, s3_bucket):
    s3.put_object(Bucket=s3_bucket, Key="raw/employees.csv", Body=(HEADER + "".join(ROWS)).encode())
    summary = run_recipe(RECIPE, f"s3://{s3_bucket}/raw/employees.csv", f"s3://{s3_bucket}/processed/run-1/")
    assert _keys(s3, s3_bucket, "processed/") == sorted(
        [f"processed/run-1/{name}" for name in OUTPUTS]
        + [f"processed/run-1/{name}" for name in ("_manifest.json", "profile.json", "report.html")]
    )
    manifest = json.loads(_get(s3, s3_bucket, "processed/run-1/_manifest.json"))
    assert manifest == json.loads(json.dumps(summary.manifest, default=str))
    assert manifest["input"]["uri"] == f"s3://{s3_bucket}/raw/employees.csv"
    assert manifest["input"]["bytes"] == len(HEADER + "".join(ROWS))
    assert manifest["rows_in"] == 3
    for name, info in manifest["outputs"].items():
        content = _get(s3, s3_bucket, f"processed/run-1/{info['path']}")
        assert info["sha256"] == hashlib.sha256(content).hexdigest(), name
        assert info["bytes"] == len(content)
        if info["format"] == "parquet":
            assert info["rows"] == pl.read_parquet(io.BytesIO(content)).height
        else:
            assert info["rows"] == len(_rows(content))
    cleaned = _rows(_get(s3, s3_bucket, "processed/run-1/cleaned_data.csv"))
    assert [r["department"] for r in cleaned] == ["Sales", "HR", "Unknown"]


def test_a_missing_s3_key_is_an_input_error(s3, s3_bucket):
    with pytest.raises(InputError) as info:
        run_recipe(RECIPE, f"s3://{s3_bucket}/raw/nope.csv", f"s3://{s3_bucket}/out/")
    assert f"s3://{s3_bucket}/raw/nope.csv" in str(info.value)
    assert _keys(s3, s3_bucket, "") == []  # nothing written


def test_a_prefix_input_reads_every_csv_under_it(s3, s3_bucket, tmp_path):
    s3.put_object(Bucket=s3_bucket, Key="raw/part-1.csv", Body=(HEADER + ROWS[0] + ROWS[1]).encode())
    s3.put_object(Bucket=s3_bucket, Key="raw/part-2.csv", Body=(HEADER + ROWS[2]).encode())
    s3.put_object(Bucket=s3_bucket, Key="raw/_SUCCESS", Body=b"")
    summary = run_recipe(RECIPE, f"s3://{s3_bucket}/raw/", str(tmp_path / "out"))
    assert summary.manifest["rows_in"] == 3
    assert summary.manifest["input"]["files"] == 2
    cleaned = _rows((tmp_path / "out" / "cleaned_data.csv").read_bytes())
    assert [r["id"] for r in cleaned] == ["1", "2", "3"]


def test_a_prefix_without_the_trailing_slash_is_read_as_a_folder(s3, s3_bucket, tmp_path):
    s3.put_object(Bucket=s3_bucket, Key="raw/part-1.csv", Body=(HEADER + ROWS[0]).encode())
    s3.put_object(Bucket=s3_bucket, Key="raw/part-2.csv", Body=(HEADER + ROWS[1]).encode())
    summary = run_recipe(RECIPE, f"s3://{s3_bucket}/raw", str(tmp_path / "out"))
    assert summary.manifest["rows_in"] == 2


def test_a_partitioned_output_is_uploaded_file_by_file_before_the_manifest(s3, s3_bucket, tmp_path):
    from prepline.recipe import parse_recipe

    s3.put_object(Bucket=s3_bucket, Key="raw/employees.csv", Body=(HEADER + "".join(ROWS)).encode())
    recipe = parse_recipe(
        "name: t\ninput: {format: csv, columns: {id: int64, name: string, department: string}, extra_columns: drop}\n"
        "steps:\n  - output: {name: people, format: parquet, parquet: {partition_by: department}}\n",
        source=str(tmp_path / "r.yaml"),
    )
    manifest = run_recipe(recipe, f"s3://{s3_bucket}/raw/employees.csv", f"s3://{s3_bucket}/out/").manifest
    people = manifest["outputs"]["people"]
    assert people["path"] == "people/"
    assert _keys(s3, s3_bucket, "out/people/") == sorted(f"out/{f['path']}" for f in people["files"])
    for entry in people["files"]:
        assert hashlib.sha256(_get(s3, s3_bucket, f"out/{entry['path']}")).hexdigest() == entry["sha256"]
    assert {f["path"].split("/")[1] for f in people["files"]} == {
        "department=Sales", "department=HR", "department=__HIVE_DEFAULT_PARTITION__"}
