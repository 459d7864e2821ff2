"""fill: median (pandas' definition), mean, mode and constants, on every engine."""

from __future__ import annotations

import pytest

from tests.engines.recipe_runner import column, floats, run_small

COLUMNS = """
id: int64
x: float64
s: string
"""


def fill(tmp_path, engine, data, spec):
    return run_small(tmp_path, engine, columns=COLUMNS, data=data,
                     steps=f"- fill: {spec}\n- output: out")


def test_median_of_an_odd_count_is_the_middle_value(tmp_path, engine):
    outputs, manifest = fill(tmp_path, engine, "id,x,s\n1,5,a\n2,,b\n3,1,c\n4,100,d\n", "{x: median}")
    assert floats(outputs["out"], "x") == [5.0, 5.0, 1.0, 100.0]
    assert manifest["fills"] == [
        {"step": "1:fill", "column": "x", "strategy": "median", "value": 5.0, "filled": 1}
    ]


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values(tmp_path, engine):
    outputs, _ = fill(tmp_path, engine, "id,x,s\n1,1,a\n2,,b\n3,2,c\n4,10,d\n5,20,e\n", "{x: median}")
    assert floats(outputs["out"], "x")[1] == 6.0  # (2 + 10) / 2, as pandas computes it


def test_mean_and_mode(tmp_path, engine):
    data = "id,x,s\n1,1,b\n2,,\n3,2,a\n4,3,b\n5,,a\n"
    outputs, _ = fill(tmp_path, engine, data, "{x: mean, s: mode}")
    assert floats(outputs["out"], "x") == [1.0, 2.0, 2.0, 3.0, 2.0]
    # a tie between 'a' and 'b' goes to the smallest value, so the result is deterministic
    assert column(outputs["out"], "s") == ["b", "a", "a", "b", "a"]


def test_constant_fill_keeps_present_values(tmp_path, engine):
    outputs, manifest = fill(tmp_path, engine, "id,x,s\n1,1.5,\n2,,z\n", "{s: {value: Unknown}, x: {value: -1}}")
    assert column(outputs["out"], "s") == ["Unknown", "z"]
    assert floats(outputs["out"], "x") == [1.5, -1.0]
    assert {f["column"]: f["filled"] for f in manifest["fills"]} == {"s": 1, "x": 1}


def test_an_all_null_column_is_left_null_with_a_note(tmp_path, engine):
    outputs, manifest = fill(tmp_path, engine, "id,x,s\n1,,a\n2,,b\n", "{x: median}")
    assert floats(outputs["out"], "x") == [None, None]
    assert manifest["fills"][0]["value"] is None
    assert any("no values" in note for note in manifest["notes"])


@pytest.mark.parametrize("spec", ["{s: median}", "{s: mean}"])
def test_a_statistic_of_text_is_refused_before_reading(tmp_path, engine, spec):
    from prepline.errors import RecipeError

    with pytest.raises(RecipeError, match="not a number"):
        fill(tmp_path, engine, "id,x,s\n1,1,a\n", spec)


def test_the_median_from_value_counts_is_pandas_median():
    import statistics

    import polars as pl
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from prepline.engines.polars.engine import _statistics
    from prepline.engines.polars.steps import MedianByCounts

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.one_of(st.none(), st.integers(-5, 5), st.floats(-1e6, 1e6, allow_nan=False)), max_size=40))
    def check(values):
        frame = pl.LazyFrame({"x": [float(v) if v is not None else None for v in values]}, schema={"x": pl.Float64})
        found = _statistics(frame, {"x": MedianByCounts(pl.col("x"))})["x"]
        present = [float(v) for v in values if v is not None]
        assert found == (statistics.median(present) if present else None)

    check()


BLANKS = "id,x,s\n1,1,a\n,,\n2,,a\n\n,,\n3,4,b\n,,\n"  # three lines of empty fields, one blank line


@pytest.mark.parametrize(
    ("before", "column_", "expected"),
    [
        ("- check: [{rule: not_null, column: x, severity: reject}]\n", "x", 2.5),  # blank lines never count
        ("- derive: {t: \"coalesce(s, 'z')\"}\n", "t", "a"),  # 'z' on the skipped lines would win the mode
        ("- fill: {s: {value: z}}\n", "s", "a"),
        ("- dedupe: {columns: [id], keep: last}\n", "x", 2.5),
    ],
    ids=["check", "derive", "constant-fill", "dedupe"],
)
def test_statistics_ignore_lines_of_empty_fields_whatever_comes_before(tmp_path, engine, before, column_, expected):
    # Polars computes the first statistics without its filter of empty lines when the steps
    # before them keep such a row empty (see statistics_prefix); the values must not change
    spec = "{x: median}" if column_ == "x" else f"{{{column_}: mode}}"
    _, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=BLANKS, steps=f"{before}- fill: {spec}\n- output: out")
    assert manifest["rows_in"] == 3
    assert [f["value"] for f in manifest["fills"] if f["column"] == column_][-1] == expected


def test_which_recipes_take_statistics_from_the_unfiltered_scan():
    from prepline.engines.polars.steps import statistics_prefix
    from prepline.recipe import parse_recipe

    def prefix(steps: str) -> int | None:
        text = f"version: 1\nname: t\ninput: {{format: csv, columns: {{x: float64, s: string}}}}\nsteps:\n{steps}- output: o\n"
        return statistics_prefix(parse_recipe(text))

    assert prefix("- check: [{rule: not_null, column: x}]\n- extract_json: {column: s, fields: {a: $.a}}\n"
                  "- fill: {x: median}\n- derive: {y: x * 2}\n- fill: {y: mean}\n") == 3  # the first fill only
    assert prefix("- fill: {s: {value: z}}\n- fill: {x: median}\n") is None  # a constant fill comes first
    assert prefix("- derive: {y: x * 2}\n- fill: {x: median}\n") is None
    assert prefix("- dedupe: {columns: [x]}\n- fill: {x: median}\n") is None
    assert prefix("- output: out\n") is None  # no statistic at all
    assert prefix("- fill: {x: mean, s: {value: z}}\n") == 1
