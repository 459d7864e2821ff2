"""Run a compiled recipe with Polars' streaming engine and translate its failures into prepline errors."""

from __future__ import annotations

import time
from typing import Any

import polars as pl

from prepline.engines.base import REJECTED, ROW, Counter, EngineResult, InputSource, RunRequest
from prepline.engines.polars.read import Scan, scan
from prepline.engines.polars.steps import Compiler, Plan, json_problems
from prepline.errors import DataError, EngineError, InputError
from prepline.recipe import model as m
from prepline.recipe.model import STEP_MODELS

ENGINE = "streaming"


class _JsonFailure(Exception):
    """A JSON value did not decode on the fast path (one parse per value, no row checks)."""


class PolarsEngine:
    name = "polars"
    capabilities = frozenset(STEP_MODELS)

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
        with _polars_errors(request):
            input_scan = scan(request.source, request.recipe.input)
            plan = Compiler(request.recipe, input_scan, _stats, tolerant_json).compile()
            t1 = time.perf_counter()
            files, jobs, keys = self._sinks(request, plan)
            collected = pl.collect_all(jobs, engine=ENGINE)
        t2 = time.perf_counter()
        values = {key: frame for key, frame in zip(keys, collected, strict=True) if key is not None}
        if any(_scalar(frame) for key, frame in values.items() if key.startswith("json_check:")):
            raise _JsonFailure()  # a JSON field did not convert: these outputs are replaced by the re-run
        counters = [
            Counter(step=step, what=what, count=_scalar(values[key]))
            for key, (step, what) in plan.count_labels.items()
        ]
        return EngineResult(
            files=files,
            rows_out={name: _scalar(values[f"rows:{name}"]) for name in files},
            rows_in=_scalar(values["rows_in"]),
            fill_values=plan.fill_values,
            counters=counters,
            notes=list(plan.notes),
            seconds={"plan_and_statistics": round(t1 - t0, 4), "execute": round(t2 - t1, 4)},
        )

    def _sinks(self, request: RunRequest, plan: Plan) -> tuple[dict[str, Any], list[pl.LazyFrame], list[str | None]]:
        ext = request.output_format
        frames = dict(plan.outputs)
        if plan.rejected_columns:
            frames[REJECTED] = _rejected_frame(plan)
        files = {}
        jobs: list[pl.LazyFrame] = []
        keys: list[str | None] = []
        for name, frame in frames.items():
            path = request.output_dir / f"{name}.{ext}"
            files[name] = path
            if ext == "parquet":
                jobs.append(frame.sink_parquet(path, compression="zstd", lazy=True))
            else:
                jobs.append(frame.sink_csv(path, lazy=True))
            keys.append(None)
            jobs.append(frame.select(pl.len().alias("n")))
            keys.append(f"rows:{name}")
        assert plan.rows_in is not None
        jobs.append(plan.rows_in)
        keys.append("rows_in")
        for key, frame in plan.counts.items():
            jobs.append(frame)
            keys.append(key)
        for i, frame in enumerate(plan.json_checks):
            jobs.append(frame)
            keys.append(f"json_check:{i}")
        return files, jobs, keys

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


def _stats(frame: pl.LazyFrame, wanted: dict[str, pl.Expr]) -> dict[str, Any]:
    row = frame.select([e.alias(k) for k, e in wanted.items()]).collect(engine=ENGINE)
    return row.row(0, named=True) if row.height else dict.fromkeys(wanted)


def _scalar(frame: pl.DataFrame) -> int:
    value = frame.item(0, 0) if frame.height else 0
    return int(value or 0)


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
        if exc is None or not isinstance(exc, pl.exceptions.PolarsError):
            return False
        text = str(exc)
        lowered = text.lower()
        source = self.request.source
        if "json" in lowered and ("deserializ" in lowered or "json parsing" in lowered):
            raise _JsonFailure() from exc
        if "could not parse" in lowered or "invalid primitive value" in lowered:
            raise _bad_value_error(self.request, text) from None
        if "invalid utf-8" in lowered or "invalid utf8" in lowered:
            raise InputError(
                f"input {source.display} is not valid UTF-8 text ({_first(text)})",
                hint="convert it (e.g. iconv -f latin1 -t utf-8) or set input.csv.encoding: utf8-lossy",
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
