"""aggregate: grouped summaries as their own output, sorted by the keys, on every engine."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from prepline.errors import RecipeError
from tests.engines.recipe_runner import column, floats, run_small

COLUMNS = "id: int64\nd: string\nx: float64\nn: int64"
DATA = """\
id,d,x,n
1,b,1.5,1
2,a,2,2
3,,4,3
4,b,,4
5,a,3,
6,,,6
7,c,10,7
8,a,7,10
"""

ALL_FUNCTIONS = """\
- aggregate:
    name: agg
    by: {Dept: d}
    values:
      mean_x: {mean: x}
      sum_x: {sum: x}
      count_x: {count: x}
      rows: {count: '*'}
      min_n: {min: n}
      max_n: {max: n}
      median_x: {median: x}
      sum_n: {sum: n}
- output: out
"""


def test_every_function_by_a_renamed_key(tmp_path, engine):
    outputs, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=DATA, steps=ALL_FUNCTIONS)
    agg = outputs["agg"]
    assert list(agg[0]) == ["Dept", "mean_x", "sum_x", "count_x", "rows", "min_n", "max_n", "median_x", "sum_n"]
    assert column(agg, "Dept") == ["a", "b", "c", ""]  # sorted, the null key last
    assert floats(agg, "mean_x") == [4.0, 1.5, 10.0, 4.0]
    assert floats(agg, "sum_x") == [12.0, 1.5, 10.0, 4.0]
    assert column(agg, "count_x") == ["3", "1", "1", "1"]  # non-null values
    assert column(agg, "rows") == ["3", "2", "1", "2"]  # rows
    assert column(agg, "min_n") == ["2", "1", "7", "3"]  # whole numbers stay whole
    assert column(agg, "max_n") == ["10", "4", "7", "6"]
    assert floats(agg, "median_x") == [3.0, 1.5, 10.0, 4.0]
    assert column(agg, "sum_n") == ["12", "5", "7", "9"]
    assert manifest["outputs"]["agg"]["rows"] == 4
    assert manifest["outputs"]["agg"]["columns"] == list(agg[0])
    # the flow goes on unchanged after an aggregate
    assert column(outputs["out"], "id") == [str(i) for i in range(1, 9)]


def test_the_values_agree_with_pandas_groupby(tmp_path, engine):
    outputs, _ = run_small(tmp_path, engine, columns=COLUMNS, data=DATA, steps=ALL_FUNCTIONS)
    rows = [line.split(",") for line in DATA.strip().splitlines()[1:]]
    frame = pd.DataFrame({
        "d": [r[1] or None for r in rows],
        "x": [float(r[2]) if r[2] else None for r in rows],
        "n": pd.array([int(r[3]) if r[3] else None for r in rows], dtype="Int64"),
    })
    expected = frame.groupby("d", dropna=False, sort=True).agg(
        mean_x=("x", "mean"), count_x=("x", "count"), median_x=("x", "median"), max_n=("n", "max")
    )
    agg = {r["Dept"] or None: r for r in outputs["agg"]}
    for key, want in expected.iterrows():
        got = agg[None if pd.isna(key) else key]
        assert float(got["mean_x"]) == pytest.approx(want["mean_x"])
        assert float(got["median_x"]) == pytest.approx(want["median_x"])
        assert int(got["count_x"]) == want["count_x"]
        assert int(got["max_n"]) == want["max_n"]


def test_several_keys_sort_by_each_in_turn_with_nulls_last(tmp_path, engine):
    data = "id,d,x,n\n1,b,1,10\n2,a,1,9\n3,b,1,\n4,a,1,10\n5,,1,1\n6,b,1,9\n7,a,1,9\n"
    outputs, _ = run_small(tmp_path, engine, columns=COLUMNS, data=data, steps="""\
- aggregate: {name: agg, by: [d, n], values: {rows: {count: '*'}}}
- output: out
""")
    assert [(r["d"], r["n"], r["rows"]) for r in outputs["agg"]] == [
        ("a", "9", "2"), ("a", "10", "1"),  # numbers sort as numbers, not as text
        ("b", "9", "1"), ("b", "10", "1"), ("b", "", "1"),
        ("", "1", "1"),
    ]


def test_the_group_of_missing_departments_after_a_fill(tmp_path, engine):
    outputs, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=DATA, steps="""\
- fill: {d: {value: Unknown}, x: median}
- aggregate:
    name: agg
    by: {Department: d}
    values: {Average: {mean: x}, Employees: {count: '*'}}
- output: out
""")
    # the median of x (1.5, 2, 4, 3, 10, 7) is 3.5
    assert outputs["agg"] == [
        {"Department": "Unknown", "Average": "3.75", "Employees": "2"},
        {"Department": "a", "Average": "4.0", "Employees": "3"},
        {"Department": "b", "Average": "2.5", "Employees": "2"},
        {"Department": "c", "Average": "10.0", "Employees": "1"},
    ]
    assert {f["column"]: (f["value"], f["filled"]) for f in manifest["fills"]} == {"d": ("Unknown", 2), "x": (3.5, 2)}


def test_an_empty_input_gives_an_empty_summary_with_its_header(tmp_path, engine):
    run_small(tmp_path, engine, columns=COLUMNS, data="id,d,x,n\n", steps=ALL_FUNCTIONS)
    text = (tmp_path / f"out-{engine}" / "agg.csv").read_text()
    assert text == "Dept,mean_x,sum_x,count_x,rows,min_n,max_n,median_x,sum_n\n"


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ("{m: {mean: d}}", "'m': mean needs a number but 'd' is string"),
        ("{m: {sum: '*'}}", "'m': only count accepts '*'"),
        ("{m: {mean: y}}", "aggregates 'm' from column 'y', which does not exist"),
    ],
)
def test_invalid_aggregations_are_refused(tmp_path, engine, values, problem):
    with pytest.raises(RecipeError) as info:
        run_small(tmp_path, engine, columns=COLUMNS, data=DATA,
                  steps=f"- aggregate: {{name: agg, by: [d], values: {values}}}")
    assert "step 1 (aggregate)" in str(info.value)
    assert problem in str(info.value)


def test_a_median_next_to_an_infinity_is_the_mean_of_the_two_middle_values(tmp_path, engine):
    # pandas: median([-inf, 263]) = (-inf + 263) / 2 = -inf; interpolating lo + (hi - lo) / 2 gives NaN
    data = "id,d,x,n\n1,a,-inf,1\n2,a,263,2\n3,b,inf,3\n4,b,-inf,4\n5,c,-inf,5\n6,c,1,6\n7,c,8,7\n"
    steps = "- aggregate: {name: agg, by: {Dept: d}, values: {m: {median: x}}}\n- output: out"
    outputs, _ = run_small(tmp_path, engine, columns=COLUMNS, data=data, steps=steps)
    expected = pd.DataFrame({"d": list("aabbccc"), "x": [-math.inf, 263, math.inf, -math.inf, -math.inf, 1, 8]})
    want = expected.groupby("d")["x"].median().tolist()  # [-inf, nan, 1.0]
    got = floats(outputs["agg"], "m")
    assert got[0] == want[0] == -math.inf
    assert math.isnan(got[1]) and math.isnan(want[1])  # inf + -inf
    assert got[2] == want[2] == 1.0
