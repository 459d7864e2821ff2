"""The expression language of `derive` and `filter`: a small, safe subset of Python syntax.

``coalesce(len(address), 0)``, ``salary * 1.1``, ``age >= 18 and department != 'HR'``,
``'senior' if age > 55 else 'other'``, ``col('Average Salary') / 1000``.

Text is parsed with the standard library's :mod:`ast` into a small tree of
dataclasses that every engine translates on its own. Nothing is evaluated here;
null propagates as in SQL (any operation on null gives null, ``and``/``or`` use
three-valued logic), and ``coalesce``/``is_null`` handle it explicitly.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from prepline.recipe.types import INTEGRAL, NUMERIC


@dataclass(frozen=True)
class Col:
    name: str


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Unary:
    op: str  # "neg" | "not"
    operand: Expr


@dataclass(frozen=True)
class Binary:
    op: str  # add sub mul div floordiv mod pow | eq ne lt le gt ge | and or
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class IfElse:
    cond: Expr
    then: Expr
    otherwise: Expr


Expr = Col | Lit | Unary | Binary | Call | IfElse

ARITHMETIC = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
              ast.FloorDiv: "floordiv", ast.Mod: "mod", ast.Pow: "pow"}
COMPARISON = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}

# name -> (min args, max args or None for variadic)
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "len": (1, 1), "lower": (1, 1), "upper": (1, 1), "strip": (1, 1),
    "abs": (1, 1), "round": (1, 2), "floor": (1, 1), "ceil": (1, 1),
    "coalesce": (2, None), "is_null": (1, 1), "is_not_null": (1, 1), "concat": (2, None),
}


class ExpressionError(ValueError):
    """The expression text is not valid; the message says where and how to fix it."""


def parse_expression(text: str) -> Expr:
    """Parse ``text`` into an expression tree, or raise ExpressionError."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" at character {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"cannot parse expression {text!r}{where}: {exc.msg}") from None
    return _convert(tree.body, text)


def _convert(node: ast.AST, text: str) -> Expr:
    if isinstance(node, ast.Name):
        if node.id in ("null", "None"):
            return Lit(None)
        if node.id in ("true", "True"):
            return Lit(True)
        if node.id in ("false", "False"):
            return Lit(False)
        return Col(node.id)
    if isinstance(node, ast.Constant) and (isinstance(node.value, (bool, int, float, str)) or node.value is None):
        return Lit(node.value)
    if isinstance(node, ast.UnaryOp):
        operand = _convert(node.operand, text)
        if isinstance(node.op, ast.USub):
            if isinstance(operand, Lit) and isinstance(operand.value, (int, float)):
                return Lit(-operand.value)
            return Unary("neg", operand)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return Unary("not", operand)
    if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
        return Binary(ARITHMETIC[type(node.op)], _convert(node.left, text), _convert(node.right, text))
    if isinstance(node, ast.BoolOp):
        op = "and" if isinstance(node.op, ast.And) else "or"
        values = [_convert(v, text) for v in node.values]
        result = values[0]
        for value in values[1:]:
            result = Binary(op, result, value)
        return result
    if isinstance(node, ast.Compare):
        parts: list[Expr] = []
        left = _convert(node.left, text)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if type(op) not in COMPARISON:
                raise ExpressionError(
                    f"in {text!r}: operator {type(op).__name__} is not supported; "
                    "use ==, !=, <, <=, >, >="
                )
            right = _convert(comparator, text)
            parts.append(Binary(COMPARISON[type(op)], left, right))
            left = right
        result = parts[0]
        for part in parts[1:]:
            result = Binary("and", result, part)
        return result
    if isinstance(node, ast.IfExp):
        return IfElse(_convert(node.test, text), _convert(node.body, text), _convert(node.orelse, text))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        if name == "col":
            if len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                return Col(node.args[0].value)
            raise ExpressionError(f"in {text!r}: col() takes one quoted column name, e.g. col('Average Salary')")
        if name not in FUNCTIONS:
            raise ExpressionError(
                f"in {text!r}: unknown function {name}(); available: col, {', '.join(sorted(FUNCTIONS))}"
            )
        low, high = FUNCTIONS[name]
        if len(node.args) < low or (high is not None and len(node.args) > high):
            count = str(low) if low == high else f"{low}+" if high is None else f"{low}-{high}"
            raise ExpressionError(f"in {text!r}: {name}() takes {count} arguments, got {len(node.args)}")
        args = tuple(_convert(a, text) for a in node.args)
        if name == "round" and len(args) == 2 and not (isinstance(args[1], Lit) and isinstance(args[1].value, int)):
            raise ExpressionError(f"in {text!r}: round()'s second argument must be a whole number literal")
        return Call(name, args)
    snippet = ast.get_source_segment(text, node) or type(node).__name__
    raise ExpressionError(
        f"in {text!r}: {snippet!r} is not supported; use column names, literals, arithmetic, "
        "comparisons, and/or/not, 'x if cond else y' and the functions "
        f"{', '.join(sorted(FUNCTIONS))}"
    )


def columns_used(expr: Expr) -> list[str]:
    """Every column the expression reads, in first-use order."""
    found: list[str] = []

    def walk(e: Expr) -> None:
        if isinstance(e, Col):
            if e.name not in found:
                found.append(e.name)
        elif isinstance(e, Unary):
            walk(e.operand)
        elif isinstance(e, Binary):
            walk(e.left)
            walk(e.right)
        elif isinstance(e, Call):
            for a in e.args:
                walk(a)
        elif isinstance(e, IfElse):
            walk(e.cond)
            walk(e.then)
            walk(e.otherwise)

    walk(expr)
    return found


def infer_type(expr: Expr, schema: dict[str, str]) -> str:
    """The recipe type of the expression's result, given the column types before it."""
    if isinstance(expr, Col):
        return schema[expr.name]
    if isinstance(expr, Lit):
        value = expr.value
        if isinstance(value, bool):
            return "bool"
        if isinstance(value, int):
            return "int64"
        if isinstance(value, float):
            return "float64"
        return "string"  # str, and null (typed as text unless coalesced)
    if isinstance(expr, Unary):
        return "bool" if expr.op == "not" else infer_type(expr.operand, schema)
    if isinstance(expr, Binary):
        if expr.op in ("eq", "ne", "lt", "le", "gt", "ge", "and", "or"):
            return "bool"
        left, right = infer_type(expr.left, schema), infer_type(expr.right, schema)
        if expr.op in ("div", "pow"):  # 2 ** -1 is not a whole number: powers are computed as floats
            return "float64"
        if left in INTEGRAL and right in INTEGRAL:
            return "int64"
        return "float64"
    if isinstance(expr, Call):
        if expr.func in ("len",):
            return "int64"
        if expr.func in ("lower", "upper", "strip", "concat"):
            return "string"
        if expr.func in ("is_null", "is_not_null"):
            return "bool"
        if expr.func in ("floor", "ceil"):
            return "float64"
        if expr.func in ("abs", "round"):
            return infer_type(expr.args[0], schema)
        if expr.func == "coalesce":
            return _common([infer_type(a, schema) for a in expr.args if not _is_null_lit(a)])
    if isinstance(expr, IfElse):
        branches = [b for b in (expr.then, expr.otherwise) if not _is_null_lit(b)]
        return _common([infer_type(b, schema) for b in branches])
    raise TypeError(f"unknown expression node {expr!r}")


def _is_null_lit(expr: Expr) -> bool:
    return isinstance(expr, Lit) and expr.value is None


def _common(types: list[str]) -> str:
    if not types:
        return "string"
    if all(t == types[0] for t in types):
        return types[0]
    if all(t in NUMERIC for t in types):
        return "int64" if all(t in INTEGRAL for t in types) else "float64"
    return "string"


def check_types(expr: Expr, schema: dict[str, str], text: str) -> None:
    """Refuse operations whose operand types cannot work (text arithmetic, len of a number)."""
    if isinstance(expr, Binary):
        check_types(expr.left, schema, text)
        check_types(expr.right, schema, text)
        if expr.op in ("add", "sub", "mul", "div", "floordiv", "mod", "pow"):
            for side in (expr.left, expr.right):
                kind = infer_type(side, schema)
                if kind not in NUMERIC and not _is_null_lit(side):
                    raise ExpressionError(
                        f"in {text!r}: arithmetic needs numbers but {_describe(side)} is {kind}; "
                        "use concat() to join text or a cast step to convert it"
                    )
        elif expr.op in ("and", "or"):
            for side in (expr.left, expr.right):
                _need_condition(side, schema, text, expr.op)
        else:  # a comparison
            kinds = [_family(infer_type(s, schema)) for s in (expr.left, expr.right) if not _is_null_lit(s)]
            if len(kinds) == 2 and kinds[0] != kinds[1]:
                raise ExpressionError(
                    f"in {text!r}: cannot compare {_describe(expr.left)} ({infer_type(expr.left, schema)}) "
                    f"with {_describe(expr.right)} ({infer_type(expr.right, schema)}); "
                    "compare values of one kind, converting one side with a cast step first"
                )
    elif isinstance(expr, Unary):
        check_types(expr.operand, schema, text)
        if expr.op == "neg" and infer_type(expr.operand, schema) not in NUMERIC:
            raise ExpressionError(f"in {text!r}: cannot negate {_describe(expr.operand)}, it is not a number")
        if expr.op == "not":
            _need_condition(expr.operand, schema, text, "not")
    elif isinstance(expr, Call):
        for arg in expr.args:
            check_types(arg, schema, text)
        if expr.func in ("len", "lower", "upper", "strip"):
            kind = infer_type(expr.args[0], schema)
            if kind != "string":
                raise ExpressionError(
                    f"in {text!r}: {expr.func}() needs text but {_describe(expr.args[0])} is {kind}"
                )
        if expr.func in ("abs", "round", "floor", "ceil"):
            kind = infer_type(expr.args[0], schema)
            if kind not in NUMERIC:
                raise ExpressionError(
                    f"in {text!r}: {expr.func}() needs a number but {_describe(expr.args[0])} is {kind}"
                )
    elif isinstance(expr, IfElse):
        for part in (expr.cond, expr.then, expr.otherwise):
            check_types(part, schema, text)
        _need_condition(expr.cond, schema, text, "if")


def _need_condition(expr: Expr, schema: dict[str, str], text: str, where: str) -> None:
    kind = infer_type(expr, schema)
    if kind != "bool" and not _is_null_lit(expr):
        raise ExpressionError(
            f"in {text!r}: {where!r} needs a condition (true/false) but {_describe(expr)} is {kind}; "
            "compare it, e.g. 'x > 0' or 'is_not_null(x)'"
        )


def _family(kind: str) -> str:
    """Types that can be compared with each other."""
    if kind in NUMERIC:
        return "number"
    return "time" if kind in ("date", "datetime") else kind


def _describe(expr: Expr) -> str:
    if isinstance(expr, Col):
        return f"column {expr.name!r}"
    if isinstance(expr, Lit):
        return f"the literal {expr.value!r}"
    return "the sub-expression"
