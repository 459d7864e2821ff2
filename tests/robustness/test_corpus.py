"""Every bad input of the corpus (``corpus.py``) through ``prepline run``: its one documented outcome.

Each case runs through the CLI's error boundary (``prepline.cli.app.main``, what the console script
calls) with the Polars engine; ``test_spark_refuses_the_same_way`` runs a few with Spark and
``test_a_refusal_through_a_real_process`` one as a separate process. Every case also checks that
the input is unchanged, no staging folder is left behind and no traceback is printed.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.robustness.conftest import env_without_debug, leftovers, no_traceback, tree_digest
from tests.robustness.corpus import CASES, WIDE, Case, write

csv.field_size_limit(1 << 31)  # the corpus writes a 10 MB cell


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _header_only(out: Path, manifest: dict[str, Any]) -> None:
    assert (out / "out.csv").read_text() == "id,name,age\n"
    assert manifest["rows_in"] == 0 and manifest["outputs"]["out"]["rows"] == 0
    [rule] = manifest["rules"]
    assert (rule["kind"], rule["severity"], rule["passed"]) == ("row_count", "warn", False)


def _blank_lines(out: Path, manifest: dict[str, Any]) -> None:
    assert manifest["rows_in"] == 2
    assert [r["id"] for r in _rows(out / "out.csv")] == ["1", "2"]


def _bom(out: Path, manifest: dict[str, Any]) -> None:
    assert (out / "out.csv").read_bytes().startswith(b"id,name,age\n1,Ann,30.0\n")


def _crlf(out: Path, manifest: dict[str, Any]) -> None:
    assert (out / "out.csv").read_bytes() == b"id,name,age\n1,Ann,30.0\n2,Bob,40.0\n"


def _cell_10mb(out: Path, manifest: dict[str, Any]) -> None:
    rows = _rows(out / "out.csv")
    assert [len(r["name"]) for r in rows] == [10 << 20, 3]
    assert rows[0]["name"] == "x" * (10 << 20)


def _wide_rows(out: Path, manifest: dict[str, Any]) -> None:
    assert len(manifest["outputs"]["out"]["columns"]) == WIDE + 3
    assert manifest["outputs"]["out"]["rows"] == 3
    header = (out / "out.csv").open(encoding="utf-8").readline().rstrip("\n").split(",")
    assert header[:4] == ["id", "name", "age", "c0"] and header[-1] == f"c{WIDE - 1}"
    profiles = json.loads((out / "profile.json").read_text())
    for profile in (profiles["input"], profiles["outputs"]["out"]):
        assert profile["columns_total"] == WIDE + 3
        assert len(profile["columns"]) == profile["settings"]["max_columns"] == 500
    assert (out / "report.html").is_file()
    assert not [n for n in manifest["notes"] if "report.html" in n]


def _age_as_words_null(out: Path, manifest: dict[str, Any]) -> None:
    assert [r["age"] for r in _rows(out / "out.csv")] == ["", "40.0"]
    assert {"step": "0:input", "what": "values of 'age' that are not a valid float64 (read as null)",
            "count": 1} in manifest["counters"]


def _formula_injection(out: Path, manifest: dict[str, Any]) -> None:
    names = [r["name"] for r in _rows(out / "out.csv")]
    assert names == ["'=HYPERLINK(\"http://x\")", "'+1+2", "-3", "'@SUM(A1)", "Eve"]
    assert manifest["outputs"]["out"]["formulas_neutralized"] == 3


def _json_null(out: Path, manifest: dict[str, Any]) -> None:
    rows = _rows(out / "out.csv")
    assert [(r["address"], r["phone"]) for r in rows] == [("", ""), ("2 Side St", "0123")]
    assert manifest["outputs"]["rejected"]["rows"] == 0


def _json_1mb(out: Path, manifest: dict[str, Any]) -> None:
    rows = _rows(out / "out.csv")
    assert rows[0]["address"] == "a" * (1 << 20) and rows[0]["phone"] == "0123"


def _json_duplicate_keys(out: Path, manifest: dict[str, Any]) -> None:
    assert _rows(out / "out.csv")[0]["address"] == "second"


def _jsonl_object_in_text_column(out: Path, manifest: dict[str, Any]) -> None:
    assert _rows(out / "out.csv") == [{"id": "1", "name": '{"first": "Ann"}', "age": "30.0"}]


PROCESSED: dict[str, Callable[[Path, dict[str, Any]], None]] = {
    "header-only": _header_only,
    "blank-lines": _blank_lines,
    "bom": _bom,
    "crlf": _crlf,
    "cell-10mb": _cell_10mb,
    "wide-rows": _wide_rows,
    "age-as-words-null": _age_as_words_null,
    "formula-injection": _formula_injection,
    "json-null": _json_null,
    "json-1mb": _json_1mb,
    "json-duplicate-keys": _json_duplicate_keys,
    "jsonl-object-in-text-column": _jsonl_object_in_text_column,
}


def test_the_corpus_has_every_kind_of_case():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.outcome for c in CASES} == {"processed", "rejected", "refused"}
    assert {c.id for c in CASES if c.outcome == "processed"} == set(PROCESSED)
    for case in CASES:
        if case.outcome == "refused":
            assert case.message, case.id
        if case.outcome == "rejected":
            assert case.reasons and case.kept is not None, case.id


def test_the_readme_lists_every_case():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Bad inputs and what prepline does", 1)[1].split("\n## ", 1)[0]
    for case in CASES:
        assert f"`{case.id}`" in table, case.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, tmp_path: Path, cli) -> None:
    source, recipe = write(case, tmp_path / "case")
    before = tree_digest(tmp_path / "case")
    out = tmp_path / "out"
    result = cli("run", recipe, "--input", source, "--output", out, "--json")
    no_traceback(result.stdout + result.stderr)
    assert tree_digest(tmp_path / "case") == before  # inputs (and the recipe) are only read
    assert leftovers(tmp_path) == []

    if case.outcome == "refused":
        assert result.code == 2, result.stderr
        for text in case.message:
            assert text.replace("{input}", str(source)).replace("{recipe}", str(recipe)) in result.stderr
        assert "Fix:" in result.stderr, result.stderr
        assert not out.exists()
        return

    assert result.code == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest == json.loads((out / "_manifest.json").read_text())
    if case.outcome == "rejected":
        rejected = _rows(out / "rejected.csv")
        assert [int(r["_row"]) for r in rejected] == [row for row, _ in case.reasons]
        for row, (_, reason) in zip(rejected, case.reasons, strict=True):
            assert reason in row["_reason"], row
        assert manifest["outputs"]["rejected"]["rows"] == len(case.reasons)
        assert manifest["outputs"]["out"]["rows"] == case.kept
        assert manifest["rows_in"] == len(case.reasons) + case.kept
    else:
        PROCESSED[case.id](out, manifest)


def test_a_refusal_through_a_real_process(tmp_path: Path) -> None:
    case = next(c for c in CASES if c.id == "ragged-long")
    source, recipe = write(case, tmp_path / "case")
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "prepline", "run", str(recipe), "--input", str(source), "--output", str(out)],
        capture_output=True, text=True, timeout=300, env=env_without_debug(),
    )
    assert done.returncode == 2
    assert f"input {source} is not valid CSV: line 3, column 10" in done.stderr
    no_traceback(done.stderr + done.stdout)
    assert not out.exists()


SPARK_CASES = ["latin-1", "unclosed-quote", "text-after-quote", "ragged-long", "wrong-delimiter", "parquet-float-for-int"]


@pytest.mark.spark
@pytest.mark.parametrize("case_id", SPARK_CASES)
def test_spark_refuses_the_same_way(case_id: str, tmp_path: Path, cli) -> None:
    """Spark would read these silently wrong (bytes replaced, fields dropped, a quote read to the end of the
    file, 1.5 truncated): the Spark engine refuses them with the Polars engine's message."""
    from tests.conftest import _java_available

    pytest.importorskip("pyspark")
    if not _java_available():
        pytest.skip("Spark needs Java, which is not installed")
    case = next(c for c in CASES if c.id == case_id)
    source, recipe = write(case, tmp_path / "case")
    out = tmp_path / "out"
    result = cli("run", recipe, "--input", source, "--output", out, "--engine", "spark")
    assert result.code == 2, result.stderr
    for text in case.message:
        assert text.replace("{input}", str(source)) in result.stderr
    no_traceback(result.stderr)
    assert not out.exists()


@pytest.mark.spark
@pytest.mark.parametrize("case_id", ["ragged-short", "header-only", "bom", "crlf"])
def test_spark_reads_what_polars_reads(case_id: str, tmp_path: Path, cli) -> None:
    """The CSV check before Spark reads (Polars parses the file first) lets through what the
    Polars engine processes."""
    from tests.conftest import _java_available

    pytest.importorskip("pyspark")
    if not _java_available():
        pytest.skip("Spark needs Java, which is not installed")
    case = next(c for c in CASES if c.id == case_id)
    assert case.outcome in ("processed", "rejected")
    source, recipe = write(case, tmp_path / "case")
    out = tmp_path / "out"
    result = cli("run", recipe, "--input", source, "--output", out, "--engine", "spark")
    assert result.code == 0, result.stderr
    assert (out / "_manifest.json").is_file()
