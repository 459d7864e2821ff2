"""bin: interval edges, open ends, NaN, labels and the out-of-bins counter, on every engine.

pandas.cut is the oracle for which bin a value falls in: the expected labels are computed with it
in each test, from the same values, edges and options.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from prepline.errors import RecipeError
from prepline.recipe import parse_recipe
from tests.engines.recipe_runner import column, run_small

# Text cells as they are in the CSV; "" is a missing value.
CELLS = ["0", "50000", "50000.5", "49999.99", "-1", "inf", "-inf", "NaN", "", "100000", "100000.01", "1e-9"]


def _csv(cells: list[str]) -> str:
    return "id,x\n" + "".join(f"{i},{c}\n" for i, c in enumerate(cells, start=1))


def _pandas_labels(cells: list[str], edges: list[float], labels: list[str], **options: bool) -> list[str]:
    values = pd.Series([float(c) if c else math.nan for c in cells], dtype="float64")
    binned = pd.cut(values, edges, labels=labels, ordered=True, **options)
    return ["" if pd.isna(v) else str(v) for v in binned]


def run_bin(tmp_path, engine, spec: str, cells: list[str] = CELLS):
    outputs, manifest = run_small(
        tmp_path, engine, columns="id: int64\nx: float64", data=_csv(cells),
        steps=f"- bin: {spec}\n- output: out",
    )
    return outputs["out"], manifest


def _out_of_bins(manifest) -> int:
    [counter] = [c for c in manifest["counters"] if c["step"] == "1:bin"]
    return counter["count"]


@pytest.mark.parametrize(
    ("options", "yaml_options"),
    [
        ({"right": True, "include_lowest": False}, ""),
        ({"right": True, "include_lowest": True}, ", include_lowest: true"),
        ({"right": False, "include_lowest": False}, ", right: false"),
    ],
)
def test_bins_match_pandas_cut(tmp_path, engine, options, yaml_options):
    edges = [0, 50000, 100000]
    labels = ["low", "high"]
    rows, manifest = run_bin(
        tmp_path, engine, f"{{column: x, into: b, edges: {edges}, labels: {labels}{yaml_options}}}"
    )
    expected = _pandas_labels(CELLS, edges, labels, **options)
    assert column(rows, "b") == expected
    # the source column is left as it was
    assert column(rows, "x")[:3] == ["0.0", "50000.0", "50000.5"]
    # every value present in the input but in no bin is counted, NaN included
    present = sum(1 for c in CELLS if c != "")
    assert _out_of_bins(manifest) == present - sum(1 for v in expected if v)


def test_right_closed_edges_exactly(tmp_path, engine):
    rows, _ = run_bin(tmp_path, engine, "{column: x, into: b, edges: [0, 50000, 100000], labels: [low, high]}")
    by_cell = dict(zip(CELLS, column(rows, "b"), strict=True))
    assert by_cell["0"] == ""  # (0, 50000] leaves 0 out ...
    assert by_cell["1e-9"] == "low"  # ... but not the smallest number above it
    assert by_cell["50000"] == "low"  # an edge belongs to the bin it closes
    assert by_cell["50000.5"] == "high"
    assert by_cell["100000"] == "high"
    assert by_cell["100000.01"] == ""
    assert by_cell["-1"] == ""


def test_include_lowest_closes_the_first_bin_only(tmp_path, engine):
    rows, _ = run_bin(tmp_path, engine, "{column: x, into: b, edges: [0, 50000, 100000], labels: [low, high], include_lowest: true}")
    by_cell = dict(zip(CELLS, column(rows, "b"), strict=True))
    assert by_cell["0"] == "low"
    assert by_cell["50000"] == "low"  # not [50000, ...]: only the lowest edge changes


def test_right_false_gives_left_closed_bins(tmp_path, engine):
    rows, _ = run_bin(tmp_path, engine, "{column: x, into: b, edges: [0, 50000, 100000], labels: [low, high], right: false}")
    by_cell = dict(zip(CELLS, column(rows, "b"), strict=True))
    assert by_cell["0"] == "low"
    assert by_cell["49999.99"] == "low"
    assert by_cell["50000"] == "high"
    assert by_cell["100000"] == ""  # [50000, 100000) leaves the top edge out


def test_open_ended_edges_take_infinities(tmp_path, engine):
    edges = [-math.inf, 0, 50000, math.inf]
    labels = ["neg", "mid", "top"]
    rows, manifest = run_bin(tmp_path, engine, "{column: x, into: b, edges: [-.inf, 0, 50000, .inf], labels: [neg, mid, top]}")
    expected = _pandas_labels(CELLS, edges, labels, right=True)
    assert column(rows, "b") == expected
    by_cell = dict(zip(CELLS, column(rows, "b"), strict=True))
    assert by_cell["inf"] == "top"  # (50000, inf] holds +inf
    assert by_cell["-inf"] == ""  # (-inf, 0] does not hold -inf itself
    assert by_cell["-1"] == "neg"
    assert by_cell["NaN"] == ""
    assert _out_of_bins(manifest) == 2  # -inf and NaN


def test_open_ended_left_closed_bins(tmp_path, engine):
    edges = [-math.inf, 0, math.inf]
    rows, _ = run_bin(tmp_path, engine, "{column: x, into: b, edges: [-.inf, 0, .inf], labels: [neg, pos], right: false}")
    assert column(rows, "b") == _pandas_labels(CELLS, edges, ["neg", "pos"], right=False)
    by_cell = dict(zip(CELLS, column(rows, "b"), strict=True))
    assert by_cell["-inf"] == "neg"
    assert by_cell["inf"] == ""


def test_nan_becomes_null_and_is_counted_but_a_missing_value_is_not(tmp_path, engine):
    rows, manifest = run_bin(tmp_path, engine, "{column: x, into: b, edges: [-.inf, .inf], labels: [all]}",
                             cells=["1", "NaN", "", "-5"])
    assert column(rows, "b") == ["all", "", "", "all"]
    assert _out_of_bins(manifest) == 1
    [counter] = manifest["counters"]
    assert counter == {
        "step": "1:bin",
        "what": "values of 'x' outside every bin (set to null in 'b')",
        "count": 1,
    }


def test_default_labels_are_interval_texts(tmp_path, engine):
    rows, _ = run_bin(tmp_path, engine, "{column: x, into: b, edges: [0, 50000, 100000]}",
                      cells=["1", "50000", "60000", "0"])
    assert column(rows, "b") == ["(0, 50000]", "(0, 50000]", "(50000, 100000]", ""]


def test_default_labels_show_a_closed_lowest_end_fractions_and_infinity(tmp_path, engine):
    rows, _ = run_bin(tmp_path, engine, "{column: x, into: b, edges: [0, 2.5, .inf], include_lowest: true}",
                      cells=["0", "3"])
    assert column(rows, "b") == ["[0, 2.5]", "(2.5, inf]"]


def test_default_labels_of_left_closed_bins(tmp_path, engine):
    rows, _ = run_bin(tmp_path, engine, "{column: x, into: b, edges: [-.inf, 0, 10], right: false}",
                      cells=["-3", "0"])
    assert column(rows, "b") == ["[-inf, 0)", "[0, 10)"]


def test_without_into_the_column_is_replaced_by_its_labels(tmp_path, engine):
    rows, _ = run_bin(tmp_path, engine, "{column: x, edges: [0, 10], labels: [small]}", cells=["5", "50"])
    assert rows == [{"id": "1", "x": "small"}, {"id": "2", "x": ""}]


def test_an_integer_column_is_binned(tmp_path, engine):
    outputs, _ = run_small(
        tmp_path, engine, columns="id: int64\nn: int64", data="id,n\n1,10\n2,11\n3,-4\n",
        steps="- bin: {column: n, into: b, edges: [0, 10, 20], labels: [a, b]}\n- output: out",
    )
    assert column(outputs["out"], "b") == ["a", "b", ""]


# --- validation, before any data is read ---------------------------------------------------------

RECIPE = """\
name: t
input:
  columns: {id: int64, x: float64, s: string}
steps:
  - bin: %s
  - output: out
"""


def _error(spec: str) -> str:
    with pytest.raises(RecipeError) as info:
        parse_recipe(RECIPE % spec, source="r.yaml")
    return str(info.value)


@pytest.mark.parametrize("edges", ["[0, 10, 10]", "[10, 0]", "[0, .inf, .inf]"])
def test_edges_must_increase(edges):
    message = _error(f"{{column: x, edges: {edges}}}")
    assert message.startswith("invalid recipe: r.yaml:5: step 1 (bin): edges must increase strictly")


def test_labels_must_match_the_bins():
    message = _error("{column: x, edges: [0, 10, 20], labels: [a]}")
    assert "r.yaml:5: step 1 (bin): 3 edges make 2 bins but 1 labels are given" in message


def test_include_lowest_needs_right_closed_bins():
    message = _error("{column: x, edges: [0, 10], include_lowest: true, right: false}")
    assert message.startswith("r.yaml:5: step 1 (bin): include_lowest applies to right-closed bins only")
    assert "Fix: remove include_lowest or set right: true" in message


def test_a_text_column_cannot_be_binned():
    message = _error("{column: s, edges: [0, 10]}")
    assert "step 1 (bin): cannot bin 's': it is string, not a number" in message


def test_one_edge_is_not_a_bin():
    assert "step 1 (bin, edges): List should have at least 2 items" in _error("{column: x, edges: [0]}")
