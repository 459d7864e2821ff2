"""Profiles: every number checked against an independent computation (statistics, numpy, Counter).

Conventions checked: ``std`` is the sample standard deviation (ddof=1, ``statistics.stdev``);
quantiles use linear interpolation (``numpy.quantile(method="linear")``); histogram bins are
right-closed with the first bin closed on both sides.
"""

from __future__ import annotations

import itertools
import json
import math
import statistics
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from prepline.errors import InputError
from prepline.quality import load_profile, profile_file, profile_frame, profile_run, write_profiles

FLOATS = [1.5, None, 3.25, float("nan"), -2.0, 7.75, 3.25, float("inf"), 0.0, 10.5, None, 4.0]
INTS = [5, 3, None, 8, 1, 9, 2, 2, 7, 4, 6, 10]
TEXT = ["b", "a", "ccc", None, "a", "dd", "b", "a", "", "eeeee", "b", None]
BOOLS = [True, False, None, True, True, False, True, None, True, False, True, True]
DATES = [date(2020, 1, d) for d in (1, 5, 3, 9, 2, 2, 30, 11, 7, 6, 4, 8)]


@pytest.fixture
def frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"f": FLOATS, "i": INTS, "s": TEXT, "b": BOOLS, "d": DATES, "l": [[1]] * 12},
        schema={
            "f": pl.Float64,
            "i": pl.Int64,
            "s": pl.String,
            "b": pl.Boolean,
            "d": pl.Date,
            "l": pl.List(pl.Int64),
        },
    )


def right_closed_counts(values: list[float], edges: list[float]) -> list[int]:
    counts = [0] * (len(edges) - 1)
    for v in values:
        for k in range(len(counts)):
            if edges[k] < v <= edges[k + 1] or (k == 0 and v == edges[0]):
                counts[k] += 1
                break
    return counts


def test_numeric_statistics_match_an_independent_computation(frame: pl.DataFrame) -> None:
    prof = profile_frame(frame.lazy(), "t", histogram_bins=4)
    assert prof["profile_version"] == 1
    assert prof["rows"] == prof["profiled_rows"] == 12
    col = prof["columns"]["f"]
    present = [v for v in FLOATS if v is not None and not math.isnan(v)]
    finite = [v for v in present if math.isfinite(v)]
    assert col["kind"] == "numeric" and col["dtype"] == "Float64"
    assert col["count"] == len(present) == 9
    assert col["missing"] == 3 and col["nan"] == 1 and col["infinite"] == 1
    assert col["missing_share"] == pytest.approx(3 / 12, abs=1e-6)
    assert col["distinct"] == len(set(present))
    assert col["min"] == min(finite) and col["max"] == max(finite)
    assert col["mean"] == pytest.approx(statistics.fmean(finite))
    assert col["std"] == pytest.approx(statistics.stdev(finite))  # ddof=1
    for q, value in col["quantiles"].items():
        assert value == pytest.approx(float(np.quantile(finite, float(q), method="linear")))
    hist = col["histogram"]
    assert (
        len(hist["counts"]) == 4
        and hist["edges"][0] == min(finite)
        and hist["edges"][-1] == max(finite)
    )
    assert sum(hist["counts"]) == len(finite)
    assert hist["counts"] == right_closed_counts(finite, hist["edges"])
    assert col["sample"] == sorted(finite)  # fewer values than sample_size: all of them


def test_integer_columns_keep_exact_bounds_and_get_one_bin_per_value(frame: pl.DataFrame) -> None:
    col = profile_frame(frame.lazy(), "t")["columns"]["i"]
    values = [v for v in INTS if v is not None]
    assert (col["min"], col["max"]) == (1, 10) and isinstance(col["min"], int)
    assert col["count"] == 11 and col["missing"] == 1 and "nan" not in col
    assert col["mean"] == pytest.approx(statistics.fmean(values))
    assert col["std"] == pytest.approx(statistics.stdev(values))
    assert col["quantiles"]["0.5"] == pytest.approx(statistics.median(values))
    assert col["histogram"]["edges"] == [v - 0.5 for v in range(1, 12)]
    assert col["histogram"]["counts"] == [Counter(values)[v] for v in range(1, 11)]
    expected = sorted(Counter(values).items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(t["value"], t["count"]) for t in col["frequencies"]] == expected
    assert col["top"] == col["frequencies"][:10]


@pytest.mark.parametrize("values", [[1e20], [1e20, 1e20], [2**60, 2**60 + 1]], ids=["one-huge-float", "same-huge-floats", "huge-integers"])
def test_values_too_large_for_half_unit_bins_get_one_bin(values: list[float]) -> None:
    # 1e20 +- 0.5 is 1e20 in floating point: the bins must still be increasing
    histogram = profile_frame(pl.LazyFrame({"x": values}), "t")["columns"]["x"]["histogram"]
    edges = histogram["edges"]
    assert all(a < b for a, b in itertools.pairwise(edges))
    assert edges[0] <= min(values) and max(values) <= edges[-1]
    assert sum(histogram["counts"]) == len(values)


def test_text_statistics_top_values_and_lengths(frame: pl.DataFrame) -> None:
    col = profile_frame(frame.lazy(), "t", top_k=3)["columns"]["s"]
    present = [v for v in TEXT if v is not None]
    assert col["kind"] == "text"
    assert (col["count"], col["missing"], col["distinct"]) == (10, 2, len(set(present)))
    lengths = [len(v) for v in present]
    assert col["length"] == {
        "min": min(lengths),
        "max": max(lengths),
        "mean": pytest.approx(statistics.fmean(lengths)),
    }
    expected = sorted(Counter(present).items(), key=lambda kv: (-kv[1], kv[0]))  # ties by value
    assert [(t["value"], t["count"]) for t in col["top"]] == expected[:3]
    assert [(t["value"], t["count"]) for t in col["frequencies"]] == expected


def test_booleans_dates_and_other_types(frame: pl.DataFrame) -> None:
    cols = profile_frame(frame.lazy(), "t")["columns"]
    b = cols["b"]
    assert b["kind"] == "boolean" and b["count"] == 10
    assert {t["value"]: t["count"] for t in b["frequencies"]} == dict(
        Counter(v for v in BOOLS if v is not None)
    )
    d = cols["d"]
    seconds = [(x - date(1970, 1, 1)).days * 86400.0 for x in DATES]
    assert d["kind"] == "datetime" and d["unit"] == "epoch_seconds"
    assert (d["min"], d["max"]) == (min(seconds), max(seconds))
    assert (d["min_text"], d["max_text"]) == ("2020-01-01T00:00:00Z", "2020-01-30T00:00:00Z")
    assert d["mean"] == pytest.approx(statistics.fmean(seconds))
    assert d["distinct"] == len(set(DATES))
    other = cols["l"]
    assert other == {
        "dtype": "List(Int64)",
        "kind": "other",
        "count": 12,
        "missing": 0,
        "missing_share": 0.0,
    }


def test_the_sample_is_a_quantile_sketch_of_larger_columns() -> None:
    values = np.random.default_rng(5).normal(size=5000)
    prof = profile_frame(pl.DataFrame({"x": values}).lazy(), "t", sample_size=101)
    sample = prof["columns"]["x"]["sample"]
    ordered = np.sort(values)
    ranks = np.round(np.arange(101) * (5000 - 1) / 100).astype(int)
    assert sample == ordered[ranks].tolist()
    assert sample[0] == ordered[0] and sample[-1] == ordered[-1]


def test_profiles_are_bounded_strict_json_and_handle_empty_and_all_null_columns() -> None:
    frame = pl.DataFrame(
        {
            "n": [None] * 3,
            "s": pl.Series([None, None, None], dtype=pl.String),
            "x": [1.0, 2.0, 3.0],
        },
        schema={"n": pl.Float64, "s": pl.String, "x": pl.Float64},
    )
    prof = profile_frame(frame.lazy(), "t")
    json.dumps(prof, allow_nan=False)
    n = prof["columns"]["n"]
    assert (n["count"], n["missing"], n["mean"], n["std"], n["histogram"], n["sample"]) == (
        0,
        3,
        None,
        None,
        None,
        [],
    )
    assert prof["columns"]["s"]["length"] == {"min": None, "max": None, "mean": None}
    empty = profile_frame(frame.clear().lazy(), "empty")
    assert empty["rows"] == 0 and empty["columns"]["x"]["missing_share"] == 0.0
    json.dumps(empty, allow_nan=False)

    many = pl.DataFrame({"id": [f"user-{i}" for i in range(3000)], "v": np.arange(3000.0)})
    big = profile_frame(many.lazy(), "t", sample_size=50, max_categories=20, histogram_bins=7)
    assert big["columns"]["id"]["top"] is None and big["columns"]["id"]["frequencies"] is None
    assert (
        len(big["columns"]["v"]["sample"]) == 50
        and len(big["columns"]["v"]["histogram"]["counts"]) == 7
    )
    assert len(json.dumps(big)) < 5000


def test_row_sample_profiles_part_of_larger_data_deterministically() -> None:
    frame = pl.DataFrame({"x": np.arange(20_000.0)})
    one = profile_frame(frame.lazy(), "t", row_sample=2000)
    two = profile_frame(frame.lazy(), "t", row_sample=2000)
    assert one["rows"] == 20_000 and 1700 < one["profiled_rows"] < 2300
    assert one["columns"] == two["columns"]
    assert one["columns"]["x"]["mean"] == pytest.approx(
        10_000, rel=0.05
    )  # spread over the whole data
    assert profile_frame(frame.lazy(), "t", row_sample=50_000)["profiled_rows"] == 20_000


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_profile_file_reads_each_format_with_the_same_numbers(tmp_path: Path, fmt: str) -> None:
    frame = pl.DataFrame({"i": INTS, "s": TEXT, "d": DATES})
    path = tmp_path / f"data.{fmt}"
    {"csv": frame.write_csv, "parquet": frame.write_parquet, "jsonl": frame.write_ndjson}[fmt](path)
    prof = profile_file(path)
    assert prof["name"] == "data" and prof["source"]["format"] == fmt
    assert prof["columns"]["i"]["mean"] == pytest.approx(
        statistics.fmean(v for v in INTS if v is not None)
    )
    assert prof["columns"]["s"]["count"] == 10 or fmt == "csv"  # CSV reads "" as null
    if fmt != "jsonl":  # JSON has no date type: dates stay text there
        assert prof["columns"]["d"]["kind"] == "datetime"


def test_csv_types_are_inferred_again_when_a_late_value_does_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    path.write_text("code\n" + "1\n" * 12_000 + "A7\n", encoding="utf-8")
    col = profile_file(path)["columns"]["code"]
    assert col["kind"] == "text" and col["count"] == 12_001


def test_unreadable_inputs_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        profile_file(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError):
        profile_file(tmp_path / "empty.csv")
    (tmp_path / "bad.parquet").write_text("not parquet", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read"):
        profile_file(tmp_path / "bad.parquet")
    with pytest.raises(InputError, match="unknown data format"):
        profile_file(tmp_path / "bad.parquet", format="xlsx")


def test_run_profiles_are_written_and_loaded_by_part(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]}).write_csv(data)
    out = tmp_path / "clean.parquet"
    pl.DataFrame({"a": [1, 2]}).write_parquet(out)
    bundle = profile_run(str(data), {"clean": out})
    path = write_profiles(tmp_path, bundle)
    assert path.name == "profile.json"
    assert load_profile(tmp_path)["name"] == "input"
    assert load_profile(path, "clean")["rows"] == 2
    assert load_profile(data)["columns"]["b"]["missing"] == 1  # a data file is profiled on the fly
    with pytest.raises(InputError, match="no profile named 'nope'"):
        load_profile(path, "nope")
    (tmp_path / "other.json").write_text('{"hello": 1}', encoding="utf-8")
    with pytest.raises(InputError, match="not a prepline profile"):
        load_profile(tmp_path / "other.json")
    (tmp_path / "future.json").write_text(
        '{"profile_version": 99, "columns": {}}', encoding="utf-8"
    )
    with pytest.raises(InputError, match="newer"):
        load_profile(tmp_path / "future.json")


def test_profiling_never_imports_pandas(tmp_path: Path) -> None:
    data = tmp_path / "in.csv"
    pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]}).write_csv(data)
    code = (
        "import sys; from prepline.quality import profile_file; "
        f"profile_file({str(data)!r}); "
        "sys.exit(1 if 'pandas' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_profiles_and_data_on_s3(s3_bucket: str, tmp_path: Path) -> None:
    import boto3

    data = tmp_path / "in.csv"
    pl.DataFrame({"a": [1, 2, 3, None]}).write_csv(data)
    client = boto3.client("s3")
    client.upload_file(str(data), s3_bucket, "raw/in.csv")
    prof = profile_file(f"s3://{s3_bucket}/raw/in.csv")
    assert (
        prof["columns"]["a"]["count"] == 3
        and prof["source"]["uri"] == f"s3://{s3_bucket}/raw/in.csv"
    )
    client.put_object(Bucket=s3_bucket, Key="base/profile.json", Body=json.dumps(prof).encode())
    assert load_profile(f"s3://{s3_bucket}/base/profile.json")["columns"] == prof["columns"]
    with pytest.raises(Exception, match="cannot read profile"):
        load_profile(f"s3://{s3_bucket}/base/nope.json")
