"""How outputs are written, on every engine: Parquet options and partitions, CSV formula neutralization.

Parquet files are read back with pyarrow, a reader that shares no code with either engine.
"""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from prepline.engines import check_capabilities, get_engine
from prepline.errors import EngineError
from prepline.pipeline import run_recipe
from prepline.recipe import parse_recipe

PRIMITIVES = {pl.Int64: "int64", pl.Int32: "int32", pl.Float64: "float64", pl.Float32: "float32",
              pl.String: "string", pl.Boolean: "bool", pl.Date: "date", pl.Datetime: "datetime"}

TYPED = """\
id,name,age,score,active,joined,dept
1,Ann,34,1.5,true,2020-01-02,HR
2,Bob,,2.25,false,2019-05-06,R&D
3,"Cy, Jr.",58,,true,,a/b
4,Di,23,12.5,,2021-09-10,
5,Ed,61,-0.0,false,2017-11-12,x y
6,,45,0.1,true,2018-03-04,HR
"""
TYPED_COLUMNS = "{id: int64, name: string, age: int32, score: float64, active: bool, joined: date, dept: string}"


def _run(tmp_path: Path, engine: str, steps: str, *, data: str = TYPED, columns: str = TYPED_COLUMNS,
         fmt: str = "csv", name: str = "out", top: str = "") -> tuple[Path, dict[str, Any]]:
    recipe = (f"name: t\ninput:\n  format: csv\n  columns: {columns}\n{top}steps:\n"
              + textwrap.indent(textwrap.dedent(steps).strip(), "  ") + "\n")
    source = tmp_path / "input.csv"
    source.write_text(data, encoding="utf-8")
    out = tmp_path / f"{name}-{engine}"
    parsed = parse_recipe(recipe, source=str(tmp_path / "recipe.yaml"))
    return out, run_recipe(parsed, str(source), str(out), engine=engine, output_format=fmt).manifest


def _csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --- Parquet ---------------------------------------------------------------------------------------


def test_parquet_outputs_equal_the_csv_outputs_value_for_value(tmp_path, engine):
    steps = """
    - filter: {where: 'id != 5', reject: true}
    - output: people
    - derive: {age_next: 'age + 1', long_name: 'len(name) > 2'}
    - output: {name: features, columns: [id, age_next, long_name, joined]}
    - split: {by: id, parts: {a: 0.5, b: 0.5}}
    - aggregate: {name: by_dept, by: [dept], values: {n: {count: '*'}, mean_score: {mean: score}}}
    """
    csv_out, csv_manifest = _run(tmp_path, engine, steps, fmt="csv", name="csv")
    pq_out, pq_manifest = _run(tmp_path, engine, steps, fmt="parquet", name="parquet")
    assert list(csv_manifest["outputs"]) == list(pq_manifest["outputs"]) == ["people", "features", "a", "b", "by_dept", "rejected"]
    for name, info in pq_manifest["outputs"].items():
        assert info["path"] == f"{name}.parquet" and info["format"] == "parquet"
        table = pq.read_table(pq_out / info["path"])
        from_parquet = pl.from_arrow(table)
        assert isinstance(from_parquet, pl.DataFrame)
        # the typed schema in the manifest is the file's, and the CSV read with it holds the same values
        assert info["schema"] == {c: PRIMITIVES[t.base_type()] for c, t in from_parquet.schema.items()}
        assert csv_manifest["outputs"][name]["schema"] == info["schema"]
        from_csv = pl.read_csv(csv_out / f"{name}.csv", schema=from_parquet.schema)
        assert from_parquet.equals(from_csv), name
        assert info["rows"] == table.num_rows == csv_manifest["outputs"][name]["rows"]
    features = pq_manifest["outputs"]["features"]["schema"]
    assert features == {"id": "int64", "age_next": "int32", "long_name": "bool", "joined": "date"}


PARQUET_OPTIONS = """
- output: {name: zstd9, format: parquet, parquet: {compression: zstd, compression_level: 9, row_group_size: 2}}
- output: {name: snappy, format: parquet, parquet: {compression: snappy}}
- output: {name: lz4, format: parquet, parquet: {compression: lz4}}
- output: {name: plain, format: parquet, parquet: {compression: uncompressed, row_group_size: 4}}
- output: {name: gzip, format: parquet, parquet: {compression: gzip}}
- output: {name: text, format: csv}
"""


def test_parquet_options_reach_the_files_whatever_the_run_format(tmp_path, engine):
    out, manifest = _run(tmp_path, engine, PARQUET_OPTIONS, fmt="csv")
    # pyarrow names Parquet's LZ4_RAW codec "LZ4" (the deprecated Hadoop-framed LZ4 is "UNKNOWN" to it)
    expected = {"zstd9": ("ZSTD", 3), "snappy": ("SNAPPY", 1), "lz4": ("LZ4", 1), "plain": ("UNCOMPRESSED", 2),
                "gzip": ("GZIP", 1)}
    for name, (codec, groups) in expected.items():
        info = manifest["outputs"][name]
        assert info["format"] == "parquet" and info["path"] == f"{name}.parquet"
        meta = pq.ParquetFile(out / info["path"]).metadata
        assert meta.num_rows == 6
        assert meta.num_row_groups == groups, name  # 6 rows in groups of 2 (zstd9) or 4 (plain)
        assert {meta.row_group(0).column(i).compression for i in range(meta.num_columns)} == {codec}, name
        assert info["parquet"]["compression"] == name.rstrip("9").replace("plain", "uncompressed")
    assert manifest["outputs"]["zstd9"]["parquet"] == {
        "compression": "zstd", "compression_level": 9, "row_group_size": 2, "partition_by": None}
    assert manifest["outputs"]["text"]["path"] == "text.csv"
    assert manifest["output"]["format"] == "csv"  # the run's format; each output says its own


def test_a_partitioned_output_reads_back_to_the_same_rows(tmp_path, engine):
    steps = """
    - output: {name: flat, format: parquet}
    - output: {name: parted, format: parquet, parquet: {partition_by: dept, row_group_size: 1}}
    - filter: 'id < 0'
    - output: {name: empty, format: parquet, parquet: {partition_by: dept}}
    """
    out, manifest = _run(tmp_path, engine, steps)
    empty = manifest["outputs"]["empty"]
    assert (empty["path"], empty["rows"], empty["files"], empty["bytes"]) == ("empty/", 0, [], 0)
    assert (out / "empty").is_dir()
    info = manifest["outputs"]["parted"]
    assert info["path"] == "parted/" and info["rows"] == 6
    assert info["columns"] == ["id", "name", "age", "score", "active", "joined", "dept"]
    assert info["schema"]["dept"] == "string"
    folders = sorted(p.name for p in (out / "parted").iterdir())
    assert folders[0] == "dept=HR" and "dept=__HIVE_DEFAULT_PARTITION__" in folders and len(folders) == 5
    # every file is listed with its size and hash; the output's hash is that of the listing
    listed = {f["path"] for f in info["files"]}
    assert listed == {p.relative_to(out).as_posix() for p in (out / "parted").rglob("*.parquet")}
    assert info["bytes"] == sum(f["bytes"] for f in info["files"])
    for entry in info["files"]:
        file = out / entry["path"]
        assert entry["bytes"] == file.stat().st_size
        assert "dept" not in pq.read_schema(file).names  # hive-style: the value is in the folder name
    hr = pq.read_table(out / "parted" / "dept=HR" / "00000000.parquet")
    assert hr.column("id").to_pylist() == [1, 6]  # input order within a partition
    back = pl.from_arrow(ds.dataset(out / "parted", format="parquet", partitioning="hive").to_table())
    flat = pl.read_parquet(out / "flat.parquet")
    assert isinstance(back, pl.DataFrame)
    assert back.select(flat.columns).sort("id").equals(flat.sort("id"))


def test_the_engines_refuse_parquet_options_they_cannot_honour(tmp_path):
    recipe = parse_recipe(
        "name: t\ninput: {format: csv, columns: {id: int64}}\n"
        "steps:\n  - output: {name: o, format: parquet, parquet: {compression: brotli, compression_level: 5}}\n",
        source="r.yaml",
    )
    check_capabilities(get_engine("polars"), recipe)  # Polars writes brotli at any level
    pytest.importorskip("pyspark")
    with pytest.raises(EngineError) as info:
        check_capabilities(get_engine("spark"), recipe)
    assert info.value.message == "r.yaml:4: step 1 (output): output 'o': the spark engine cannot write brotli Parquet (compression: brotli)"
    assert "--engine polars" in (info.value.hint or "")
    gzip = parse_recipe(  # a level Spark cannot set is refused too, also from the recipe's defaults
        "name: t\ninput: {format: csv, columns: {id: int64}}\noutputs: {parquet: {compression: gzip, compression_level: 5}}\n"
        "steps:\n  - output: o\n", source="r.yaml",
    )
    with pytest.raises(EngineError, match="cannot set compression_level for gzip"):
        check_capabilities(get_engine("spark"), gzip, "parquet")


@pytest.mark.parametrize(("options", "says"), [
    ("{name: o, parquet: {partition_by: dept}}", "partition_by writes a folder of Parquet files: set format: parquet"),
    ("{name: o, format: parquet, parquet: {partition_by: deptt}}", "partition_by names 'deptt', which is not a column"),
    ("{name: o, format: parquet, parquet: {partition_by: score}}", "cannot partition by 'score': it is float64"),
    ("{name: o, format: csv, parquet: {compression: gzip}}", "parquet options on a csv output have no effect"),
    ("{name: o, format: parquet, csv: {neutralize_formulas: false}}", "csv options on a parquet output have no effect"),
    ("{name: o, format: parquet, parquet: {compression: snappy, compression_level: 3}}", "snappy has no compression levels"),
    ("{name: o, format: parquet, parquet: {compression: zstd, compression_level: 30}}", "zstd levels go from 1 to 22"),
])
def test_bad_output_options_are_refused_before_reading(options, says):
    from prepline.errors import RecipeError

    with pytest.raises(RecipeError) as info:
        parse_recipe(f"name: t\ninput: {{format: csv, columns: {TYPED_COLUMNS}}}\nsteps:\n  - output: {options}\n",
                     source="r.yaml")
    assert says in info.value.message
    assert "r.yaml:4" in info.value.message


# --- CSV formula injection -------------------------------------------------------------------------

FORMULAS = """\
id,text,n,x
1,=1+2,-5,-1.5
2,+SUM(A1:A9),5,2.0
3,-2+3,-7,
4,@cmd,1,0.5
5,"\tx",2,1.0
6,"\rx",3,1.0
7,-5,4,1.0
8,plain,5,1.0
9,"=HYPERLINK(""http://x"",""y""), z",6,1.0
10,,7,1.0
"""
FORMULA_COLUMNS = "{id: int64, text: string, n: int64, x: float64}"
NEUTRALIZED = ["'=1+2", "'+SUM(A1:A9)", "'-2+3", "'@cmd", "'\tx", "'\rx", "-5", "plain",
               "'=HYPERLINK(\"http://x\",\"y\"), z", ""]


def test_formula_cells_get_a_leading_quote_in_csv_outputs_only(tmp_path, engine):
    steps = """
    - output: all
    - output: {name: typed, format: parquet}
    - aggregate: {name: groups, by: [text], values: {rows: {count: '*'}}}
    - filter: {where: 'n > 0', reject: true}
    - output: kept
    """
    out, manifest = _run(tmp_path, engine, steps, data=FORMULAS, columns=FORMULA_COLUMNS)
    rows = _csv_rows(out / "all.csv")
    assert [r[1] for r in rows[1:]] == NEUTRALIZED
    assert [r[2] for r in rows[1:4]] == ["-5", "5", "-7"] and rows[1][3] == "-1.5"  # numbers are never touched
    outputs = manifest["outputs"]
    assert outputs["all"]["formulas_neutralized"] == 7 and outputs["all"]["csv"] == {"neutralize_formulas": True}
    # the aggregate's keys; the rejected rows (all text) keep numbers as they are
    assert sorted(r[0] for r in _csv_rows(out / "groups.csv")[1:]) == sorted(NEUTRALIZED)
    assert outputs["groups"]["formulas_neutralized"] == 7
    rejected = _csv_rows(out / "rejected.csv")
    assert [r[3:] for r in rejected[1:]] == [["1", "'=1+2", "-5", "-1.5"], ["3", "'-2+3", "-7", ""]]
    assert outputs["rejected"]["formulas_neutralized"] == 2
    assert outputs["kept"]["formulas_neutralized"] == 5
    typed = pl.from_arrow(pq.read_table(out / "typed.parquet"))
    assert isinstance(typed, pl.DataFrame)
    assert typed["text"].to_list()[:4] == ["=1+2", "+SUM(A1:A9)", "-2+3", "@cmd"]  # Parquet holds the data as it is
    assert "formulas_neutralized" not in outputs["typed"]


def test_bin_labels_that_are_formulas_are_neutralized_and_counted(tmp_path, engine):
    # a column of bin labels is checked against its labels, not row by row: the two must agree
    steps = """
    - bin: {column: n, into: band, edges: [-10, 0, 5], labels: ['=neg', pos]}
    - bin: {column: x, into: plain, edges: [-2, 0, 2], labels: ['-1', '+1']}
    - output: {name: all, columns: [id, band, plain]}
    - fill: {band: {value: '@none'}}
    - output: {name: filled, columns: [id, band]}
    """
    out, manifest = _run(tmp_path, engine, steps, data=FORMULAS, columns=FORMULA_COLUMNS)
    rows = _csv_rows(out / "all.csv")[1:]
    assert [r[1] for r in rows] == ["'=neg", "pos", "'=neg", "pos", "pos", "pos", "pos", "pos", "", ""]
    assert [r[2] for r in rows] == ["-1", "+1", "", "+1", "+1", "+1", "+1", "+1", "+1", "+1"]  # plain numbers
    assert manifest["outputs"]["all"]["formulas_neutralized"] == 2
    # after a fill the column is no longer only labels: its new values are found row by row
    assert manifest["outputs"]["filled"]["formulas_neutralized"] == 4
    assert [r[1] for r in _csv_rows(out / "filled.csv")[1:]][-3:] == ["pos", "'@none", "'@none"]


def test_neutralization_can_be_switched_off_for_the_recipe_or_one_output(tmp_path, engine):
    steps = """
    - output: {name: raw}
    - output: {name: safe, csv: {neutralize_formulas: true}}
    """
    top = "outputs: {csv: {neutralize_formulas: false}}\n"
    out, manifest = _run(tmp_path, engine, steps, data=FORMULAS, columns=FORMULA_COLUMNS, top=top)
    assert [r[1] for r in _csv_rows(out / "raw.csv")[1:4]] == ["=1+2", "+SUM(A1:A9)", "-2+3"]
    assert [r[1] for r in _csv_rows(out / "safe.csv")[1:4]] == ["'=1+2", "'+SUM(A1:A9)", "'-2+3"]
    assert manifest["outputs"]["raw"]["csv"] == {"neutralize_formulas": False}
    assert manifest["outputs"]["raw"]["formulas_neutralized"] == 0
    assert manifest["outputs"]["safe"]["formulas_neutralized"] == 7
    assert json.loads((out / "_manifest.json").read_text()) == manifest
