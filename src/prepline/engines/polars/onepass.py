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
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

import polars as pl

from prepline.engines.base import REJECTED
from prepline.engines.polars.steps import Plan, Snapshot, aggregated, neutralized

# Rows per batch: about this many cells of output columns, within the bounds below. Larger
# batches write faster (the CSV writer works on a batch in parallel) and hold more memory.
BATCH_CELLS = 4_000_000
MIN_BATCH_ROWS, MAX_BATCH_ROWS = 4_096, 250_000
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


def run(audit: Plan, outputs: Outputs, json_keys: list[str]) -> tuple[pl.DataFrame, dict[str, int]]:
    """Stream the audit frame once; write every output but the rejected one.

    ``json_keys`` are the counts that must stay 0 (see ``JsonCheckFailed``). Returns the
    audit's counts (one row per batch, or per batch and split stratum, as
    ``engine._audit_counts`` reads them) and the formula cells neutralized in the aggregates
    (the row outputs' are the audit's counts).
    """
    counts = [pl.len().cast(pl.Int64).alias("n_rows"), *[pl.col(k).sum().cast(pl.Int64).alias(k) for k in audit.tallies]]
    strata = list(audit.strata.values())
    assert audit.flow is not None
    stream = audit.flow.select(list(dict.fromkeys([*audit.tallies, *strata, *_copies(audit)])))
    spill_dir = outputs.spill_dir
    spill_dir.mkdir(parents=True, exist_ok=True)
    formats = {name: outputs.format(name) for name in [*audit.snapshots, *audit.aggregate_inputs]}
    spilled: dict[str, list[Path]] = {}
    neutral: dict[str, int] = {}
    found: list[pl.DataFrame] = []
    with _csv_files(outputs.files, formats, audit.snapshots) as csv:
        batches = stream.collect_batches(chunk_size=batch_rows(audit), engine="streaming")
        try:
            for index, batch in enumerate(batches):
                totals = batch.select(counts)
                found.append(batch.group_by(strata).agg(counts) if strata else totals)
                total = totals.row(0, named=True)
                if any(total[k] for k in json_keys):
                    raise JsonCheckFailed()
                for name, snapshot in audit.snapshots.items():
                    rows = _rows(batch, snapshot, total)
                    if rows is None:
                        continue
                    if formats[name] == "csv":
                        texts = [c for c, keys in audit.neutralized.get(name, {}).items()
                                 if outputs.neutralizes(name) and any(total[k] for k in keys)]
                        if texts:
                            rows = rows.with_columns([neutralized(c) for c in texts])
                        rows.write_csv(csv[name], include_header=False)
                    else:
                        spilled.setdefault(name, []).append(_spill(rows, spill_dir, name, index))
                for name, (snapshot, _, _) in audit.aggregate_inputs.items():
                    rows = _rows(batch, snapshot, total)
                    if rows is not None:
                        spilled.setdefault(name, []).append(_spill(rows, spill_dir, name, index))
        finally:
            del batches  # dropping the iterator stops the query (a traceback would keep it alive)
    # Parquet outputs and aggregates, from their spill files, by Polars' sinks
    sinks, collected = [], []
    schemas = stream.collect_schema()
    for name, snapshot in audit.snapshots.items():
        if formats[name] != "csv":
            sinks.append(outputs.sink(_spilled(spilled.get(name), snapshot, schemas), name))
    for name, (snapshot, spec, schema) in audit.aggregate_inputs.items():
        frame = aggregated(_spilled(spilled.get(name), snapshot, schemas), spec, schema)
        if outputs.neutralizes(name):
            collected.append((name, frame))
        else:
            sinks.append(outputs.sink(frame, name))
    results = pl.collect_all([*sinks, *[f for _, f in collected]], engine="streaming")
    for (name, _), frame in zip(collected, results[len(sinks):], strict=True):
        neutral[name] = outputs.write_collected(frame, name)
    shutil.rmtree(spill_dir, ignore_errors=True)
    return pl.concat(found) if found else pl.DataFrame(schema=stream.select(counts).collect_schema()), neutral


def _rows(batch: pl.DataFrame, snapshot: Snapshot, total: dict[str, Any]) -> pl.DataFrame | None:
    """An output's rows in this batch, under its own column names (None: it has none here)."""
    n = total[snapshot.mask]
    if not n:
        return None
    rows = batch if n == batch.height else batch.filter(pl.col(snapshot.mask))
    return rows.select([pl.col(copy).alias(column) for column, copy in snapshot.columns.items()])


def _spill(rows: pl.DataFrame, folder: Path, name: str, index: int) -> Path:
    path = folder / f"{len(name)}-{name}-{index:07d}.arrow"  # the name's length: two outputs never share a file
    rows.write_ipc(path, compression="lz4")
    return path


def _spilled(parts: list[Path] | None, snapshot: Snapshot, schemas: pl.Schema) -> pl.LazyFrame:
    if parts:
        return pl.scan_ipc(parts)
    return pl.LazyFrame(schema={column: schemas[copy] for column, copy in snapshot.columns.items()})


@contextmanager
def _csv_files(files: dict[str, Path], formats: dict[str, str], snapshots: dict[str, Snapshot]) -> Iterator[dict[str, IO[bytes]]]:
    """The CSV outputs' files, open for appending batches, each starting with its header."""
    opened: dict[str, IO[bytes]] = {}
    try:
        for name, snapshot in snapshots.items():
            if formats[name] == "csv" and name != REJECTED:
                handle = opened[name] = files[name].open("wb")
                pl.DataFrame(schema=list(snapshot.columns)).write_csv(handle)  # the header line
        yield opened
    finally:
        for handle in opened.values():
            handle.close()
