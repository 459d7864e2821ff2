"""derive expressions, filter, dedupe, drop, rename and cast, on every engine."""

from __future__ import annotations

import itertools
import json

import pytest

from prepline.errors import DataError, RecipeError
from tests.engines.recipe_runner import column, floats, run_small

COLUMNS = """
id: int64
s: string
a: float64
b: int64
with space: float64
"""
DATA = """\
id,s,a,b,with space
1,héllo,2.5,0,10
2,,-2.5,2,
3,ab,,3,1.5
4,日本語,0.5,-8,-4
"""


def derive(tmp_path, engine, expressions: dict[str, str], data: str = DATA, columns: str = COLUMNS):
    lines = "".join(f"    {name}: {json.dumps(expr)}\n" for name, expr in expressions.items())
    outputs, manifest = run_small(tmp_path, engine, columns=columns, data=data,
                                  steps=f"- derive:\n{lines}- output: out")
    return outputs["out"], manifest


def test_len_counts_characters_and_coalesce_makes_it_null_safe(tmp_path, engine):
    rows, _ = derive(tmp_path, engine, {"n": "len(s)", "safe": "coalesce(len(s), 0)"})
    assert column(rows, "n") == ["5", "", "2", "3"]  # 'héllo' is 5 characters in 6 bytes
    assert column(rows, "safe") == ["5", "0", "2", "3"]


def test_arithmetic_with_nulls_and_mixed_types(tmp_path, engine):
    rows, _ = derive(tmp_path, engine, {
        "sum": "a + b", "diff": "b - 1", "prod": "a * 2", "neg": "-b", "power": "b ** 2",
        "spaced": "col('with space') / 2",
    })
    assert floats(rows, "sum") == [2.5, -0.5, None, -7.5]
    assert column(rows, "diff") == ["-1", "1", "2", "-9"]  # int64 stays whole
    assert floats(rows, "prod") == [5.0, -5.0, None, 1.0]
    assert column(rows, "neg") == ["0", "-2", "-3", "8"]
    assert floats(rows, "power") == [0.0, 4.0, 9.0, 64.0]
    assert floats(rows, "spaced") == [5.0, None, 0.75, -2.0]


def test_division_by_zero_gives_null(tmp_path, engine):
    rows, _ = derive(tmp_path, engine, {"q": "a / b", "fq": "b // 0", "m": "b % 0", "ok": "b / 2"})
    assert floats(rows, "q") == [None, -1.25, None, -0.0625]
    assert column(rows, "fq") == ["", "", "", ""]
    assert column(rows, "m") == ["", "", "", ""]
    assert floats(rows, "ok") == [0.0, 1.0, 1.5, -4.0]


def test_floor_division_and_modulo_of_non_negative_numbers(tmp_path, engine):
    rows, _ = derive(tmp_path, engine, {"fq": "b // 2", "m": "b % 2"},
                     data="id,s,a,b,with space\n1,x,1,7,1\n2,x,1,0,1\n3,x,1,,1\n")
    assert column(rows, "fq") == ["3", "0", ""]
    assert column(rows, "m") == ["1", "0", ""]


def test_comparisons_give_null_for_null(tmp_path, engine):
    rows, _ = derive(tmp_path, engine, {
        "gt": "a > 0", "le": "b <= 2", "eq": "s == 'ab'", "ne": "s != 'ab'", "chain": "0 < b < 3",
    })
    assert column(rows, "gt") == ["true", "false", "", "true"]
    assert column(rows, "le") == ["true", "true", "false", "true"]
    assert column(rows, "eq") == ["false", "", "true", "false"]
    assert column(rows, "ne") == ["true", "", "false", "true"]
    assert column(rows, "chain") == ["false", "true", "false", "false"]


VALUES = {"true": True, "false": False, "": None}


def _and(x, y):
    if x is False or y is False:
        return False
    return None if x is None or y is None else True


def _or(x, y):
    if x is True or y is True:
        return True
    return None if x is None or y is None else False


def _text(v):
    return "" if v is None else str(v).lower()


def test_and_or_not_use_three_valued_logic(tmp_path, engine):
    pairs = list(itertools.product(VALUES, repeat=2))
    data = "id,p,q\n" + "".join(f"{i},{x},{y}\n" for i, (x, y) in enumerate(pairs))
    rows, _ = derive(tmp_path, engine, {"and_": "p and q", "or_": "p or q", "not_": "not p"},
                     data=data, columns="id: int64\np: bool\nq: bool")
    assert column(rows, "and_") == [_text(_and(VALUES[x], VALUES[y])) for x, y in pairs]
    assert column(rows, "or_") == [_text(_or(VALUES[x], VALUES[y])) for x, y in pairs]
    assert column(rows, "not_") == [_text(None if VALUES[x] is None else not VALUES[x]) for x, _ in pairs]


def test_if_else_treats_a_null_condition_as_false(tmp_path, engine):
    rows, _ = derive(tmp_path, engine, {"size": "'big' if a > 1 else 'small'", "n": "b if b > 0 else 0"})
    assert column(rows, "size") == ["big", "small", "small", "small"]
    assert column(rows, "n") == ["0", "2", "3", "0"]


def test_concat_and_text_functions(tmp_path, engine):
    rows, _ = derive(tmp_path, engine, {
        "c": "concat(s, '-', b)", "u": "upper(s)", "l": "lower('ÀB')", "t": "strip('  x ')",
    })
    assert column(rows, "c") == ["héllo-0", "", "ab-3", "日本語--8"]  # null in, null out
    assert column(rows, "u") == ["HÉLLO", "", "AB", "日本語"]
    assert column(rows, "l") == ["àb"] * 4
    assert column(rows, "t") == ["x"] * 4


def test_round_goes_half_away_from_zero(tmp_path, engine):
    data = "id,x\n1,2.5\n2,-2.5\n3,0.5\n4,1.5\n5,-0.5\n6,0.25\n7,-0.25\n8,\n"
    rows, _ = derive(tmp_path, engine, {"r": "round(x)", "r1": "round(x, 1)", "f": "floor(x)", "c": "ceil(x)",
                                        "ab": "abs(x)"},
                     data=data, columns="id: int64\nx: float64")
    assert floats(rows, "r") == [3.0, -3.0, 1.0, 2.0, -1.0, 0.0, -0.0, None]
    assert floats(rows, "r1") == [2.5, -2.5, 0.5, 1.5, -0.5, 0.3, -0.3, None]
    assert floats(rows, "f") == [2.0, -3.0, 0.0, 1.0, -1.0, 0.0, -1.0, None]
    assert floats(rows, "c") == [3.0, -2.0, 1.0, 2.0, -0.0, 1.0, -0.0, None]
    assert floats(rows, "ab") == [2.5, 2.5, 0.5, 1.5, 0.5, 0.25, 0.25, None]


def test_a_derived_column_can_replace_one_and_later_steps_see_it(tmp_path, engine):
    outputs, _ = run_small(tmp_path, engine, columns=COLUMNS, data=DATA, steps="""
- derive: {b: b * 10}
- derive: {c: b + 1}
- output: out
""")
    assert column(outputs["out"], "b") == ["0", "20", "30", "-80"]
    assert column(outputs["out"], "c") == ["1", "21", "31", "-79"]


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("len(a)", "len() needs text but column 'a' is float64"),
        ("s * 2", "arithmetic needs numbers but column 's' is string"),
        ("s + 'x'", "arithmetic needs numbers but column 's' is string"),
        ("-s", "cannot negate column 's', it is not a number"),
        ("round(s)", "round() needs a number but column 's' is string"),
        ("s > 1", "cannot compare column 's' (string) with the literal 1 (int64)"),
        ("a and b > 1", "'and' needs a condition (true/false) but column 'a' is float64"),
        ("not s", "'not' needs a condition (true/false) but column 's' is string"),
        ("1 if s else 2", "'if' needs a condition (true/false) but column 's' is string"),
    ],
)
def test_type_errors_are_refused_before_reading_and_name_the_step(tmp_path, engine, expression, problem):
    with pytest.raises(RecipeError) as info:
        derive(tmp_path, engine, {"y": expression})
    message = str(info.value)
    assert f"recipe.yaml:12: step 1 (derive): in {expression!r}: {problem}" in message
    assert not (tmp_path / f"out-{engine}").exists()


def test_an_unknown_column_in_an_expression_is_refused_with_a_suggestion(tmp_path, engine):
    with pytest.raises(RecipeError) as info:
        derive(tmp_path, engine, {"y": "len(ss)"})
    assert "step 1 (derive): derives 'y' from column 'ss', which does not exist" in str(info.value)
    assert "did you mean 's'?" in str(info.value)


# --- filter --------------------------------------------------------------------------------------


def test_filter_keeps_true_rows_and_counts_the_others(tmp_path, engine):
    outputs, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=DATA,
                                  steps="- filter: a > 0\n- output: out")
    assert column(outputs["out"], "id") == ["1", "4"]  # the null comparison of row 3 is not true
    assert "rejected" not in outputs
    assert manifest["counters"] == [
        {"step": "1:filter", "what": "rows removed by the filter 'a > 0'", "count": 2}
    ]
    assert manifest["outputs"]["out"]["rows"] == 2


def test_filter_with_reject_sends_rows_to_rejected_with_the_reason(tmp_path, engine):
    outputs, manifest = run_small(tmp_path, engine, columns=COLUMNS, data=DATA,
                                  steps="- filter: {where: 'is_not_null(s) and b >= 0', reject: true}\n- output: out")
    assert column(outputs["out"], "id") == ["1", "3"]
    assert outputs["rejected"] == [
        {"_row": "2", "_step": "1:filter", "_reason": "filter 'is_not_null(s) and b >= 0' is not true",
         "id": "2", "s": "", "a": "-2.5", "b": "2", "with space": ""},
        {"_row": "4", "_step": "1:filter", "_reason": "filter 'is_not_null(s) and b >= 0' is not true",
         "id": "4", "s": "日本語", "a": "0.5", "b": "-8", "with space": "-4.0"},
    ]
    assert manifest["outputs"]["rejected"]["rows"] == 2


def test_a_filter_that_is_not_a_condition_is_refused(tmp_path, engine):
    with pytest.raises(RecipeError, match=r"step 1 \(filter\): the filter 'a \+ 1' is not a condition"):
        run_small(tmp_path, engine, columns=COLUMNS, data=DATA, steps="- filter: a + 1\n- output: out")


# --- dedupe, drop, rename ------------------------------------------------------------------------

DUPES = "id,k,v\n1,a,x\n2,b,y\n3,a,z\n4,,w\n5,b,y\n6,,q\n"


@pytest.mark.parametrize(("keep", "ids"), [("first", ["1", "2", "4"]), ("last", ["3", "5", "6"])])
def test_dedupe_on_key_columns(tmp_path, engine, keep, ids):
    outputs, manifest = run_small(tmp_path, engine, columns="id: int64\nk: string\nv: string", data=DUPES,
                                  steps=f"- dedupe: {{columns: [k], keep: {keep}}}\n- output: out")
    assert column(outputs["out"], "id") == ids  # nulls are one key; the input order is kept
    assert manifest["counters"] == [
        {"step": "1:dedupe", "what": "duplicate rows removed (key: k)", "count": 3}
    ]


def test_dedupe_on_all_columns(tmp_path, engine):
    outputs, manifest = run_small(tmp_path, engine, columns="k: string\nv: string",
                                  data="k,v\na,x\na,x\na,y\n,y\n,y\n", steps="- dedupe: {}\n- output: out")
    assert outputs["out"] == [{"k": "a", "v": "x"}, {"k": "a", "v": "y"}, {"k": "", "v": "y"}]
    assert manifest["counters"][0]["count"] == 2


def test_drop_and_rename(tmp_path, engine):
    outputs, _ = run_small(tmp_path, engine, columns=COLUMNS, data=DATA,
                           steps="- drop: [a, with space]\n- rename: {s: text, b: number}\n- output: out")
    assert outputs["out"][0] == {"id": "1", "text": "héllo", "number": "0"}


def test_rename_onto_an_existing_column_is_refused(tmp_path, engine):
    with pytest.raises(RecipeError, match=r"step 1 \(rename\): renaming would give two columns the same name"):
        run_small(tmp_path, engine, columns=COLUMNS, data=DATA, steps="- rename: {s: a}\n- output: out")


def test_a_dropped_column_is_gone_for_later_steps(tmp_path, engine):
    with pytest.raises(RecipeError) as info:
        run_small(tmp_path, engine, columns=COLUMNS, data=DATA, steps="- drop: [s]\n- derive: {n: len(s)}\n- output: out")
    assert "step 2 (derive): derives 'n' from column 's', which does not exist at this point" in str(info.value)


# --- cast ----------------------------------------------------------------------------------------

CASTS = "id,n,flag,day\n1,10,true,2024-01-31\n2,x7,maybe,2024-02-30\n3,,,\n4,-3,False,1999-12-31\n"
CAST_COLUMNS = "id: int64\nn: string\nflag: string\nday: string"


def test_cast_converts_text(tmp_path, engine):
    outputs, _ = run_small(tmp_path, engine, columns=CAST_COLUMNS, data=CASTS.replace("x7", "7").replace(
        "maybe", "TRUE").replace("2024-02-30", "2024-02-29"),
        steps="- cast: {n: int64, flag: bool, day: date}\n- derive: {m: n * 2}\n- output: out")
    rows = outputs["out"]
    assert column(rows, "m") == ["20", "14", "", "-6"]
    assert column(rows, "flag") == ["true", "true", "", "false"]
    assert column(rows, "day") == ["2024-01-31", "2024-02-29", "", "1999-12-31"]


@pytest.mark.parametrize(
    ("column_name", "target", "detail"),
    [("n", "int64", '"x7"'), ("flag", "bool", "neither true nor false"), ("day", "date", '"2024-02-30"')],
)
def test_cast_failure_stops_the_run_by_default(tmp_path, engine, column_name, target, detail):
    with pytest.raises(DataError) as info:
        run_small(tmp_path, engine, columns=CAST_COLUMNS, data=CASTS,
                  steps=f"- drop: [id]\n- cast: {{{column_name}: {target}}}\n- output: out")
    message = str(info.value)
    assert "step 2 (cast): a cast failed on" in message
    assert detail in message
    assert "on_error: null or reject" in message
    assert not (tmp_path / f"out-{engine}").exists()


def test_cast_on_error_null_counts_the_values(tmp_path, engine):
    outputs, manifest = run_small(
        tmp_path, engine, columns=CAST_COLUMNS, data=CASTS,
        steps="- cast: {n: {to: int64, on_error: null}, flag: {to: bool, on_error: null}, day: {to: date, on_error: null}}\n- output: out",
    )
    rows = outputs["out"]
    assert column(rows, "n") == ["10", "", "", "-3"]
    assert column(rows, "flag") == ["true", "", "", "false"]
    assert column(rows, "day") == ["2024-01-31", "", "", "1999-12-31"]
    assert [(c["what"], c["count"]) for c in manifest["counters"]] == [
        ("values of 'n' that are not a valid int64 (set to null)", 1),
        ("values of 'flag' that are not a valid bool (set to null)", 1),
        ("values of 'day' that are not a valid date (set to null)", 1),
    ]


def test_cast_on_error_reject_keeps_the_row_as_it_was(tmp_path, engine):
    outputs, _ = run_small(tmp_path, engine, columns=CAST_COLUMNS, data=CASTS,
                           steps="- cast: {n: {to: int64, on_error: reject}}\n- output: out")
    assert column(outputs["out"], "id") == ["1", "3", "4"]
    assert outputs["rejected"] == [
        {"_row": "2", "_step": "1:cast", "_reason": "column 'n': x7 is not a valid int64",
         "id": "2", "n": "x7", "flag": "maybe", "day": "2024-02-30"},
    ]


def test_a_line_of_empty_fields_is_skipped_like_a_blank_line(tmp_path, engine):
    # Polars cannot tell a blank line from ',' (both read as all-missing): both engines skip both
    outputs, manifest = run_small(tmp_path, engine, columns="k: string\nv: string",
                                  data="k,v\na,x\n\n,\nb,\n", steps="- output: out")
    assert outputs["out"] == [{"k": "a", "v": "x"}, {"k": "b", "v": ""}]
    assert manifest["rows_in"] == 2
