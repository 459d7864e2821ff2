"""split: parts by a stable hash of a key, the same on every engine, run and appended input.

Every engine is checked against the reference hash (``prepline.recipe.split``), so two engines
that pass assign every row alike.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from prepline.pipeline import run_recipe
from prepline.recipe import parse_recipe
from prepline.recipe.split import key_text, part_index, split_hash, thresholds

PARTS = {"train": 0.7, "validation": 0.2, "test": 0.1}


def _recipe(split: str, columns: str = "{id: int64, code: string, dept: string, x: float64}") -> str:
    return f"name: t\ninput:\n  format: csv\n  columns: {columns}\nsteps:\n  - split: {split}\n"


def _run(tmp_path: Path, engine: str, recipe: str, rows: list[tuple[Any, ...]], name: str = "out",
         header: str = "id,code,dept,x") -> tuple[dict[str, list[dict[str, str]]], dict[str, Any]]:
    """Write the rows as CSV, run the recipe; returns ({part: rows as text}, manifest)."""
    source = tmp_path / f"{name}.csv"
    with open(source, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header.split(","))
        writer.writerows(rows)
    out = tmp_path / f"{name}-{engine}"
    parsed = parse_recipe(recipe, source=str(tmp_path / "recipe.yaml"))
    manifest = run_recipe(parsed, str(source), str(out), engine=engine).manifest
    parts = {}
    for part, info in manifest["outputs"].items():
        with open(out / info["path"], newline="", encoding="utf-8") as handle:
            parts[part] = list(csv.DictReader(handle))
    return parts, manifest


def _rows(n: int, start: int = 1) -> list[tuple[Any, ...]]:
    depts = ["HR", "IT", "Sales"]
    return [(i, f"c{i:05d}", depts[i % 3], i / 7) for i in range(start, start + n)]


def _where(parts: dict[str, list[dict[str, str]]], column: str = "id") -> dict[str, str]:
    return {row[column]: name for name, rows in parts.items() for row in rows}


def test_the_parts_hold_every_row_once_in_the_fractions_asked(tmp_path, engine):
    rows = _rows(5000)
    parts, manifest = _run(tmp_path, engine, _recipe(f"{{by: id, parts: {PARTS}}}"), rows)
    assert list(parts) == list(PARTS)
    ids = [r["id"] for part in parts.values() for r in part]
    assert sorted(ids, key=int) == [str(r[0]) for r in rows]  # every row, once
    for part in parts.values():  # each part keeps the input's order and columns
        assert [int(r["id"]) for r in part] == sorted(int(r["id"]) for r in part)
        assert list(part[0]) == ["id", "code", "dept", "x"]
    (split,) = manifest["splits"]
    assert split["rows"] == 5000 and split["by"] == ["id"] and "strata" not in split
    for name, asked in PARTS.items():
        record = split["parts"][name]
        assert record == {"asked": asked, "rows": len(parts[name]), "obtained": len(parts[name]) / 5000}
        assert abs(record["obtained"] - asked) < 0.02  # 3.5 standard errors at 5000 rows
    assert manifest["notes"] == []


KEYS = [
    "plain", "", "héllo wörld", "日本語のキー", "emoji 😀 key", "a,b \"quoted\"", "x" * 31, "y" * 32, "z" * 33,
    "w" * 100, "-5", "0", "trailing space ", "\ttab",
]


def test_every_row_is_in_the_part_the_reference_hash_gives(tmp_path, engine):
    # text keys of every length around the Polars engine's 32-byte fast path, and missing keys
    rows = [(i, key, "HR", 0.5) for i, key in enumerate(KEYS * 3 + [f"k{i}" for i in range(300)])]
    parts, manifest = _run(tmp_path, engine, _recipe(f"{{by: code, parts: {PARTS}}}"), rows)
    bounds = thresholds(list(PARTS.values()))
    names = list(PARTS)
    for name, part in parts.items():
        for row in part:
            key = row["code"] or None  # an empty CSV cell is a missing value
            assert names[part_index(split_hash(key), bounds)] == name, (row["code"], name)
    missing = [c for c in manifest["counters"] if c["what"].startswith("rows whose split key")]
    assert missing == [{"step": "1:split", "what": "rows whose split key (code) is missing (hashed as empty text)",
                        "count": 3}]


def test_a_key_of_several_columns_and_an_integer_key_hash_their_text(tmp_path, engine):
    rows = [(i, f"c{i % 17}", ["HR", "IT"][i % 2], 0.5) for i in range(-50, 250)]
    recipe = _recipe(f"{{by: [code, id], parts: {PARTS}}}")
    parts, _ = _run(tmp_path, engine, recipe, rows)
    bounds, names = thresholds(list(PARTS.values())), list(PARTS)
    for name, part in parts.items():
        for row in part:
            assert names[part_index(split_hash(key_text([row["code"], int(row["id"])])), bounds)] == name


def test_two_runs_write_the_same_parts(tmp_path, engine):
    rows = _rows(2000)
    recipe = _recipe(f"{{by: id, parts: {PARTS}}}")
    _, first = _run(tmp_path, engine, recipe, rows, name="a")
    _, second = _run(tmp_path, engine, recipe, rows, name="b")
    for name in PARTS:
        a = (tmp_path / f"a-{engine}" / f"{name}.csv").read_bytes()
        assert a == (tmp_path / f"b-{engine}" / f"{name}.csv").read_bytes(), name
        assert first["outputs"][name]["sha256"] == second["outputs"][name]["sha256"]


def test_appended_and_reordered_rows_do_not_move_existing_rows(tmp_path, engine):
    recipe = _recipe(f"{{by: code, parts: {PARTS}}}")
    before = _rows(1500)
    later = _rows(1500) + _rows(1000, start=1501)
    random.Random(3).shuffle(later)  # the input grew and its order changed
    old, _ = _run(tmp_path, engine, recipe, before, name="before")
    new, _ = _run(tmp_path, engine, recipe, later, name="after")
    was, now = _where(old, "code"), _where(new, "code")
    assert len(now) == 2500
    assert {code: now[code] for code in was} == was


def test_stratified_fractions_are_recorded_per_stratum(tmp_path, engine):
    depts = ["HR"] * 6 + ["IT"] * 3 + ["Ops"]  # 60%, 30%, 10% of the rows
    rows = [(i, f"c{i}", depts[i % 10], 0.5) for i in range(3000)]
    rows += [(3000 + i, f"n{i}", "", 0.5) for i in range(40)]  # a missing stratum is a stratum too
    parts, manifest = _run(tmp_path, engine, _recipe(f"{{by: id, parts: {PARTS}, stratify: dept}}"), rows)
    (split,) = manifest["splits"]
    assert split["stratify"] == "dept"
    assert [s["value"] for s in split["strata"]] == ["HR", "IT", "Ops", None]
    for stratum in split["strata"]:
        value = stratum["value"] or ""
        counted = {name: sum(r["dept"] == value for r in parts[name]) for name in PARTS}
        assert stratum["rows"] == sum(counted.values()) == {"HR": 1800, "IT": 900, "Ops": 300, "": 40}[value]
        for name, asked in PARTS.items():
            got = stratum["parts"][name]
            assert got == {"rows": counted[name], "obtained": round(counted[name] / stratum["rows"], 6)}
            if stratum["rows"] >= 300:  # the hash ignores the stratum: each one's fractions are the asked ones, up to chance
                assert abs(got["obtained"] - asked) < 4 * (asked * (1 - asked) / stratum["rows"]) ** 0.5


def test_rows_sharing_a_key_stay_together_and_a_skewed_part_is_noted(tmp_path, engine):
    # splitting by a column with few values keeps each value's rows in one part: fractions stray
    rows = [(i, f"c{i}", ["HR", "IT", "Sales"][i % 3], 0.5) for i in range(900)]
    parts, manifest = _run(tmp_path, engine, _recipe(f"{{by: dept, parts: {PARTS}}}"), rows)
    for dept in ("HR", "IT", "Sales"):
        assert sum(any(r["dept"] == dept for r in part) for part in parts.values()) == 1
    assert any("rows sharing a key (they stay together)" in note for note in manifest["notes"])


def test_the_flow_continues_with_every_row_after_a_split(tmp_path, engine):
    recipe = _recipe(f"{{by: id, parts: {PARTS}, columns: [id, dept]}}") + "  - output: {name: all, columns: [id, x]}\n"
    parts, manifest = _run(tmp_path, engine, recipe, _rows(300))
    assert len(parts["all"]) == 300 and list(parts["all"][0]) == ["id", "x"]
    assert list(parts["train"][0]) == ["id", "dept"]
    assert manifest["outputs"]["train"]["schema"] == {"id": "int64", "dept": "string"}
