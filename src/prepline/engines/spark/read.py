"""Reading the recipe's input with Spark: check the columns, number the rows, convert to the declared types.

The checks and messages are the Polars engine's (``engines/polars/read.py``); what differs is how:

* Every column is read as text and converted by :func:`expressions.convert`, so a value that does
  not parse is found the same way under every policy (fail, null, reject).
* CSV is read with ``multiLine`` on, so a quoted field may hold line breaks as in Polars. Spark
  then parses each file in one task (it cannot split a file when a record may span lines); an
  input of 64 MiB or more is then spread over the cores, once its rows are numbered.
* Spark has no row index. ``_row`` (the 1-based data row, counted over the input files in name
  order, as Polars counts) is made from ``monotonically_increasing_id()``, which increases in file
  order within each partition of the scan but jumps between partitions. With one file in one
  partition it is the row index itself; otherwise one small job counts the rows of each file
  split (``_metadata.file_path``, ``_metadata.file_block_start``) and each split's ids are shifted
  to follow the splits before it. The ids are taken right above the scan, before anything can
  filter rows, and the scan's splits depend only on the files and the session's settings, so
  every query over the input sees the same numbers.
* Spark replaces bytes that are not UTF-8 with U+FFFD silently, drops the fields of a row beyond
  the header's and reads an unclosed quote to the end of the file as one value. Polars refuses
  all three, so a local CSV input is checked before reading (:func:`check_text`, with the
  standard library: bytes when the recipe says ``encoding: utf8``, then quotes and field counts)
  and refused with the same messages, naming the file, line and column.
* A value is converted to its declared type as in Polars (``engines/polars/read.py:from_file``):
  directly when that cannot change it, else through its text, so a Parquet 1.5 is not an int64.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from prepline.engines import textcheck
from prepline.engines.base import ROW, InputSource
from prepline.engines.spark.expressions import col, convert, dtype, expr, q, s, sql_type, to_text
from prepline.errors import ColumnNotFoundError, InputError, closest
from prepline.recipe.model import InputSpec

BAD = "__bad_"  # boolean: this row's value in the column did not parse as its type
BAD_REASON = "__bad_reason"  # text: why, for the rejected output
RAW = "__raw_"  # text: the value as it was in the file, for the rejected output
MONO = "__mono"
FILE = "__file"
BLOCK = "__block"
# Spark's CSV reader reads an unquoted empty field as null when nullValue is "" but also a quoted
# one (""). Polars keeps "" as an empty string: a nullValue that never occurs keeps them apart.
NO_NULL = "\u0000prepline:no-null\u0000"
HEAD_BYTES = 1 << 20
SPREAD_BYTES = 64 << 20  # inputs this big that Spark reads in fewer tasks than cores are repartitioned


@dataclass
class Scan:
    frame: DataFrame  # declared columns (recipe order), then kept extras, then ROW and the bad-value helpers
    schema: dict[str, str]  # recipe types of the visible columns
    bad_value_columns: list[str]  # columns with a f"{BAD}{name}" flag (every policy: fail checks them too)
    present: list[str] = field(default_factory=list)  # the columns the file itself has


def input_paths(source: InputSource) -> list[str]:
    return list(source.uri) if isinstance(source.uri, list) else [source.uri]


def file_columns(spark: SparkSession, source: InputSource, spec: InputSpec) -> list[str]:
    """The column names the input actually has (reads the header or the file's schema only)."""
    first = input_paths(source)[0]
    if source.format in ("csv", "jsonl") and _size(first) == 0:
        raise InputError(
            f"input {source.display} is empty (0 bytes)",
            hint=f"a {source.format} input needs at least a header line with the columns: " + ", ".join(spec.columns),
        )
    try:
        if source.format == "csv":
            names = _csv_header(first, spec)
        elif source.format == "jsonl":
            names = _jsonl_keys(first)
        else:
            names = spark.read.parquet(*input_paths(source)).columns
    except InputError:
        raise
    except Exception as exc:  # a parquet footer that does not parse, a file that cannot be opened
        raise InputError(f"cannot read input {source.display} as {source.format}: {_first_line(exc)}",
                         hint=_format_hint(source)) from None
    if source.format == "csv" and not spec.csv.has_header:
        declared = list(spec.columns)
        if len(names) < len(declared):
            raise InputError(
                f"input {source.display} has {len(names)} columns but the recipe declares {len(declared)}",
                hint="with has_header: false, columns are matched by position",
            )
        names = declared + [f"column_{i + 1}" for i in range(len(declared), len(names))]
    return names


def scan(spark: SparkSession, source: InputSource, spec: InputSpec) -> Scan:
    if source.format == "csv":
        check_text(source, spec)
    present = file_columns(spark, source, spec)
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
            hint=(textcheck.header_fix(present, list(specs), spec.csv.delimiter, spec.csv.has_header)
                  if source.format == "csv" else None)
            or "fix the file's header, or mark the column `required: false` in the recipe's input.columns",
        )
    extras = [c for c in present if c not in specs]
    if extras and spec.extra_columns == "error":
        raise InputError(
            f"input {source.display} has columns the recipe does not declare: {', '.join(extras)}",
            hint="declare them in input.columns, or set input.extra_columns to keep or drop",
        )
    kept_extras = extras if spec.extra_columns == "keep" else []
    wanted = [c for c in present if c in specs or c in kept_extras]

    read = _read(spark, source, spec, present, wanted)
    frame = number_rows(read, source)
    parallelism = spark.sparkContext.defaultParallelism
    if (source.size_bytes or 0) >= SPREAD_BYTES and read._jdf.rdd().getNumPartitions() < parallelism:
        # a CSV file is parsed by one task (see multiLine above): spread the rows over the cores
        # before the work on values (conversions, JSON) starts; _row keeps their order
        frame = frame.repartition(parallelism)
    file_types = {f.name: f.dataType for f in frame.schema.fields}
    _refuse_nested(source, specs, file_types)
    nulls = [v for v in spec.csv.null_values if v != ""] if source.format == "csv" else []
    strict_csv = source.format == "csv" and spec.on_bad_value == "fail"

    def raw_of(name: str) -> str:
        if nulls:  # the recipe's other null markers ("" is null already, see NO_NULL)
            return f"(CASE WHEN {q(name)} IN ({', '.join(s(v) for v in nulls)}) THEN NULL ELSE {q(name)} END)"
        return q(name)

    columns: list[str] = []
    flags: list[str] = []
    raws: list[str] = []
    reasons: list[str] = []
    bad_columns: list[str] = []
    for name, spec_ in specs.items():
        if name not in present:
            columns.append(f"CAST(NULL AS {sql_type(spec_.type)}) AS {q(name)}")
            continue
        raw = raw_of(name)
        converted = from_file(raw, file_types[name], spec_.type, read=strict_csv)
        columns.append(f"{converted} AS {q(name)}")
        if spec_.type == "string":
            continue
        bad = f"({raw} IS NOT NULL AND {converted} IS NULL)"
        raw_text = to_text(raw, file_types[name])
        flags.append(f"{bad} AS {q(BAD + name)}")
        raws.append(f"{raw_text} AS {q(RAW + name)}")
        before, after = s(f"column '{name}': "), s(f" is not a valid {spec_.type}")
        reasons.append(f"CASE WHEN {bad} THEN concat({before}, {raw_text}, {after}) END")
        bad_columns.append(name)
    hidden = [q(ROW), *flags, *raws]
    if reasons:
        hidden.append(f"coalesce({', '.join(reasons)}) AS {q(BAD_REASON)}")
    selected = [*columns, *[f"{raw_of(c)} AS {q(c)}" for c in kept_extras], *hidden]
    schema: dict[str, str] = {n: str(s_.type) for n, s_ in specs.items()} | {c: "string" for c in kept_extras}
    return Scan(frame=frame.select(*[expr(x) for x in selected]), schema=schema, bad_value_columns=bad_columns,
                present=list(present))


# --- reading ------------------------------------------------------------------------------------------


def _read(spark: SparkSession, source: InputSource, spec: InputSpec, present: list[str], wanted: list[str]) -> DataFrame:
    """The input's ``wanted`` columns as read (CSV and JSON: all text), with the ids ``number_rows`` needs."""
    paths = [_spark_path(p) for p in input_paths(source)]
    text_schema = T.StructType([T.StructField(n, T.StringType()) for n in present])
    if source.format == "csv":
        opts = spec.csv
        frame = (
            spark.read.schema(text_schema)
            .options(
                header=opts.has_header, multiLine=True, sep=opts.delimiter, quote=opts.quote, escape=opts.quote,
                nullValue=NO_NULL, mode="PERMISSIVE", encoding="UTF-8", enforceSchema=True,
                ignoreLeadingWhiteSpace=False, ignoreTrailingWhiteSpace=False,
            )
            .csv(paths)
        )
        if len(present) > 1:
            # as the Polars engine: a line whose every field is empty is skipped (Spark skips blank lines itself)
            frame = frame.filter(~F.expr(" AND ".join(f"coalesce({q(n)}, '') = ''" for n in present)))
    elif source.format == "jsonl":
        frame = spark.read.schema(text_schema).options(multiLine=False, mode="PERMISSIVE").json(paths)
    else:
        frame = spark.read.parquet(*paths)
    return frame.select(
        *[col(c) for c in wanted],
        F.monotonically_increasing_id().alias(MONO),
        F.col("_metadata.file_path").alias(FILE),
        F.col("_metadata.file_block_start").alias(BLOCK),
    )


def number_rows(frame: DataFrame, source: InputSource) -> DataFrame:
    """Replace the scan's ids with ``_row``: 1-based, consecutive, in file-name order then file order."""
    visible = [c for c in frame.columns if c not in (MONO, FILE, BLOCK)]
    paths = input_paths(source)
    if len(paths) == 1 and frame._jdf.rdd().getNumPartitions() == 1:
        return frame.select(*[col(c) for c in visible], (F.col(MONO) + 1).alias(ROW))
    splits = frame.groupBy(FILE, BLOCK).agg(F.count(F.lit(1)).alias("n"), F.min(MONO).alias("first")).collect()
    order = {_file_key(p): i for i, p in enumerate(paths)}
    splits.sort(key=lambda r: (order.get(_file_key(r[FILE]), len(order)), r[BLOCK]))
    shift: list[Column] = []
    offset = 0
    for split in splits:
        shift += [F.lit(f"{split[FILE]}#{split[BLOCK]}"), F.lit(offset - split["first"] + 1)]
        offset += split["n"]
    if not shift:  # no data rows: nothing to number
        return frame.select(*[col(c) for c in visible], F.lit(None).cast("long").alias(ROW))
    key = F.concat(F.col(FILE), F.lit("#"), F.col(BLOCK).cast("string"))
    return frame.select(*[col(c) for c in visible], (F.col(MONO) + F.element_at(F.create_map(*shift), key)).alias(ROW))


def _file_key(uri: str) -> str:
    """One spelling of a file's location, however Spark or storage.py wrote it."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return os.path.realpath(unquote(parsed.path))
    return f"{parsed.netloc}{unquote(parsed.path)}"


def _spark_path(uri: str) -> str:
    # Spark reads S3 through Hadoop's s3a connector (SageMaker's Spark container has it); local
    # paths are given as file: URIs so that a cluster's default file system (HDFS) is not assumed.
    if uri.startswith("s3://"):
        return "s3a://" + uri[len("s3://"):]
    if "://" in uri:
        return uri
    return "file://" + os.path.abspath(uri)


# --- checks without Spark --------------------------------------------------------------------------------


def check_text(source: InputSource, spec: InputSpec) -> None:
    """Refuse a local CSV input that Polars would refuse and Spark would read silently wrong: bytes
    that are not UTF-8 (with ``encoding: utf8``), a quote that never closes, text after a closing
    quote, a row with more fields than the header. Rows with fewer fields are read as in Polars
    (the missing fields are null).

    Polars itself parses the files first (every field as text, in parallel: about a second per
    GB); only when it fails are they read again with the standard library (``textcheck``, some
    40 MB/s) to say where.
    """
    opts = spec.csv
    local = [path for path in input_paths(source) if "://" not in path]  # S3 objects are read by Spark only
    if not local or _polars_parses(local, opts):
        return
    for path in local:
        open_ = textcheck.opener(path)
        if opts.encoding == "utf8" and (spot := textcheck.invalid_utf8(open_, path)):
            raise textcheck.utf8_error(spot)
        spots = textcheck.csv_problems(open_, path, delimiter=opts.delimiter, quote=opts.quote,
                                       has_header=opts.has_header, fields=len(spec.columns), short_rows=False)
        if spots:
            raise textcheck.csv_error(spots)


def _polars_parses(paths: list[str], opts: Any) -> bool:
    """Whether Polars reads these CSV files without an error, every field as text."""
    import polars as pl

    try:
        pl.scan_csv(paths, has_header=opts.has_header, separator=opts.delimiter, quote_char=opts.quote,
                    infer_schema=False, encoding=opts.encoding, raise_if_empty=False,
                    ).select(pl.all().str.len_bytes().sum()).collect(engine="streaming")
    except pl.exceptions.PolarsError:
        return False
    return True


def from_file(x: str, source: T.DataType, target: str, *, read: bool = False) -> str:
    """``x`` as read (text from CSV and JSON, typed from Parquet) converted to ``target`` as Polars does
    (``engines/polars/read.py:from_file``): NULL where the value does not convert."""
    want = dtype(target)
    if source == want or isinstance(source, (T.StringType, T.NullType)):
        return convert(x, source, target, read=read)
    if isinstance(source, (T.StructType, T.ArrayType, T.MapType)):
        return f"to_json({x})"  # only string targets get here, see _refuse_nested
    if target == "string":
        return convert(x, source, target)
    integral = isinstance(source, T.IntegralType)
    if (integral and isinstance(want, T.IntegralType)) or (isinstance(source, T.NumericType) and isinstance(want, T.FractionalType)) \
            or (isinstance(source, T.DateType) and target == "datetime"):
        return convert(x, source, target)
    text = to_text(x, source)
    if isinstance(source, T.FractionalType) and isinstance(want, T.IntegralType):
        whole = f"(NOT isnan({x}) AND abs({x}) < 9007199254740992D AND {x} = floor({x}))"
        text = f"(CASE WHEN {whole} THEN CAST(CAST({x} AS BIGINT) AS STRING) ELSE {text} END)"
    return convert(text, T.StringType(), target)


def _refuse_nested(source: InputSource, specs: dict[str, Any], file_types: dict[str, T.DataType]) -> None:
    wrong = [
        f"{name!r} holds {file_types[name].simpleString()} values, the recipe declares {spec.type}"
        for name, spec in specs.items()
        if isinstance(file_types.get(name), (T.StructType, T.ArrayType, T.MapType)) and spec.type != "string"
    ]
    if wrong:
        raise InputError(
            f"input {source.display}: column {'; column '.join(wrong)}",
            hint="declare the column as string (it is read as JSON text) and take fields out of it with extract_json",
        )


def _head(uri: str) -> bytes:
    if uri.startswith("s3://"):
        from prepline.storage import parse_uri, s3_client

        loc = parse_uri(uri)
        body = s3_client().get_object(Bucket=loc.bucket, Key=loc.path, Range=f"bytes=0-{HEAD_BYTES - 1}")["Body"]
        return bytes(body.read())
    with open(uri, "rb") as handle:
        return handle.read(HEAD_BYTES)


def _size(uri: str) -> int | None:
    if uri.startswith("s3://"):
        return None
    return os.path.getsize(uri)


def _csv_header(uri: str, spec: InputSpec) -> list[str]:
    opts = spec.csv
    text = _head(uri).decode("utf-8", errors="replace")
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=opts.delimiter, quotechar=opts.quote, doublequote=True)
    first = next(reader, None)
    while first == []:  # blank lines before the header
        first = next(reader, None)
    if first is None:
        raise InputError(f"input {uri} has no header line: it holds only blank lines",
                         hint="a csv input needs at least a header line with the columns: " + ", ".join(spec.columns))
    return first


def _jsonl_keys(uri: str) -> list[str]:
    return textcheck.jsonl_keys(textcheck.opener(uri))  # the Polars engine reads the same keys


def _check_header(source: InputSource, present: list[str]) -> None:
    dupes = sorted(c for c, n in Counter(present).items() if n > 1)
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
