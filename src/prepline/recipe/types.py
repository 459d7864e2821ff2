"""Column types a recipe can declare, by the names users write in YAML."""

from __future__ import annotations

from typing import Literal

DType = Literal["string", "int64", "int32", "float64", "float32", "bool", "date", "datetime"]

DTYPES: tuple[str, ...] = DType.__args__  # type: ignore[attr-defined]

NUMERIC: frozenset[str] = frozenset({"int64", "int32", "float64", "float32"})
INTEGRAL: frozenset[str] = frozenset({"int64", "int32"})
