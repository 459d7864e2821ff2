"""The Polars engine's one pass (``engines.polars.onepass``) against its two-pass path.

The one pass writes every output and takes every count from one read of the input, in
batches. These tests run the same recipe both ways (the two-pass path is what the engine
does when ``onepass.applies`` says no) and in batches of a few rows, and compare the files and
the manifests' counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prepline.engines.polars import onepass
from prepline.engines.polars.steps import is_formula, repeats_a_key
from prepline.pipeline import run_recipe
from prepline.recipe import parse_recipe

RECIPE = """\
name: t
input:
  format: csv
  columns: {id: int64, name: string, age: float64, salary: float64, profile: string, dept: string}
steps:
  - check:
      - {rule: between, column: age, min: 0, max: 120, severity: reject}
      - {rule: unique, column: id, severity: warn}
      - {rule: in_set, column: dept, values: [HR, IT], severity: warn}
  - extract_json:
      column: profile
      fields: {phone: $.phone, city: $.address.city}
      drop_source: true
      on_invalid: reject
  - fill: {age: median, salary: mean, dept: {value: Unknown}}
  - output: {name: cleaned, columns: [id, name, age, salary, dept, phone, city]}
  - derive: {name_length: 'coalesce(len(name), 0)', salary: salary * 2}
  - bin: {column: age, into: band, edges: [0, 30, 60, .inf], labels: [young, '=mid', old], include_lowest: true}
  - output: {name: features}
  - split:
      by: id
      parts: {train: 0.6, test: 0.4}
      stratify: dept
      format: parquet
      columns: [id, age, salary, dept, band]
  - filter: {where: 'age > 20'}
  - aggregate:
      name: by_dept
      by: {Department: dept}
      values:
        mean salary: {mean: salary}
        median age: {median: age}
        people: {count: '*'}
  - output: {name: late, format: parquet, columns: [id, dept, name]}
"""

NAMES = ["Ann", "=SUM(A1)", "-5", "+1 555", "@home", "Bo", None, "\tTab", "Cy, Jr.", "Di"]
DEPTS = ["HR", "IT", None, "=HYPERLINK()", "Ops"]


def _data(rows: int) -> str:
    lines = ["id,name,age,salary,profile,dept"]
    for i in range(rows):
        name = NAMES[i % len(NAMES)]
        age = "" if i % 7 == 3 else ("-4" if i % 11 == 5 else str(18 + (i * 13) % 60))
        salary = "" if i % 5 == 2 else str(1000 + (i * 37) % 900)
        profile = ("not json" if i % 13 == 9 else
                   json.dumps({"phone": f"+44 {i}" if i % 3 else f"0{i}", "address": {"city": f"=C{i}" if i % 4 == 0 else f"City {i}"}}))
        dept = DEPTS[i % len(DEPTS)]
        fields = [str(i), name, age, salary, profile, dept]
        lines.append(",".join("" if f is None else '"' + f.replace('"', '""') + '"' for f in fields))
    return "\n".join(lines) + "\n"


def _run(tmp_path: Path, label: str, data: str) -> tuple[Path, dict[str, Any]]:
    source = tmp_path / "input.csv"
    source.write_text(data, encoding="utf-8")
    recipe = parse_recipe(RECIPE, source=str(tmp_path / "recipe.yaml"))
    out = tmp_path / label
    return out, run_recipe(recipe, str(source), str(out)).manifest


def _files(folder: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Each output's content: a CSV's bytes, a Parquet file's frame."""
    found: dict[str, Any] = {}
    for name, info in manifest["outputs"].items():
        path = folder / info["path"]
        found[name] = path.read_bytes() if info["format"] == "csv" else pl.read_parquet(path)
    return found


def _counts(manifest: dict[str, Any]) -> dict[str, Any]:
    keep = ("rows_in", "counters", "rules", "fills", "splits", "notes")
    outputs = {name: {k: v for k, v in info.items() if k not in ("sha256", "bytes")}
               for name, info in manifest["outputs"].items()}
    return {k: manifest.get(k) for k in keep} | {"outputs": outputs}


def _assert_same(a: tuple[Path, dict[str, Any]], b: tuple[Path, dict[str, Any]]) -> None:
    (folder_a, manifest_a), (folder_b, manifest_b) = a, b
    assert _counts(manifest_a) == _counts(manifest_b)
    files_a, files_b = _files(folder_a, manifest_a), _files(folder_b, manifest_b)
    assert files_a.keys() == files_b.keys()
    for name, content in files_a.items():
        if isinstance(content, bytes):
            assert content == files_b[name], name
        else:
            assert content.equals(files_b[name]), name


def test_one_pass_writes_what_the_two_passes_write(tmp_path, monkeypatch):
    data = _data(60)
    one = _run(tmp_path, "one", data)
    assert "audit" not in one[1]["timings_s"]  # the one pass ran: no separate audit phase
    monkeypatch.setattr(onepass, "MAX_COLUMNS", 0)  # too wide for the one pass: the two-pass path
    two = _run(tmp_path, "two", data)
    assert "audit" in two[1]["timings_s"]
    _assert_same(one, two)
    manifest = one[1]
    # the recipe's cases are all there, so the comparison is not of empty files
    rows = {n: o["rows"] for n, o in manifest["outputs"].items()}
    assert rows["rejected"] > 0
    assert all(rows[n] > 0 for n in ("cleaned", "features", "train", "test", "by_dept", "late"))
    neutralized = {n: o.get("formulas_neutralized") for n, o in manifest["outputs"].items()}
    assert neutralized["cleaned"] > 0 and neutralized["features"] > neutralized["cleaned"]  # + the '=mid' band
    assert neutralized["by_dept"] == 1  # the department '=HYPERLINK()'
    assert b"'=SUM(A1)" in (one[0] / "cleaned.csv").read_bytes()
    assert b",-5," in (one[0] / "cleaned.csv").read_bytes()  # a number is no formula


def test_batch_boundaries_change_nothing(tmp_path, monkeypatch):
    """Formula cells are neutralized per batch, counts are summed over batches, spilled rows are
    put back together in order: batches of 3 rows give the files one batch gives."""
    data = _data(60)
    whole = _run(tmp_path, "whole", data)
    monkeypatch.setattr(onepass, "MIN_BATCH_ROWS", 3)
    monkeypatch.setattr(onepass, "MAX_BATCH_ROWS", 3)
    small = _run(tmp_path, "small", data)
    _assert_same(whole, small)
    assert not (small[0] / onepass.SPILL).exists()  # spill files are removed


@pytest.mark.parametrize("at", [2, 47])
def test_a_json_value_the_one_parse_cannot_take_reruns_with_row_checks(tmp_path, monkeypatch, at):
    """A repeated key (whose last value counts, as in json.loads) in the first or a late batch."""
    monkeypatch.setattr(onepass, "MIN_BATCH_ROWS", 4)
    monkeypatch.setattr(onepass, "MAX_BATCH_ROWS", 4)
    lines = _data(50).splitlines()
    fields = lines[at + 1].split(",")
    lines[at + 1] = ",".join([*fields[:4], '"{""phone"": ""first"", ""phone"": ""last""}"', fields[-1]])
    folder, manifest = _run(tmp_path, "out", "\n".join(lines) + "\n")
    assert any("ran again with row-level JSON checks" in n for n in manifest["notes"])
    assert not (folder / onepass.SPILL).exists()  # the stopped pass's spill files are gone too
    rows = pl.read_csv(folder / "cleaned.csv", schema_overrides={"phone": pl.String})
    assert rows.filter(pl.col("id") == at)["phone"].to_list() == ["last"]


@pytest.mark.parametrize(("ids", "repeats"), [
    (["1", "2", "2", "2", "3", "4", "4"], 3),  # sorted: counted in the pass, a run across batches once
    (["a", "b", "b", "", "c", "c", "d"], 2),  # text keys, a missing key (not checked)
    (["5", "6", "7", "1", "2", "6", "9"], 1),  # not sorted: the key's own query counts
    (["1", "2", "3", "4", "5", "6", "7"], 0),
])
def test_unique_counts_repeated_keys_across_batches(tmp_path, monkeypatch, ids, repeats):
    monkeypatch.setattr(onepass, "MIN_BATCH_ROWS", 3)
    monkeypatch.setattr(onepass, "MAX_BATCH_ROWS", 3)
    kind = "int64" if ids[0].isdigit() else "string"
    recipe = parse_recipe(f"name: u\ninput:\n  format: csv\n  columns: {{id: {kind}, v: int64}}\nsteps:\n"
                          "  - check: [{rule: unique, column: id, severity: warn}]\n  - output: {name: out}\n")
    source = tmp_path / "input.csv"
    source.write_text("id,v\n" + "".join(f"{k},{i}\n" for i, k in enumerate(ids)), encoding="utf-8")
    manifest = run_recipe(recipe, str(source), str(tmp_path / "out")).manifest
    (rule,) = manifest["rules"]
    assert rule["failing_rows"] == repeats
    assert rule["rows_checked"] == sum(1 for k in ids if k)


EDGES = ["=1+1", "+1 555", "-5", "-5x", "@home", "\tTab", "\rCR", "", " =x", "0", "9=", ":", "<", ">", "?", "A",
         "~", "é=", "+", "-", "+1e3", ".5", "-.5e-3", None]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(EDGES), st.text(max_size=6)), max_size=40))
def test_formula_flags_are_the_cells_is_formula_marks(cells):
    """The one pass's fast test (comparisons, then the regex) marks exactly what steps.is_formula marks."""
    frame = pl.DataFrame({"t": cells}, schema={"t": pl.String})
    expected = frame.select(is_formula(pl.col("t")).fill_null(False))["t"].to_list()
    found = onepass.formula_flags(frame, ["t"])
    assert (found["t"].to_list() if "t" in found else [False] * len(cells)) == expected


KEYS = ['"phone"', '"a.b"', '"é"']


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.sampled_from([*KEYS, '"phone"phone"', "\n", ": 1, ", "x", '"'])).map("".join)),
                max_size=20))
def test_repeats_a_key_is_a_second_occurrence_of_a_key(texts):
    """The JSON duplicate-key guard's regexes agree with counting the key's occurrences (no overlaps)."""
    frame = pl.DataFrame({"t": texts}, schema={"t": pl.String})
    found = frame.select(repeats_a_key(pl.col("t"), KEYS))["t"].to_list()
    counted = [t is not None and any(t.count(k) > 1 for k in KEYS) for t in texts]
    assert found == counted
