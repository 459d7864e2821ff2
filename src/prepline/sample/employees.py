"""Synthetic employee records shaped like the upstream mock data, at any size.

The upstream ``mock_data.csv`` (20,000 rows) is the reference; what was measured in it,
and is reproduced here:

=============  ====================================================  =============
column         values                                                missing
=============  ====================================================  =============
id             1..N, sequential                                      never
name           ``Name_<k>``, k uniform in 1..999                     never
age            whole numbers 18..79 stored as floats (``77.0``)      5 %
salary         50000, 60000 or 70000, equally likely                 32.4 %
hire_date      ISO dates, uniform over 2015-07-30..2025-07-27        10 %
profile        JSON object text, always all three keys:              10 %
               ``{"address": "Street <1..100>, City <1..50>",
               "phone": "<10 digits, 1000000000..9999999999>",
               "email": "email_<1..1000>@example.com"}``
department     HR, IT, Finance, Marketing, equally likely            20 %
bonus          whole numbers 1000..10000 stored as floats            10 %
=============  ====================================================  =============

Missing values are independent of each other (their pairwise correlations in the mock
data are all below 0.02), so each column gets its own Bernoulli mask.

Randomness is drawn per *block* of ``BLOCK_ROWS`` rows, from a generator seeded by
``SeedSequence(seed, spawn_key=(block,))``. A row's values therefore depend only on the
seed and its position: the chunk size used for writing does not change the output, a
file of N rows is a prefix of the file of N + M rows, and ``employees_frame`` with a
``start_id`` returns exactly the matching slice of a larger frame.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prepline.errors import InputError, OutputError

if TYPE_CHECKING:  # numpy and polars are imported where used, to keep the CLI start fast
    import numpy as np
    import polars as pl

__all__ = [
    "BLOCK_ROWS",
    "CHUNK_ROWS",
    "COLUMNS",
    "DEPARTMENTS",
    "MISSING_RATES",
    "SALARIES",
    "SampleResult",
    "employees_frame",
    "write_employees",
]

COLUMNS = ("id", "name", "age", "salary", "hire_date", "profile", "department", "bonus")

# Measured on the upstream mock data; see the module docstring.
MISSING_RATES = {
    "age": 0.05,
    "salary": 0.324,
    "hire_date": 0.10,
    "profile": 0.10,
    "department": 0.20,
    "bonus": 0.10,
}
SALARIES = (50_000, 60_000, 70_000)
DEPARTMENTS = ("HR", "IT", "Finance", "Marketing")
NAME_IDS = (1, 999)
AGES = (18, 79)
BONUSES = (1_000, 10_000)
HIRE_DATES = (dt.date(2015, 7, 30), dt.date(2025, 7, 27))
STREETS = (1, 100)
CITIES = (1, 50)
PHONES = (1_000_000_000, 9_999_999_999)
EMAIL_IDS = (1, 1_000)

# The unit of randomness. Changing it changes every generated file, so it is fixed here
# and not a parameter; CHUNK_ROWS (the unit of writing) is a multiple of it so that no
# block is generated twice.
BLOCK_ROWS = 10_000
CHUNK_ROWS = 250_000

PARQUET_ROW_GROUP_ROWS = 250_000

OnChunk = Callable[[int], None] | None  # told the rows written so far, after each chunk

_FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "ndjson", ".ndjson": "ndjson"}


@dataclass(frozen=True)
class SampleResult:
    """What ``write_employees`` produced: the file, its row count and size, and how long it took."""

    path: Path
    rows: int
    bytes: int
    seconds: float


def employees_frame(rows: int, seed: int = 0, start_id: int = 1) -> pl.DataFrame:
    """``rows`` employee records with ids ``start_id..start_id + rows - 1``, in memory.

    For tests and small samples; use ``write_employees`` for anything large, which streams.
    """
    _check_count("rows", rows, minimum=0)
    _check_count("seed", seed, minimum=0)
    _check_count("start_id", start_id, minimum=1)
    return _frame(start_id - 1, start_id - 1 + rows, seed)


def write_employees(
    path: str | Path,
    rows: int,
    seed: int = 0,
    *,
    chunk_rows: int = CHUNK_ROWS,
    on_chunk: OnChunk = None,
) -> SampleResult:
    """Write ``rows`` employee records to ``path`` as CSV, Parquet or JSON Lines (by extension).

    Rows are generated and written ``chunk_rows`` at a time, so memory stays bounded however
    many rows are asked for. The file appears only when complete: it is written under a
    temporary name in the same folder and renamed, so a failure never leaves a partial file
    where a reader could pick it up. ``on_chunk`` is called with the number of rows written
    so far after each chunk (the CLI draws its progress bar from it). ``chunk_rows`` trades
    memory for fewer, larger writes and never changes the bytes written; keep it a multiple
    of ``BLOCK_ROWS`` so that no block of random draws is made twice.
    """
    _check_count("rows", rows, minimum=0)
    _check_count("seed", seed, minimum=0)
    _check_count("chunk_rows", chunk_rows, minimum=1)
    target = Path(path)
    fmt = _format_for(target)
    started = time.perf_counter()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(target)
    except OSError as exc:
        raise OutputError(
            f"Cannot create the output folder or file for {target}: {exc.strerror or exc}.",
            hint="Choose an output path in a folder you can write to.",
        ) from exc
    try:
        _WRITERS[fmt](tmp, rows, seed, chunk_rows, on_chunk)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(
                f"Writing {target} failed: {exc.strerror or exc}.",
                hint="Check the free space and permissions of the output folder.",
            ) from exc
        raise
    return SampleResult(
        path=target,
        rows=rows,
        bytes=target.stat().st_size,
        seconds=time.perf_counter() - started,
    )


# -- generation ---------------------------------------------------------------------------


def _block_arrays(seed: int, block: int) -> dict[str, np.ndarray]:
    """Every random draw for one block of BLOCK_ROWS rows, always in the same order.

    Always a full block, even when fewer rows are needed: the draws of one column shift
    the generator's state for the next, so drawing a shorter block would change values.
    """
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    n = BLOCK_ROWS

    def uniform(bounds: tuple[int, int]) -> np.ndarray:
        # int32 wherever the range fits: half the memory per chunk, and the draws are cheaper.
        dtype = np.int32 if bounds[1] < 2**31 else np.int64
        return rng.integers(bounds[0], bounds[1], size=n, endpoint=True, dtype=dtype)

    drawn = {
        "name": uniform(NAME_IDS),
        "age": uniform(AGES),
        "salary": uniform((0, len(SALARIES) - 1)),
        "hire_date": uniform((0, (HIRE_DATES[1] - HIRE_DATES[0]).days)),
        "street": uniform(STREETS),
        "city": uniform(CITIES),
        "phone": uniform(PHONES),
        "email": uniform(EMAIL_IDS),
        "department": uniform((0, len(DEPARTMENTS) - 1)),
        "bonus": uniform(BONUSES),
    }
    for column, rate in MISSING_RATES.items():
        drawn[f"{column}_missing"] = rng.random(n) < rate
    return drawn


def _arrays(start: int, stop: int, seed: int) -> dict[str, np.ndarray]:
    """The draws for rows ``start..stop-1`` (0-based), cut from the blocks that cover them."""
    import numpy as np

    first, last = start // BLOCK_ROWS, (stop - 1) // BLOCK_ROWS
    blocks = [_block_arrays(seed, b) for b in range(first, last + 1)]
    offset = start - first * BLOCK_ROWS
    return {
        key: np.concatenate([b[key] for b in blocks])[offset : offset + stop - start]
        for key in blocks[0]
    }


def _frame(start: int, stop: int, seed: int) -> pl.DataFrame:
    """Rows ``start..stop-1`` (0-based; id = position + 1) as a typed DataFrame."""
    import polars as pl

    if stop <= start:
        return pl.DataFrame(schema=_schema())
    a = _arrays(start, stop, seed)
    epoch_day = (HIRE_DATES[0] - dt.date(1970, 1, 1)).days

    def text(column: str) -> pl.Expr:
        return pl.col(column).cast(pl.String)

    def unless_missing(column: str, value: pl.Expr) -> pl.Expr:
        return pl.when(pl.col(f"{column}_missing")).then(None).otherwise(value).alias(column)

    # The profile is assembled as text, not encoded from a struct: it must match the
    # upstream spelling (Python json.dumps defaults: this key order, ": " and ", "), and
    # string concatenation is the fastest way to make millions of them.
    profile = pl.concat_str(
        pl.lit('{"address": "Street '),
        text("street"),
        pl.lit(", City "),
        text("city"),
        pl.lit('", "phone": "'),
        text("phone"),
        pl.lit('", "email": "email_'),
        text("email"),
        pl.lit('@example.com"}'),
    )
    departments = pl.Series(DEPARTMENTS, dtype=pl.String)
    salaries = pl.Series(SALARIES, dtype=pl.Int64)
    return pl.DataFrame(a).select(
        pl.int_range(start + 1, stop + 1, dtype=pl.Int64).alias("id"),
        pl.concat_str(pl.lit("Name_"), text("name")).alias("name"),
        unless_missing("age", pl.col("age").cast(pl.Float64)),
        unless_missing("salary", pl.lit(salaries).gather(pl.col("salary"))),
        unless_missing("hire_date", (pl.col("hire_date") + epoch_day).cast(pl.Int32).cast(pl.Date)),
        unless_missing("profile", profile),
        unless_missing("department", pl.lit(departments).gather(pl.col("department"))),
        unless_missing("bonus", pl.col("bonus").cast(pl.Float64)),
    )


def _schema() -> dict[str, pl.DataType]:
    import polars as pl

    return {
        "id": pl.Int64(),
        "name": pl.String(),
        "age": pl.Float64(),
        "salary": pl.Int64(),
        "hire_date": pl.Date(),
        "profile": pl.String(),
        "department": pl.String(),
        "bonus": pl.Float64(),
    }


def _chunks(rows: int, seed: int, chunk_rows: int, on_chunk: OnChunk) -> Iterator[pl.DataFrame]:
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        yield _frame(start, stop, seed)
        if on_chunk is not None:
            on_chunk(stop)


# -- writing ------------------------------------------------------------------------------
# Each writer fills the temporary file ``tmp``; write_employees owns naming and publishing.


def _write_csv(tmp: Path, rows: int, seed: int, chunk_rows: int, on_chunk: OnChunk) -> None:
    with tmp.open("wb") as fh:
        _frame(0, 0, seed).write_csv(fh)  # the header, and the whole file when rows == 0
        for chunk in _chunks(rows, seed, chunk_rows, on_chunk):
            chunk.write_csv(fh, include_header=False)


def _write_ndjson(tmp: Path, rows: int, seed: int, chunk_rows: int, on_chunk: OnChunk) -> None:
    with tmp.open("wb") as fh:
        for chunk in _chunks(rows, seed, chunk_rows, on_chunk):
            chunk.write_ndjson(fh)


def _write_parquet(tmp: Path, rows: int, seed: int, chunk_rows: int, on_chunk: OnChunk) -> None:
    """Parquet cannot be appended to, so the chunks feed a lazy source that Polars streams out.

    A fixed row-group size keeps the file identical whatever ``chunk_rows`` is.
    """
    from polars.io.plugins import register_io_source

    def source(with_columns, predicate, n_rows, _batch_size) -> Iterator[pl.DataFrame]:
        limit = rows if n_rows is None else min(rows, n_rows)
        for chunk in _chunks(limit, seed, chunk_rows, on_chunk):
            if predicate is not None:
                chunk = chunk.filter(predicate)
            yield chunk if with_columns is None else chunk.select(with_columns)

    lazy = register_io_source(source, schema=_schema(), explain_name="employees sample")
    lazy.sink_parquet(tmp, row_group_size=PARQUET_ROW_GROUP_ROWS)


_WRITERS: dict[str, Callable[[Path, int, int, int, OnChunk], None]] = {
    "csv": _write_csv,
    "ndjson": _write_ndjson,
    "parquet": _write_parquet,
}


def _create_temp(target: Path) -> Path:
    """An empty, new file beside ``target`` (same filesystem, so the final rename is atomic).

    Created with ``os.open`` and mode 0o666 so the umask applies and the published file gets
    ordinary permissions, not the 0o600 of ``tempfile``.
    """
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp


def _format_for(target: Path) -> str:
    fmt = _FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise InputError(
            f"Cannot tell the output format of {target}: unknown extension {target.suffix!r}.",
            hint="End the output file name with .csv, .parquet, .jsonl or .ndjson.",
        )
    return fmt


def _check_count(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(
            f"{name} must be a whole number, got {value!r} ({type(value).__name__}).",
            hint=f"Pass {name} as an int >= {minimum}.",
        )
    if value < minimum:
        raise InputError(
            f"{name} must be >= {minimum}, got {value}.", hint=f"Pass {name} >= {minimum}."
        )
