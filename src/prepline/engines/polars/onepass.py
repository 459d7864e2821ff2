"""Every output and every count from one read of the input.

The audit compile (see ``steps``) keeps every row, with flag columns for what each step
counts and a copy of each output's columns taken at its place in the flow (``Plan.snapshots``).
Here that frame is streamed in batches (``LazyFrame.collect_batches``) and, per batch:

* the flags are summed (the counts the audit query would give);
* each CSV output's rows are appended to its file, with formula cells neutralized in the
  columns where this batch has some (the same cells the two-pass path neutralizes);
* the rows of Parquet outputs and the inputs of aggregates go to spill files (Arrow IPC), which
  Polars' own sinks turn into the final files once the pass is over (so row groups, codecs and
  partitions are written as on the two-pass path).

The input is parsed and its JSON decoded once, where the two-pass path (the audit query, then
the sinks) does both twice. A batch whose one-parse JSON check fails stops the pass at once
(``JsonCheckFailed``): the engine then runs again with row-level checks.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

import polars as pl

from prepline.engines.base import FORMULA_PREFIX
from prepline.engines.polars.steps import Plan, Snapshot, aggregated, formula_labels, is_formula

# Rows per batch: about this many cells of output columns, within the bounds below. Larger
# batches write a little faster (the CSV writer works on a batch in parallel) and hold more
# memory: peak RSS at 14M rows of the employees recipe, 100k rows 667 MiB, 160k 718, 250k 814.
BATCH_CELLS = 3_000_000
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 4_096, 160_000
MAX_COLUMNS = 400  # wider flows take the two-pass path (a batch would hold few rows)
SPILL = ".prepline-spill"


class JsonCheckFailed(Exception):
    """A batch has JSON values the one-parse path could not convert (see ``steps.JSON_CHECK``)."""


def applies(audit: Plan) -> bool:
    """Whether the one pass runs this plan: it has outputs, and not too many columns of them."""
    return bool(audit.snapshots or audit.aggregate_inputs) and len(_copies(audit)) <= MAX_COLUMNS


def batch_rows(audit: Plan) -> int:
    return max(MIN_BATCH_ROWS, min(MAX_BATCH_ROWS, BATCH_CELLS // max(1, len(_copies(audit)))))


def _copies(audit: Plan) -> list[str]:
    """The audit frame's copies of output columns (see ``steps.Snapshot``)."""
    snapshots = [*audit.snapshots.values(), *(s for s, _, _ in audit.aggregate_inputs.values())]
    return list(dict.fromkeys(c for s in snapshots for c in s.columns.values()))


class Outputs(Protocol):
    """How the engine writes outputs (``engine._Writer``)."""

    files: dict[str, Path]
    spill_dir: Path

    def format(self, name: str) -> str: ...
    def neutralizes(self, name: str) -> bool: ...
    def sink(self, frame: pl.LazyFrame, name: str) -> pl.LazyFrame: ...
    def write_collected(self, frame: pl.DataFrame, name: str) -> int: ...


class Result(NamedTuple):
    counts: pl.DataFrame  # one row per batch, or per batch and split stratum, as engine._audit_counts reads them
    formulas: dict[str, dict[str, int]]  # CSV row output -> column -> formula cells neutralized
    neutralized: dict[str, int]  # aggregate written as CSV -> formula cells neutralized
    distinct: dict[str, int]  # distinct keys counted in the pass (see _IncreasingKeys); the others need their query


def run(audit: Plan, outputs: Outputs, json_keys: list[str]) -> Result:
    """Stream the audit frame once; write every output but the rejected one.

    ``json_keys`` are the counts that must stay 0 (see ``JsonCheckFailed``). Formula cells are
    found here, per batch, in the copies of the columns CSV outputs write (see
    ``formula_flags``), not by the audit's flag columns.
    """
    one = _Pass(audit, outputs, json_keys)
    outputs.spill_dir.mkdir(parents=True, exist_ok=True)
    try:
        with _csv_files(outputs.files, one.formats, audit.snapshots) as csv:
            batches = one.stream.collect_batches(chunk_size=batch_rows(audit), engine="streaming")
            try:
                for index, batch in enumerate(batches):
                    one.take(batch, index, csv)
            finally:
                del batches  # dropping the iterator stops the query (a traceback would keep it alive)
        neutral = one.write_spilled()
    finally:
        shutil.rmtree(outputs.spill_dir, ignore_errors=True)  # also when the pass stops (a JSON re-run, an error)
    return Result(one.counts(), one.formulas, neutral, {k: keys.count for k, keys in one.increasing.items() if keys.increasing})


class _Pass:
    """The state of one pass: what each batch is summed into, written to or spilled to."""

    def __init__(self, audit: Plan, outputs: Outputs, json_keys: list[str]):
        self.audit, self.outputs, self.json_keys = audit, outputs, json_keys
        formula_tallies = {k for by_column in audit.neutralized.values() for keys in by_column.values() for k in keys}
        tallies = [k for k in audit.tallies if k not in formula_tallies]
        self.sums = [pl.len().cast(pl.Int64).alias("n_rows"), *[pl.col(k).sum().cast(pl.Int64).alias(k) for k in tallies]]
        self.strata = list(audit.strata.values())
        assert audit.flow is not None
        self.increasing = {k: _IncreasingKeys() for k in audit.sorted_distinct
                           if audit.flow.select(k).collect_schema().dtypes()[0] in _ORDERED}
        self.stream = audit.flow.select(list(dict.fromkeys([*tallies, *self.strata, *self.increasing, *_copies(audit)])))
        self.formats = {name: outputs.format(name) for name in [*audit.snapshots, *audit.aggregate_inputs]}
        schema = self.stream.collect_schema()
        self.checked = {name: _formula_columns(snapshot, schema) for name, snapshot in audit.snapshots.items()
                        if self.formats[name] == "csv" and outputs.neutralizes(name)}
        self.checked_copies = sorted({audit.snapshots[n].columns[c] for n, cs in self.checked.items() for c in cs})
        self.formulas: dict[str, dict[str, int]] = {name: dict.fromkeys(cs, 0) for name, cs in self.checked.items()}
        self.spilled: dict[str, list[Path]] = {}
        self.found: list[pl.DataFrame] = []

    def take(self, batch: pl.DataFrame, index: int, csv: dict[str, IO[bytes]]) -> None:
        """Sum one batch's flags, append its rows to the CSV outputs, spill the rest."""
        totals = batch.select(self.sums)
        self.found.append(batch.group_by(self.strata).agg(self.sums) if self.strata else totals)
        total = totals.row(0, named=True)
        if any(total[k] for k in self.json_keys):
            raise JsonCheckFailed()
        for key, keys in self.increasing.items():
            keys.add(batch[key])
        flags = formula_flags(batch, self.checked_copies)
        for name, snapshot in self.audit.snapshots.items():
            rows = _rows(batch, snapshot, total)
            if rows is None:
                continue
            if self.formats[name] != "csv":
                self._spill(rows, name, index)
                continue
            for column in self.checked.get(name, []):
                flag = flags.get(snapshot.columns[column])
                if flag is not None:
                    flag = flag if rows.height == batch.height else flag.filter(batch[snapshot.mask])
                    self.formulas[name][column] += int(flag.sum())
                    rows = rows.with_columns(neutralized_where(column, flag))
            rows.write_csv(csv[name], include_header=False)
        for name, (snapshot, _, _) in self.audit.aggregate_inputs.items():
            rows = _rows(batch, snapshot, total)
            if rows is not None:
                self._spill(rows, name, index)

    def _spill(self, rows: pl.DataFrame, name: str, index: int) -> None:
        path = self.outputs.spill_dir / f"{len(name)}-{name}-{index:07d}.arrow"  # the name's length: two outputs never share a file
        rows.write_ipc(path, compression="lz4")
        self.spilled.setdefault(name, []).append(path)

    def _spilled(self, name: str, snapshot: Snapshot) -> pl.LazyFrame:
        if parts := self.spilled.get(name):
            return pl.scan_ipc(parts)
        schemas = self.stream.collect_schema()
        return pl.LazyFrame(schema={column: schemas[copy] for column, copy in snapshot.columns.items()})

    def write_spilled(self) -> dict[str, int]:
        """Parquet outputs and aggregates, from their spill files, by Polars' sinks; returns the
        formula cells neutralized in aggregates written as CSV."""
        sinks, collected = [], []
        for name, snapshot in self.audit.snapshots.items():
            if self.formats[name] != "csv":
                sinks.append(self.outputs.sink(self._spilled(name, snapshot), name))
        for name, (snapshot, spec, schema) in self.audit.aggregate_inputs.items():
            frame = aggregated(self._spilled(name, snapshot), spec, schema)
            if self.outputs.neutralizes(name):
                collected.append((name, frame))
            else:
                sinks.append(self.outputs.sink(frame, name))
        results = pl.collect_all([*sinks, *[f for _, f in collected]], engine="streaming")
        return {name: self.outputs.write_collected(frame, name)
                for (name, _), frame in zip(collected, results[len(sinks):], strict=True)}

    def counts(self) -> pl.DataFrame:
        return pl.concat(self.found) if self.found else pl.DataFrame(schema=self.stream.select(self.sums).collect_schema())


def write_csv_batches(frame: pl.LazyFrame, path: Path, neutralize: bool) -> dict[str, int]:
    """Write ``frame`` as CSV batch by batch, neutralizing the formula cells of its text columns
    where ``neutralize``; returns how many each column had."""
    texts = [c for c, t in frame.collect_schema().items() if t == pl.String] if neutralize else []
    found = dict.fromkeys(texts, 0)
    with _csv_file(path, frame.collect_schema().names()) as handle:
        for batch in frame.collect_batches(chunk_size=MAX_BATCH_ROWS, engine="streaming"):
            rows = batch
            for column, flag in formula_flags(batch, texts).items():
                found[column] += int(flag.sum())
                rows = rows.with_columns(neutralized_where(column, flag))
            rows.write_csv(handle, include_header=False)
    return found


def formula_flags(frame: pl.DataFrame, columns: list[str]) -> dict[str, pl.Series]:
    """For each text column with formula cells (see ``steps.is_formula``), which cells are.

    A formula starts with one of ``= + - @`` tab or CR: each sorts before "0" or from "=" to
    "@". Two comparisons with those (on the text's first bytes, which Polars keeps inline)
    rule out most cells, three times faster than the regex, which then runs on the rest only.
    """
    found = {}
    for column in columns:
        values = frame.get_column(column)
        maybe = ((values < "0") | ((values >= "=") & (values < "A"))).fill_null(False)
        if not maybe.any():
            continue
        at = maybe.arg_true()
        texts = values.gather(at)
        exact = texts.to_frame("t").select(is_formula(pl.col("t")).fill_null(False)).to_series()
        if exact.any():
            found[column] = pl.repeat(False, len(values), dtype=pl.Boolean, eager=True).scatter(at.filter(exact), True)
    return found


def neutralized_where(column: str, flag: pl.Series) -> pl.Expr:
    """The text column with a ' before the cells ``flag`` marks (the cells ``steps.neutralized`` changes)."""
    text = pl.col(column)
    return pl.when(pl.lit(flag)).then(pl.lit(FORMULA_PREFIX) + text).otherwise(text).alias(column)


def _formula_columns(snapshot: Snapshot, schema: pl.Schema) -> list[str]:
    """An output's columns that may hold a formula cell: text, but not bin labels none of which is one."""
    return [column for column, copy in snapshot.columns.items()
            if schema[copy] == pl.String and (column not in snapshot.labels or formula_labels(snapshot.labels[column]))]


# key types whose order in Polars is Python's (no NaN, text by code points)
_ORDERED = (pl.Int64, pl.Int32, pl.Int16, pl.Int8, pl.UInt64, pl.UInt32, pl.String, pl.Date, pl.Boolean)


class _IncreasingKeys:
    """The distinct values of a key column seen batch by batch, while they never decrease.

    Keys usually arrive sorted (ids). Then the distinct values are the runs of equal keys, and
    counting them needs only the last key seen: no hash table or sort of every key (14M ids:
    0.1 GB and a second read of the input). Once a key decreases, ``increasing`` is False and
    the engine counts with the key's own query.
    """

    def __init__(self) -> None:
        self.increasing = True
        self.count = 0
        self.last: Any = None

    def add(self, keys: pl.Series) -> None:
        keys = keys.drop_nulls()
        if not self.increasing or keys.is_empty():
            return
        first = keys[0]
        if not keys.is_sorted() or (self.last is not None and first < self.last):
            self.increasing = False
            return
        self.count += int(keys.rle_id().max()) + 1 - (1 if first == self.last else 0)  # type: ignore[arg-type]
        self.last = keys[-1]


def _rows(batch: pl.DataFrame, snapshot: Snapshot, total: dict[str, Any]) -> pl.DataFrame | None:
    """An output's rows in this batch, under its own column names (None: it has none here)."""
    n = total[snapshot.mask]
    if not n:
        return None
    rows = batch if n == batch.height else batch.filter(pl.col(snapshot.mask))
    return rows.select([pl.col(copy).alias(column) for column, copy in snapshot.columns.items()])


@contextmanager
def _csv_files(files: dict[str, Path], formats: dict[str, str], snapshots: dict[str, Snapshot]) -> Iterator[dict[str, IO[bytes]]]:
    """The CSV outputs' files, open for appending batches, each starting with its header."""
    with ExitStack() as stack:
        yield {name: stack.enter_context(_csv_file(files[name], list(snapshot.columns)))
               for name, snapshot in snapshots.items() if formats[name] == "csv"}


@contextmanager
def _csv_file(path: Path, columns: list[str]) -> Iterator[IO[bytes]]:
    """A CSV file open for appending batches (``write_csv(include_header=False)``), its header written."""
    with path.open("wb") as handle:
        pl.DataFrame(schema=columns).write_csv(handle)
        yield handle
