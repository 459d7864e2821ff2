"""Reading the recipe's input with Polars: check the columns, then scan lazily with the declared types."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from prepline.engines import textcheck
from prepline.engines.base import ROW, InputSource
from prepline.engines.polars.expressions import convert, dtype
from prepline.errors import ColumnNotFoundError, InputError, closest
from prepline.recipe.model import InputSpec

BAD = "__bad_"  # boolean: this row's value in the column did not parse as its type
BAD_REASON = "__bad_reason"  # text: why, for the rejected output
RAW = "__raw_"  # text: the value as it was in the file, for the rejected output


@dataclass
class Scan:
    frame: pl.LazyFrame  # declared columns (recipe order), then kept extras, then ROW
    schema: dict[str, str]  # recipe types of the visible columns
    bad_value_columns: list[str]  # columns with a f"{BAD}{name}" flag (tolerant reads only)
    present: list[str] = field(default_factory=list)  # the columns the file itself has
    # the same frame with the CSV's all-empty lines kept (rows of nulls): a statistic of a column
    # ignores them, and a scan without the filter parses only the columns it needs
    unfiltered: pl.LazyFrame | None = None


def file_columns(source: InputSource, spec: InputSpec) -> list[str]:
    """The column names the input actually has (reads the header or the file's schema only)."""
    try:
        if source.format == "csv":
            names = _csv(source, spec, infer=False).collect_schema().names()
        elif source.format == "parquet":
            names = pl.scan_parquet(source.uri, storage_options=source.storage_options).collect_schema().names()
        else:
            names = _jsonl_keys(source, spec)
    except pl.exceptions.NoDataError:
        raise InputError(
            f"input {source.display} is empty (0 bytes)" if not source.size_bytes
            else f"input {source.display} has no header line: its {source.size_bytes} bytes are blank lines",
            hint=f"a {source.format} input needs at least a header line with the columns: "
            + ", ".join(spec.columns),
        ) from None
    except OSError as exc:
        from prepline.storage import object_store_error

        if unreachable := object_store_error(exc, source.display):
            raise unreachable from None
        raise
    except pl.exceptions.PolarsError as exc:
        raise read_error(source, spec, str(exc)) or InputError(
            f"cannot read input {source.display} as {source.format}: {_first_line(exc)}", hint=_format_hint(source)
        ) from None
    if source.format == "csv" and not spec.csv.has_header:
        declared = list(spec.columns)
        if len(names) < len(declared):
            raise InputError(
                f"input {source.display} has {len(names)} columns but the recipe declares {len(declared)}",
                hint="with has_header: false, columns are matched by position",
            )
        names = declared + names[len(declared):]
    return names


def scan(source: InputSource, spec: InputSpec) -> Scan:
    present = file_columns(source, spec)
    _check_header(source, present)
    specs = spec.column_specs()
    missing = [n for n, s in specs.items() if s.required and n not in present]
    if missing:
        raise _missing_columns(source, spec, present, missing)
    extras = [c for c in present if c not in specs]
    if extras and spec.extra_columns == "error":
        raise InputError(
            f"input {source.display} has columns the recipe does not declare: {', '.join(extras)}",
            hint="declare them in input.columns, or set input.extra_columns to keep or drop",
        )
    kept_extras = extras if spec.extra_columns == "keep" else []
    tolerant = spec.on_bad_value != "fail"
    declared_present = {n: s.type for n, s in specs.items() if n in present}

    unfiltered: pl.LazyFrame | None = None
    if source.format == "csv":
        overrides = {} if tolerant else {n: dtype(t) for n, t in declared_present.items()}
        if not spec.csv.has_header:
            overrides = {f"column_{present.index(n) + 1}": d for n, d in overrides.items()}
        frame = _csv(source, spec, infer=False, overrides=overrides)
        if not spec.csv.has_header:
            frame = frame.rename({f"column_{i + 1}": n for i, n in enumerate(present)})
        if len(present) > 1:
            unfiltered = frame
            # Polars reads a blank line as a row of nulls, which pandas and Spark skip. A line of empty
            # fields (',,') reads the same and cannot be told apart, so it is skipped too, on both engines.
            frame = frame.filter(~pl.all_horizontal([pl.col(c).is_null() for c in present]))
    elif source.format == "parquet":
        frame = pl.scan_parquet(source.uri, storage_options=source.storage_options)
    else:
        # every value as its JSON text, converted like a CSV cell (as the Spark engine reads JSON): no type
        # guessed from the first lines to disagree with a later one, and objects keep their JSON text
        frame = pl.scan_ndjson(source.uri, schema=dict.fromkeys(present, pl.String()),
                               storage_options=source.storage_options)

    file_types = frame.collect_schema()
    _refuse_nested(source, specs, file_types)
    frame = frame.with_row_index(ROW, offset=1)
    flags: dict[str, pl.Expr] = {}
    raws: list[pl.Expr] = []
    reasons: list[pl.Expr] = []
    columns: list[pl.Expr] = []
    for name, spec_ in specs.items():
        target = dtype(spec_.type)
        if name not in present:
            columns.append(pl.lit(None, dtype=target).alias(name))
            continue
        if source.format == "csv" and not tolerant:
            columns.append(pl.col(name))
        elif tolerant and spec_.type != "string":
            raw = pl.col(name)
            converted = from_file(raw, file_types[name], spec_.type, strict=False)
            bad = raw.is_not_null() & converted.is_null()
            flags[name] = bad.alias(f"{BAD}{name}")
            raws.append(raw.cast(pl.String).alias(f"{RAW}{name}"))
            reasons.append(
                pl.when(bad).then(pl.format("column '{}': {} is not a valid {}", pl.lit(name), raw.cast(pl.String), pl.lit(spec_.type)))
            )
            columns.append(converted.alias(name))
        else:
            columns.append(from_file(pl.col(name), file_types[name], spec_.type, strict=True).alias(name))
    extra_cols = [pl.col(c).cast(pl.String) if source.format == "csv" else pl.col(c) for c in kept_extras]
    hidden = [pl.col(ROW), *flags.values(), *raws]
    if reasons:
        hidden.append(pl.coalesce(reasons).alias(BAD_REASON))
    schema = {n: s.type for n, s in specs.items()} | {c: "string" for c in kept_extras}
    selected = [*columns, *extra_cols, *hidden]
    return Scan(frame=frame.select(selected), schema=schema, bad_value_columns=list(flags), present=list(present),
                unfiltered=None if unfiltered is None else unfiltered.with_row_index(ROW, offset=1).select(selected))


def _jsonl_keys(source: InputSource, spec: InputSpec) -> list[str]:
    """The keys of the objects at the start of the (first) file, in order of appearance."""
    first = source.uri[0] if isinstance(source.uri, list) else source.uri
    keys = textcheck.jsonl_keys(textcheck.opener(first))
    if keys:
        return keys
    if spot := textcheck.jsonl_problem(textcheck.opener(first), first, head=True):
        raise textcheck.jsonl_error(spot)
    raise InputError(
        f"input {source.display} holds no JSON object" + (" (0 bytes)" if not source.size_bytes else ""),
        hint="a jsonl input has one JSON object per line, with the columns as keys: " + ", ".join(spec.columns),
    )


def _csv(source: InputSource, spec: InputSpec, infer: bool, overrides: dict[str, pl.DataType] | None = None) -> pl.LazyFrame:
    opts = spec.csv
    nulls = [v for v in opts.null_values if v != ""]
    return pl.scan_csv(
        source.uri,
        has_header=opts.has_header,
        separator=opts.delimiter,
        quote_char=opts.quote,
        null_values=nulls or None,
        empty_string_is_null="" in opts.null_values,
        infer_schema=infer,
        schema_overrides=overrides or None,
        encoding=opts.encoding,
        storage_options=source.storage_options,
        raise_if_empty=True,
        credential_provider=None if source.storage_options else "auto",
    )


def _check_header(source: InputSource, present: list[str]) -> None:
    # Polars renames the second `x` of a CSV header to `x_duplicated_0`: name the original
    counts = Counter(present)
    dupes = sorted({c for c, n in counts.items() if n > 1}
                   | {c.rsplit("_duplicated_", 1)[0] for c in present if "_duplicated_" in c})
    if dupes:
        raise InputError(
            f"input {source.display} has duplicate column names in its header: {', '.join(dupes)}",
            hint="rename the columns so each name is unique",
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _format_hint(source: InputSource) -> str:
    return (
        f"check that the file really is {source.format}; set input.format in the recipe "
        "(csv, parquet, jsonl) or use the matching extension"
    )


# --- converting what the file holds to the declared types ---------------------------------------


def from_file(expr: pl.Expr, file_type: pl.DataType, target: str, strict: bool) -> pl.Expr:
    """A column as read (text from CSV; typed from Parquet and JSON) converted to ``target``.

    Conversions that cannot change a value are direct (int32 to int64, integers to floats). Others
    go through the value's text and parse it as a CSV cell would be: a Parquet 1.5 is not an int64
    (it would be truncated to 1), true is not a float64. Integral floats (pandas writes integer
    columns with gaps as floats) are integers. Nested values (JSON objects and arrays) become their
    JSON text in a string column.
    """
    want = dtype(target)
    if file_type == want:
        return expr
    if file_type == pl.String:
        return convert(expr, "string", target, strict)
    if file_type.is_nested():
        return _json_text(expr)  # only string targets get here, see _refuse_nested
    if target == "string":
        return expr.cast(pl.String)
    if (file_type.is_integer() and want.is_integer()) or (file_type.is_numeric() and want.is_float()) \
            or (file_type == pl.Date and target == "datetime"):
        return expr.cast(want, strict=strict)
    text = expr.cast(pl.String)
    if file_type.is_float() and want.is_integer():
        integral = expr.is_finite() & (expr == expr.floor()) & (expr.abs() < 2.0**53)
        text = pl.when(integral).then(expr.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(text)
    return convert(text, "string", target, strict)


def _json_text(expr: pl.Expr) -> pl.Expr:
    """A nested value as compact JSON text (what Spark reads for it in a string column)."""
    wrapped = pl.struct(expr.alias("v")).struct.json_encode()
    text = wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")
    return pl.when(expr.is_null()).then(pl.lit(None, dtype=pl.String)).otherwise(text)


def _refuse_nested(source: InputSource, specs: dict[str, Any], file_types: pl.Schema) -> None:
    wrong = [
        f"{name!r} holds {file_types[name]} values, the recipe declares {spec.type}"
        for name, spec in specs.items()
        if name in file_types and file_types[name].is_nested() and spec.type != "string"
    ]
    if wrong:
        raise InputError(
            f"input {source.display}: column {'; column '.join(wrong)}",
            hint="declare the column as string (it is read as JSON text) and take fields out of it with extract_json",
        )


# --- messages -----------------------------------------------------------------------------------


def _missing_columns(source: InputSource, spec: InputSpec, present: list[str], missing: list[str]) -> ColumnNotFoundError:
    specs = spec.column_specs()
    hints = []
    for name in missing:
        guess = closest(name, [p for p in present if p not in specs])
        hints.append(f"{name!r}" + (f" (did you mean {guess!r}?)" if guess else ""))
    fix = (textcheck.header_fix(present, list(specs), spec.csv.delimiter, spec.csv.has_header)
           if source.format == "csv" else None)
    fix = fix or "fix the file's header, or mark the column `required: false` in the recipe's input.columns"
    return ColumnNotFoundError(
        f"input {source.display} lacks required column(s) {', '.join(hints)}; "
        f"its columns are: {', '.join(present)}",
        hint=fix,
    )


def read_error(source: InputSource, spec: InputSpec, text: str) -> InputError | None:
    """The input's problem with its file, line and column, found after Polars failed to read it; or None.

    ``text`` is Polars' message; the files are read again with the standard library, so this
    runs only on the way out of a failed run.
    """
    lowered = text.lower()
    paths = source.uri if isinstance(source.uri, list) else [source.uri]
    try:
        if "utf-8" in lowered or "utf8" in lowered:
            for path in paths:
                if spot := textcheck.invalid_utf8(textcheck.opener(path), path):
                    return textcheck.utf8_error(spot)
        schema_words = ("schema names differ", "schema lengths differ", "extra column", "missing column", "supertype")
        if len(paths) > 1 and any(k in lowered for k in schema_words) and (mismatch := _schema_mismatch(source, spec, paths)):
            return mismatch
        if source.format == "csv" and any(k in lowered for k in ("csv", "more fields", "dtype `str`", "malformed")):
            opts = spec.csv
            for path in paths:
                spots = textcheck.csv_problems(textcheck.opener(path), path, delimiter=opts.delimiter, quote=opts.quote,
                                               has_header=opts.has_header, fields=len(spec.columns))
                if spots:
                    return textcheck.csv_error(spots)
        if source.format == "jsonl":
            for path in paths:
                if spot := textcheck.jsonl_problem(textcheck.opener(path), path):
                    return textcheck.jsonl_error(spot)
    except Exception:  # the diagnosis is best effort: the caller has Polars' own message to give
        return None
    return None


def _schema_mismatch(source: InputSource, spec: InputSpec, paths: list[str]) -> InputError | None:
    """The first file of a folder input whose columns (or Parquet types) differ from the first file's."""
    def schema_of(path: str) -> pl.Schema:
        one = InputSource(uri=path, format=source.format, display=path, storage_options=source.storage_options)
        if source.format == "csv":
            return _csv(one, spec, infer=False).collect_schema()
        if source.format == "parquet":
            return pl.scan_parquet(path, storage_options=source.storage_options).collect_schema()
        one = InputSource(uri=path, format="jsonl", display=path)
        return pl.Schema(dict.fromkeys(_jsonl_keys(one, spec), pl.String()))

    first = schema_of(paths[0])
    for path in paths[1:]:
        other = schema_of(path)
        if other == first:
            continue
        if list(other) != list(first):
            detail = f"columns {', '.join(other)}, but {paths[0]} has {', '.join(first)}"
        else:
            changed = [f"{c} is {other[c]} there and {first[c]} in {paths[0]}" for c in first if other[c] != first[c]]
            detail = "different types: " + "; ".join(changed)
        return InputError(
            f"input {source.display}: the files do not share one schema: {path} has {detail}",
            hint="every file of a folder or prefix input must have the same columns, in the same order and of the "
            "same types; move the odd files elsewhere or rewrite them",
        )
    return None
