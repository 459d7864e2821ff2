"""_manifest.json: every field checked against the files it describes; runs are reproducible."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from prepline.pipeline import run_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
EMPLOYEES = """\
id,name,age,salary,hire_date,profile,department,bonus
1,Ann,34,52000,2020-01-02,"{""address"": ""1 Main St"", ""phone"": ""0123"", ""email"": ""a@x.org""}",Sales,100
2,Bob,,61000,2019-05-06,,HR,
3,Cy,58,,2018-07-08,"{""address"": ""2 Side St""}",,200.5
4,Di,23,150000,2021-09-10,[not an object],Sales,
5,Ed,61,200000,2017-11-12,"{""address"": ""3 Oak Rd""}",HR,1
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def run(tmp_path, engine):
    data = tmp_path / "employees.csv"
    data.write_text(EMPLOYEES, encoding="utf-8")
    out = tmp_path / "out"
    summary = run_recipe(RECIPE, str(data), str(out), engine=engine)
    return summary, data, out


SPLITS = ["train", "validation", "test"]
PRIMITIVES = {pl.Int64: "int64", pl.Int32: "int32", pl.Float64: "float64", pl.Float32: "float32", pl.String: "string",
              pl.Boolean: "bool", pl.Date: "date", pl.Datetime: "datetime"}


def test_outputs_are_described_exactly(run):
    summary, _, out = run
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest == summary.manifest
    assert list(manifest["outputs"]) == ["cleaned_data", "transformed_data", *SPLITS, "department_statistics", "rejected"]
    for name, info in manifest["outputs"].items():
        path = out / info["path"]
        assert info["bytes"] == path.stat().st_size
        assert info["sha256"] == _sha256(path)
        assert list(info["schema"]) == info["columns"]
        if name in SPLITS:
            frame = pl.read_parquet(path)
            assert (info["path"], info["format"]) == (f"{name}.parquet", "parquet")
            assert info["columns"] == frame.columns
            assert info["rows"] == frame.height
            assert info["schema"] == {c: PRIMITIVES[t.base_type()] for c, t in frame.schema.items()}
            assert info["parquet"]["compression"] == "zstd"
            continue
        assert (info["path"], info["format"]) == (f"{name}.csv", "csv")
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert info["columns"] == rows[0]
        assert info["rows"] == len(rows) - 1
        assert info["csv"] == {"neutralize_formulas": True} and info["formulas_neutralized"] == 0
    # the ids that reach the split (4 is rejected), by the reference hash
    from prepline.recipe.split import part_index, split_hash, thresholds

    bounds = thresholds([0.8, 0.1, 0.1])
    parts = [SPLITS[part_index(split_hash(str(i)), bounds)] for i in (1, 2, 3, 5)]
    assert {n: i["rows"] for n, i in manifest["outputs"].items()} == {
        "cleaned_data": 4, "transformed_data": 4, **{p: parts.count(p) for p in SPLITS},
        "department_statistics": 3, "rejected": 1,
    }
    assert manifest["outputs"]["rejected"]["schema"]["_row"] == "int64"
    assert set(manifest["outputs"]["rejected"]["schema"].values()) == {"int64", "string"}
    assert manifest["outputs"]["transformed_data"]["schema"]["address_length"] == "int64"
    assert sorted(p.name for p in out.iterdir()) == sorted([*(i["path"] for i in manifest["outputs"].values()), "_manifest.json", "profile.json", "report.html"])


def test_the_split_is_recorded_with_fractions_asked_and_obtained(run):
    manifest = run[0].manifest
    (split,) = manifest["splits"]
    assert (split["step"], split["by"], split["stratify"], split["hash"]) == ("9:split", ["id"], "department", "prepline-split-v1")
    assert split["rows"] == 4
    rows = {name: manifest["outputs"][name]["rows"] for name in SPLITS}
    assert split["parts"] == {name: {"asked": asked, "rows": rows[name], "obtained": rows[name] / 4}
                              for name, asked in zip(SPLITS, [0.8, 0.1, 0.1], strict=True)}
    strata = {s["value"]: s for s in split["strata"]}
    assert set(strata) == {"HR", "Sales", "Unknown"}
    assert sum(s["rows"] for s in strata.values()) == 4
    for name in SPLITS:
        assert sum(s["parts"][name]["rows"] for s in strata.values()) == rows[name]


def test_recipe_input_engine_and_output_are_recorded(run, engine):
    summary, data, out = run
    manifest = summary.manifest
    assert manifest["manifest_version"] == 1
    assert manifest["recipe"] == {"name": "employees", "source": str(RECIPE), "sha256": _sha256(RECIPE)}
    assert manifest["input"]["uri"] == str(data)
    assert manifest["input"]["format"] == "csv"
    assert manifest["input"]["bytes"] == data.stat().st_size
    assert manifest["input"]["files"] == 1
    assert len(manifest["input"]["quick_sha256"]) == 64
    assert manifest["output"] == {"uri": str(out), "format": "csv"}
    assert manifest["rows_in"] == 5
    assert manifest["engine"]["name"] == engine
    if engine == "polars":
        assert manifest["engine"]["version"] == pl.__version__


def test_fills_counters_and_timings(run):
    manifest = run[0].manifest
    # row 4 (invalid profile) is rejected before the fill: the medians are of rows 1, 2, 3, 5
    assert manifest["fills"] == [
        {"step": "3:fill", "column": "age", "strategy": "median", "value": 58.0, "filled": 1},
        # median(52000, 61000, 200000)
        {"step": "3:fill", "column": "salary", "strategy": "median", "value": 61000.0, "filled": 1},
        {"step": "3:fill", "column": "department", "strategy": "constant", "value": "Unknown", "filled": 1},
    ]
    assert manifest["counters"] == [
        {"step": "6:bin", "what": "values of 'salary' outside every bin (set to null in 'salary_category')", "count": 1},
        {"step": "7:bin", "what": "values of 'age' outside every bin (set to null in 'age_group')", "count": 0},
        {"step": "9:split", "what": "rows whose split key (id) is missing (hashed as empty text)", "count": 0},
    ]
    # Polars decodes JSON in one pass and says when it had to re-run with row-level checks; Spark checks rows in its one pass
    rerun = ["some JSON values did not decode in one pass; the recipe ran again with row-level JSON checks"]
    assert manifest["notes"] == (rerun if manifest["engine"]["name"] == "polars" else [])
    timings = manifest["timings_s"]
    assert {"plan_and_statistics", "execute", "total", "wall"} <= set(timings)
    assert all(isinstance(v, float) and v >= 0 for v in timings.values())
    assert timings["wall"] >= timings["total"]


def test_the_recipe_hash_is_of_the_file_bytes(tmp_path, engine):
    recipe = tmp_path / "crlf.yaml"
    recipe.write_bytes(RECIPE.read_bytes().replace(b"\n", b"\r\n"))  # CRLF line ends, as saved on Windows
    data = tmp_path / "employees.csv"
    data.write_text(EMPLOYEES, encoding="utf-8")
    summary = run_recipe(recipe, str(data), str(tmp_path / "out"), engine=engine)
    assert summary.manifest["recipe"]["sha256"] == _sha256(recipe)


def test_parquet_outputs_are_described_too(tmp_path, engine):
    data = tmp_path / "employees.csv"
    data.write_text(EMPLOYEES, encoding="utf-8")
    out = tmp_path / "out"
    manifest = run_recipe(RECIPE, str(data), str(out), engine=engine, output_format="parquet").manifest
    for info in manifest["outputs"].values():
        path = out / info["path"]
        frame = pl.read_parquet(path)
        assert info["format"] == "parquet"
        assert info["rows"] == frame.height
        assert info["columns"] == frame.columns
        assert info["bytes"] == path.stat().st_size
        assert info["sha256"] == _sha256(path)


def test_two_runs_write_byte_identical_outputs(tmp_path, engine):
    from prepline.sample.employees import write_employees

    data = tmp_path / "employees.csv"
    write_employees(data, rows=30_000, seed=11)
    first = run_recipe(RECIPE, str(data), str(tmp_path / "a"), engine=engine).manifest
    second = run_recipe(RECIPE, str(data), str(tmp_path / "b"), engine=engine).manifest
    for name, info in first["outputs"].items():
        assert (tmp_path / "a" / info["path"]).read_bytes() == (tmp_path / "b" / info["path"]).read_bytes(), name
        assert second["outputs"][name]["sha256"] == info["sha256"]
    assert first["fills"] == second["fills"]
    assert first["counters"] == second["counters"]
