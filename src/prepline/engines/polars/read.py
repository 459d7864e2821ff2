"""Reading the recipe's input with Polars: check the columns, then scan lazily with the declared types."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

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


def file_columns(source: InputSource, spec: InputSpec) -> list[str]:
    """The column names the input actually has (reads the header or the file's schema only)."""
    try:
        if source.format == "csv":
            names = _csv(source, spec, infer=False).collect_schema().names()
        elif source.format == "parquet":
            names = pl.scan_parquet(source.uri, storage_options=source.storage_options).collect_schema().names()
        else:
            names = pl.scan_ndjson(
                source.uri, infer_schema_length=1000, storage_options=source.storage_options
            ).collect_schema().names()
    except pl.exceptions.NoDataError:
        raise InputError(
            f"input {source.display} is empty (0 bytes)",
            hint=f"a {source.format} input needs at least a header line with the columns: "
            + ", ".join(spec.columns),
        ) from None
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"cannot read input {source.display} as {source.format}: {_first_line(exc)}",
                         hint=_format_hint(source)) from None
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
        hints = []
        for name in missing:
            guess = closest(name, [p for p in present if p not in specs])
            hints.append(f"{name!r}" + (f" (did you mean {guess!r}?)" if guess else ""))
        raise ColumnNotFoundError(
            f"input {source.display} lacks required column(s) {', '.join(hints)}; "
            f"its columns are: {', '.join(present)}",
            hint="fix the file's header, or mark the column `required: false` in the recipe's input.columns",
        )
    extras = [c for c in present if c not in specs]
    if extras and spec.extra_columns == "error":
        raise InputError(
            f"input {source.display} has columns the recipe does not declare: {', '.join(extras)}",
            hint="declare them in input.columns, or set input.extra_columns to keep or drop",
        )
    kept_extras = extras if spec.extra_columns == "keep" else []
    tolerant = spec.on_bad_value != "fail"
    declared_present = {n: s.type for n, s in specs.items() if n in present}

    if source.format == "csv":
        overrides = {} if tolerant else {n: dtype(t) for n, t in declared_present.items()}
        if not spec.csv.has_header:
            overrides = {f"column_{present.index(n) + 1}": d for n, d in overrides.items()}
        frame = _csv(source, spec, infer=False, overrides=overrides)
        if not spec.csv.has_header:
            frame = frame.rename({f"column_{i + 1}": n for i, n in enumerate(present)})
    elif source.format == "parquet":
        frame = pl.scan_parquet(source.uri, storage_options=source.storage_options)
    else:
        frame = pl.scan_ndjson(source.uri, infer_schema_length=1000, storage_options=source.storage_options)

    file_types = frame.collect_schema()
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
        read_as = "string" if file_types[name] == pl.String else "other"
        if source.format == "csv" and not tolerant:
            columns.append(pl.col(name))
        elif tolerant and spec_.type != "string":
            raw = pl.col(name)
            converted = convert(raw, read_as, spec_.type, strict=False)
            bad = raw.is_not_null() & converted.is_null()
            flags[name] = bad.alias(f"{BAD}{name}")
            raws.append(raw.cast(pl.String).alias(f"{RAW}{name}"))
            reasons.append(
                pl.when(bad).then(pl.format("column '{}': {} is not a valid {}", pl.lit(name), raw.cast(pl.String), pl.lit(spec_.type)))
            )
            columns.append(converted.alias(name))
        else:
            columns.append(convert(pl.col(name), read_as, spec_.type, strict=True).alias(name))
    extra_cols = [pl.col(c).cast(pl.String) if source.format == "csv" else pl.col(c) for c in kept_extras]
    hidden = [pl.col(ROW), *flags.values(), *raws]
    if reasons:
        hidden.append(pl.coalesce(reasons).alias(BAD_REASON))
    schema = {n: s.type for n, s in specs.items()} | {c: "string" for c in kept_extras}
    return Scan(frame=frame.select([*columns, *extra_cols, *hidden]), schema=schema, bad_value_columns=list(flags), present=list(present))


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
    dupes = sorted({c for c in present if present.count(c) > 1}
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
