"""Fuzzing: whatever the recipe file or the data holds, prepline answers with outputs or a PreplineError
(a message for a person), never another exception, never a partial output.

Bounded for CI: ``PREPLINE_FUZZ_EXAMPLES`` examples per test (50), the same ones every run; set
``PREPLINE_FUZZ_SEARCH=1`` to draw new ones each run (a longer search: ``PREPLINE_FUZZ_EXAMPLES=2000``).
"""

from __future__ import annotations

import json
import os
import shutil
import string
from pathlib import Path
from typing import Any

import pytest
import yaml

from prepline.errors import PreplineError
from prepline.pipeline import run_recipe
from prepline.recipe import parse_recipe
from prepline.recipe.loader import load_recipe
from prepline.recipe.model import STEP_MODELS, Recipe
from tests.conftest import REPO

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(
    max_examples=int(os.environ.get("PREPLINE_FUZZ_EXAMPLES", "50")),
    derandomize=not os.environ.get("PREPLINE_FUZZ_SEARCH"),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
EMPLOYEES = (REPO / "examples" / "employees" / "recipe.yaml").read_text(encoding="utf-8")
TYPES = ["string", "int64", "int32", "float64", "float32", "bool", "date", "datetime"]
NAMES = ["id", "name", "age", "salary", "profile", "department", "x", "y z", "", "é", "_row", "0"]

# --- recipes ----------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(NAMES + TYPES + ["median", "mean", "mode", "fail", "null", "reject", "$.a", "$['b c']",
                                      "age + 1", "len(name)", "x if y else z", ".inf", "(", "csv", "parquet"]),
    st.text(max_size=12),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.sampled_from([*NAMES, "value", "column",
                            "into", "edges", "labels", "where", "reject", "name", "by", "values", "fields", "to",
                            "on_error", "on_invalid", "rule", "severity", "min", "max", "columns", "keep"]), inner,
                            max_size=4)),
    max_leaves=12,
)
steps = st.lists(
    st.one_of(st.dictionaries(st.sampled_from([*STEP_MODELS, "fil", "outptu"]), values, min_size=1, max_size=2), values),
    max_size=6,
)
columns = st.dictionaries(st.sampled_from(NAMES), st.one_of(st.sampled_from(TYPES), values), max_size=5)
documents = st.fixed_dictionaries(
    {},
    optional={
        "version": st.one_of(st.just(1), values),
        "name": st.one_of(st.sampled_from(["t", "employees", "bad name", ""]), values),
        "input": st.one_of(
            st.fixed_dictionaries({"columns": columns}, optional={
                "format": st.one_of(st.sampled_from(["csv", "parquet", "jsonl", "auto", "xml"]), values),
                "on_bad_value": values, "extra_columns": values, "csv": values}),
            values),
        "steps": st.one_of(steps, values),
        "report": values,
        "description": values,
    },
).flatmap(lambda doc: st.dictionaries(st.text(max_size=6), values, max_size=2).map(lambda junk: {**doc, **junk}))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    """The employees recipe with a few characters or lines deleted, inserted or moved."""
    text = EMPLOYEES
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "line"]))
        if kind == "delete":
            text = text[:where] + text[where + draw(st.integers(1, 40)):]
        elif kind == "insert":
            text = text[:where] + draw(st.text(alphabet=string.printable + "\t\u00e9\u2028", max_size=8)) + text[where:]
        else:
            lines = text.splitlines(keepends=True)
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
            text = "".join(lines)
    return text


def _recipe_or_error(text: str) -> None:
    try:
        recipe = parse_recipe(text, source="fuzz.yaml")
    except PreplineError as err:
        event("refused")
        assert "fuzz.yaml" in str(err), str(err)  # every recipe error names the file
        return
    event("loaded")
    assert isinstance(recipe, Recipe)


@FUZZ
@given(documents)
def test_a_recipe_document_loads_or_is_refused_with_a_message(document: dict[str, Any]) -> None:
    _recipe_or_error(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))


@FUZZ
@given(mutated())
def test_a_damaged_recipe_file_loads_or_is_refused_with_a_message(text: str) -> None:
    _recipe_or_error(text)


@FUZZ
@given(st.binary(max_size=200))
def test_any_bytes_as_a_recipe_file_are_refused_with_a_message(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(content)
    with pytest.raises(PreplineError, match=r"fuzz\.yaml"):  # no 200 bytes of noise make a whole recipe
        load_recipe(path)


# --- data -------------------------------------------------------------------------------------------

DATA_RECIPE = """name: fuzz
input:
  format: {fmt}
  columns: {{id: {{type: int64, required: false}}, name: {{type: string, required: false}}, age: {{type: float64, required: false}}, ok: {{type: bool, required: false}}, day: {{type: date, required: false}}, profile: {{type: string, required: false}}}}
  on_bad_value: {policy}
  csv: {{encoding: {encoding}}}
steps:
  - check: [{{rule: between, column: age, min: 0, max: 120, severity: reject}}]
  - extract_json: {{column: profile, fields: {{address: $.address, n: {{path: $.n, type: int64}}}}, on_invalid: {invalid}}}
  - fill: {{age: median, name: {{value: unknown}}}}
  - derive: {{older: age + 1}}
  - output: out
  - aggregate: {{name: by_name, by: [name], values: {{rows: {{count: '*'}}, mean_age: {{mean: age}}}}}}
report: {{enabled: false}}
"""
policies = st.sampled_from(["fail", "null", "reject"])
cells = st.one_of(
    st.sampled_from(["", "1", "-5", "1,000", "3.5", "NaN", "inf", "thirty", "true", "FALSE", "maybe", "2020-01-02",
                     "2020-02-30", '"', '""', "a\nb", "=SUM(A1)", '{"address": "x", "n": 2}', "[1]", "null",
                     '{"n": "two"}', '{"address": {"deep": 1}}', "\u00e9", "\t"]),
    st.text(alphabet=string.printable + "\u00e9\u00ff", max_size=10),
)
header = st.lists(st.sampled_from(["id", "name", "age", "ok", "day", "profile", "extra", "id", ""]),
                  min_size=0, max_size=7)


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """CSV-like bytes: a header, rows of odd cells (quoted or not, ragged), odd bytes and line ends."""
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    names = draw(header)
    rows = draw(st.lists(st.lists(cells, max_size=len(names) + 2), max_size=8))

    def cell(text: str) -> str:
        if draw(st.booleans()) or any(c in text for c in (delimiter, '"', "\n", "\r")):
            return '"' + text.replace('"', '""') + '"' if draw(st.integers(0, 9)) else '"' + text  # sometimes unclosed
        return text

    end = draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    text = end.join(delimiter.join(cell(c) for c in row) for row in [names, *rows]) + draw(st.sampled_from(["", end]))
    data = text.encode("utf-8")
    if draw(st.integers(0, 9)) == 0:
        data = data.replace("\u00e9".encode(), b"\xe9")  # Latin-1
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data  # a BOM
    return data


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False), st.text(max_size=6)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["id", "name", "age", "ok", "day", "profile", "x"]), inner, max_size=5)),
    max_leaves=8,
)


plausible = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.integers(-5, 10**6), st.floats(allow_nan=False), json_values),
    "name": st.one_of(st.text(max_size=6), json_values),
    "age": st.one_of(st.floats(-5, 200), st.integers(-5, 200), st.sampled_from(["NaN", "thirty"]), json_values),
    "ok": st.one_of(st.booleans(), st.sampled_from(["true", "no"])),
    "day": st.sampled_from(["2020-01-02", "2020-02-30", "", None]),
    "profile": st.one_of(st.sampled_from(['{"address": "x", "n": 2}', "[1]", "null", '{"n": "two"}']), json_values),
})


@st.composite
def jsonl_files(draw: st.DrawFn) -> bytes:
    """JSON Lines-like bytes: mostly objects, sometimes arrays, scalars, cut or broken lines."""
    lines = []
    for value in draw(st.lists(st.one_of(plausible, plausible, plausible, json_values), max_size=6)):
        text = json.dumps(value)
        damage = draw(st.integers(0, 12))
        if damage == 0:
            text = text[: draw(st.integers(0, len(text)))]
        elif damage == 1:
            text = text.replace(":", "", 1)
        lines.append(text)
    return ("\n".join(lines) + draw(st.sampled_from(["", "\n"]))).encode()


def _run_or_error(tmp_path: Path, data: bytes, fmt: str, policy: str, invalid: str, encoding: str = "utf8") -> None:
    folder = tmp_path / "case"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    source = folder / f"input.{fmt}"
    source.write_bytes(data)
    recipe = parse_recipe(DATA_RECIPE.format(fmt=fmt, policy=policy, invalid=invalid, encoding=encoding),
                          source=str(folder / "recipe.yaml"))
    out = folder / "out"
    try:
        summary = run_recipe(recipe, str(source), str(out))
    except PreplineError as err:
        event(f"refused: {type(err).__name__}")
        assert str(err).strip(), "an empty message"
        assert not out.exists(), "a failed run published something"
        assert source.read_bytes() == data
        return
    event("processed")
    assert source.read_bytes() == data
    assert (out / "_manifest.json").is_file()
    assert set(summary.manifest["outputs"]) >= {"out", "by_name"}
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []  # no staging left


@FUZZ
@given(data=csv_files(), policy=policies, invalid=policies, encoding=st.sampled_from(["utf8", "utf8-lossy"]))
def test_any_csv_gives_outputs_or_a_message(tmp_path: Path, data: bytes, policy: str, invalid: str, encoding: str) -> None:
    _run_or_error(tmp_path, data, "csv", policy, invalid, encoding)


@FUZZ
@given(data=jsonl_files(), policy=policies, invalid=policies)
def test_any_json_lines_give_outputs_or_a_message(tmp_path: Path, data: bytes, policy: str, invalid: str) -> None:
    _run_or_error(tmp_path, data, "jsonl", policy, invalid)
