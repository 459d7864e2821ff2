"""Run two versions of a recipe on the same sample and describe how their outputs differ.

Both recipes run with :func:`prepline.pipeline.run_recipe` into private temporary folders
(removed afterwards), always as Parquet so column types compare exactly. Then, per output name:

- outputs only in one run are *added* or *removed*;
- columns are added, removed, retyped (recipe type names) or reordered;
- rows are aligned on a key, the first common column (not float) that is unique and never
  null on both sides, giving rows only in base, only in head, changed, and cells changed per
  column; without a key the rows are compared as multisets (a row counts once per copy);
- statistics of each common column (numbers: mean, min, max, null count; dates and times: min,
  max, null count; text and bool: null count, distinct count), and the value counts of text and
  bool columns with at most :data:`VALUE_COUNT_LIMIT` distinct values;
- the manifests' fill values and counters (values nulled, rows removed ...).

Floats are equal within a relative tolerance of :data:`REL_TOL`. All the work on data is
done by Polars; Python only loops over columns and outputs.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prepline.errors import PreplineError

if TYPE_CHECKING:  # polars is imported where used, to keep the CLI start fast
    import polars as pl

    from prepline.pipeline import RunSummary

__all__ = [
    "REL_TOL",
    "VALUE_COUNT_LIMIT",
    "Column",
    "CounterChange",
    "FillChange",
    "OutputDiff",
    "RecipeDiff",
    "Retyped",
    "RowChanges",
    "Side",
    "StatChange",
    "ValueCountChange",
    "diff_recipes",
]

REL_TOL = 1e-9
VALUE_COUNT_LIMIT = (
    20  # value counts are compared for columns with at most this many distinct values
)
DIFF_VERSION = 1

Status = Literal["added", "removed", "changed", "unchanged"]
SideName = Literal["base", "head"]


# --- the result ------------------------------------------------------------------------------


class _Record:
    """A result record: ``as_dict`` gives its fields, in order, ready for JSON."""

    def as_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))  # type: ignore[call-overload]


@dataclass(frozen=True)
class Side(_Record):
    """One of the two runs."""

    recipe: str  # the recipe path as given
    name: str  # the recipe's name
    sha256: str  # of the recipe file
    rows_in: int


@dataclass(frozen=True)
class Column(_Record):
    name: str
    type: str  # recipe type name: int64, string ...


@dataclass(frozen=True)
class Retyped(_Record):
    name: str
    base: str
    head: str


@dataclass
class RowChanges(_Record):
    """How the rows of an output present in both runs differ."""

    method: Literal["key", "multiset"]
    key: str | None  # the column rows are aligned on (method "key")
    only_in_base: int  # keys (or copies of rows) only in the base output
    only_in_head: int
    changed: int | None  # aligned rows with at least one differing cell (method "key" only)
    cells_changed: dict[str, int] = field(default_factory=dict)  # column -> cells, nonzero only
    reordered: bool = False  # same rows, another order

    @property
    def any(self) -> bool:
        return bool(
            self.only_in_base
            or self.only_in_head
            or self.changed
            or self.cells_changed
            or self.reordered
        )


@dataclass(frozen=True)
class StatChange(_Record):
    column: str
    statistic: str  # mean | min | max | null_count | distinct_count
    base: Any
    head: Any


@dataclass(frozen=True)
class ValueCountChange(_Record):
    column: str
    value: str
    base: int
    head: int


@dataclass
class OutputDiff:
    name: str
    status: Status
    rows_base: int | None
    rows_head: int | None
    added: list[Column] = field(default_factory=list)
    removed: list[Column] = field(default_factory=list)
    retyped: list[Retyped] = field(default_factory=list)
    order_changed: bool = False  # the common columns come in another order
    rows: RowChanges | None = None
    statistics: list[StatChange] = field(default_factory=list)
    value_counts: list[ValueCountChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "rows": {"base": self.rows_base, "head": self.rows_head},
            "columns": {
                "added": [c.as_dict() for c in self.added],
                "removed": [c.as_dict() for c in self.removed],
                "retyped": [c.as_dict() for c in self.retyped],
                "order_changed": self.order_changed,
            },
            "row_changes": self.rows.as_dict() if self.rows else None,
            "statistics": [s.as_dict() for s in self.statistics],
            "value_counts": [v.as_dict() for v in self.value_counts],
        }


@dataclass(frozen=True)
class FillChange(_Record):
    """A fill whose value or number of filled cells moved; a side is None where the fill is absent."""

    column: str
    base: dict[str, Any] | None  # {step, strategy, value, filled}
    head: dict[str, Any] | None


@dataclass(frozen=True)
class CounterChange(_Record):
    """A counter (values nulled, rows removed ...) that moved; an absent counter counts as 0."""

    kind: str  # the step kind, e.g. "filter"
    what: str
    base: dict[str, Any] | None  # {step, count}
    head: dict[str, Any] | None


@dataclass
class RecipeDiff:
    input: str
    engine: str
    base: Side
    head: Side
    outputs: list[OutputDiff]
    fills: list[FillChange]
    counters: list[CounterChange]

    @property
    def changed_outputs(self) -> list[OutputDiff]:
        return [o for o in self.outputs if o.status != "unchanged"]

    @property
    def has_differences(self) -> bool:
        return bool(self.changed_outputs or self.fills or self.counters)

    def as_dict(self) -> dict[str, Any]:
        statuses = [o.status for o in self.outputs]
        return {
            "diff_version": DIFF_VERSION,
            "identical": not self.has_differences,
            "input": self.input,
            "engine": self.engine,
            "base": self.base.as_dict(),
            "head": self.head.as_dict(),
            "summary": {
                "outputs_changed": len(self.changed_outputs),
                **{f"outputs_{s}": statuses.count(s) for s in ("added", "removed", "unchanged")},
            },
            "outputs": [o.as_dict() for o in self.outputs],
            "fills": [f.as_dict() for f in self.fills],
            "counters": [c.as_dict() for c in self.counters],
        }


# --- running both recipes --------------------------------------------------------------------


def diff_recipes(base: Path, head: Path, input_uri: str, engine: str = "polars") -> RecipeDiff:
    """Run recipes ``base`` and ``head`` on ``input_uri`` and compare what they write.

    A :class:`~prepline.errors.PreplineError` from either run is re-raised with its message
    starting with the side that failed ("base recipe ..." / "head recipe ...").
    """
    from prepline.recipe import load_recipe

    recipes = {
        side: _on_side(side, path, load_recipe, path)
        for side, path in (("base", base), ("head", head))
    }
    with tempfile.TemporaryDirectory(prefix="prepline-diff-") as tmp:
        runs = {
            side: _on_side(side, path, _run, recipes[side], input_uri, Path(tmp) / side, engine)
            for side, path in (("base", base), ("head", head))
        }
        outputs = _compare_outputs(runs["base"], runs["head"], Path(tmp))
    base_m, head_m = runs["base"].manifest, runs["head"].manifest
    return RecipeDiff(
        input=input_uri,
        engine=engine,
        base=_side(base, base_m),
        head=_side(head, head_m),
        outputs=outputs,
        fills=compare_fills(base_m.get("fills", []), head_m.get("fills", [])),
        counters=compare_counters(base_m.get("counters", []), head_m.get("counters", [])),
    )


def _on_side(side: SideName, path: Path, function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except PreplineError as err:
        err.message = f"{side} recipe {str(path)!r} failed: {err.message}"
        err.args = (str(err),)
        raise


def _run(recipe: Any, input_uri: str, folder: Path, engine: str) -> RunSummary:
    from prepline.pipeline import run_recipe

    return run_recipe(recipe, input_uri, str(folder), engine=engine, output_format="parquet")


def _side(path: Path, manifest: dict[str, Any]) -> Side:
    recipe = manifest["recipe"]
    return Side(
        recipe=str(path),
        name=recipe["name"],
        sha256=recipe["sha256"],
        rows_in=int(manifest["rows_in"]),
    )


# --- outputs ---------------------------------------------------------------------------------


def _compare_outputs(base: RunSummary, head: RunSummary, root: Path) -> list[OutputDiff]:
    base_out, head_out = base.manifest["outputs"], head.manifest["outputs"]
    names = list(base_out) + [n for n in head_out if n not in base_out]
    diffs = []
    for name in names:
        b, h = base_out.get(name), head_out.get(name)
        if h is None:
            diffs.append(_one_sided(name, "removed", root / "base" / b["path"], b["rows"]))
        elif b is None:
            diffs.append(_one_sided(name, "added", root / "head" / h["path"], h["rows"]))
        elif b["sha256"] == h["sha256"]:  # byte-identical Parquet: nothing to read
            diffs.append(OutputDiff(name, "unchanged", b["rows"], h["rows"]))
        else:
            diffs.append(
                compare_frames(
                    name, _scan(root / "base" / b["path"]), _scan(root / "head" / h["path"])
                )
            )
    return diffs


def _scan(path: Path) -> pl.LazyFrame:
    import polars as pl

    return pl.scan_parquet(path)


def _one_sided(name: str, status: Status, path: Path, rows: int | None) -> OutputDiff:
    from prepline.engines.polars.expressions import type_name

    columns = [Column(c, type_name(t)) for c, t in _scan(path).collect_schema().items()]
    if status == "added":
        return OutputDiff(name, status, None, rows, added=columns)
    return OutputDiff(name, status, rows, None, removed=columns)


def compare_frames(name: str, base: pl.LazyFrame, head: pl.LazyFrame) -> OutputDiff:
    """Compare one output as written by both runs (any two frames with the same meaning)."""
    from prepline.engines.polars.expressions import type_name

    b_schema, h_schema = base.collect_schema(), head.collect_schema()
    common = [c for c in b_schema if c in h_schema]
    diff = OutputDiff(
        name,
        "unchanged",
        _height(base),
        _height(head),
        added=[Column(c, type_name(t)) for c, t in h_schema.items() if c not in b_schema],
        removed=[Column(c, type_name(t)) for c, t in b_schema.items() if c not in h_schema],
        retyped=[
            Retyped(c, type_name(b_schema[c]), type_name(h_schema[c]))
            for c in common
            if b_schema[c] != h_schema[c]
        ],
        order_changed=common != [c for c in h_schema if c in b_schema],
    )
    if common:
        as_type = {c: _comparison_type(b_schema[c], h_schema[c]) for c in common}
        b = base.select(_cast(c, as_type[c]) for c in common)
        h = head.select(_cast(c, as_type[c]) for c in common)
        key = _find_key(b, h, common)
        diff.rows = _key_rows(b, h, key, common) if key else _multiset_rows(b, h, common)
        if not diff.rows.any:
            # same rows; same order? (by key: values may differ within the float tolerance)
            order = [key] if key else common
            diff.rows.reordered = not b.select(order).collect().equals(h.select(order).collect())
        diff.statistics, distinct = _statistics(base, head, common)
        few = [c for c in common if max(distinct.get(c, (math.inf, math.inf))) <= VALUE_COUNT_LIMIT]
        diff.value_counts = _value_counts(b, h, few)
    moved = (
        diff.rows_base != diff.rows_head
        or diff.added
        or diff.removed
        or diff.retyped
        or diff.order_changed
        or (diff.rows is not None and diff.rows.any)
        or diff.statistics
        or diff.value_counts
    )
    diff.status = "changed" if moved else "unchanged"
    return diff


def _height(frame: pl.LazyFrame) -> int:
    import polars as pl

    return int(frame.select(pl.len()).collect().item())


def _comparison_type(base: pl.DataType, head: pl.DataType) -> pl.DataType | None:
    """None: compare as they are; else the type both sides are cast to (retyped columns)."""
    import polars as pl

    if base == head:
        return None
    if base.is_numeric() and head.is_numeric():
        return pl.Float64()
    return pl.String()


def _cast(column: str, to: pl.DataType | None) -> pl.Expr:
    import polars as pl

    return pl.col(column) if to is None else pl.col(column).cast(to)


def _find_key(b: pl.LazyFrame, h: pl.LazyFrame, common: list[str]) -> str | None:
    """The first common column, not float, that is unique and never null in both outputs."""
    import polars as pl

    schema = b.collect_schema()
    candidates = [c for c in common if not schema[c].is_float()]
    if not candidates:
        return None
    checks = [
        ((pl.col(c).n_unique() == pl.len()) & (pl.col(c).null_count() == 0)).alias(c)
        for c in candidates
    ]
    b_ok, h_ok = (
        row.row(0, named=True) for row in pl.collect_all([b.select(checks), h.select(checks)])
    )
    return next((c for c in candidates if b_ok[c] and h_ok[c]), None)


def _differs(a: pl.Expr, b: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Cells that differ: null vs value, or values not equal (floats: beyond the relative tolerance)."""
    import polars as pl

    differ = a.ne_missing(b)
    if dtype.is_float():
        close = ((a - b).abs() <= REL_TOL * pl.max_horizontal(a.abs(), b.abs())).fill_null(False)
        differ = differ & ~close
    return differ


def _key_rows(b: pl.LazyFrame, h: pl.LazyFrame, key: str, common: list[str]) -> RowChanges:
    import polars as pl

    values = [c for c in common if c != key]
    schema = b.collect_schema()
    # positional names on both sides: no clash with any real column name
    b_named = b.select(
        pl.col(key).alias("k"), *(pl.col(c).alias(f"b{i}") for i, c in enumerate(values))
    )
    h_named = h.select(
        pl.col(key).alias("k"), *(pl.col(c).alias(f"h{i}") for i, c in enumerate(values))
    )
    flags = [
        _differs(pl.col(f"b{i}"), pl.col(f"h{i}"), schema[c]).alias(f"d{i}")
        for i, c in enumerate(values)
    ]
    joined = b_named.join(h_named, on="k", how="inner").select(flags)
    sums = [pl.col(f"d{i}").sum().alias(f"d{i}") for i in range(len(values))]
    any_row = (
        pl.any_horizontal(pl.col(f"d{i}") for i in range(len(values))) if values else pl.lit(False)
    )
    only_b, only_h, cells = pl.collect_all(
        [
            b_named.join(h_named, on="k", how="anti").select(pl.len()),
            h_named.join(b_named, on="k", how="anti").select(pl.len()),
            joined.select(*sums, any_row.sum().alias("rows")),
        ]
    )
    counts = cells.row(0, named=True)
    return RowChanges(
        method="key",
        key=key,
        only_in_base=int(only_b.item()),
        only_in_head=int(only_h.item()),
        changed=int(counts["rows"] or 0),
        cells_changed={c: int(counts[f"d{i}"]) for i, c in enumerate(values) if counts[f"d{i}"]},
    )


def _multiset_rows(b: pl.LazyFrame, h: pl.LazyFrame, common: list[str]) -> RowChanges:
    """Rows as multisets over the common columns: each copy of a row counts once."""
    import polars as pl

    names = [f"c{i}" for i in range(len(common))]
    b_counts = (
        b.select(pl.col(c).alias(n) for c, n in zip(common, names, strict=True))
        .group_by(names)
        .agg(pl.len().alias("nb"))
    )
    h_counts = (
        h.select(pl.col(c).alias(n) for c, n in zip(common, names, strict=True))
        .group_by(names)
        .agg(pl.len().alias("nh"))
    )
    delta = pl.col("nb").fill_null(0).cast(pl.Int64) - pl.col("nh").fill_null(0).cast(pl.Int64)
    totals = (
        b_counts.join(h_counts, on=names, how="full", nulls_equal=True, coalesce=True)
        .select(
            delta.clip(lower_bound=0).sum().alias("base"),
            (-delta).clip(lower_bound=0).sum().alias("head"),
        )
        .collect()
        .row(0, named=True)
    )
    return RowChanges(
        method="multiset",
        key=None,
        only_in_base=int(totals["base"] or 0),
        only_in_head=int(totals["head"] or 0),
        changed=None,
    )


# --- statistics ------------------------------------------------------------------------------


def _stat_exprs(column: str, dtype: pl.DataType) -> dict[str, pl.Expr]:
    import polars as pl

    col = pl.col(column)
    stats: dict[str, pl.Expr] = {}
    if dtype.is_numeric():
        stats = {"mean": col.mean(), "min": col.min(), "max": col.max()}
    elif dtype.is_temporal():
        stats = {"min": col.min(), "max": col.max()}
    stats["null_count"] = col.null_count()
    if not (dtype.is_numeric() or dtype.is_temporal()):  # text, bool: also feeds value counts
        stats["distinct_count"] = col.drop_nulls().n_unique()
    return stats


def _statistics(
    base: pl.LazyFrame, head: pl.LazyFrame, common: list[str]
) -> tuple[list[StatChange], dict[str, tuple[float, float]]]:
    """Statistics that moved, and each text/bool column's distinct counts (base, head)."""
    import polars as pl

    b_schema, h_schema = base.collect_schema(), head.collect_schema()
    wanted = {c: (_stat_exprs(c, b_schema[c]), _stat_exprs(c, h_schema[c])) for c in common}

    def select(side: int) -> list[pl.Expr]:
        return [
            expr.alias(f"{i}:{stat}")
            for i, c in enumerate(common)
            for stat, expr in wanted[c][side].items()
        ]

    b_row, h_row = (
        f.row(0, named=True)
        for f in pl.collect_all([base.select(select(0)), head.select(select(1))])
    )
    changes, distinct = [], {}
    for i, column in enumerate(common):
        b_stats, h_stats = wanted[column]
        for stat in (s for s in b_stats if s in h_stats):
            before, after = b_row[f"{i}:{stat}"], h_row[f"{i}:{stat}"]
            if not same_value(before, after):
                changes.append(StatChange(column, stat, before, after))
        if "distinct_count" in b_stats and "distinct_count" in h_stats:
            distinct[column] = (b_row[f"{i}:distinct_count"], h_row[f"{i}:distinct_count"])
    return changes, distinct


def _value_counts(b: pl.LazyFrame, h: pl.LazyFrame, columns: list[str]) -> list[ValueCountChange]:
    """Non-null values whose number of rows moved, in columns with few distinct values."""
    import polars as pl

    queries = []
    for column in columns:
        counts = [
            frame.select(pl.col(column).cast(pl.String).alias("value"))
            .drop_nulls()
            .group_by("value")
            .agg(pl.len().alias(n))
            for frame, n in ((b, "base"), (h, "head"))
        ]
        queries.append(
            counts[0]
            .join(counts[1], on="value", how="full", coalesce=True)
            .with_columns(pl.col("base").fill_null(0), pl.col("head").fill_null(0))
            .filter(pl.col("base") != pl.col("head"))
            .sort("value")
        )
    changes = []
    for column, frame in zip(columns, pl.collect_all(queries), strict=True):
        changes += [
            ValueCountChange(column, v, int(nb), int(nh)) for v, nb, nh in frame.iter_rows()
        ]
    return changes


# --- manifests -------------------------------------------------------------------------------


def compare_fills(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> list[FillChange]:
    """Fills matched by column (and occurrence): report those whose value or filled count moved.

    An absent fill counts as filling nothing; the value matters only where something was filled.
    """
    b, h = _occurrences(base, lambda f: f["column"]), _occurrences(head, lambda f: f["column"])
    changes = []
    for key in list(b) + [k for k in h if k not in b]:
        before, after = b.get(key), h.get(key)
        used, now = _fill_use(before), _fill_use(after)
        same = (used is None and now is None) or (
            used is not None
            and now is not None
            and used[0] == now[0]
            and same_value(used[1], now[1])
        )
        if not same or (before or {}).get("filled", 0) != (after or {}).get("filled", 0):
            changes.append(FillChange(key[0], _fill_side(before), _fill_side(after)))
    return changes


def _fill_use(fill: dict[str, Any] | None) -> tuple[str, Any] | None:
    """(strategy, value) of a fill that filled something; None when it changed no cell."""
    return (fill["strategy"], fill["value"]) if fill and fill.get("filled") else None


def _fill_side(fill: dict[str, Any] | None) -> dict[str, Any] | None:
    if fill is None:
        return None
    return {
        "step": fill["step"],
        "strategy": fill["strategy"],
        "value": fill["value"],
        "filled": fill.get("filled", 0),
    }


def compare_counters(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> list[CounterChange]:
    """Counters matched by step kind and description (step numbers shift when steps are added)."""

    def key(counter: dict[str, Any]) -> tuple[str, str]:
        return _kind(counter["step"]), counter["what"]

    b, h = _occurrences(base, key), _occurrences(head, key)
    changes = []
    for k in list(b) + [k for k in h if k not in b]:
        before, after = b.get(k), h.get(k)
        if (before or {}).get("count", 0) != (after or {}).get("count", 0):
            kind, what = k[0]
            changes.append(CounterChange(kind, what, _counter_side(before), _counter_side(after)))
    return changes


def _counter_side(counter: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if counter is None else {"step": counter["step"], "count": counter["count"]}


def _kind(step_label: str) -> str:
    return step_label.split(":", 1)[-1]  # "3:fill" -> "fill"


def _occurrences(items: list[dict[str, Any]], key: Any) -> dict[tuple[Any, int], dict[str, Any]]:
    """Items by (key, n): the n-th item with that key, so repeated steps pair up in order."""
    seen: dict[Any, int] = {}
    keyed = {}
    for item in items:
        k = key(item)
        keyed[(k, seen.get(k, 0))] = item
        seen[k] = seen.get(k, 0) + 1
    return keyed


# --- values ----------------------------------------------------------------------------------


def same_value(a: Any, b: Any) -> bool:
    """Equal, with floats equal within :data:`REL_TOL` (relative) and NaN equal to NaN."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        try:
            x, y = float(a), float(b)
        except (TypeError, ValueError):
            return False
        if math.isnan(x) or math.isnan(y):
            return math.isnan(x) and math.isnan(y)
        return x == y or math.isclose(x, y, rel_tol=REL_TOL, abs_tol=0.0)
    return bool(a == b)


def _plain(value: Any) -> Any:
    """JSON-ready: dates and times as ISO text, containers recursively."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # nan, inf: JSON has no literal for them
    return value
