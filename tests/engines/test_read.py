"""Reading the input: formats, the declared schema, extra columns, bad values and unreadable files."""

from __future__ import annotations

import csv
import datetime as dt
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from prepline.errors import ColumnNotFoundError, DataError, InputError
from prepline.pipeline import run_recipe
from prepline.recipe import parse_recipe
from tests.engines.recipe_runner import column, run_small

COLUMNS = "id: int64\nname: string\nage: float64\nok: bool\nday: date"
HEADER = "id,name,age,ok,day"
DATA = f"{HEADER}\n1,Ann,30.5,true,2020-01-02\n2,,,false,\n3,Cé,41,,2021-03-04\n"


def _recipe(tmp_path: Path, input_options: str = "", columns: str = COLUMNS, steps: str = "- output: out") -> Path:
    text = (
        "name: t\ninput:\n  format: auto\n  columns:\n"
        + "".join(f"    {line}\n" for line in columns.splitlines())
        + "".join(f"  {line}\n" for line in input_options.splitlines())
        + "steps:\n" + "".join(f"  {line}\n" for line in steps.splitlines())
    )
    path = tmp_path / "recipe.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(recipe: Path, source: Path | str, out: Path, engine: str = "polars"):
    summary = run_recipe(parse_recipe(recipe.read_text(), source=str(recipe)), str(source), str(out), engine=engine)
    outputs = {}
    for name, info in summary.manifest["outputs"].items():
        with open(out / info["path"], newline="", encoding="utf-8") as handle:
            outputs[name] = list(csv.DictReader(handle))
    return outputs, summary.manifest


def _frame() -> pl.DataFrame:
    return pl.DataFrame({
        "id": [1, 2, 3],
        "name": ["Ann", None, "Cé"],
        "age": [30.5, None, 41.0],
        "ok": [True, False, None],
        "day": [dt.date(2020, 1, 2), None, dt.date(2021, 3, 4)],
        "more": ["x", "y", "z"],
    })


def test_csv_parquet_and_jsonl_inputs_give_the_same_outputs(tmp_path, engine):
    frame = _frame()
    frame.write_csv(tmp_path / "in.csv")
    frame.write_parquet(tmp_path / "in.parquet")
    frame.write_ndjson(tmp_path / "in.jsonl")
    recipe = _recipe(tmp_path, steps="- derive: {older: age + 1}\n- output: out")
    written = {}
    for name in ("in.csv", "in.parquet", "in.jsonl"):
        out = tmp_path / f"out-{name.replace('.', '-')}"
        _, manifest = _run(recipe, tmp_path / name, out, engine)
        written[name] = (out / "out.csv").read_bytes()
        assert manifest["input"]["format"] == name.split(".")[1]
    assert written["in.csv"] == written["in.parquet"] == written["in.jsonl"]
    assert written["in.csv"].decode() == (
        "id,name,age,ok,day,more,older\n"
        "1,Ann,30.5,true,2020-01-02,x,31.5\n"
        "2,,,false,,y,\n"
        "3,Cé,41.0,,2021-03-04,z,42.0\n"
    )


def test_an_optional_column_that_is_absent_is_all_null(tmp_path, engine):
    outputs, _ = run_small(tmp_path, engine, columns="id: int64\nscore: {type: float64, required: false}",
                           data="id\n1\n2\n", steps="- fill: {score: {value: 0}}\n- output: out")
    assert outputs["out"] == [{"id": "1", "score": "0.0"}, {"id": "2", "score": "0.0"}]


@pytest.mark.parametrize(("policy", "header"), [("keep", ["id", "name", "zip", "note"]), ("drop", ["id", "name"])])
def test_extra_columns_are_kept_as_text_or_dropped(tmp_path, engine, policy, header):
    outputs, _ = run_small(tmp_path, engine, columns="id: int64\nname: string",
                           data="id,zip,name,note\n1,007,a,\n", input_extra=f"extra_columns: {policy}",
                           steps="- output: out")
    [row] = outputs["out"]
    assert list(row) == header  # declared columns first, in recipe order, then the extras
    if policy == "keep":
        assert row["zip"] == "007"  # kept as text: the leading zeros survive


def test_extra_columns_error_names_them(tmp_path, engine):
    with pytest.raises(InputError, match="has columns the recipe does not declare: zip, note"):
        run_small(tmp_path, engine, columns="id: int64\nname: string", data="id,zip,name,note\n1,007,a,\n",
                  input_extra="extra_columns: error", steps="- output: out")


BAD = f"{HEADER}\n1,Ann,30.5,true,2020-01-02\n2,Bob,old,false,2020-01-03\n3,Cy,40,maybe,2020-02-30\n4,Di,50,true,2020-01-04\n"


def test_a_bad_value_fails_naming_the_row_column_and_value(tmp_path, engine):
    with pytest.raises(DataError) as info:
        run_small(tmp_path, engine, columns=COLUMNS, data=BAD, steps="- output: out")
    message = str(info.value)
    assert "row 2, column 'age': old is not a valid float64" in message
    assert "row 3, column 'ok': maybe is not a valid bool" in message
    assert "on_bad_value" in message  # the fix
    assert not (tmp_path / f"out-{engine}").exists()


def test_bad_values_read_as_null_are_counted(tmp_path, engine):
    outputs, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=BAD, input_extra='on_bad_value: "null"',
                                  steps="- output: out")
    rows = outputs["out"]
    assert column(rows, "age") == ["30.5", "", "40.0", "50.0"]
    assert column(rows, "ok") == ["true", "false", "", "true"]
    assert column(rows, "day") == ["2020-01-02", "2020-01-03", "", "2020-01-04"]
    assert {c["what"]: c["count"] for c in manifest["counters"] if c["count"]} == {
        "values of 'age' that are not a valid float64 (read as null)": 1,
        "values of 'ok' that are not a valid bool (read as null)": 1,
        "values of 'day' that are not a valid date (read as null)": 1,
    }


def test_the_unquoted_yaml_null_policy_means_null(tmp_path, engine):
    outputs, _ = run_small(tmp_path, engine, columns=COLUMNS, data=BAD, input_extra="on_bad_value: null",
                           steps="- output: out")
    assert column(outputs["out"], "age") == ["30.5", "", "40.0", "50.0"]


def test_rows_with_bad_values_are_rejected_with_their_text(tmp_path, engine):
    outputs, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=BAD, input_extra="on_bad_value: reject",
                                  steps="- output: out")
    assert column(outputs["out"], "id") == ["1", "4"]
    assert outputs["rejected"] == [
        {"_row": "2", "_step": "0:input", "_reason": "column 'age': old is not a valid float64",
         "id": "2", "name": "Bob", "age": "old", "ok": "false", "day": "2020-01-03"},
        {"_row": "3", "_step": "0:input", "_reason": "column 'ok': maybe is not a valid bool",
         "id": "3", "name": "Cy", "age": "40", "ok": "maybe", "day": "2020-02-30"},
    ]
    assert manifest["outputs"]["rejected"]["rows"] == 2


def test_a_bad_value_in_a_jsonl_input_is_named(tmp_path, engine):
    (tmp_path / "in.jsonl").write_text('{"id": 1, "name": "a"}\n{"id": "two", "name": "b"}\n')
    recipe = _recipe(tmp_path, columns="id: int64\nname: string")
    with pytest.raises(DataError, match="row 2, column 'id': two is not a valid int64"):
        _run(recipe, tmp_path / "in.jsonl", tmp_path / "out", engine)


def test_a_header_only_file_gives_outputs_with_headers_and_no_rows(tmp_path, engine):
    _, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=HEADER + "\n", steps="""\
- derive: {n: len(name)}
- output: out
- aggregate: {name: agg, by: [name], values: {rows: {count: '*'}}}
""")
    assert (tmp_path / f"out-{engine}" / "out.csv").read_text() == HEADER + ",n\n"
    assert (tmp_path / f"out-{engine}" / "agg.csv").read_text() == "name,rows\n"
    assert manifest["rows_in"] == 0
    assert {name: info["rows"] for name, info in manifest["outputs"].items()} == {"out": 0, "agg": 0}


def test_an_empty_file_is_refused(tmp_path, engine):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InputError) as info:
        _run(_recipe(tmp_path), tmp_path / "empty.csv", tmp_path / "out", engine)
    assert "is empty (0 bytes)" in str(info.value)
    assert "id, name, age, ok, day" in str(info.value)  # the header it needs
    assert not (tmp_path / "out").exists()


LATIN1 = "id,name,age,ok,day\n1,Caf\xe9,1,true,2020-01-01\n".encode("latin-1")


def test_non_utf8_bytes_are_refused(tmp_path, engine):
    (tmp_path / "latin1.csv").write_bytes(LATIN1)
    with pytest.raises(InputError) as info:
        _run(_recipe(tmp_path), tmp_path / "latin1.csv", tmp_path / "out", engine)
    assert "is not valid UTF-8" in str(info.value)
    assert "utf8-lossy" in str(info.value)


def test_non_utf8_bytes_exit_2_through_the_cli(tmp_path):
    (tmp_path / "latin1.csv").write_bytes(LATIN1)
    recipe = _recipe(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "prepline", "run", str(recipe), "--input", str(tmp_path / "latin1.csv"),
         "--output", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "UTF-8" in result.stderr
    assert "Traceback" not in result.stderr


def test_lossy_decoding_replaces_invalid_bytes(tmp_path, engine):
    (tmp_path / "latin1.csv").write_bytes(LATIN1)
    outputs, _ = _run(_recipe(tmp_path, "csv: {encoding: utf8-lossy}"), tmp_path / "latin1.csv", tmp_path / "out", engine)
    assert outputs["out"][0]["name"] == "Caf\ufffd"


def test_a_missing_column_lists_the_columns_and_suggests_the_closest(tmp_path, engine):
    with pytest.raises(ColumnNotFoundError) as info:
        run_small(tmp_path, engine, columns=COLUMNS, data="id,nmae,age,ok,day\n1,a,1,true,2020-01-01\n",
                  steps="- output: out")
    message = str(info.value)
    assert "lacks required column(s) 'name' (did you mean 'nmae'?)" in message
    assert "its columns are: id, nmae, age, ok, day" in message
    assert "required: false" in message  # the other fix


def test_duplicate_header_names_are_refused(tmp_path, engine):
    with pytest.raises(InputError) as info:
        run_small(tmp_path, engine, columns=COLUMNS, data="id,name,age,ok,day,age\n1,a,1,true,2020-01-01,2\n",
                  steps="- output: out")
    assert info.value.message.endswith("has duplicate column names in its header: age")


def test_a_folder_of_csv_files_is_read_whole(tmp_path, engine):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "part-1.csv").write_text(f"{HEADER}\n1,a,1,true,2020-01-01\n2,b,2,false,2020-01-02\n")
    (folder / "part-2.csv").write_text(f"{HEADER}\n3,c,3,true,2020-01-03\n")
    (folder / "_SUCCESS").write_text("")  # marker files are not data
    outputs, manifest = _run(_recipe(tmp_path), folder, tmp_path / "out", engine)
    assert column(outputs["out"], "id") == ["1", "2", "3"]
    assert manifest["rows_in"] == 3
    assert manifest["input"]["files"] == 2


def test_a_nan_cell_is_a_missing_value_for_fills_as_in_pandas(tmp_path, engine):
    import io

    import pandas as pd

    data = "id,x\n1,1\n2,NaN\n3,nan\n4,2\n5,\n6,10\n"
    outputs, manifest = run_small(tmp_path, engine, columns="id: int64\nx: float64", data=data,
                                  steps="- fill: {x: median}\n- output: out")
    expected = pd.read_csv(io.StringIO(data))["x"]
    assert manifest["fills"][0]["value"] == expected.median() == 2.0
    assert manifest["fills"][0]["filled"] == int(expected.isna().sum()) == 3
    assert [float(v) for v in column(outputs["out"], "x")] == expected.fillna(expected.median()).tolist()


def test_spark_csv_check_lets_polars_parse_and_reads_the_text_only_on_a_failure(tmp_path, monkeypatch):
    """Before Spark reads a local CSV, Polars parses it; the standard-library scan that says where a
    problem is (textcheck, ~40 MB/s) runs only when Polars fails."""
    pytest.importorskip("pyspark")
    from prepline.engines import textcheck
    from prepline.engines.spark.read import check_text
    from prepline.storage import resolve_input

    spec = parse_recipe("name: t\ninput:\n  format: csv\n  columns: {a: int64, b: string}\nsteps:\n  - output: out\n").input
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text('a,b\n1,"x, y"\n2,\n', encoding="utf-8")
    bad.write_text('a,b\n1,x\n2,"never closed\n3,z\n', encoding="utf-8")
    scanned: list[str] = []
    real = textcheck.csv_problems
    monkeypatch.setattr(textcheck, "csv_problems", lambda opener, path, **kw: scanned.append(path) or real(opener, path, **kw))
    check_text(resolve_input(str(good), "csv"), spec)
    assert scanned == []
    with pytest.raises(InputError, match="line 3"):
        check_text(resolve_input(str(bad), "csv"), spec)
    assert scanned == [str(bad)]
