"""Compile a recipe's steps into Spark DataFrames: one per output, plus rejected rows and metrics.

The structure mirrors the Polars compiler (``engines/polars/steps.py``) step for step. What
Spark needs on top:

* Counts (values nulled, rows removed, rows in and out) are ``DataFrame.observe`` metrics: they
  are computed while the outputs are written, in the same pass, not by extra jobs. A metric
  defined after the last output is collected by one no-op pass at the end (see the engine).
* A ``fail`` policy (bad input values, invalid JSON, a failed cast) is a metric that must be
  zero; when it is not, the engine asks :class:`Check`'s ``diagnose`` for the first rows and
  raises the error Polars raises. Outputs are written to the private staging folder first,
  which is discarded, so a failed run still publishes nothing.
* Row order: the flow keeps ``_row`` to the end; every output carries two sort keys
  (:data:`ORDER`) and is sorted by them when written, so the files are in input order (aggregates
  in key order) whatever Spark shuffled.
* A frame that several consumers read (outputs, rejected rows, a statistic) after an expensive
  step (reading, JSON, a cast, dedupe) is persisted, so the input is not parsed again for each.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation
from pyspark.sql import types as T

from prepline.engines.base import REJECT_COLUMNS, ROW
from prepline.engines.spark.expressions import (
    WHITESPACE,
    convert,
    expr,
    float_floor,
    float_text,
    lit,
    q,
    s,
    sql_type,
    to_sql,
    to_text,
)
from prepline.engines.spark.read import BAD, BAD_REASON, RAW, Scan
from prepline.errors import DataError, EngineError, PreplineError
from prepline.recipe import model as m
from prepline.recipe import split as sp
from prepline.recipe.expressions import infer_type, parse_expression
from prepline.recipe.flow import aggregate_schema
from prepline.recipe.jsonpath import parse_json_path
from prepline.recipe.model import step_kind
from prepline.recipe.types import INTEGRAL

StatsFn = Callable[[DataFrame, dict[str, str]], dict[str, Any]]

ORDER = ("__order_1", "__order_2")  # every output frame's sort keys: (int, long)
JSON = "__json"  # the parsed JSON value (VARIANT) of the row
PROBLEM = "__json_problem"
OBJECT_START = s(r"^[ \t\n\r]*\{")  # JSON whitespace, then an object
NESTED_START = s(r"^[\[{]")
UNIQUE = "__unique_count"
SMALL_INPUT_BYTES = 64 << 20  # smaller inputs are run without code generation, their outputs written by the driver


@dataclass
class Metric:
    observation: Observation
    names: dict[str, str]  # metric key -> field of the observation's row
    position: int  # how many flow metrics were defined before it (outputs taken later compute it)


@dataclass
class Check:
    """A ``fail`` policy: the metric ``key`` must be 0, else ``diagnose()`` is raised."""

    key: str
    diagnose: Callable[[int], PreplineError]  # given the metric's value


@dataclass
class Output:
    frame: DataFrame  # ``columns`` then the ORDER keys
    columns: list[str]  # written, in this order
    position: int  # flow metrics defined before it (all of them are computed when it is written)


@dataclass
class Strata:
    """A stratified split: its rows per (stratum, part) are counted by one job after the outputs are written."""

    label: str
    parts: list[str]
    frame: DataFrame  # the flow with the part index (PART)
    stratum: str  # SQL: the stratum's value as text


@dataclass
class Plan:
    outputs: dict[str, Output] = field(default_factory=dict)
    splits: list[str] = field(default_factory=list)  # the split steps' labels
    strata: list[Strata] = field(default_factory=list)
    rejected: list[DataFrame] = field(default_factory=list)  # REJECT_COLUMNS + the row's columns, as text
    rejected_columns: list[str] = field(default_factory=list)
    rejected_position: int = 0
    metrics: list[Metric] = field(default_factory=list)
    counters: list[tuple[str, str, Callable[[dict[str, int]], int]]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    fill_values: list[dict[str, Any]] = field(default_factory=list)
    filled: list[str] = field(default_factory=list)  # per fill value: the metric counting the values it filled
    rule_checks: list[dict[str, Any]] = field(default_factory=list)  # see Compiler._check
    notes: list[str] = field(default_factory=list)
    persisted: list[DataFrame] = field(default_factory=list)
    final: DataFrame | None = None  # the flow after the last step


class Compiler:
    def __init__(self, recipe: m.Recipe, scan: Scan, stats: StatsFn, display: str):
        self.recipe = recipe
        self.stats = stats
        self.display = display
        self.plan = Plan()
        self._reject_schemas: list[list[str]] = []
        self._keys = 0
        self._pending: dict[str, str] = {}
        self._frame: DataFrame = scan.frame
        self.schema = dict(scan.schema)
        self.present = set(scan.present)
        self.declared = set(recipe.input.columns)
        self._expensive = True  # reading and parsing the input
        self._readers_after = _readers_after(recipe)
        self._index = -1
        self._observe({"rows_in": "count(1)"})
        self._input_policy(scan)

    def compile(self) -> Plan:
        for index, step in enumerate(self.recipe.steps):
            self._index = index
            label = f"{index + 1}:{step_kind(step)}"
            getattr(self, f"_{step_kind(step)}")(step, label)
        if self.plan.rejected or self.recipe.rejects_rows():
            self.plan.rejected_columns = self._rejected_columns()
        self.plan.final = self.frame
        return self.plan

    # --- helpers --------------------------------------------------------------------------------

    def _visible(self) -> list[str]:
        return list(self.schema)

    def _types(self) -> dict[str, T.DataType]:
        return {f.name: f.dataType for f in self.frame.schema.fields}

    def _key(self, prefix: str) -> str:
        self._keys += 1
        return f"{prefix}{self._keys}"

    @property
    def frame(self) -> DataFrame:
        """The flow. Counts asked for since it last changed are attached to it first, as one observation."""
        if self._pending:
            metrics, self._pending = self._pending, {}
            observation = Observation()
            names = {key: f"m{i}" for i, key in enumerate(metrics)}
            exprs = [expr(f"CAST(coalesce({sql}, 0) AS BIGINT) AS {names[key]}") for key, sql in metrics.items()]
            self._frame = self._frame.observe(observation, *exprs)
            self.plan.metrics.append(Metric(observation, names, position=len(self.plan.metrics)))
        return self._frame

    @frame.setter
    def frame(self, value: DataFrame) -> None:
        self._frame = value

    def _observe(self, metrics: dict[str, str]) -> None:
        """Count (SQL aggregates) over the flow as it is now; whatever reads the flow later computes them."""
        self._pending.update(metrics)

    def _tally(self, condition: str) -> str:
        """A metric: the rows still in the flow where ``condition`` is true."""
        key = self._key("t")
        self._observe({key: f"count_if(coalesce({condition}, FALSE))"})
        return key

    def _count(self, label: str, what: str, condition: str) -> None:
        """Count the rows still in the flow where ``condition`` is true, as a counter in the manifest."""
        key = self._tally(condition)
        self.plan.counters.append((label, what, functools.partial(_value, key)))

    def _require(self, condition: str, diagnose: Callable[[int], PreplineError]) -> None:
        key = self._key("check")
        self._observe({key: f"count_if({condition})"})
        self.plan.checks.append(Check(key, diagnose))

    def _branch(self) -> None:
        """The flow is about to be read by one more consumer: keep it rather than computing it twice."""
        if self._expensive and self._readers_after[self._index + 1]:
            self.frame = self.frame.persist(StorageLevel.MEMORY_AND_DISK)
            self.plan.persisted.append(self.frame)
            self._expensive = False

    def _reject(self, label: str, bad: str, reason: str, values: dict[str, str] | None = None) -> None:
        """Send rows where ``bad`` is true to the rejected output; the flow keeps the others.

        ``values`` gives the text to write for some columns (the input's text, before parsing).
        """
        self._branch()
        bad = f"coalesce({bad}, FALSE)"
        values = values or {}
        types = self._types()
        rejected = self.frame.filter(expr(bad)).select(
            expr(f"CAST({q(ROW)} AS BIGINT) AS {q(ROW)}"),
            expr(f"{s(label)} AS _step"),
            expr(f"{reason} AS _reason"),
            *[expr(f"{values.get(c) or to_text(q(c), types[c])} AS {q(c)}") for c in self._visible()],
        )
        self.plan.rejected.append(rejected)
        self.plan.rejected_position = len(self.plan.metrics)
        self._reject_schemas.append(self._visible())
        self.frame = self.frame.filter(expr(f"NOT {bad}"))

    def _rejected_columns(self) -> list[str]:
        seen: list[str] = []
        for columns in self._reject_schemas:
            seen.extend(c for c in columns if c not in seen)
        return [*REJECT_COLUMNS, *seen]

    def _first_rows(self, frame: DataFrame, where: str, *columns: str) -> list[tuple[Any, ...]]:
        chosen = frame.filter(expr(where)).select(expr(q(ROW)), *[expr(c) for c in columns])
        return [tuple(r) for r in chosen.orderBy(q(ROW)).limit(3).collect()]

    def _input_policy(self, scan: Scan) -> None:
        policy = self.recipe.input.on_bad_value
        if not scan.bad_value_columns:
            if policy == "reject":
                self._reject_schemas.append(self._visible())
            return
        label = "0:input"
        any_bad = "(" + " OR ".join(q(BAD + c) for c in scan.bad_value_columns) + ")"
        if policy == "fail":
            checked = self.frame
            self._require(any_bad, lambda _: self._bad_value_error(checked, any_bad))
        else:
            for column in scan.bad_value_columns:
                verb = "rejected" if policy == "reject" else "read as null"
                self._count(label, f"values of {column!r} that are not a valid {self.schema[column]} ({verb})",
                            q(BAD + column))
        if policy == "reject":
            raw = {c: q(RAW + c) for c in scan.bad_value_columns}
            self._reject(label, any_bad, q(BAD_REASON), values=raw)
        self.frame = self.frame.drop(
            *[BAD + c for c in scan.bad_value_columns], *[RAW + c for c in scan.bad_value_columns], BAD_REASON
        )

    def _bad_value_error(self, frame: DataFrame, any_bad: str) -> DataError:
        rows = self._first_rows(frame, any_bad, q(BAD_REASON))
        detail = "; ".join(f"row {r[0]}, {r[1]}" for r in rows)
        return DataError(
            f"input {self.display} has values that do not match the recipe's column types: {detail}",
            hint="fix the data, change the column's type in input.columns, or set input.on_bad_value to "
            "null (read them as missing) or reject (keep those rows aside with the reason)",
        )

    # --- steps ----------------------------------------------------------------------------------

    def _check(self, step: m.CheckStep, label: str) -> None:
        """Rules: ``reject`` ones remove rows here; every rule's counts are metrics taken here."""
        for rule in step.check:
            check: dict[str, Any] = {"step": label, "rule": rule, "failing": None, "checked": None, "static": None}
            if rule.rule == "column_present":
                check["static"] = rule.column in self.present or (
                    rule.column in self.schema and rule.column not in self.declared
                )
            elif rule.rule == "row_count":
                check["checked"] = self._tally("TRUE")
            elif rule.rule == "unique" and rule.severity != "reject":
                # the rows repeating an earlier key (in input order), among rows whose key has no null:
                # the checked rows minus the distinct keys, as Polars counts them
                cols = rule.key_columns()
                known = " AND ".join(f"{q(c)} IS NOT NULL" for c in cols)
                keys = ", ".join(q(c) for c in cols)
                self.frame = self.frame.withColumn(
                    UNIQUE, expr(f"row_number() OVER (PARTITION BY {keys} ORDER BY {q(ROW)})"))
                check["checked"] = self._tally(known)
                check["failing"] = self._tally(f"{known} AND {q(UNIQUE)} > 1")
                check["distinct"] = True
                self.frame = self.frame.drop(UNIQUE)
            elif rule.rule == "max_missing":
                check["checked"] = self._tally("TRUE")
                check["failing"] = self._tally(f"{q(rule.column or '')} IS NULL")
            else:
                checked, ok, shown = self._row_rule(rule)
                failing = f"(({checked}) AND NOT coalesce({ok}, FALSE))"
                check["checked"] = self._tally(checked)
                check["failing"] = self._tally(failing)
                if rule.severity == "reject":
                    before, after = s(f"rule {rule.describe()} failed (value: "), s(")")
                    self._reject(label, failing, f"concat({before}, coalesce({shown}, 'null'), {after})")
                self.frame = self.frame.drop(UNIQUE)
            self.plan.rule_checks.append(check)

    def _row_rule(self, rule: m.Rule) -> tuple[str, str, str]:
        """(rows the rule looks at, whether each passes, the value as text to quote in a reason)."""
        types = self._types()
        if rule.rule == "unique":
            cols = rule.key_columns()
            keys = ", ".join(q(c) for c in cols)
            self.frame = self.frame.withColumn(UNIQUE, expr(f"count(1) OVER (PARTITION BY {keys})"))
            shown = ", ".join(f"coalesce({to_text(q(c), types[c])}, 'null')" for c in cols)
            return "TRUE", f"{q(UNIQUE)} = 1", f"concat_ws(', ', {shown})"
        column = q(rule.column or "")
        shown = to_text(column, types[rule.column or ""])
        if rule.rule == "not_null":
            return "TRUE", f"{column} IS NOT NULL", shown
        present = f"{column} IS NOT NULL"
        kind = self.schema[rule.column or ""]
        if rule.rule == "between":
            ok = [f"NOT isnan({column})"] if kind in ("float64", "float32") else ["TRUE"]
            if rule.min is not None:
                ok.append(f"{column} >= {lit(rule.min)}")
            if rule.max is not None:
                ok.append(f"{column} <= {lit(rule.max)}")
            return present, "(" + " AND ".join(ok) + ")", shown
        if rule.rule == "in_set":
            values = [convert(lit(v), _literal_type(v), kind) for v in rule.values or []]
            allowed = f"{column} IN ({', '.join(values)})" if values else "FALSE"
            return present, allowed, shown
        if rule.rule == "matches":
            return present, f"{column} RLIKE {s(rule.regex or '')}", shown
        return present, f"{convert(column, T.StringType(), rule.type or 'string')} IS NOT NULL", shown

    def _present(self, column: str) -> str:
        """The column with NaN as missing: as in pandas, a fill's statistics skip NaN and NaN is filled."""
        if self.schema[column] in ("float64", "float32"):
            return f"(CASE WHEN isnan({q(column)}) THEN NULL ELSE {q(column)} END)"
        return q(column)

    def _fill(self, step: m.FillStep, label: str) -> None:
        wanted: dict[str, str] = {}
        filled: dict[str, str] = {}
        for column, spec in step.fill.items():
            present = self._present(column)
            filled[column] = self._tally(f"{present} IS NULL")
            if spec == "median":
                wanted[column] = exact_median(present)
            elif spec == "mean":
                wanted[column] = f"avg({present})"
            elif spec == "mode":
                wanted[column] = f"mode({present}, true)"  # ties: the smallest value, as Polars' sorted mode
        if wanted:
            self._branch()
        found = self.stats(self.frame, wanted) if wanted else {}
        exprs: dict[str, Column] = {}
        for column, spec in step.fill.items():
            value = spec.value if isinstance(spec, m.FillConstant) else found[column]
            strategy = "constant" if isinstance(spec, m.FillConstant) else spec
            self.plan.fill_values.append({"step": label, "column": column, "strategy": strategy, "value": value})
            self.plan.filled.append(filled[column])
            if value is None:
                self.plan.notes.append(
                    f"{label}: column {column!r} has no values, so its {strategy} is undefined; nothing was filled"
                )
                continue
            target = sql_type(self.schema[column]) if spec != "mean" else "DOUBLE"
            exprs[column] = expr(
                f"coalesce(CAST({self._present(column)} AS {target}), CAST({lit(value)} AS {target}))"
            )
        if exprs:
            self.frame = self.frame.withColumns(exprs)
        for column, spec in step.fill.items():
            if spec == "mean" and self.schema[column] in ("int64", "int32"):
                self.schema[column] = "float64"

    def _extract_json(self, step: m.ExtractJsonStep, label: str) -> None:
        spec = step.extract_json
        fields = spec.field_specs()
        where = self.recipe.describe_step(self._index)
        source = q(spec.column)
        try:
            paths = {name: variant_path(parse_json_path(fld.path)) for name, fld in fields.items()}
        except EngineError as exc:
            raise EngineError(f"{where}: {exc.message}", hint=exc.hint) from None
        # Each stage is its own projection: Spark parses each value once, and the expressions stay
        # small (one CASE per field over nested calls would generate code too big to compile).
        self.frame = self.frame.withColumn(JSON, expr(f"try_parse_json({source})"))
        found = {name: f"__json_found_{i}" for i, name in enumerate(fields)}
        self.frame = self.frame.withColumns(
            {found[n]: expr(f"try_variant_get({q(JSON)}, {s(paths[n])}, 'variant')") for n in fields}
        )
        kinds = {name: f"__json_kind_{i}" for i, name in enumerate(fields)}
        numbers = {name: f"__json_number_{i}" for i, name in enumerate(fields)}
        self.frame = self.frame.withColumns(
            {kinds[n]: expr(f"schema_of_variant({q(found[n])})") for n in fields}
            | {numbers[n]: expr(f"try_variant_get({q(found[n])}, '$', 'double')") for n in fields}
        )
        texts = {name: f"__json_text_{i}" for i, name in enumerate(fields)}
        self.frame = self.frame.withColumns(
            {texts[n]: expr(json_text(q(found[n]), q(kinds[n]), q(numbers[n]), source, paths[n])) for n in fields}
        )
        problem, typed = json_problems(source, q(JSON), {n: (f, q(texts[n])) for n, f in fields.items()})
        # the parsed value is not kept: a persisted frame holds the fields' text and the problem only
        self.frame = self.frame.withColumn(PROBLEM, expr(problem)).drop(
            JSON, *found.values(), *kinds.values(), *numbers.values()
        )
        self._expensive = True
        invalid = f"{q(PROBLEM)} IS NOT NULL"
        if spec.on_invalid == "reject":
            prefix = s(f"column '{spec.column}': ")
            self._reject(label, invalid, f"concat({prefix}, {q(PROBLEM)})")
        elif spec.on_invalid == "null":
            what = f"values of {spec.column!r} that are not a JSON object with the expected field types (fields set to null)"
            self._count(label, what, invalid)
        else:
            checked = self.frame
            self._require(invalid, lambda _: self._json_error(checked, where, spec.column))
        self.frame = self.frame.withColumns(
            {n: expr(f"CASE WHEN {q(PROBLEM)} IS NULL THEN {typed[n]} END") for n in fields}
        ).drop(PROBLEM, *texts.values())
        if spec.drop_source:
            self.frame = self.frame.drop(spec.column)
            del self.schema[spec.column]
        for name, fld in fields.items():
            self.schema[name] = fld.type

    def _json_error(self, frame: DataFrame, where: str, column: str) -> DataError:
        rows = self._first_rows(frame, f"{q(PROBLEM)} IS NOT NULL", q(PROBLEM), q(column))
        examples = "; ".join(f"row {r[0]}: {r[1]} ({_clip(r[2])!r})" for r in rows)
        return DataError(
            f"{where}: input {self.display} has values in column {column!r} that are "
            f"not JSON objects with the expected fields ({examples})",
            hint="fix those rows, or set on_invalid: reject (rows go to the rejected output with the "
            "reason) or on_invalid: null in this step",
        )

    def _derive(self, step: m.DeriveStep, label: str) -> None:
        exprs = step.expressions()
        before = dict(self.schema)
        self.frame = self.frame.withColumns({name: expr(to_sql(x, before)) for name, x in exprs.items()})
        for name, x in exprs.items():
            self.schema[name] = infer_type(x, before)
        # a result nothing typed (a bare null) still needs a type a file can hold
        void = [f.name for f in self.frame.schema.fields if isinstance(f.dataType, T.NullType)]
        if void:
            self.frame = self.frame.withColumns({c: expr(f"CAST({q(c)} AS {sql_type(self.schema[c])})") for c in void})

    def _bin(self, step: m.BinStep, label: str) -> None:
        spec = step.bin
        x = f"CAST({q(spec.column)} AS DOUBLE)"
        labels = spec.bin_labels()
        cases = []
        for i, (lo, hi) in enumerate(zip(spec.edges, spec.edges[1:], strict=False)):
            if spec.right:
                low_ok = f"{x} >= {lit(lo)}" if (i == 0 and spec.include_lowest) else f"{x} > {lit(lo)}"
                cond = f"{low_ok} AND {x} <= {lit(hi)}"
            else:
                cond = f"{x} >= {lit(lo)} AND {x} < {lit(hi)}"
            cases.append(f"WHEN {cond} AND NOT isnan({x}) THEN {s(labels[i])}")
        binned = f"(CASE {' '.join(cases)} END)"
        target = spec.into or spec.column
        self._count(label, f"values of {spec.column!r} outside every bin (set to null in {target!r})",
                    f"{q(spec.column)} IS NOT NULL AND {binned} IS NULL")
        self.frame = self.frame.withColumn(target, expr(binned))
        self.schema[target] = "string"

    def _drop(self, step: m.DropStep, label: str) -> None:
        self.frame = self.frame.drop(*step.drop)
        for column in step.drop:
            del self.schema[column]

    def _rename(self, step: m.RenameStep, label: str) -> None:
        self.frame = self.frame.withColumnsRenamed(step.rename)
        self.schema = {step.rename.get(k, k): v for k, v in self.schema.items()}

    def _cast(self, step: m.CastStep, label: str) -> None:
        where = self.recipe.describe_step(self._index)
        for column, spec in step.specs().items():
            source = self._types()[column]
            raw = q(column)
            converted = convert(raw, source, spec.to)
            bad = f"({raw} IS NOT NULL AND {converted} IS NULL)"
            before, after = s(f"column '{column}': "), s(f" is not a valid {spec.to}")
            reason = f"concat({before}, {to_text(raw, source)}, {after})"
            if spec.on_error == "fail":
                checked = self.frame
                self._require(bad, functools.partial(self._cast_error, checked, bad, column, spec.to, where))
            elif spec.on_error == "reject":
                self._reject(label, bad, reason)
            else:
                self._count(label, f"values of {column!r} that are not a valid {spec.to} (set to null)", bad)
            self.frame = self.frame.withColumn(column, expr(converted))
            self.schema[column] = spec.to
        self._expensive = True

    def _cast_error(self, frame: DataFrame, bad: str, column: str, to: str, where: str, count: int) -> DataError:
        rows = self._first_rows(frame, bad, f"CAST({q(column)} AS STRING)")
        values = "[" + ", ".join(json.dumps(r[1], ensure_ascii=False) for r in rows) + (", ...]" if count > len(rows) else "]")
        problem = "are neither true nor false" if to == "bool" else f"do not convert to {to}"
        detail = f"{count} value(s) of column {column!r} {problem}: {values} (row {', '.join(str(r[0]) for r in rows)})"
        return DataError(
            f"{where}: a cast failed on {self.display}: {detail}",
            hint="fix the values, or set on_error: null or reject on that cast",
        )

    def _filter(self, step: m.FilterStep, label: str) -> None:
        spec = step.spec()
        keep = f"coalesce({to_sql(parse_expression(spec.where), self.schema)}, FALSE)"
        if spec.reject:
            self._reject(label, f"NOT {keep}", s(f"filter {spec.where!r} is not true"))
        else:
            self._count(label, f"rows removed by the filter {spec.where!r}", f"NOT {keep}")
            self.frame = self.frame.filter(expr(keep))

    def _dedupe(self, step: m.DedupeStep, label: str) -> None:
        subset = step.dedupe.columns or self._visible()
        before, after = self._key("before"), self._key("after")
        self._observe({before: "count(1)"})
        direction = "ASC" if step.dedupe.keep == "first" else "DESC"
        keys = ", ".join(q(c) for c in subset)
        self.frame = (
            self.frame.withColumn("__dedupe", expr(f"row_number() OVER (PARTITION BY {keys} ORDER BY {q(ROW)} {direction})"))
            .filter("__dedupe = 1")
            .drop("__dedupe")
        )
        self._observe({after: "count(1)"})
        self.plan.counters.append(
            (label, f"duplicate rows removed (key: {', '.join(subset)})", functools.partial(_difference, before, after))
        )
        self._expensive = True

    def _output(self, step: m.OutputStep, label: str) -> None:
        spec = step.spec()
        self._branch()
        columns = spec.columns or self._visible()
        frame = self.frame.select(*[expr(q(c)) for c in columns], expr(f"0 AS {ORDER[0]}"),
                                  expr(f"{q(ROW)} AS {ORDER[1]}"))
        self.plan.outputs[spec.name] = Output(frame, columns, position=len(self.plan.metrics))

    def _aggregate(self, step: m.AggregateStep, label: str) -> None:
        spec = step.aggregate
        keys = spec.keys()
        self._branch()
        aggs = []
        for name, (func, column) in spec.aggregations().items():
            c = q(column)
            floating = column != "*" and self.schema[column] in ("float64", "float32")
            if func == "count":
                agg = "count(1)" if column == "*" else f"count({c})"
            elif func == "mean":
                agg = f"avg({c})"
            elif func == "sum":
                agg = f"coalesce(sum({c}), 0)"  # Polars: the sum of nothing is 0
            elif func == "median":
                agg = exact_median(c)
            elif floating:  # Polars' min and max skip NaN unless every value is NaN
                agg = f"coalesce({func}(CASE WHEN NOT isnan({c}) THEN {c} END), {func}({c}))"
            else:
                agg = f"{func}({c})"
            aggs.append(expr(f"{agg} AS {q(name)}"))
        out_schema = aggregate_schema(spec, self.schema)
        grouped = self.frame.groupBy(*[expr(f"{q(c)} AS {q(n)}") for n, c in keys.items()]).agg(*aggs)
        order = ", ".join(f"{q(n)} ASC NULLS LAST" for n in keys)
        frame = grouped.select(
            *[expr(f"CAST({q(n)} AS {sql_type(t)}) AS {q(n)}") for n, t in out_schema.items()],
            expr(f"0 AS {ORDER[0]}"),
            # one group per row: the rank in key order is the file's order (partitioned by a
            # constant so Spark does not warn that a window without partitions is one partition)
            expr(f"CAST(row_number() OVER (PARTITION BY 0 ORDER BY {order}) AS BIGINT) AS {ORDER[1]}"),
        )
        self.plan.outputs[spec.name] = Output(frame, list(out_schema), position=len(self.plan.metrics))


    def _split(self, step: m.SplitStep, label: str) -> None:
        """Each part: the rows whose key hashes into its range (see :mod:`prepline.recipe.split`)."""
        spec = step.split
        names = list(spec.parts)
        keys = spec.key_columns()
        types = self._types()
        texts = [f"coalesce({to_text(q(c), types[c])}, '')" for c in keys]
        text = texts[0] if len(texts) == 1 else f"concat_ws(chr({ord(sp.KEY_SEPARATOR)}), {', '.join(texts)})"
        self.frame = with_split_hash(self.frame, text, HASH)
        bounds = sp.thresholds(list(spec.parts.values()))
        cases = " ".join(f"WHEN {q(HASH)} < {bound} THEN {j}" for j, bound in enumerate(bounds[:-1]))
        self.frame = self.frame.withColumn(PART, expr(f"CASE {cases} ELSE {len(names) - 1} END")).drop(HASH)
        missing = " OR ".join(f"{q(c)} IS NULL" for c in keys)
        self._count(label, f"rows whose split key ({', '.join(keys)}) is missing (hashed as empty text)", missing)
        # every part (and the strata count) reads the flow: keep it rather than computing it per part
        self.frame = self.frame.persist(StorageLevel.MEMORY_AND_DISK)
        self.plan.persisted.append(self.frame)
        self._expensive = False
        columns = spec.columns or self._visible()
        for j, name in enumerate(names):
            frame = self.frame.filter(expr(f"{q(PART)} = {j}")).select(
                *[expr(q(c)) for c in columns], expr(f"0 AS {ORDER[0]}"), expr(f"{q(ROW)} AS {ORDER[1]}"))
            self.plan.outputs[name] = Output(frame, columns, position=len(self.plan.metrics))
        if spec.stratify is not None:
            stratum = to_text(q(spec.stratify), types[spec.stratify])
            self.plan.strata.append(Strata(label, names, self.frame, stratum))
        self.plan.splits.append(label)
        self.frame = self.frame.drop(PART)


# --- split ----------------------------------------------------------------------------------------------

HASH = "__split_hash"
PART = "__split_part"


def with_split_hash(frame: DataFrame, text: str, name: str) -> DataFrame:
    """``frame`` with column ``name``: ``prepline.recipe.split.split_hash`` of the SQL text ``text``.

    The UTF-8 bytes as hex, zero-padded to whole 4-byte chunks, are cut into chunks with a
    regular expression and folded with ``transform``/``aggregate``; every product is of two
    residues below 2**31, so BIGINT arithmetic never overflows, ANSI mode or not.
    """
    m_ = sp.MODULUS

    def pow5(x: str) -> str:
        square = f"pmod({x} * {x}, {m_})"
        return f"pmod(pmod({square} * {square}, {m_}) * {x}, {m_})"

    digits = 2 * sp.CHUNK_BYTES
    hexed = f"hex(encode({text}, 'UTF-8'))"
    padded = f"rpad({hexed}, CAST(ceil(length({hexed}) / {digits}) * {digits} AS INT), '0')"
    chunks = f"regexp_extract_all({padded}, {s(f'[0-9A-F]{{{digits}}}')}, 0)"
    residues = f"transform({chunks}, (c, i) -> pmod(CAST(conv(c, 16, 10) AS BIGINT) + (CAST(i AS BIGINT) + 1) * {sp.POSITION}, {m_}))"
    terms = f"aggregate(transform({residues}, x -> {pow5('x')}), CAST(0 AS BIGINT), (acc, y) -> acc + y)"
    length = f"CAST(octet_length({text}) AS BIGINT)"
    frame = frame.withColumn("__sh_s", expr(f"pmod(pmod({length} * {sp.LENGTH_FACTOR} + {terms}, {m_}) + {sp.ROUND_ADD}, {m_})"))
    frame = frame.withColumn("__sh_s", expr(pow5(q("__sh_s"))))
    frame = frame.withColumn("__sh_s", expr(f"pmod({q('__sh_s')} * {sp.ROUND_MUL} + {sp.FINAL_ADD}, {m_})"))
    return frame.withColumn(name, expr(pow5(q("__sh_s")))).drop("__sh_s")


def exact_median(column: str) -> str:
    """The mean of the two middle values, as pandas and Polars compute it.

    Spark's ``median`` interpolates ``lo + (hi - lo) * 0.5``, which is NaN for ``[-inf, 0]``; the
    two middle values are taken separately instead (the upper one as the lower middle in descending
    order) and averaged, so ``(-inf + 0) / 2`` is ``-inf`` on both engines.
    """
    lower = f"percentile_disc(0.5) WITHIN GROUP (ORDER BY {column})"
    upper = f"percentile_disc(0.5) WITHIN GROUP (ORDER BY {column} DESC)"
    return f"((CAST({lower} AS DOUBLE) + CAST({upper} AS DOUBLE)) / 2)"


# --- JSON ------------------------------------------------------------------------------------------------


def variant_path(keys: tuple[str, ...]) -> str:
    """``("a", "b c")`` -> ``$['a']['b c']``, a path both variant_get and get_json_object read."""
    parts = []
    for key in keys:
        if "'" in key:
            raise EngineError(f"the spark engine cannot read a JSON member whose name has a quote ({key!r})",
                              hint="run this recipe with --engine polars")
        parts.append(f"['{key}']")
    return "$" + "".join(parts)


def json_text(found: str, kind: str, number: str, source: str, path: str) -> str:
    """A field's value (``found``, a VARIANT) as text, as Polars' ``json_path_match`` gives it.

    Strings as they are, numbers as Polars prints them (a whole number exactly when it fits in
    64 bits, anything else as a float: ``1e+20``, ``2.5``), true/false, JSON null as null, and
    objects or arrays as their compact JSON text in the document's key order. ``kind`` is
    ``schema_of_variant(found)``, ``number`` the value as a double; all three are column references.
    """
    text = f"try_variant_get({found}, '$', 'string')"
    whole = f"try_variant_get({found}, '$', 'decimal(38,0)')"
    return (
        f"(CASE WHEN {found} IS NULL OR is_variant_null({found}) THEN CAST(NULL AS STRING) "
        f"WHEN {kind} IN ('STRING', 'BOOLEAN', 'BIGINT', 'INT', 'SMALLINT', 'TINYINT') THEN {text} "
        f"WHEN startswith({kind}, 'DECIMAL') AND endswith({kind}, ',0)') "
        f"AND {whole} BETWEEN -9223372036854775808BD AND 18446744073709551615BD THEN {text} "
        f"WHEN startswith({kind}, 'DECIMAL') OR {kind} IN ('DOUBLE', 'FLOAT') THEN {float_text(number)} "
        f"WHEN startswith({kind}, 'OBJECT') OR startswith({kind}, 'ARRAY') THEN get_json_object({source}, {s(path)}) "
        f"ELSE {text} END)"
    )


def strict_json(text: str, parsed: str | None = None) -> str:
    """Whether ``text`` is one JSON value and nothing else (Spark's parsers stop after the first value)."""
    parsed = f"try_parse_json({text})" if parsed is None else parsed
    alone = f"coalesce(json_array_length(concat('[', {text}, ']')) = 1, FALSE)"
    return f"({parsed} IS NOT NULL AND {alone})"


def json_value(text: str, kind: str) -> str:
    """A JSON field's text as ``kind``, NULL when it does not convert; 3.0 and 1e3 are whole numbers."""
    if kind in INTEGRAL:
        number = convert(text, T.StringType(), "float64")
        whole = f"(CASE WHEN {number} = {float_floor(number)} THEN {convert(number, T.DoubleType(), kind)} END)"
        return f"coalesce({convert(text, T.StringType(), kind)}, {whole})"
    return convert(text, T.StringType(), kind)


def json_problems(source: str, parsed: str, fields: dict[str, tuple[m.JsonField, str]]) -> tuple[str, dict[str, str]]:
    """Row-level checks of a JSON text column: (why the row's value is invalid or NULL, typed fields).

    A value is invalid when it is not a JSON object (JSON ``null`` and missing values are fine),
    when a text field holds an object or an array, or when a typed field does not convert.
    """
    is_object = f"({strict_json(source, parsed)} AND {source} RLIKE {OBJECT_START})"
    valid = f"({source} IS NULL OR btrim({source}, {s(WHITESPACE)}) = 'null' OR {is_object})"
    problems = [f"CASE WHEN NOT {valid} THEN 'not a JSON object' END"]
    typed = {}
    for name, (fld, text) in fields.items():
        typed[name] = text if fld.type == "string" else json_value(text, fld.type)
        if fld.type == "string":
            nested = f"({text} RLIKE {NESTED_START} AND {strict_json(text)})"
            problems.append(f"CASE WHEN {nested} THEN {s(f'field {fld.path} is an object or array, not text')} END")
        else:
            wrong = f"({text} IS NOT NULL AND {typed[name]} IS NULL)"
            before, after = s(f"field {fld.path} is "), s(f", not a valid {fld.type}")
            problems.append(f"CASE WHEN {wrong} THEN concat({before}, {text}, {after}) END")
    return f"coalesce({', '.join(problems)})", typed


# --- helpers ---------------------------------------------------------------------------------------------


def _readers_after(recipe: m.Recipe) -> list[bool]:
    """``[i]``: whether a step at index >= i reads the flow into an output, a statistic or rejected rows."""
    def reads(step: Any) -> bool:
        if isinstance(step, (m.OutputStep, m.AggregateStep, m.FillStep, m.SplitStep)):
            return True
        if isinstance(step, m.CheckStep):
            return any(rule.severity == "reject" for rule in step.check)
        if isinstance(step, m.ExtractJsonStep):
            return step.extract_json.on_invalid == "reject"
        if isinstance(step, m.CastStep):
            return any(spec.on_error == "reject" for spec in step.specs().values())
        if isinstance(step, m.FilterStep):
            return step.spec().reject
        return False

    flags = [False] * (len(recipe.steps) + 1)
    for i in range(len(recipe.steps) - 1, -1, -1):
        flags[i] = flags[i + 1] or reads(recipe.steps[i])
    return flags


def _value(key: str, values: dict[str, int]) -> int:
    return values[key]


def _difference(first: str, second: str, values: dict[str, int]) -> int:
    return values[first] - values[second]


def _literal_type(value: Any) -> T.DataType:
    if isinstance(value, bool):
        return T.BooleanType()
    if isinstance(value, int):
        return T.LongType() if not -(2**31) <= value < 2**31 else T.IntegerType()
    if isinstance(value, float):
        return T.DoubleType()
    return T.StringType()


def _clip(value: str | None, limit: int = 60) -> str | None:
    if value is None:
        return None
    return value if len(value) <= limit else value[:limit] + "..."
