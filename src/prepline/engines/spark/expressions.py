"""Recipe expressions and conversions as Spark SQL, with the Polars engine's semantics.

Everything here builds Spark SQL *text* (``F.expr`` turns it into a column with one call to the
JVM, where composing ``pyspark.sql.functions`` would cost a call per function); nothing runs
Python per row. Where Spark's own behaviour differs from Polars' (the reference), the
difference is removed here:

* casts of text to numbers accept exactly what Polars accepts (Spark would also take
  ``" 5"``, ``"1.5"`` as an int, ``"1d"``, ``"0x1p3"``); a number out of range is null, not clamped;
* ``//`` is floor division and ``%`` takes the sign of the divisor (Python's, as in Polars),
  where Spark truncates; anything divided by zero is null;
* ``round`` scales, rounds half away from zero and scales back, as Polars does
  (``round(2.675, 2)`` is 2.68), and keeps the sign of a zero result;
* ``floor``/``ceil`` stay floating point (Spark returns a long);
* ``strip`` removes Unicode whitespace (Spark's ``trim`` removes spaces only);
* numbers become text the way Polars writes them (``1e+20``, ``0.000015``, ``inf``), not Java's
  ``1.0E20``; see :func:`float_text`.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

from prepline.recipe import expressions as e
from prepline.recipe.expressions import infer_type
from prepline.recipe.types import INTEGRAL

DTYPES: dict[str, T.DataType] = {
    "string": T.StringType(),
    "int64": T.LongType(),
    "int32": T.IntegerType(),
    "float64": T.DoubleType(),
    "float32": T.FloatType(),
    "bool": T.BooleanType(),
    "date": T.DateType(),
    "datetime": T.TimestampNTZType(),
}

_NAMES = {type(t): name for name, t in DTYPES.items()} | {T.TimestampType: "datetime"}


def type_name(dt: T.DataType) -> str:
    """The recipe's name for a Spark type (``int64``, ``datetime`` ...), else Spark's own."""
    return _NAMES.get(type(dt), dt.simpleString())


# Rust's char::is_whitespace (the Unicode White_Space property): what Polars' strip_chars() removes
WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

# What Polars' non-strict cast of text accepts (checked against Polars 1.x; see tests/engines/test_differential.py)
INT_TEXT = r"^[+-]?[0-9]+$"
FLOAT_TEXT = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
DATE_TEXT = r"^ *([0-9]{4})([-/])([0-9]{1,2})\2([0-9]{1,2})$"
DATETIME_TEXT = r"^ *([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})[T ]([0-9]{1,2}):([0-9]{2})(:([0-9]{2})(\.[0-9]{1,9})?)?$"

# A float converts to an integer type when its truncation is in range: these are open bounds
FLOAT_TO_INT = {"int64": ("-9.223372036854775808E18D", "9.223372036854775808E18D"),
                "int32": ("-2147483649.0D", "2147483648.0D")}


def dtype(name: str) -> T.DataType:
    return DTYPES[name]


def sql_type(name: str) -> str:
    return DTYPES[name].simpleString()


def q(name: str) -> str:
    """A column name as SQL (dots, spaces and backticks are not special)."""
    return "`" + name.replace("`", "``") + "`"


def col(name: str) -> Column:
    return F.col(q(name))


def s(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lit(value: Any) -> str:
    """A Python value as a SQL literal of the type Polars would give it."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value) if -(2**31) <= value < 2**31 else f"{value}L"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return f"CAST({s(repr(value).replace('inf', 'Infinity').replace('nan', 'NaN'))} AS DOUBLE)"
        return f"{value!r}D"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP_NTZ{s(value.isoformat(sep=' '))}"
    if isinstance(value, dt.date):
        return f"DATE{s(value.isoformat())}"
    return s(str(value))


def expr(sql: str) -> Column:
    return F.expr(sql)


def _is_float(dt_: T.DataType) -> bool:
    return isinstance(dt_, (T.DoubleType, T.FloatType))


def _is_integral(dt_: T.DataType) -> bool:
    return isinstance(dt_, (T.LongType, T.IntegerType, T.ShortType, T.ByteType))


# --- values as text ----------------------------------------------------------------------------------


def float_text(x: str, bits: int = 64) -> str:
    """A float as Polars writes it: ``60000.0``, ``0.000015``, ``1e+20``, ``1.5e-7``, ``NaN``, ``inf``.

    Polars prints the shortest digits that read back to the same value (Ryu), positionally when
    the decimal exponent is in [-5, 16) (float32: [-6, 13)) and in scientific notation otherwise.
    Spark's text of a float is Java's: positional for magnitudes in [1e-3, 1e7) with the same
    digits as Polars, ``d.dddE±n`` otherwise, which is rearranged here with string functions.
    (Java 17 prints a 17th digit for a few values where Ryu needs 16; they read back equal.)
    ``x`` should be a column reference: it is used several times.
    """
    high, low = (16, -5) if bits == 64 else (13, -6)
    java = f"CAST({x} AS STRING)"
    # null when Java wrote it positionally (a cast of "4.0" to INT would give 4: hence the CASE)
    exponent = f"(CASE WHEN contains({java}, 'E') THEN CAST(substring_index({java}, 'E', -1) AS INT) END)"
    negative = f"startswith({java}, '-')"
    sign = f"(CASE WHEN {negative} THEN '-' ELSE '' END)"
    first_digit = f"substr({java}, CASE WHEN {negative} THEN 2 ELSE 1 END, 1)"
    digits_after_point = s(r"\.([0-9]+)E")
    fraction = f"regexp_replace(regexp_extract({java}, {digits_after_point}, 1), '0+$', '')"  # "1.0E20" -> ""
    scientific = f"replace(replace(replace({java}, '.0E', 'E'), 'E-', 'e-'), 'E', 'e+')"
    return (
        f"(CASE WHEN {exponent} IS NULL THEN "
        f"(CASE {java} WHEN 'Infinity' THEN 'inf' WHEN '-Infinity' THEN '-inf' ELSE {java} END) "
        f"WHEN {exponent} >= {high} OR {exponent} < {low} THEN {scientific} "
        f"WHEN {exponent} < 0 THEN concat({sign}, '0.', repeat('0', -{exponent} - 1), {first_digit}, {fraction}) "
        f"WHEN char_length({fraction}) <= {exponent} THEN "
        f"concat({sign}, {first_digit}, {fraction}, repeat('0', {exponent} - char_length({fraction})), '.0') "
        f"ELSE concat({sign}, {first_digit}, substr({fraction}, 1, {exponent}), '.', substr({fraction}, {exponent} + 1)) END)"
    )


def to_text(x: str, dt_: T.DataType, *, csv: bool = False) -> str:
    """``x`` as Polars casts it to text (``csv``: as Polars writes it in a CSV file)."""
    if isinstance(dt_, T.StringType):
        return x
    if isinstance(dt_, T.DoubleType):
        return float_text(x, 64)
    if isinstance(dt_, T.FloatType):
        return float_text(x, 32)
    if isinstance(dt_, (T.TimestampNTZType, T.TimestampType)):
        layout = "yyyy-MM-dd'T'HH:mm:ss.SSSSSS" if csv else "yyyy-MM-dd HH:mm:ss.SSSSSS"
        return f"date_format({x}, {s(layout)})"
    return f"CAST({x} AS STRING)"


# --- conversions ---------------------------------------------------------------------------------------


def convert(x: str, source: T.DataType, target: str, *, read: bool = False) -> str:
    """``x`` (of Spark type ``source``) as recipe type ``target``; NULL where it does not convert.

    The caller decides what a value that did not convert means: ``x`` not null but the result
    null. ``read``: the CSV reader's parsing in Polars' strict mode, which also accepts leading spaces.
    """
    t = sql_type(target)
    if source == dtype(target):
        return x
    if isinstance(source, (T.StringType, T.NullType)):
        return _from_text(x, target, read)
    if target == "string":
        return to_text(x, source)
    if target in INTEGRAL and _is_float(source):
        low, high = FLOAT_TO_INT[target]
        return f"(CASE WHEN NOT isnan({x}) AND {x} > {low} AND {x} < {high} THEN CAST({x} AS {t}) END)"
    if target == "int32" and _is_integral(source):
        return f"(CASE WHEN {x} BETWEEN -2147483648 AND 2147483647 THEN CAST({x} AS INT) END)"
    if target == "date" and _is_integral(source):
        return f"date_from_unix_date(CAST({x} AS INT))"
    if target == "datetime" and _is_integral(source):
        return f"CAST(timestamp_micros(CAST({x} AS BIGINT)) AS TIMESTAMP_NTZ)"
    if target in INTEGRAL and isinstance(source, T.DateType):
        return f"CAST(unix_date({x}) AS {t})"
    if target in INTEGRAL and isinstance(source, (T.TimestampNTZType, T.TimestampType)):
        return f"CAST(unix_micros(CAST({x} AS TIMESTAMP)) AS {t})"
    return f"CAST({x} AS {t})"


def _from_text(x: str, target: str, read: bool) -> str:
    t = sql_type(target)
    if target == "string":
        return x
    if target in INTEGRAL:
        text = f"ltrim({x})" if read else x
        return f"(CASE WHEN {text} RLIKE {s(INT_TEXT)} THEN CAST({text} AS {t}) END)"
    if target in ("float64", "float32"):
        text = f"ltrim({x})" if read else x
        low = f"lower({text})"
        return (
            f"(CASE WHEN {low} IN ('nan', '+nan', '-nan') THEN CAST('NaN' AS {t}) "
            f"WHEN {low} IN ('inf', '+inf', 'infinity', '+infinity') THEN CAST('Infinity' AS {t}) "
            f"WHEN {low} IN ('-inf', '-infinity') THEN CAST('-Infinity' AS {t}) "
            f"WHEN {text} RLIKE {s(FLOAT_TEXT)} THEN CAST({text} AS {t}) END)"
        )
    if target == "bool":
        return f"(CASE lower({x}) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END)"
    if target == "date":
        part = lambda i: f"CAST(regexp_extract({x}, {s(DATE_TEXT)}, {i}) AS INT)"  # noqa: E731
        return f"(CASE WHEN {x} RLIKE {s(DATE_TEXT)} THEN make_date({part(1)}, {part(3)}, {part(4)}) END)"
    part = lambda i: f"regexp_extract({x}, {s(DATETIME_TEXT)}, {i})"  # noqa: E731
    seconds = f"CAST(concat(coalesce(nullif({part(7)}, ''), '0'), {part(8)}) AS DECIMAL(16,6))"
    fields = ", ".join(f"CAST({part(i)} AS INT)" for i in (1, 2, 3, 4, 5))
    return f"(CASE WHEN {x} RLIKE {s(DATETIME_TEXT)} THEN make_timestamp_ntz({fields}, {seconds}) END)"


# --- floating point helpers ----------------------------------------------------------------------------


def _signed_zero(result: str, x: str) -> str:
    """Where ``result`` is zero, the zero with ``x``'s sign (as IEEE rounding gives: ceil(-0.5) is -0.0)."""
    return f"(CASE WHEN {result} = 0 THEN {x} * 0.0D ELSE {result} END)"


def float_floor(x: str) -> str:
    x = f"CAST({x} AS DOUBLE)"
    # floor() of a double is a long in Spark: keep values that are whole already (and NaN, inf) as they are
    return f"(CASE WHEN isnan({x}) OR abs({x}) >= 4.503599627370496E15D THEN {x} " \
           f"ELSE {_signed_zero(f'CAST(floor({x}) AS DOUBLE)', x)} END)"


def float_ceil(x: str) -> str:
    x = f"CAST({x} AS DOUBLE)"
    return f"(CASE WHEN isnan({x}) OR abs({x}) >= 4.503599627370496E15D THEN {x} " \
           f"ELSE {_signed_zero(f'CAST(ceil({x}) AS DOUBLE)', x)} END)"


# --- the expression tree -------------------------------------------------------------------------------


def to_sql(node: e.Expr, schema: dict[str, str]) -> str:
    """A recipe expression as Spark SQL; ``schema``: the recipe types of the columns it reads."""
    if isinstance(node, e.Col):
        return q(node.name)
    if isinstance(node, e.Lit):
        return lit(node.value)
    if isinstance(node, e.Unary):
        inner = to_sql(node.operand, schema)
        return f"(NOT {inner})" if node.op == "not" else f"(- {inner})"
    if isinstance(node, e.Binary):
        return _binary(node, to_sql(node.left, schema), to_sql(node.right, schema), schema)
    if isinstance(node, e.Call):
        return _call(node, [to_sql(a, schema) for a in node.args], schema)
    if isinstance(node, e.IfElse):
        return (f"(CASE WHEN {to_sql(node.cond, schema)} THEN {to_sql(node.then, schema)} "
                f"ELSE {to_sql(node.otherwise, schema)} END)")
    raise TypeError(f"unknown expression node {node!r}")


def to_spark(node: e.Expr, schema: dict[str, str]) -> Column:
    return expr(to_sql(node, schema))


def _integral(node: e.Expr, schema: dict[str, str]) -> bool:
    if isinstance(node, e.Lit) and node.value is None:
        return True  # a null literal takes the other side's type
    return infer_type(node, schema) in INTEGRAL


def _binary(node: e.Binary, left: str, right: str, schema: dict[str, str]) -> str:
    op = node.op
    whole = _integral(node.left, schema) and _integral(node.right, schema)
    by_zero = f"{right} = 0"
    if op == "div":
        return f"(CASE WHEN {by_zero} THEN NULL ELSE CAST({left} AS DOUBLE) / CAST({right} AS DOUBLE) END)"
    if op == "floordiv":
        if whole:
            quotient = f"(CAST({left} AS BIGINT) div CAST({right} AS BIGINT))"
            remainder = f"({left} % {right})"
            return (f"(CASE WHEN {by_zero} THEN NULL WHEN {remainder} != 0 AND ({remainder} < 0) != ({right} < 0) "
                    f"THEN {quotient} - 1 ELSE {quotient} END)")
        return f"(CASE WHEN {by_zero} THEN NULL ELSE {float_floor(f'CAST({left} AS DOUBLE) / CAST({right} AS DOUBLE)')} END)"
    if op == "mod":
        if not whole:
            left, right = f"CAST({left} AS DOUBLE)", f"CAST({right} AS DOUBLE)"
        remainder = f"({left} % {right})"
        return (f"(CASE WHEN {by_zero} THEN NULL WHEN {remainder} != 0 AND ({remainder} < 0) != ({right} < 0) "
                f"THEN {remainder} + {right} ELSE {remainder} END)")
    if op == "pow":
        return f"pow(CAST({left} AS DOUBLE), CAST({right} AS DOUBLE))"
    symbol = {"add": "+", "sub": "-", "mul": "*", "eq": "=", "ne": "!=", "lt": "<", "le": "<=", "gt": ">",
              "ge": ">=", "and": "AND", "or": "OR"}[op]
    return f"({left} {symbol} {right})"


def _call(node: e.Call, args: list[str], schema: dict[str, str]) -> str:
    func = node.func
    first = args[0]
    if func in ("len", "lower", "upper", "strip"):
        first = f"CAST({first} AS STRING)"  # a null literal has no type of its own
    if func == "len":
        return f"CAST(char_length({first}) AS BIGINT)"
    if func in ("lower", "upper"):
        return f"{func}({first})"
    if func == "strip":
        return f"btrim({first}, {s(WHITESPACE)})"
    if func == "abs":
        return f"abs({first})"
    if func == "round":
        decimals = node.args[1].value if len(node.args) == 2 and isinstance(node.args[1], e.Lit) else 0
        kind = infer_type(node.args[0], schema)
        if kind in INTEGRAL:
            return first  # whole numbers are already round (Polars returns them unchanged)
        scale = lit(10.0**decimals)
        scaled = f"(CAST({first} AS DOUBLE) * {scale})" if decimals else f"CAST({first} AS DOUBLE)"
        result = _signed_zero(f"round({scaled}, 0)", scaled)
        if decimals:
            result = f"({result} / {scale})"
        return f"CAST({result} AS FLOAT)" if kind == "float32" else result
    if func == "floor":
        return float_floor(first)
    if func == "ceil":
        return float_ceil(first)
    if func == "coalesce":
        return f"coalesce({', '.join(args)})"
    if func == "is_null":
        return f"({first} IS NULL)"
    if func == "is_not_null":
        return f"({first} IS NOT NULL)"
    if func == "concat":
        texts = [
            "CAST(NULL AS STRING)" if isinstance(raw, e.Lit) and raw.value is None
            else to_text(a, dtype(infer_type(raw, schema)))
            for a, raw in zip(args, node.args, strict=True)
        ]
        return f"concat({', '.join(texts)})"
    raise TypeError(f"unknown function {func}")


__all__ = [
    "DTYPES", "col", "convert", "dtype", "expr", "float_ceil", "float_floor", "float_text", "lit", "q", "s",
    "sql_type", "to_spark", "to_sql", "to_text",
]
