"""`prepline features ingest`: exit codes, output and the failed-records file (clients stubbed)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from prepline.cli import features_cmd
from prepline.cli.app import app as root
from prepline.cli.app import main
from tests.features.conftest import ARN, DEFINITIONS, GROUP, Stubbed, frame, row


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch):
    """`prepline features` registered on the root app (if the lead has not yet), on stubbed clients."""
    if not any(g.name == "features" for g in root.registered_groups):
        import typer

        groups = list(root.registered_groups)
        groups.append(typer.models.TyperInfo(features_cmd.app, name="features"))
        monkeypatch.setattr(root, "registered_groups", groups)
    s = Stubbed()
    monkeypatch.setattr(features_cmd, "_ingestor", lambda workers: s.ingestor)
    with s:
        yield s
    s.verify()


def ingest(*args: str) -> int:
    return main(["features", "ingest", *args, "--feature-group", GROUP, "--record-id", "id", "--event-time", "event_time"])


def test_a_partial_failure_writes_the_rest_keeps_the_failed_record_and_exits_1(stubbed, tmp_path, capsys):
    data = tmp_path / "data.csv"
    frame(5).write_csv(data)
    failed = tmp_path / "failed.jsonl"
    stubbed.describe()
    for i in range(1, 6):
        if i == 3:
            stubbed.put_error("ValidationError", 400, row(3), "Invalid value for feature age")
        else:
            stubbed.put_ok(row(i))
    assert ingest(str(data), "--failed-output", str(failed)) == 1
    captured = capsys.readouterr()
    assert captured.out.strip() == f"employees: 4 of 5 records written, 1 failed (see {failed})"
    assert "feature group employees: found (Created)" in captured.err
    (line,) = failed.read_text().splitlines()
    assert json.loads(line) == {
        "row": 3,
        "error": {"code": "ValidationError", "message": "Invalid value for feature age", "attempts": 1},
        "record": row(3),
    }


def test_everything_written_exits_0_with_json_counts(stubbed, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame(3).write_parquet(tmp_path / "data.parquet")
    stubbed.describe(definitions=[*DEFINITIONS, {"FeatureName": "salary", "FeatureType": "Fractional"}])
    for i in range(1, 4):
        stubbed.put_ok(row(i))
    assert ingest("data.parquet", "--json", "--batch-size", "2") == 0
    result = json.loads(capsys.readouterr().out)
    assert {k: result[k] for k in ("feature_group", "records", "written", "failed", "failed_output")} == {
        "feature_group": GROUP, "records": 3, "written": 3, "failed": 0, "failed_output": None,
    }
    assert result["group"]["created"] is False and result["group"]["arn"] == ARN
    assert result["group"]["extra_features"] == ["salary"]
    assert not (tmp_path / f"{GROUP}-failed.jsonl").exists()


def test_a_prepline_output_folder_with_a_new_group_and_a_stamped_event_time(stubbed, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    pl.DataFrame({"id": [1, 2], "age": [30.0, None]}).write_parquet(out / "transformed_data.parquet")
    (out / "_manifest.json").write_text(json.dumps({"outputs": {"transformed_data": {"path": "transformed_data.parquet"}}}))
    stubbed.missing()
    stubbed.sm_stub.add_response("create_feature_group", {"FeatureGroupArn": ARN})
    stubbed.describe(status="Created", definitions=[
        {"FeatureName": "id", "FeatureType": "Integral"},
        {"FeatureName": "age", "FeatureType": "Fractional"},
        {"FeatureName": "event_time", "FeatureType": "String"},
    ])
    stubbed.put_ok()
    stubbed.put_ok()
    assert ingest(str(out), "--add-event-time", "--json", "--failed-output", str(tmp_path / "f.jsonl")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["source"] == str(out / "transformed_data.parquet")
    assert (result["written"], result["failed"], result["group"]["created"]) == (2, 0, True)


def test_a_conflicting_group_exits_2_naming_the_columns(stubbed, tmp_path, capsys):
    data = tmp_path / "data.csv"
    frame(2).write_csv(data)
    stubbed.describe(definitions=[{**d, "FeatureType": "String"} if d["FeatureName"] == "age" else d for d in DEFINITIONS])
    assert ingest(str(data)) == 2
    err = capsys.readouterr().err
    assert "the data does not fit feature group 'employees'" in err
    assert "age: Fractional in the data (Float64), String in the group" in err


def test_a_missing_record_id_column_exits_2_before_any_call(stubbed, tmp_path, capsys):
    data = tmp_path / "data.csv"
    frame(1).with_columns(pl.col("id").alias("ID")).drop("id").write_csv(data)
    assert ingest(str(data)) == 2
    assert "the record identifier column 'id' is not in the data" in capsys.readouterr().err
