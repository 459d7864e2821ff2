"""Run a compiled recipe with Polars' streaming engine and translate its failures into prepline errors."""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import polars as pl

from prepline.engines import textcheck
from prepline.engines.base import REJECTED, ROW, Counter, EngineResult, InputSource, RunRequest
from prepline.engines.polars import onepass
from prepline.engines.polars.expressions import type_name
from prepline.engines.polars.read import Scan, read_error, scan
from prepline.engines.polars.steps import (
    JSON_CHECK,
    Compiler,
    MedianByCounts,
    Plan,
    json_problems,
    neutralized,
    statistics_prefix,
)
from prepline.errors import DataError, EngineError, InputError
from prepline.recipe import model as m
from prepline.recipe.model import STEP_MODELS
from prepline.storage import object_store_error

ENGINE = "streaming"


class _JsonFailure(Exception):
    """A JSON value did not decode on the fast path (one parse per value, no row checks)."""


class PolarsEngine:
    name = "polars"
    capabilities = frozenset(STEP_MODELS)
    parquet_codecs = frozenset({"zstd", "snappy", "gzip", "lz4", "brotli", "uncompressed"})
    parquet_levels = frozenset({"zstd", "gzip", "brotli"})

    def version(self) -> str:
        return pl.__version__

    def run(self, request: RunRequest) -> EngineResult:
        started = time.perf_counter()
        try:
            result = self._attempt(request, tolerant_json=False)
        except _JsonFailure:
            # Some JSON value is invalid or shaped unexpectedly. Name it if the recipe says fail;
            # otherwise run again with row-level checks (about 4 parses per value instead of 1).
            self._raise_for_invalid_json(request)
            result = self._attempt(request, tolerant_json=True)
            result.notes.append(
                "some JSON values did not decode in one pass; the recipe ran again with row-level JSON checks"
            )
        result.seconds["total"] = round(time.perf_counter() - started, 4)
        return result

    # --- one attempt ------------------------------------------------------------------------------

    def _attempt(self, request: RunRequest, tolerant_json: bool) -> EngineResult:
        t0 = time.perf_counter()
        statistics: dict[str, dict[str, Any]] = {}

        def stats(label: str, frame: pl.LazyFrame, wanted: dict[str, Any]) -> dict[str, Any]:
            if label not in statistics:  # computed once, by the main compile; the audit reuses them
                statistics[label] = _statistics(frame, wanted)
            return statistics[label]

        with _polars_errors(request):
            input_scan = scan(request.source, request.recipe.input)
            fmt = request.output_format
            if input_scan.unfiltered is not None and (upto := statistics_prefix(request.recipe)):
                # the first statistics from a scan that parses only their columns (see statistics_prefix)
                first = request.recipe.model_copy(update={"steps": request.recipe.steps[:upto]})
                Compiler(first, replace(input_scan, frame=input_scan.unfiltered), stats, tolerant_json, run_format=fmt).compile()
            plan = Compiler(request.recipe, input_scan, stats, tolerant_json, run_format=fmt).compile()
            audit = Compiler(request.recipe, input_scan, stats, tolerant_json, mode="audit", run_format=fmt).compile()
            writer = _Writer(request, plan)
            json_keys = [k for k, (_, what) in audit.count_labels.items() if what == JSON_CHECK]
            t1 = time.perf_counter()
            single = onepass.applies(audit)
            if single:
                # every output but the rejected one, and the counts, from one read (see onepass)
                try:
                    passed = onepass.run(audit, writer, json_keys)
                except onepass.JsonCheckFailed:
                    raise _JsonFailure() from None
                counts, neutral = _audit_counts(audit, passed.counts) | passed.distinct, passed.neutralized
            else:
                assert audit.audit is not None
                counts = _audit_counts(audit, audit.audit.collect(engine=ENGINE))
            for key, query in audit.distinct_queries.items():
                if key not in counts:
                    counts[key] = query.collect(engine=ENGINE).item()
            t2 = time.perf_counter()
            if any(counts[k] for k in json_keys):
                raise _JsonFailure()  # a JSON field did not convert on the one-parse path
            rejected_rows = sum(int(counts[k] or 0) for k in audit.reject_tallies)
            if single:
                found = passed.formulas
            else:
                # formula cells per output and column, counted by the audit; neutralized where there are some
                found = {name: {column: sum(int(counts[k] or 0) for k in keys) for column, keys in by_column.items()}
                         for name, by_column in audit.neutralized.items()}
                neutral = writer.write_all({name: [c for c, n in by_column.items() if n] for name, by_column in found.items()})
            found |= writer.write_rejected(rejected_rows)
            writer.finish()
        t3 = time.perf_counter()
        files = writer.files
        for name, by_column in found.items():
            if name in files:
                neutral[name] = sum(by_column.values())
        fills = _with_filled_counts(plan.fill_values, audit.count_labels, counts)
        rules = [rule_result(check, counts) for check in audit.rule_checks]
        counters = [
            Counter(step=step, what=what, count=int(counts[key] or 0))
            for key, (step, what) in audit.count_labels.items()
            if what != JSON_CHECK and not what.startswith(FILLED)
        ]
        # one pass: "execute" is the pass (outputs and counts); two passes: the audit, then the sinks
        seconds = ({"plan_and_statistics": round(t1 - t0, 4), "execute": round(t3 - t1, 4)} if single else
                   {"plan_and_statistics": round(t1 - t0, 4), "audit": round(t2 - t1, 4), "execute": round(t3 - t2, 4)})
        return EngineResult(
            files=files,
            rows_out=_rows_out(audit, counts, rejected_rows) | {name: _rows_written(files[name]) for name in plan.aggregates},
            rows_in=int(counts["n_rows"]),
            fill_values=fills,
            counters=counters,
            rules=rules,
            schemas=_schemas(plan),
            neutralized={name: neutral.get(name, 0) for name in files
                         if request.recipe.write_spec(name, request.output_format).neutralize},
            splits=[_strata(request.recipe, label, audit.strata.get(label), counts) for label in audit.splits],
            notes=list(plan.notes),
            seconds=seconds,
        )

    # --- diagnosis ------------------------------------------------------------------------------

    def _raise_for_invalid_json(self, request: RunRequest) -> None:
        recipe = request.recipe
        strict_steps = [
            (i, s.extract_json) for i, s in enumerate(recipe.steps)
            if isinstance(s, m.ExtractJsonStep) and s.extract_json.on_invalid == "fail"
        ]
        if not strict_steps:
            return
        with _polars_errors(request):
            frame = scan(request.source, recipe.input).frame
        unchecked = False
        for index, spec in strict_steps:
            where = recipe.describe_step(index)
            if spec.column not in frame.collect_schema().names():
                unchecked = True  # made by an earlier step: not in the input to look at
                continue
            problem, _ = json_problems(pl.col(spec.column), spec.field_specs())
            rows = frame.filter(problem.is_not_null()).select(ROW, problem, spec.column).head(3).collect()
            if rows.height:
                examples = "; ".join(f"row {r[0]}: {r[1]} ({_clip(r[2])!r})" for r in rows.iter_rows())
                raise DataError(
                    f"{where}: input {request.source.display} has values in column {spec.column!r} that are "
                    f"not JSON objects with the expected fields ({examples})",
                    hint="fix those rows, or set on_invalid: reject (rows go to the rejected output with the "
                    "reason) or on_invalid: null in this step",
                )
        if unchecked:
            raise DataError(
                f"a JSON value in {request.source.display} is not an object or has a field of an unexpected type "
                "(for example an object where text was expected)",
                hint="set on_invalid: reject or null on the extract_json step to see which rows",
            )
        # the invalid values are in a step whose policy is null or reject: the re-run handles them


class _Writer:
    """Where and how each output is written: its file (a partitioned output: its folder), CSV
    formula neutralization, Parquet options; the rejected rows' own query."""

    def __init__(self, request: RunRequest, plan: Plan):
        self.plan = plan
        names = [*plan.outputs, *([REJECTED] if plan.rejected_columns else [])]
        self.specs = {name: request.recipe.write_spec(name, request.output_format) for name in names}
        self.files: dict[str, Any] = {
            name: request.output_dir / (name if spec.partition_by else f"{name}.{spec.format}")
            for name, spec in self.specs.items()
        }
        self.spill_dir = request.output_dir / onepass.SPILL

    def format(self, name: str) -> str:
        return self.specs[name].format

    def neutralizes(self, name: str) -> bool:
        return self.specs[name].format == "csv" and self.specs[name].neutralize

    def sink(self, frame: pl.LazyFrame, name: str, formulas: list[str] | None = None) -> pl.LazyFrame:
        """The lazy sink writing ``frame`` as output ``name`` (neutralizing ``formulas``' cells in a CSV)."""
        spec, path = self.specs[name], self.files[name]
        if spec.format == "csv":
            columns = (formulas or []) if spec.neutralize else []
            return (frame.with_columns([neutralized(c) for c in columns]) if columns else frame).sink_csv(path, lazy=True)
        options = spec.parquet
        target: Any = path
        if options.partition_by is not None:
            column = options.partition_by
            key = pl.col(column)
            if frame.collect_schema()[column] == pl.String:
                key = pl.when(key != "").then(key)  # empty text is the null partition, as on Spark
            target = pl.PartitionBy(path, key={column: key}, include_key=False)
        return frame.sink_parquet(
            target, compression=options.compression, compression_level=options.compression_level,
            row_group_size=options.row_group_size, mkdir=True, lazy=True,
        )

    def write_collected(self, frame: pl.DataFrame, name: str) -> int:
        """Write a collected CSV output (an aggregate: one row per group), neutralizing every
        formula cell; returns how many there were."""
        return sum(onepass.write_csv_batches(frame.lazy(), self.files[name], neutralize=True).values())

    def write_all(self, formulas: dict[str, list[str]]) -> dict[str, int]:
        """Every output but the rejected one, in one streaming pass of sinks only (so no frame is
        held in memory). CSV formula cells are neutralized in the columns where the audit found
        some (``formulas``): on clean data, none, and writing costs nothing more. Aggregates
        written as CSV are collected (one row per group) so that their formula cells, which the
        audit pass cannot see, are counted as they are neutralized. Returns those counts."""
        plan = self.plan
        collected = [n for n in plan.aggregates if self.neutralizes(n)]
        sinks = [self.sink(frame, name, formulas.get(name)) for name, frame in plan.outputs.items() if name not in collected]
        results = pl.collect_all([*sinks, *[plan.outputs[n] for n in collected]], engine=ENGINE)
        return {name: self.write_collected(frame, name)
                for name, frame in zip(collected, results[len(sinks):], strict=True)}

    def write_rejected(self, rejected_rows: int) -> dict[str, dict[str, int]]:
        """The rejected rows. They are a branch off the middle of the flow, which would make
        Polars cache the whole frame: they have their own query, which reads the input again
        only when the audit counted some. A CSV is written batch by batch, finding and
        neutralizing its formula cells. Returns {rejected: {column: formula cells}} (CSV)."""
        plan = self.plan
        if not plan.rejected_columns:
            return {}
        rejected = _rejected_frame(plan if rejected_rows else Plan(rejected_columns=plan.rejected_columns))
        if self.format(REJECTED) != "csv":
            pl.collect_all([self.sink(rejected, REJECTED)], engine=ENGINE)
            return {}
        return {REJECTED: onepass.write_csv_batches(rejected, self.files[REJECTED], self.neutralizes(REJECTED))}

    def finish(self) -> None:
        for name, spec in self.specs.items():
            if spec.partition_by:
                self.files[name].mkdir(exist_ok=True)  # no rows, no partition: still an (empty) dataset


FILLED = "missing values of "


def _schemas(plan: Plan) -> dict[str, dict[str, str]]:
    """Each output's columns and types as written (resolving a lazy frame's schema reads no data)."""
    found = {name: {c: type_name(t) for c, t in frame.collect_schema().items()} for name, frame in plan.outputs.items()}
    if plan.rejected_columns:
        found[REJECTED] = {c: type_name(t) for c, t in
                           _rejected_frame(Plan(rejected_columns=plan.rejected_columns)).collect_schema().items()}
    return found


def _strata(recipe: m.Recipe, label: str, key: str | None, counts: dict[str, Any]) -> dict[str, Any]:
    """A split step's rows per (stratum, part), from the audit's value counts."""
    step = recipe.steps[int(label.split(":", 1)[0]) - 1]
    assert isinstance(step, m.SplitStep)
    if key is None:
        return {"step": label, "strata": None}
    names = list(step.split.parts)
    found: dict[str | None, dict[str, int]] = {}
    for entry in counts[key] or []:
        group, n = entry[key], int(entry["n"])
        found.setdefault(group["stratum"], dict.fromkeys(names, 0))[names[group["part"]]] += n
    ordered = sorted(found, key=lambda v: (v is None, v or ""))
    return {"step": label, "strata": [{"value": v, "rows": found[v]} for v in ordered]}


def _statistics(frame: pl.LazyFrame, wanted: dict[str, Any]) -> dict[str, Any]:
    """Every statistic a fill needs, in streaming passes that read only the columns involved:
    one for means and modes, one for every median."""
    plain = {k: e for k, e in wanted.items() if not isinstance(e, MedianByCounts)}
    counted = {k: e for k, e in wanted.items() if isinstance(e, MedianByCounts)}
    found: dict[str, Any] = {}
    if plain:
        row = frame.select([e.alias(k) for k, e in plain.items()]).collect(engine=ENGINE)
        found.update(row.row(0, named=True) if row.height else dict.fromkeys(plain))
    if counted:
        for key, counts in _value_counts(frame, counted).items():
            found[key] = _median_of_counts(counts)
    return found


MERGE_EVERY = 16  # value counts of this many batches are merged into one (memory: distinct values, not rows)


def _value_counts(frame: pl.LazyFrame, medians: dict[str, MedianByCounts]) -> dict[str, pl.DataFrame]:
    """Each median's values and how often each occurs (NaN and nulls left out), from one
    streaming read: counted batch by batch and merged as they come. (One query per median
    would read the input once each; one query grouping each column would make Polars hold
    the columns.)"""
    names = {key: f"__v{i}" for i, key in enumerate(medians)}
    query = frame.select([median.values.alias(names[key]) for key, median in medians.items()])
    parts: dict[str, list[pl.DataFrame]] = {key: [] for key in medians}
    for batch in query.collect_batches(chunk_size=onepass.MAX_BATCH_ROWS, engine=ENGINE):
        for key, name in names.items():
            values = batch.get_column(name).drop_nulls()
            if values.dtype.is_float():
                values = values.filter(values.is_not_nan())
            parts[key].append(values.rename("v").value_counts(name="n"))
            if len(parts[key]) >= MERGE_EVERY:
                parts[key] = [_merged_counts(parts[key])]
    return {key: _merged_counts(found) if found else pl.DataFrame(schema={"v": pl.Float64, "n": pl.UInt32})
            for key, found in parts.items()}


def _merged_counts(parts: list[pl.DataFrame]) -> pl.DataFrame:
    return pl.concat(parts).group_by("v").agg(pl.col("n").sum())


def _median_of_counts(counts: pl.DataFrame) -> float | None:
    """pandas' median (the mean of the two middle values for an even count) from value counts."""
    if counts.height == 0:
        return None
    ordered = counts.sort("v").with_columns(pl.col("n").cum_sum().alias("upto"))
    total = int(ordered["upto"][-1])
    middle = [(total - 1) // 2, total // 2]  # 0-based positions of the middle value(s)
    values = [float(ordered.filter(pl.col("upto") > pos)["v"][0]) for pos in middle]
    return (values[0] + values[1]) / 2


def _with_filled_counts(fills: list[dict[str, Any]], labels: dict[str, tuple[str, str]], counts: dict[str, Any]) -> list[dict[str, Any]]:
    """Each fill with the number of values it filled (counted by the audit flags)."""
    by_label = {(step, what): int(counts[key] or 0) for key, (step, what) in labels.items()}
    return [dict(f, filled=by_label.get((f["step"], f"{FILLED}{f['column']!r} filled"), 0)) for f in fills]


def rule_result(check: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """A rule's outcome from the audit's counts, for the manifest and the report."""
    rule = check["rule"]
    checked = int(counts[check["checked"]] or 0) if check["checked"] else None
    failing = int(counts[check["failing"]] or 0) if check["failing"] else None
    if check.get("distinct"):
        failing = (checked or 0) - int(counts[check["distinct"]] or 0)
    if rule.rule == "column_present":
        passed, message = bool(check["static"]), "present" if check["static"] else f"column {rule.column!r} is absent"
    elif rule.rule == "row_count":
        n = checked or 0
        passed = (rule.min is None or n >= rule.min) and (rule.max is None or n <= rule.max)
        message = f"{n:,} rows"
    elif rule.rule == "max_missing":
        share = (failing or 0) / checked if checked else 0.0
        passed = share <= (rule.fraction or 0.0)
        message = f"{share:.2%} missing"
    else:
        share = 1.0 - (failing or 0) / checked if checked else 1.0
        passed = share >= rule.mostly or rule.severity == "reject"
        verb = "rejected" if rule.severity == "reject" else "repeat an earlier key" if check.get("distinct") else "fail"
        message = f"{failing:,} of {checked:,} rows {verb}" + (f" ({share:.2%} pass, mostly {rule.mostly})" if rule.mostly < 1 else "")
    return {
        "step": check["step"], "rule": rule.describe(), "kind": rule.rule, "columns": rule.key_columns(),
        "column": ", ".join(rule.key_columns()) or None,
        "severity": rule.severity, "passed": bool(passed), "failing_rows": failing, "rows_checked": checked,
        "message": message,
    }


def _audit_counts(audit: Plan, found: pl.DataFrame) -> dict[str, Any]:
    """The audit's counts: the sums of its rows (one, or one per batch of the one pass); when it
    is grouped by split strata, each stratum key holds its groups' row counts, as ``_strata`` reads them."""
    strata = list(audit.strata.values())
    if not strata:
        return found.select(pl.all().sum().cast(pl.Int64)).row(0, named=True)
    totals = [c for c in found.columns if c not in strata]  # (the one pass sums no formula tallies)
    counts: dict[str, Any] = found.select([pl.col(c).sum().cast(pl.Int64) for c in totals]).row(0, named=True)
    for key in strata:
        grouped = found.filter(pl.col(key).is_not_null()).group_by(key).agg(pl.col("n_rows").sum().alias("n"))
        counts[key] = grouped.to_dicts()
    return counts


def _rows_written(path: Any) -> int:
    """The rows of a written aggregate output (small: one row per group), counted in the file."""
    if path.is_dir():  # partitioned
        parts = sorted(p for p in path.rglob("*.parquet"))
        return int(pl.scan_parquet(parts).select(pl.len()).collect().item()) if parts else 0
    if path.suffix == ".parquet":
        return int(pl.scan_parquet(path).select(pl.len()).collect().item())
    return int(pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item())


def _rows_out(audit: Plan, counts: dict[str, Any], rejected_rows: int) -> dict[str, int]:
    """Each output's rows, counted by the audit flags (re-reading big outputs would map them into memory)."""
    rows = {name: int(counts[key] or 0) for name, key in audit.output_rows.items()}
    if audit.rejected_columns:
        rows[REJECTED] = rejected_rows
    return rows



def _clip(value: str, limit: int = 60) -> str:
    return value if len(value) <= limit else value[:limit] + "..."


def _rejected_frame(plan: Plan) -> pl.LazyFrame:
    columns = plan.rejected_columns
    types = {c: (pl.Int64() if c == ROW else pl.String()) for c in columns}
    parts = []
    for frame in plan.rejected:
        have = frame.collect_schema().names()
        parts.append(frame.select([pl.col(c) if c in have else pl.lit(None, dtype=types[c]).alias(c) for c in columns]))
    if not parts:
        return pl.LazyFrame(schema=types)
    return pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]


class _polars_errors:
    """Translate Polars exceptions raised while reading or running into prepline errors."""

    def __init__(self, request: RunRequest):
        self.request = request

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        if exc is not None and (unreachable := object_store_error(exc, self.request.source.display)):
            raise unreachable from None  # S3 kept failing after the object store's retries
        if exc is None or not isinstance(exc, pl.exceptions.PolarsError):
            return False
        text = str(exc)
        lowered = text.lower()
        source = self.request.source
        if _unreadable_input(source, lowered) and (found := read_error(source, self.request.recipe.input, text)):
            raise found from None  # names the file, line and column
        if "json" in lowered and ("deserializ" in lowered or "json parsing" in lowered):
            raise _JsonFailure() from exc
        if isinstance(exc, pl.exceptions.ShapeError) and "'__json'" in text:
            # json_decode of an empty text yields no row instead of an error (Polars 1.x)
            raise _JsonFailure() from exc
        if "could not parse" in lowered or "invalid primitive value" in lowered:
            raise _bad_value_error(self.request, text) from None
        if "invalid utf-8" in lowered or "invalid utf8" in lowered:
            raise InputError(
                f"input {source.display} is not valid UTF-8 text ({_first(text)})",
                hint=textcheck.UTF8_HINT,
            ) from None
        # "replace_strict": a strict conversion of text to bool (see expressions.convert)
        if isinstance(exc, pl.exceptions.InvalidOperationError) and ("conversion" in lowered or "replace_strict" in lowered):
            # A Parquet or JSON input's values are converted to the declared types like a cast is
            if self.request.recipe.input.on_bad_value == "fail" and (examples := _bad_input_rows(self.request)):
                raise _bad_value_error(self.request, text, examples) from None
            raise _cast_error(self.request, text) from None
        if isinstance(exc, (pl.exceptions.ComputeError, pl.exceptions.ShapeError)) and "csv" in lowered:
            raise InputError(f"cannot parse {source.display} as CSV: {_first(text)}",
                             hint="check the delimiter, quoting and that every row has the header's columns") from None
        if isinstance(exc, pl.exceptions.ColumnNotFoundError):
            raise InputError(f"{source.display}: {_first(text)}") from None
        raise EngineError(
            f"the polars engine failed on {source.display}: {_first(text)}",
            hint="run with --debug for the full error",
        ) from exc


def _unreadable_input(source: InputSource, lowered: str) -> bool:
    """Whether Polars failed on the input file itself (its bytes, quoting, fields or lines), not on a value."""
    if "utf-8" in lowered or "utf8" in lowered or "schema names differ" in lowered or "schema lengths differ" in lowered:
        return True
    if source.format == "csv":
        return any(k in lowered for k in ("csv malformed", "more fields", "dtype `str`"))
    if source.format == "jsonl":
        return any(k in lowered for k in ("ndjson", "syntax at character", "supertype", "error parsing line"))
    return "extra column" in lowered or "missing column" in lowered


def _bad_input_rows(request: RunRequest) -> list[str]:
    """The first rows whose values do not parse as their declared types, described."""
    tolerant_spec = request.recipe.input.model_copy(update={"on_bad_value": "null"})
    try:
        frame: Scan = scan(request.source, tolerant_spec)
        flags = [c for c in frame.bad_value_columns]
        if not flags:
            return []
        bad = pl.any_horizontal([pl.col(f"__bad_{c}") for c in flags])
        rows = frame.frame.filter(bad).select(ROW, "__bad_reason").head(3).collect()
    except pl.exceptions.PolarsError:
        return []
    return [f"row {r[0]}, {r[1]}" for r in rows.iter_rows()]


def _cast_error(request: RunRequest, text: str) -> DataError:
    recipe = request.recipe
    strict = [
        i for i, step in enumerate(recipe.steps)
        if isinstance(step, m.CastStep) and any(c.on_error == "fail" for c in step.specs().values())
    ]
    where = f"{recipe.describe_step(strict[0])}: " if len(strict) == 1 else ""
    detail = "a value is neither true nor false" if "replace_strict" in text else _first(text)
    return DataError(
        f"{where}a cast failed on {request.source.display}: {detail}",
        hint="fix the values, or set on_error: null or reject on that cast",
    )


def _bad_value_error(request: RunRequest, text: str, examples: list[str] | None = None) -> DataError:
    """Name the first rows whose values do not parse as their declared types."""
    if examples is None:
        examples = _bad_input_rows(request)
    detail = "; ".join(examples) if examples else _first(text)
    return DataError(
        f"input {request.source.display} has values that do not match the recipe's column types: {detail}",
        hint="fix the data, change the column's type in input.columns, or set input.on_bad_value to "
        "null (read them as missing) or reject (keep those rows aside with the reason)",
    )


def _first(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else text


__all__ = ["InputSource", "PolarsEngine"]
