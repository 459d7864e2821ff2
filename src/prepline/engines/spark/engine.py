"""Run a compiled recipe on Spark, write each output as one file, and translate Spark's failures.

Outputs are named like the Polars engine's (``<name>.csv`` / ``<name>.parquet``), one file
each (a partitioned Parquet output: a folder ``<name>/<column>=<value>/00000000.parquet``).
Every CSV output is written by a single Spark job: each output's rows become CSV lines,
composed in Spark with the Polars writer's rules (quoting only where needed, ``""`` for an empty
text, nothing for null, ``true``/``false``, ISO dates, Polars' float notation); the lines of all
outputs are gathered into one partition, sorted by output then by the output's order (``_row``;
an aggregate's keys; rejected rows by step, then ``_row``), and split into the files. So the
two engines' files are the same bytes except where a float's digits differ (see
``expressions.float_text``); formula cells are neutralized as Polars does, and counted by the
same observation as the rows. Parquet outputs are written one job each, in the same order.

Counts come from metrics observed while writing (see ``steps``); a ``fail`` policy whose count
is not zero raises the error the Polars engine raises, after which nothing is published.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from prepline.engines.base import (
    FORMULA_PREFIX,
    FORMULA_START,
    PLAIN_NUMBER,
    REJECTED,
    ROW,
    Counter,
    EngineResult,
    RunRequest,
)
from prepline.engines.spark.expressions import col, expr, q, s, to_text, type_name
from prepline.engines.spark.read import Scan, scan
from prepline.engines.spark.session import check_master, get_session
from prepline.engines.spark.steps import ORDER, PART, SMALL_INPUT_BYTES, Compiler, Output, Plan
from prepline.errors import EngineError, InputError, PreplineError
from prepline.recipe import model as m
from prepline.recipe.model import STEP_MODELS

MIN_SPARK_MAJOR = 4
METRIC_WAIT_S = 60.0  # Spark reports observed metrics from a listener thread, just after the job ends
OUTPUT = "__output"
QUOTE_WHEN = s(r'[,"\r\n]')  # what makes Polars quote a text cell


class SparkEngine:
    name = "spark"
    #: every step kind; the value-level differences from Polars are listed in ``prepline.engines.spark``
    capabilities = frozenset(STEP_MODELS)
    #: brotli needs a codec library Spark does not ship; only zstd's level is a Parquet writer option
    parquet_codecs = frozenset({"zstd", "snappy", "gzip", "lz4", "uncompressed"})
    parquet_levels = frozenset({"zstd"})

    def __init__(self, master: str | None = None):
        # a mistyped --spark-master is refused before the recipe's input is even looked at
        self.master = check_master(master) if master else None

    def version(self) -> str:
        import pyspark

        return str(pyspark.__version__)

    def session(self) -> SparkSession:
        spark = get_session(self.master)
        major = int(spark.version.split(".")[0])
        if major < MIN_SPARK_MAJOR:
            # JSON is read with the VARIANT functions (try_parse_json, variant_get) of Spark 4
            raise EngineError(f"the spark engine needs Spark {MIN_SPARK_MAJOR}.0 or later; this cluster runs "
                              f"Spark {spark.version}", hint="use a Spark 4 image, or run with --engine polars")
        return spark

    def run(self, request: RunRequest) -> EngineResult:
        started = time.perf_counter()
        spark = self.session()
        plan: Plan | None = None
        size = request.source.size_bytes
        try:
            with _spark_errors(request), _tuned(spark, small=size is not None and size < SMALL_INPUT_BYTES):
                input_scan: Scan = scan(spark, request.source, request.recipe.input)
                plan = Compiler(request.recipe, input_scan, _stats, request.source.display).compile()
                t1 = time.perf_counter()
                files, row_metrics, schemas = _write_all(spark, request, plan)
                values = _collect(plan, row_metrics)
                splits = [_strata(plan, label) for label in plan.splits]
            for check in plan.checks:  # in flow order: the first policy that failed is reported
                if values[check.key]:
                    with _spark_errors(request):
                        error = check.diagnose(values[check.key])
                    raise error
        finally:
            for frame in plan.persisted if plan is not None else []:
                frame.unpersist()
        assert plan is not None
        t2 = time.perf_counter()
        counters = [Counter(step=step, what=what, count=int(value(values))) for step, what, value in plan.counters]
        fills = [dict(fill, filled=values[key]) for fill, key in zip(plan.fill_values, plan.filled, strict=True)]
        return EngineResult(
            files=files,
            rows_out={name: values[f"rows:{name}"] for name in files},
            rows_in=values["rows_in"],
            fill_values=fills,
            counters=counters,
            rules=[rule_result(check, values) for check in plan.rule_checks],
            neutralized={name: values[f"formulas:{name}"] for name in files if f"formulas:{name}" in values},
            schemas=schemas,
            splits=splits,
            notes=list(plan.notes),
            seconds={"plan_and_statistics": round(t1 - started, 4), "execute": round(t2 - t1, 4),
                     "total": round(t2 - started, 4)},
        )


SMALL_INPUT_CONF = {
    # Compiling Java for every query (whole-stage code generation) takes seconds; on a small input
    # it costs far more than interpreting the plan (measured: the employees recipe on 5 rows,
    # 8 s -> 3 s). factoryMode is an internal setting: a Spark that refuses it just keeps compiling.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
    "spark.sql.adaptive.enabled": "false",  # re-planning between stages does not pay on small data either
    "spark.sql.shuffle.partitions": "1",  # one task per stage after a shuffle: the rows fit in one
}


@contextlib.contextmanager
def _tuned(spark: SparkSession, small: bool) -> Iterator[None]:
    """The session's settings for this run's input size, put back afterwards."""
    if not small:
        yield
        return
    before: dict[str, str | None] = {key: spark.conf.get(key, None) for key in SMALL_INPUT_CONF}
    for key, value in SMALL_INPUT_CONF.items():
        with contextlib.suppress(Exception):
            spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, previous in before.items():
            with contextlib.suppress(Exception):
                if previous is None:
                    spark.conf.unset(key)
                else:
                    spark.conf.set(key, previous)


# --- writing --------------------------------------------------------------------------------------------


def _write_all(spark: SparkSession, request: RunRequest, plan: Plan) -> tuple[dict[str, Path], list[Any], dict[str, dict[str, str]]]:
    """Write every output (CSV: all in one Spark job); returns the files, each one's metrics (its
    rows, and for a CSV output the formula cells it neutralized) and each one's column types."""
    outputs = dict(plan.outputs)
    if plan.rejected_columns:
        outputs[REJECTED] = _rejected_output(spark, plan)
    specs = {name: request.recipe.write_spec(name, request.output_format) for name in outputs}
    files = {name: request.output_dir / (name if spec.partition_by else f"{name}.{spec.format}")
             for name, spec in specs.items()}
    row_metrics = []
    observed = {}
    for name, output in outputs.items():
        rows = Observation()
        metrics = [F.count(F.lit(1)).alias("n")]
        if specs[name].neutralize:
            types = {f.name: f.dataType for f in output.frame.schema.fields}
            cells = [f"CAST({is_formula(q(c))} AS BIGINT)" for c in output.columns if isinstance(types[c], T.StringType)]
            metrics.append(expr(f"coalesce(sum({' + '.join(cells) or '0'}), 0) AS formulas"))
        observed[name] = output.frame.observe(rows, *metrics)
        row_metrics.append((name, rows))
    csv = [name for name in outputs if specs[name].format == "csv"]
    if csv:
        size = request.source.size_bytes
        _write_csv({n: observed[n] for n in csv}, outputs, {n: files[n] for n in csv}, request.output_dir,
                   small=size is not None and size < SMALL_INPUT_BYTES,
                   neutralize={n for n in csv if specs[n].neutralize})
    for name, output in outputs.items():
        if specs[name].format == "parquet":
            _write_parquet(observed[name], output, files[name], specs[name].parquet)
    covered = max((o.position for o in outputs.values()), default=0)
    if any(metric.position >= covered for metric in plan.metrics):
        assert plan.final is not None  # counts defined after the last output: one pass computes them
        plan.final.write.format("noop").mode("overwrite").save()
    schemas = {}
    for name, output in outputs.items():
        types = {f.name: f.dataType for f in output.frame.schema.fields}
        schemas[name] = {c: type_name(types[c]) for c in output.columns}
    return files, row_metrics, schemas


def rule_result(check: dict[str, Any], counts: dict[str, Any]) -> dict[str, Any]:
    """A rule's outcome from its counts, for the manifest and the report (as the Polars engine reports it)."""
    rule = check["rule"]
    checked = int(counts[check["checked"]] or 0) if check["checked"] else None
    failing = int(counts[check["failing"]] or 0) if check["failing"] else None
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
        message = f"{failing:,} of {checked:,} rows {verb}" + (
            f" ({share:.2%} pass, mostly {rule.mostly})" if rule.mostly < 1 else "")
    return {
        "step": check["step"], "rule": rule.describe(), "kind": rule.rule, "columns": rule.key_columns(),
        "column": ", ".join(rule.key_columns()) or None,
        "severity": rule.severity, "passed": bool(passed), "failing_rows": failing, "rows_checked": checked,
        "message": message,
    }


def _stats(frame: DataFrame, wanted: dict[str, str]) -> dict[str, Any]:
    aliases = {key: f"s{i}" for i, key in enumerate(wanted)}
    row = frame.agg(*[expr(f"{sql} AS {aliases[key]}") for key, sql in wanted.items()]).collect()[0]
    return {key: row[alias] for key, alias in aliases.items()}


def _collect(plan: Plan, row_metrics: list[Any]) -> dict[str, int]:
    values: dict[str, int] = {}
    for metric in plan.metrics:
        row = _observed(metric.observation)
        values.update({key: int(row.get(name) or 0) for key, name in metric.names.items()})
    for name, observation in row_metrics:
        row = _observed(observation)
        values[f"rows:{name}"] = int(row.get("n") or 0)
        if "formulas" in row:
            values[f"formulas:{name}"] = int(row["formulas"] or 0)
    return values


def _strata(plan: Plan, label: str) -> dict[str, Any]:
    """A split step's rows per (stratum, part): one aggregation job over the kept flow."""
    found = [st for st in plan.strata if st.label == label]
    if not found:
        return {"step": label, "strata": None}
    strata = found[0]
    counts: dict[str | None, dict[str, int]] = {}
    for row in strata.frame.groupBy(expr(f"{strata.stratum} AS stratum"), col(PART)).count().collect():
        counts.setdefault(row[0], dict.fromkeys(strata.parts, 0))[strata.parts[row[1]]] += int(row[2])
    ordered = sorted(counts, key=lambda v: (v is None, v or ""))
    return {"step": label, "strata": [{"value": v, "rows": counts[v]} for v in ordered]}


def _observed(observation: Any) -> dict[str, Any]:
    deadline = time.monotonic() + METRIC_WAIT_S
    while not observation._jo.future().isCompleted():  # never block forever on a metric no job computed
        if time.monotonic() > deadline:
            raise EngineError("the spark engine did not receive a count it needs from Spark (an observed metric)",
                              hint="run again; if it persists, run with --engine polars and report the recipe")
        time.sleep(0.005)
    if observation._jo.getRow().length() == 0:
        # Spark dropped the observed node because no row can reach it (e.g. adaptive execution
        # found an empty input): nothing passed, every count is 0.
        return {}
    return dict(observation.get)


def _rejected_output(spark: SparkSession, plan: Plan) -> Output:
    columns = plan.rejected_columns
    types = {c: ("BIGINT" if c == ROW else "STRING") for c in columns}
    parts = []
    for i, frame in enumerate(plan.rejected):
        have = set(frame.columns)
        parts.append(frame.select(
            *[expr(q(c) if c in have else f"CAST(NULL AS {types[c]}) AS {q(c)}") for c in columns],
            # Polars concatenates the steps' rejected rows in step order, each step's in input order
            expr(f"{i} AS {ORDER[0]}"), expr(f"{q(ROW)} AS {ORDER[1]}"),
        ))
    if parts:
        frame = functools.reduce(DataFrame.union, parts)
    else:
        schema = ", ".join(f"{q(c)} {types[c]}" for c in columns) + f", {ORDER[0]} INT, {ORDER[1]} BIGINT"
        frame = spark.createDataFrame([], schema)
    return Output(frame, columns, position=plan.rejected_position)


def _write_csv(frames: dict[str, DataFrame], outputs: dict[str, Output], files: dict[str, Path], folder: Path,
               small: bool, neutralize: set[str]) -> None:
    """All CSV outputs in one job: their lines, sorted by output then by the output's order, one file each.

    ``small`` (the input is small): the lines are gathered by one task and collected by the driver,
    which writes the files; that spares Spark's file-commit protocol, which costs more than the
    work itself on small data. Otherwise the rows are shuffled into one partition and written by
    Spark, one folder per output, whose single part file becomes the output.
    """
    headers = {name: ",".join(_csv_quote(c) for c in outputs[name].columns) + "\n" for name in files}
    lines = []
    for name, frame in frames.items():
        types = {f.name: f.dataType for f in frame.schema.fields}
        cells = [_csv_cell(c, types[c], name in neutralize) for c in outputs[name].columns]
        line = f"concat_ws(',', {', '.join(cells)})" if cells else "''"
        lines.append(frame.select(expr(f"{line} AS value"), expr(f"{s(name)} AS {OUTPUT}"), *ORDER))
    union = functools.reduce(DataFrame.union, lines)
    if small:
        ordered = union.coalesce(1).sortWithinPartitions(OUTPUT, *ORDER).select("value", OUTPUT)
        with contextlib.ExitStack() as stack:
            handles = {name: stack.enter_context(open(path, "w", encoding="utf-8", newline=""))
                       for name, path in files.items()}
            for name, handle in handles.items():
                handle.write(headers[name])
            for row in ordered.collect():
                handles[row[1]].write(row[0] + "\n")
        return
    ordered = union.repartition(1).sortWithinPartitions(OUTPUT, *ORDER).select("value", OUTPUT)
    with _scratch(ordered.sparkSession, folder) as (target, fetch):
        ordered.write.partitionBy(OUTPUT).option("compression", "none").text(target)
        for name, path in files.items():
            with open(path, "wb") as sink:
                sink.write(headers[name].encode("utf-8"))
                for part in fetch(f"{OUTPUT}={name}"):
                    with open(part, "rb") as source:
                        shutil.copyfileobj(source, sink, 1 << 24)


SPARK_CODECS = {"lz4": "lz4_raw"}  # Parquet's LZ4_RAW, which Polars writes ("lz4" is Hadoop's framing)


def _write_parquet(frame: DataFrame, output: Output, path: Path, options: m.ParquetWrite) -> None:
    """One file, or with ``partition_by`` one folder per value holding ``00000000.parquet`` (as Polars names it)."""
    column = options.partition_by
    order = [col(column), *ORDER] if column else list(ORDER)
    ordered = frame.repartition(1).sortWithinPartitions(*order).select(*[col(c) for c in output.columns])
    writer = ordered.write.option("compression", SPARK_CODECS.get(options.compression, options.compression))
    if options.compression_level is not None:  # zstd only (see SparkEngine.parquet_levels)
        writer = writer.option("parquet.compression.codec.zstd.level", str(options.compression_level))
    if options.row_group_size is not None:
        writer = writer.option("parquet.block.row.count.limit", str(options.row_group_size))
    with _scratch(ordered.sparkSession, path.parent) as (target, fetch):
        if column is None:
            writer.parquet(target)
            parts = fetch("")
            if len(parts) != 1:
                raise EngineError(f"Spark wrote {len(parts)} files for {path.name} instead of one")
            os.replace(parts[0], path)
            return
        writer.partitionBy(column).parquet(target)  # folders <column>=<value>, as Polars names them
        path.mkdir()
        numbered: dict[str, int] = {}
        for part in fetch(f"{column}=*"):
            folder = part.parent.name
            (path / folder).mkdir(exist_ok=True)
            index = numbered[folder] = numbered.get(folder, -1) + 1
            os.replace(part, path / folder / f"{index:08d}.parquet")


def on_cluster(spark: SparkSession) -> bool:
    """Whether Spark's tasks may run on other machines than this process (whose disk holds the outputs)."""
    return not spark.sparkContext.master.startswith("local")


@contextlib.contextmanager
def _scratch(spark: SparkSession, folder: Path) -> Iterator[tuple[str, Callable[[str], list[Path]]]]:
    """Where Spark's tasks write an output's part files, and how the driver gets them as local files.

    Yields the folder's URI for the writer and ``fetch(subfolder)``, which returns the part files
    of a subfolder on this machine, in name order. With a local master every task shares this disk:
    a hidden folder beside the outputs (a ``file://`` URI, whatever the default file system). On a
    cluster the tasks run on other machines, so they write to the cluster's default file system
    (HDFS in SageMaker's Spark container), and ``fetch`` copies the parts here.
    """
    name = f".spark-{uuid.uuid4().hex[:12]}"
    local = folder / name
    if not on_cluster(spark):
        try:
            # ``sub`` may be a pattern (``d=*``: every partition folder of a partitioned write)
            # file:// + the raw path: Hadoop quotes it itself (as_uri()'s %3D would name a folder "%3D")
            yield f"file://{local}", lambda sub: sorted(local.glob(f"{sub}/part-*" if sub else "part-*"))
        finally:
            shutil.rmtree(local, ignore_errors=True)
        return
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    hadoop = jvm.org.apache.hadoop.fs.Path
    remote = hadoop(f"/tmp/prepline/{name.lstrip('.')}")  # not hidden: Hadoop's listings skip .names
    fs = remote.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]

    def fetch(sub: str) -> list[Path]:
        found = fs.globStatus(hadoop(hadoop(remote, sub) if sub else remote, "part-*")) or []
        copies = []
        for status in sorted(found, key=lambda s: s.getPath().getName()):
            folder = status.getPath().getParent().getName() if sub else ""  # the folder a pattern matched
            copy = local / folder / status.getPath().getName()
            copy.parent.mkdir(parents=True, exist_ok=True)
            # useRawLocalFileSystem: no .crc file beside the copy
            fs.copyToLocalFile(False, status.getPath(), hadoop("file", None, str(copy)), True)
            copies.append(copy)
        return copies

    try:
        yield fs.makeQualified(remote).toString(), fetch
    finally:
        with contextlib.suppress(Exception):
            fs.delete(remote, True)
        shutil.rmtree(local, ignore_errors=True)


def is_formula(text: str) -> str:
    """SQL: whether a spreadsheet would run this text as a formula (see ``engines.base.FORMULA_START``)."""
    return f"coalesce({text} RLIKE {s(FORMULA_START)} AND NOT {text} RLIKE {s(PLAIN_NUMBER)}, FALSE)"


def _csv_cell(name: str, type_: T.DataType, neutralize: bool) -> str:
    """A cell as Polars writes it: quoted only when it holds a comma, a quote or a line break; "" for empty text.

    ``neutralize``: a text cell a spreadsheet would run as a formula gets a leading ' first.
    """
    text = to_text(q(name), type_, csv=True)
    if not isinstance(type_, T.StringType):
        return f"coalesce({text}, '')"  # numbers, booleans, dates: never empty, never quoted
    if neutralize:
        text = f"(CASE WHEN {is_formula(text)} THEN concat({s(FORMULA_PREFIX)}, {text}) ELSE {text} END)"
    return (
        f"(CASE WHEN {text} IS NULL THEN '' WHEN {text} = '' THEN '\"\"' "
        f"WHEN {text} RLIKE {QUOTE_WHEN} THEN concat('\"', replace({text}, '\"', '\"\"'), '\"') ELSE {text} END)"
    )


def _csv_quote(name: str) -> str:
    if name == "":
        return '""'
    if any(ch in name for ch in ',"\r\n'):
        return '"' + name.replace('"', '""') + '"'
    return name


# --- errors ----------------------------------------------------------------------------------------


class _spark_errors:
    """Translate Spark exceptions raised while reading or running into prepline errors."""

    def __init__(self, request: RunRequest):
        self.request = request

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None or isinstance(exc, PreplineError):
            return
        from py4j.protocol import Py4JError  # type: ignore[import-untyped]
        from pyspark.errors import PySparkException

        if not isinstance(exc, (PySparkException, Py4JError)):
            return
        text = str(exc)
        source = self.request.source
        if "PATH_NOT_FOUND" in text or "FileNotFoundException" in text:
            raise InputError(f"input {source.display} could not be read: {_first(text)}",
                             hint="check that the files exist and are readable") from None
        raise EngineError(
            f"the spark engine failed on {source.display}: {_first(text)}",
            hint="run with --debug for the full error",
        ) from exc


def _first(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else text


__all__ = ["SparkEngine"]
