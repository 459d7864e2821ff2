"""Recipe expressions as Polars expressions (null-safe: division by zero gives null, as in Spark)."""

from __future__ import annotations

import polars as pl

from prepline.recipe import expressions as e
from prepline.recipe.types import DType

DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "int64": pl.Int64(),
    "int32": pl.Int32(),
    "float64": pl.Float64(),
    "float32": pl.Float32(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
    "datetime": pl.Datetime("us"),
}


def dtype(name: DType | str) -> pl.DataType:
    return DTYPES[name]


_NAMES = {t.base_type(): name for name, t in DTYPES.items()}


def type_name(dtype: pl.DataType) -> str:
    """The recipe's name for a Polars type (``int64``, ``datetime`` ...), else Polars' own, lower-cased."""
    return _NAMES.get(dtype.base_type(), str(dtype).lower())


def convert(expr: pl.Expr, source: str, target: str, strict: bool) -> pl.Expr:
    """``expr`` (of recipe type ``source``) as ``target``; unconvertible values fail or become null.

    Polars casts text to numbers but not to bool, date or datetime: those are parsed here, as
    the CSV reader parses them (true/false in any case, ISO dates and times).
    """
    if source != "string" or target not in ("bool", "date", "datetime"):
        return expr.cast(dtype(target), strict=strict)
    if target == "date":
        return expr.str.to_date(strict=strict)
    if target == "datetime":
        return expr.str.to_datetime(time_unit="us", strict=strict)
    lowered = expr.str.to_lowercase()
    if strict:
        return lowered.replace_strict(["true", "false"], [True, False], return_dtype=pl.Boolean())
    return pl.when(lowered == "true").then(True).when(lowered == "false").then(False).otherwise(None)


def to_polars(expr: e.Expr) -> pl.Expr:
    if isinstance(expr, e.Col):
        return pl.col(expr.name)
    if isinstance(expr, e.Lit):
        return pl.lit(expr.value)
    if isinstance(expr, e.Unary):
        inner = to_polars(expr.operand)
        return inner.not_() if expr.op == "not" else -inner
    if isinstance(expr, e.Binary):
        return _binary(expr.op, to_polars(expr.left), to_polars(expr.right))
    if isinstance(expr, e.Call):
        return _call(expr.func, [to_polars(a) for a in expr.args], expr.args)
    if isinstance(expr, e.IfElse):
        return pl.when(to_polars(expr.cond)).then(to_polars(expr.then)).otherwise(to_polars(expr.otherwise))
    raise TypeError(f"unknown expression node {expr!r}")


def _binary(op: str, left: pl.Expr, right: pl.Expr) -> pl.Expr:
    if op in ("div", "floordiv", "mod"):
        value = {"div": left / right, "floordiv": left // right, "mod": left % right}[op]
        return pl.when(right == 0).then(None).otherwise(value)
    table = {
        "add": lambda: left + right,
        "sub": lambda: left - right,
        "mul": lambda: left * right,
        "pow": lambda: left.cast(pl.Float64).pow(right),
        "eq": lambda: left == right,
        "ne": lambda: left != right,
        "lt": lambda: left < right,
        "le": lambda: left <= right,
        "gt": lambda: left > right,
        "ge": lambda: left >= right,
        "and": lambda: left & right,
        "or": lambda: left | right,
    }
    return table[op]()


def _call(func: str, args: list[pl.Expr], raw: tuple[e.Expr, ...]) -> pl.Expr:
    first = args[0]
    if func in ("len", "lower", "upper", "strip"):
        first = first.cast(pl.String)  # a null literal has no type of its own
    if func == "len":
        return first.str.len_chars().cast(pl.Int64)
    if func == "lower":
        return first.str.to_lowercase()
    if func == "upper":
        return first.str.to_uppercase()
    if func == "strip":
        return first.str.strip_chars()
    if func == "abs":
        return first.abs()
    if func == "round":
        decimals = raw[1].value if len(raw) == 2 and isinstance(raw[1], e.Lit) else 0
        return first.round(decimals, mode="half_away_from_zero")
    if func == "floor":
        return first.cast(pl.Float64).floor()
    if func == "ceil":
        return first.cast(pl.Float64).ceil()
    if func == "coalesce":
        return pl.coalesce(args)
    if func == "is_null":
        return first.is_null()
    if func == "is_not_null":
        return first.is_not_null()
    if func == "concat":
        return pl.concat_str([a.cast(pl.String) for a in args], ignore_nulls=False)
    raise TypeError(f"unknown function {func}")
