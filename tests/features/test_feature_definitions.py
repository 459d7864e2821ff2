"""Feature definitions from Polars schemas; values as Feature Store text; reading prepline outputs."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
import pytest

from prepline.errors import ColumnNotFoundError, InputError
from prepline.features import add_event_time, as_text, derive_definitions, feature_type, read_output

BASE = {"id": pl.Int64, "ts": pl.String}


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        *[(t, "Integral") for t in (pl.Int8, pl.Int16, pl.Int32, pl.Int64, pl.UInt8, pl.UInt16, pl.UInt32, pl.UInt64)],
        (pl.Float32, "Fractional"),
        (pl.Float64, "Fractional"),
        *[(t, "String") for t in (pl.String, pl.Boolean, pl.Date, pl.Datetime("us"), pl.Datetime("ms", "UTC"),
                                  pl.Categorical(), pl.Decimal(10, 2), pl.List(pl.Int64), pl.Struct({"a": pl.Int64}))],
    ],
    ids=str,
)
def test_each_dtype_maps_to_one_feature_type(dtype, expected):
    assert feature_type(dtype) == expected
    schema = derive_definitions({**BASE, "x": dtype}, "id", "ts")
    assert schema.types()["x"] == expected


def test_the_definitions_keep_the_column_order_and_the_api_shape():
    schema = derive_definitions({"id": pl.Int64, "age": pl.Float64, "name": pl.String, "ts": pl.String}, "id", "ts")
    assert schema.api_definitions() == [
        {"FeatureName": "id", "FeatureType": "Integral"},
        {"FeatureName": "age", "FeatureType": "Fractional"},
        {"FeatureName": "name", "FeatureType": "String"},
        {"FeatureName": "ts", "FeatureType": "String"},
    ]
    assert schema.conversions == ()


def test_conversions_are_reported():
    schema = derive_definitions(
        {"id": pl.Int64, "ts": pl.Datetime("us"), "d": pl.Date, "ok": pl.Boolean, "tags": pl.List(pl.String)}, "id", "ts"
    )
    assert schema.types() == {"id": "Integral", "ts": "String", "d": "String", "ok": "String", "tags": "String"}
    assert schema.conversions == (
        "event time ts (Datetime(time_unit='us', time_zone=None)) is sent as ISO-8601 UTC text "
        "(no time zone: taken as UTC), e.g. 2024-01-31T12:00:00.000Z",
        "d (Date) is sent as ISO-8601 text (String)",
        "ok (Boolean) is sent as 'true'/'false' (String)",
        "tags (List(String)) is sent as JSON text (String)",
    )


def test_an_integer_event_time_is_declared_fractional():
    schema = derive_definitions({"id": pl.Int64, "epoch": pl.Int64}, "id", "epoch")
    assert schema.types()["epoch"] == "Fractional"
    assert schema.conversions == ("event time epoch (Int64) is declared Fractional (seconds since the epoch)",)


def test_a_boolean_event_time_is_refused():
    with pytest.raises(InputError, match="event time 'flag' is Boolean; it must be text in ISO-8601"):
        derive_definitions({"id": pl.Int64, "flag": pl.Boolean}, "id", "flag")


def test_reserved_and_invalid_names_are_all_listed():
    columns = {"id": pl.Int64, "ts": pl.String, "is_deleted": pl.Boolean, "Write_Time": pl.String,
               "bad name": pl.String, "_lead": pl.String, "x" * 65: pl.String, "a--b": pl.String}
    with pytest.raises(InputError) as caught:
        derive_definitions(columns, "id", "ts")
    message = str(caught.value)
    assert "'is_deleted' is reserved by Feature Store (api_invocation_time, is_deleted, write_time)" in message
    assert "'Write_Time' is reserved" in message
    for bad in ("bad name", "_lead", "x" * 65):
        assert f"{bad!r} is not a valid feature name" in message
    assert "'a--b' is not a valid" not in message  # '-' and '_' runs between letters are allowed
    assert message.count("\n  - ") == 5


def test_names_differing_only_by_case_are_refused():
    with pytest.raises(InputError, match="'age' and 'Age' differ only by case"):
        derive_definitions({"id": pl.Int64, "ts": pl.String, "age": pl.Int64, "Age": pl.Int64}, "id", "ts")


def test_at_most_2500_features():
    wide = {f"f{i}": pl.Int64 for i in range(2498)} | BASE
    assert len(derive_definitions(wide, "id", "ts").definitions) == 2500
    with pytest.raises(InputError, match="2501 columns: a feature group holds at most 2500 features"):
        derive_definitions(wide | {"one_more": pl.Int64}, "id", "ts")


@pytest.mark.parametrize(
    ("record_id", "event_time", "match", "hint"),
    [
        ("ID", "ts", "the record identifier column 'ID' is not in the data", "did you mean 'id'?"),
        ("employee_id", "ts", "the record identifier column 'employee_id'", "name one of the columns with --record-id"),
        ("id", "event_tme", "the event time column 'event_tme' is not in the data", "did you mean 'event_time'?"),
        ("id", "zzz", "the event time column 'zzz'", "name one of the columns with --event-time"),
    ],
)
def test_missing_record_id_or_event_time_says_which_and_suggests(record_id, event_time, match, hint):
    with pytest.raises(ColumnNotFoundError, match=match) as caught:
        derive_definitions({"id": pl.Int64, "event_time": pl.String, "name": pl.String}, record_id, event_time)
    assert caught.value.hint == hint


def test_values_become_feature_store_text_and_nulls_stay_null():
    frame = pl.DataFrame({
        "id": [1, 2],
        "ts": [datetime(2024, 1, 2, 3, 4, 5, 678000), None],
        "score": [float("inf"), None],
        "ok": [True, None],
        "day": [date(2024, 1, 31), None],
        "tags": [["a", "b"], None],
        "at": pl.Series([datetime(2024, 6, 1, 12, 0), None]).dt.replace_time_zone("Europe/Paris"),  # 12:00 in Paris
    })
    schema = derive_definitions(frame.schema, "id", "ts")
    assert as_text(frame, schema).to_dicts() == [
        {"id": "1", "ts": "2024-01-02T03:04:05.678Z", "score": "Infinity", "ok": "true", "day": "2024-01-31",
         "tags": '["a","b"]', "at": "2024-06-01T10:00:00.000000Z"},
        {"id": "2", "ts": None, "score": None, "ok": None, "day": None, "tags": None, "at": None},
    ]


def test_a_date_event_time_is_midnight_utc():
    frame = pl.DataFrame({"id": [1], "d": [date(2024, 2, 29)]})
    assert as_text(frame, derive_definitions(frame.schema, "id", "d"))["d"].to_list() == ["2024-02-29T00:00:00.000Z"]


def test_add_event_time_stamps_every_row_and_refuses_to_overwrite():
    frame = pl.DataFrame({"id": [1, 2]})
    stamped = add_event_time(frame, "event_time", datetime(2024, 5, 6, 7, 8, 9, 10500, tzinfo=UTC))
    assert stamped["event_time"].to_list() == ["2024-05-06T07:08:09.010Z"] * 2
    with pytest.raises(InputError, match="already has a column 'id'"):
        add_event_time(frame, "id")


# --- reading outputs ---------------------------------------------------------------------------


def write_output(folder, frame: pl.DataFrame) -> None:
    folder.mkdir()
    frame.write_parquet(folder / "transformed_data.parquet")
    frame.head(1).write_csv(folder / "cleaned_data.csv")
    manifest = {"outputs": {"transformed_data": {"path": "transformed_data.parquet"},
                            "cleaned_data": {"path": "cleaned_data.csv"}}}
    (folder / "_manifest.json").write_text(json.dumps(manifest))


def test_a_prepline_output_folder_is_read_through_its_manifest(tmp_path):
    frame = pl.DataFrame({"id": [1, 2, 3], "age": [1.5, None, 3.0]})
    write_output(tmp_path / "out", frame)
    data, source = read_output(tmp_path / "out")
    assert source == str(tmp_path / "out" / "transformed_data.parquet")
    assert data.equals(frame)
    cleaned, _ = read_output(str(tmp_path / "out"), "cleaned_data")
    assert cleaned.schema == {"id": pl.Int64, "age": pl.Float64} and cleaned.height == 1


def test_an_unknown_output_name_suggests_the_closest(tmp_path):
    write_output(tmp_path / "out", pl.DataFrame({"id": [1]}))
    with pytest.raises(InputError, match="has no output named 'transformed'; it has: cleaned_data, transformed_data") as caught:
        read_output(tmp_path / "out", "transformed")
    assert caught.value.hint == "--output-name transformed_data"


def test_a_folder_without_manifest_is_not_an_output(tmp_path):
    with pytest.raises(InputError, match="is not a prepline output folder"):
        read_output(tmp_path)


def test_a_prepline_output_on_s3_is_read_through_its_manifest(s3_bucket, tmp_path):
    import boto3

    frame = pl.DataFrame({"id": [1, 2], "name": ["a", None]})
    write_output(tmp_path / "out", frame)
    s3 = boto3.client("s3")
    for name in ("transformed_data.parquet", "_manifest.json"):
        s3.upload_file(str(tmp_path / "out" / name), s3_bucket, f"run-1/{name}")
    data, source = read_output(f"s3://{s3_bucket}/run-1")
    assert source == f"s3://{s3_bucket}/run-1/transformed_data.parquet"
    assert data.equals(frame)
    with pytest.raises(InputError, match=r"has no _manifest\.json"):
        read_output(f"s3://{s3_bucket}/run-2/")
