"""Column profiles: per-column statistics of a dataset, computed by Polars, as bounded JSON.

A profile is a plain ``dict`` (format: ``docs/profile-format.md``, version
:data:`PROFILE_VERSION`). Its size does not grow with the data: histograms have a fixed
number of bins, value lists are cut at ``top_k`` / ``max_categories``, and each numeric
column keeps a sample of at most ``sample_size`` values so that :mod:`prepline.quality.drift`
can run two-sample tests from two profiles alone.

The work is two lazy Polars queries over all columns (never pandas; one pair per 100 columns of wide data):

1. counts, missing values, distinct values, min/max/mean/std, quantiles, string lengths,
   the value counts of text and boolean columns and the numeric samples;
2. histograms (their edges come from query 1's min and max) and the value counts of
   numeric columns with few distinct values.

Both run on Polars' streaming engine; the quantiles and the sample sort each numeric column.

Definitions, so that numbers can be checked independently:

- ``count`` = values present: not null and, for floats, not NaN. ``missing = rows - count``.
- numeric statistics (``min`` ... ``quantiles``, ``histogram``, ``sample``) use the *finite*
  values; ``infinite`` counts the others.
- ``std`` is the sample standard deviation (``ddof=1``). Means and standard deviations are rounded
  to 12 significant digits, so that the same data always gives the same profile.
- quantiles use linear interpolation (numpy's default ``method="linear"``).
- histogram bins are closed on the right, ``(a, b]``, the first one also on the left.
- the sample holds every finite value when there are at most ``sample_size``, else the
  ``sample_size`` order statistics at evenly spaced ranks (a quantile sketch, min and max
  included): deterministic, and free of the noise a random sample of that size would add to
  a distance between two distributions.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prepline.errors import InputError

if TYPE_CHECKING:  # polars is imported where used, to keep the CLI start fast
    import polars as pl

    from prepline.engines.base import InputSource

__all__ = [
    "DEFAULT_QUANTILES",
    "PROFILE_FILE",
    "PROFILE_VERSION",
    "load_profile",
    "profile_file",
    "profile_frame",
    "profile_run",
    "profile_source",
    "write_profiles",
]

PROFILE_VERSION = 1
PROFILE_FILE = "profile.json"
DEFAULT_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
ROW_SAMPLE_SEED = 7
MAX_COLUMNS = 500  # wider data: the first 500 columns are profiled (columns_total counts them all)


def profile_frame(
    lf: pl.LazyFrame,
    name: str,
    *,
    histogram_bins: int = 20,
    top_k: int = 10,
    sample_size: int = 1000,
    max_categories: int = 200,
    quantiles: tuple[float, ...] = DEFAULT_QUANTILES,
    row_sample: int | None = None,
    max_columns: int | None = MAX_COLUMNS,
) -> dict[str, Any]:
    """The profile of every column of ``lf`` (see the module docstring and docs/profile-format.md).

    ``max_columns``: profile only the first columns of wider data (``columns_total`` says how many
    there are), so that the profile stays bounded and a 20,000-column input does not take hours.

    ``row_sample``: profile about this many rows of larger data, chosen by a hash of the row
    number (deterministic, spread over the whole data); ``rows`` still counts all rows, the
    column statistics describe the ``profiled_rows``.
    """
    import polars as pl

    schema = lf.collect_schema()
    names = schema.names()
    if max_columns is not None:
        names = names[:max_columns]
    columns = [(i, c, schema[c], _kind(schema[c])) for i, c in enumerate(names)]
    total = None
    if row_sample is not None:
        total = int(lf.select(pl.len()).collect(engine="streaming").item())
        if total > row_sample:
            row = "__prepline_row"
            while row in schema:
                row += "_"
            keep = pl.col(row).hash(ROW_SAMPLE_SEED) % total < row_sample
            lf = lf.with_row_index(row).filter(keep).drop(row)

    first = [_first_pass(i, c, dtype, kind, quantiles, sample_size, max_categories) for i, c, dtype, kind in columns]
    stats = _collect_by_columns(lf, first, [pl.len().alias("rows")])

    second: list[list[pl.Expr]] = []
    edges: dict[int, list[float]] = {}
    for i, c, dtype, kind in columns:
        exprs = []
        if kind in ("numeric", "datetime") and stats[f"{i}|finite"]:
            edges[i] = _edges(stats[f"{i}|min"], stats[f"{i}|max"], histogram_bins, dtype)
            exprs.append(_finite(c, dtype, kind).hist(bins=edges[i]).implode().alias(f"{i}|hist"))
            if kind == "numeric" and stats[f"{i}|distinct"] <= max_categories:
                values = pl.col(c).filter(_finite_mask(c, dtype, kind))
                exprs.append(_value_counts(values, max_categories).alias(f"{i}|values"))
        elif kind in ("text", "boolean") and _worth_counting(stats, i, max_categories):
            exprs.append(_value_counts(_present(c, dtype), max_categories).alias(f"{i}|values"))
        if exprs:
            second.append(exprs)
    more = _collect_by_columns(lf, second, []) if second else {}

    out: dict[str, Any] = {}
    for i, c, dtype, kind in columns:
        out[c] = _column(
            i, dtype, kind, stats, more, edges.get(i), quantiles, top_k, max_categories
        )
    return {
        "profile_version": PROFILE_VERSION,
        "name": name,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": total if total is not None else int(stats["rows"]),
        "profiled_rows": int(stats["rows"]),
        "columns_total": len(schema),
        "settings": {
            "histogram_bins": histogram_bins,
            "top_k": top_k,
            "sample_size": sample_size,
            "max_categories": max_categories,
            "quantiles": list(quantiles),
            "std_ddof": 1,
            "quantile_interpolation": "linear",
            "row_sample": row_sample,
            "max_columns": max_columns,
        },
        "columns": out,
    }


COLUMNS_PER_QUERY = 100


def _collect_by_columns(lf: pl.LazyFrame, per_column: list[list[pl.Expr]], always: list[pl.Expr]) -> dict[str, Any]:
    """One row of results, from one query per ``COLUMNS_PER_QUERY`` columns.

    Polars plans a select of thousands of expressions in superlinear time (a 10,000-column
    input took minutes in one query, seconds in groups of 100); narrower data is one query.
    """
    found: dict[str, Any] = {}
    for start in range(0, max(len(per_column), 1), COLUMNS_PER_QUERY):
        exprs = [*always, *itertools.chain.from_iterable(per_column[start:start + COLUMNS_PER_QUERY])]
        if exprs:
            found.update(lf.select(exprs).collect(engine="streaming").row(0, named=True))
    return found


# --- per-column expressions -----------------------------------------------------------------


def _kind(dtype: pl.DataType) -> str:
    import polars as pl

    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "text"
    return "other"


def _is_float(dtype: pl.DataType) -> bool:
    return dtype.is_float()


def _present(c: str, dtype: pl.DataType) -> pl.Expr:
    """The column's values that count as present (not null; floats also not NaN)."""
    import polars as pl

    col = pl.col(c)
    if _is_float(dtype):
        return col.filter(col.is_not_null() & col.is_not_nan())
    if isinstance(dtype, pl.Categorical | pl.Enum):
        return col.cast(pl.String).drop_nulls()
    return col.drop_nulls()


def _numeric(c: str, dtype: pl.DataType, kind: str) -> pl.Expr:
    """The column as float numbers (datetimes as seconds since 1970-01-01 UTC)."""
    import polars as pl

    if kind == "datetime":
        return pl.col(c).cast(pl.Datetime("us")).dt.epoch("us").cast(pl.Float64) / 1e6
    return pl.col(c).cast(pl.Float64)


def _finite_mask(c: str, dtype: pl.DataType, kind: str) -> pl.Expr:
    x = _numeric(c, dtype, kind)
    return x.is_not_null() & x.is_finite()


def _finite(c: str, dtype: pl.DataType, kind: str) -> pl.Expr:
    return _numeric(c, dtype, kind).filter(_finite_mask(c, dtype, kind))


def _value_counts(values: pl.Expr, limit: int) -> pl.Expr:
    """The ``limit + 1`` most frequent values as one list of {value, n}: by count, ties by value."""
    import polars as pl

    # ordered inside one list: sort keys from a second value_counts() could come in another order
    item = pl.element()
    keys = [item.struct.field("__n"), item.struct[0]]
    first = item.top_k_by(keys, k=limit + 1, reverse=[False, True])
    # renamed first: a column called like the count field would clash with it
    return values.alias("value").value_counts(name="__n").implode().list.eval(first)


def _first_pass(
    i: int,
    c: str,
    dtype: pl.DataType,
    kind: str,
    quantiles: tuple[float, ...],
    sample_size: int,
    max_categories: int,
) -> list[pl.Expr]:
    import polars as pl

    col = pl.col(c)
    exprs = [col.null_count().alias(f"{i}|nulls")]
    if kind == "other":
        return exprs
    present = _present(c, dtype)
    exprs.append(present.n_unique().alias(f"{i}|distinct"))
    if _is_float(dtype):
        exprs.append(col.is_nan().sum().alias(f"{i}|nan"))
        exprs.append(col.is_infinite().sum().alias(f"{i}|infinite"))
    if kind in ("numeric", "datetime"):
        x = _finite(c, dtype, kind)
        exprs += [
            x.len().alias(f"{i}|finite"),
            x.min().alias(f"{i}|min"),
            x.max().alias(f"{i}|max"),
            x.mean().alias(f"{i}|mean"),
            x.std(ddof=1).alias(f"{i}|std"),
            x.quantile(list(quantiles), interpolation="linear").alias(f"{i}|quantiles"),
            _quantile_sample(x, sample_size).alias(f"{i}|sample"),
        ]
        if kind == "numeric" and not _is_float(dtype):  # exact integer bounds, not float ones
            exprs += [col.min().alias(f"{i}|imin"), col.max().alias(f"{i}|imax")]
    if kind == "text":
        lengths = present.str.len_chars()
        exprs += [
            lengths.min().alias(f"{i}|len_min"),
            lengths.max().alias(f"{i}|len_max"),
            lengths.mean().alias(f"{i}|len_mean"),
        ]
    return exprs


def _worth_counting(stats: dict[str, Any], i: int, max_categories: int) -> bool:
    """Count the values of a text column unless most of them are distinct (identifiers, free text):
    their most frequent values say little, and counting them costs a group-by as long as the data."""
    distinct = stats[f"{i}|distinct"]
    present = stats["rows"] - stats[f"{i}|nulls"]
    return distinct <= max_categories or distinct <= present / 2


def _quantile_sample(x: pl.Expr, size: int) -> pl.Expr:
    """Every value when there are at most ``size``, else ``size`` evenly spaced order statistics.

    Unlike a random sample, this sketch of the distribution has no sampling noise: the
    Wasserstein distance between two of them is close to the one between the full columns.
    """
    import polars as pl

    n = x.len()
    m = pl.min_horizontal(n, pl.lit(size))
    ranks = (
        pl.int_range(0, m, dtype=pl.Int64) * (n - 1) / pl.max_horizontal(m - 1, pl.lit(1))
    ).round()
    return x.sort().gather(ranks.cast(pl.Int64)).implode()


def _edges(lo: float, hi: float, bins: int, dtype: pl.DataType) -> list[float]:
    """Equal-width bin edges over [lo, hi]; integers with a short range get one bin per value."""
    if dtype.is_integer() and hi - lo + 1 <= bins:
        edges = [lo - 0.5 + k for k in range(int(hi - lo) + 2)]
    elif lo == hi:
        edges = [lo - 0.5, hi + 0.5]
    else:
        width = (hi - lo) / bins
        edges = [lo + k * width for k in range(bins)] + [hi]
    if any(b <= a for a, b in itertools.pairwise(edges)):  # bins below float precision (1e20 +- 0.5)
        return [lo, hi] if lo < hi else [math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)]
    return edges


# --- assembling the column profile ----------------------------------------------------------


def _column(
    i: int,
    dtype: pl.DataType,
    kind: str,
    stats: dict[str, Any],
    more: dict[str, Any],
    edges: list[float] | None,
    quantiles: tuple[float, ...],
    top_k: int,
    max_categories: int,
) -> dict[str, Any]:
    rows = int(stats["rows"])
    missing = int(stats[f"{i}|nulls"]) + int(stats.get(f"{i}|nan") or 0)
    col: dict[str, Any] = {
        "dtype": str(dtype),
        "kind": kind,
        "count": rows - missing,
        "missing": missing,
        "missing_share": _share(missing, rows),
    }
    if kind == "other":
        return col
    col["distinct"] = int(stats[f"{i}|distinct"])
    if _is_float(dtype):
        col["nan"] = int(stats[f"{i}|nan"])
        col["infinite"] = int(stats[f"{i}|infinite"])
    if kind in ("numeric", "datetime"):
        has_values = bool(stats[f"{i}|finite"])
        col["min"] = _num(stats.get(f"{i}|imin", stats[f"{i}|min"]))
        col["max"] = _num(stats.get(f"{i}|imax", stats[f"{i}|max"]))
        col["mean"] = _sum_based(stats[f"{i}|mean"])
        col["std"] = _sum_based(stats[f"{i}|std"])
        values = stats[f"{i}|quantiles"] or [None] * len(quantiles)
        col["quantiles"] = {_qkey(q): _num(v) for q, v in zip(quantiles, values, strict=True)}
        col["histogram"] = (
            {"edges": edges, "counts": [int(n) for n in more[f"{i}|hist"]]}
            if has_values and edges is not None
            else None
        )
        col["sample"] = [_num(v) for v in stats[f"{i}|sample"] or []]
        if kind == "datetime":
            col["unit"] = "epoch_seconds"
            col["min_text"] = _iso(col["min"])
            col["max_text"] = _iso(col["max"])
    if kind == "text":
        col["length"] = {
            "min": _num(stats[f"{i}|len_min"]),
            "max": _num(stats[f"{i}|len_max"]),
            "mean": _sum_based(stats[f"{i}|len_mean"]),
        }
    values = more.get(f"{i}|values")
    pairs = (
        None
        if values is None
        else [{"value": _json_value(v[next(iter(v))]), "count": int(v["__n"])} for v in values]
    )
    col["top"] = None if pairs is None else pairs[:top_k]
    col["frequencies"] = pairs if pairs is not None and col["distinct"] <= max_categories else None
    return col


def _qkey(q: float) -> str:
    return f"{q:g}"


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _num(value: Any) -> Any:
    """A JSON-safe number: NaN and infinities become None; integral floats stay floats."""
    if value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _sum_based(value: Any) -> Any:
    """A mean or standard deviation, to 12 significant digits: Polars adds the parts of a column in
    parallel, in an order that varies, so the last bits vary too; the profile of the same data must not."""
    value = _num(value)
    return float(f"{value:.12g}") if isinstance(value, float) else value


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return _num(value)


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# --- files, runs and the profile file -------------------------------------------------------


def scan_source(source: InputSource, head_rows: int | None = None) -> pl.LazyFrame:
    """A lazy frame over a resolved input, with types inferred from the data; with ``head_rows``,
    those first rows, read once and held in memory (profiling them there is 10x faster)."""
    import polars as pl

    options = source.storage_options
    if source.format == "csv":
        # Dates are recognized on the first rows (try_parse_dates costs ~6 us a row on every text
        # column, for the whole file): the rows read, or a scan told the date columns' types
        frame = pl.scan_csv(source.uri, infer_schema_length=10_000, storage_options=options)
        head = frame.head(head_rows or 10_000).collect()
        dated = _with_dates(head)
        if head_rows:
            return dated.lazy()
        dates = {c: t for c, t in dated.schema.items() if t != head.schema[c]}
        return pl.scan_csv(source.uri, infer_schema_length=10_000, schema_overrides=dates, storage_options=options) \
            if dates else frame
    frame = (pl.scan_parquet(source.uri, storage_options=options) if source.format == "parquet"
             else pl.scan_ndjson(source.uri, infer_schema_length=10_000, storage_options=options))
    return frame.head(head_rows).collect().lazy() if head_rows else frame


_LOOKS_LIKE_A_DATE = re.compile(r"[0-9]{1,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}")


def _with_dates(frame: pl.DataFrame) -> pl.DataFrame:
    """Text columns whose every value is a date (or a date and time) as Date (Datetime) columns,
    as ``scan_csv(try_parse_dates=True)`` types them."""
    import polars as pl

    converted = []
    for column, kind in frame.schema.items():
        values = frame.get_column(column)
        if kind != pl.String or values.null_count() == len(values):
            continue
        if not _LOOKS_LIKE_A_DATE.match(values.drop_nulls()[0].strip()):
            continue  # a failed parse costs ~3 us a value: look at the first one before trying
        for parse in (lambda v: v.str.to_date(strict=True), lambda v: v.str.to_datetime(time_unit="us", strict=True)):
            try:
                converted.append(parse(values))
                break
            except pl.exceptions.PolarsError:  # not that kind of value (or not one format)
                continue
    return frame.with_columns(converted) if converted else frame


def profile_source(source: InputSource, name: str = "input", *, head_rows: int | None = None, **options: Any) -> dict[str, Any]:
    """Profile a resolved input (a file, a folder of files or an S3 prefix).

    ``head_rows`` profiles only the first rows (a bounded cost on big data; recorded in the profile).
    """
    import polars as pl

    try:
        try:
            lf = scan_source(source, head_rows)
            profile = profile_frame(lf, name, **options)
        except pl.exceptions.ComputeError:
            if source.format != "csv":
                raise
            # a value far into the file does not fit the type guessed from the first 10,000 rows
            lf = pl.scan_csv(
                source.uri,
                infer_schema_length=None,
                try_parse_dates=True,
                storage_options=source.storage_options,
            )
            profile = profile_frame(lf, name, **options)
    except OSError as exc:  # Polars' object store gave up on S3
        from prepline.storage import object_store_error

        if unreachable := object_store_error(exc, source.display):
            raise unreachable from None
        raise
    except pl.exceptions.NoDataError:
        raise InputError(f"cannot profile {source.display}: it is empty") from None
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"cannot read {source.display} as {source.format}: {first}",
            hint="check the file, or give its format with --format csv|parquet|jsonl",
        ) from None
    profile["source"] = {"uri": source.display, "format": source.format}
    if head_rows:
        profile.setdefault("settings", {})["head_rows"] = head_rows
    return profile


def profile_file(
    path_or_uri: str | Path, format: str | None = None, *, name: str | None = None, **options: Any
) -> dict[str, Any]:
    """Profile a CSV, Parquet or JSON Lines file, folder, ``file://`` or ``s3://`` URI.

    ``format`` is csv, parquet or jsonl; by default it comes from the file's extension.
    """
    from prepline.storage import resolve_input

    if format not in (None, "auto", "csv", "parquet", "jsonl"):
        raise InputError(f"unknown data format {format!r}", hint="use csv, parquet or jsonl")
    source = resolve_input(str(path_or_uri), format or "auto")
    return profile_source(source, name or Path(str(path_or_uri).rstrip("/")).stem, **options)


def profile_run(
    source: InputSource | str | Path | None, outputs: dict[str, Path], **options: Any
) -> dict[str, Any]:
    """The profiles of a run: ``{"profile_version", "input", "outputs": {name: profile}}``.

    ``source`` is the run's input (an :class:`InputSource` or a path/URI), or None to skip it;
    ``outputs`` maps output names to the files written (CSV or Parquet, by extension).
    """
    from prepline.storage import resolve_input

    bundle: dict[str, Any] = {"profile_version": PROFILE_VERSION, "input": None, "outputs": {}}
    if source is not None:
        if isinstance(source, str | Path):
            source = resolve_input(str(source))
        bundle["input"] = profile_source(source, "input", **options)
    for name, path in outputs.items():
        bundle["outputs"][name] = profile_file(path, name=name, **options)
    return bundle


def write_profiles(folder: Path, bundle: dict[str, Any]) -> Path:
    """Write a run's profiles to ``folder/profile.json``.

    A profile of a file inside ``folder`` names it relative to the folder: a run writes into a
    staging folder that is renamed when published, so its path there means nothing afterwards
    (and would make two runs' profiles differ).
    """
    base = Path(folder).resolve()
    for profile in [bundle.get("input"), *(bundle.get("outputs") or {}).values()]:
        source = (profile or {}).get("source") or {}
        uri = str(source.get("uri", ""))
        if uri and "://" not in uri and Path(uri).resolve().is_relative_to(base):
            source["uri"] = Path(uri).resolve().relative_to(base).as_posix()
    path = Path(folder) / PROFILE_FILE
    path.write_text(json.dumps(bundle, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def load_profile(
    path_or_data: str | Path | dict[str, Any], part: str | None = None
) -> dict[str, Any]:
    """A single profile from a profile file, a run's ``profile.json`` or a run folder.

    A run's file holds several profiles: ``part`` picks ``"input"`` (the default) or an
    output's name. Anything else that is not JSON is profiled as data (:func:`profile_file`).
    """
    if isinstance(path_or_data, dict):
        return _pick(path_or_data, part, "the profile given")
    where = str(path_or_data)
    if where.startswith("s3://"):
        if not where.lower().endswith(".json"):
            return profile_file(where)
        return _pick(_read_s3_json(where), part, where)
    local = Path(where.removeprefix("file://"))
    if local.is_dir():
        local = local / PROFILE_FILE
        if not local.is_file():
            raise InputError(
                f"{path_or_data} holds no {PROFILE_FILE}",
                hint="give a profile file, a data file, or a run's output folder",
            )
    if local.suffix.lower() != ".json":
        return profile_file(where)
    try:
        data = json.loads(local.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"profile {where} does not exist", hint="check the path") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read profile {where}: {exc}") from None
    return _pick(data, part, str(local))


def _read_s3_json(uri: str) -> Any:
    from prepline.errors import StorageError
    from prepline.storage import parse_uri, s3_client

    loc = parse_uri(uri)
    try:
        body = s3_client().get_object(Bucket=loc.bucket, Key=loc.path)["Body"].read()
    except Exception as exc:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
        raise StorageError(
            f"cannot read profile {uri}: {code}", hint="check the URI and your AWS credentials"
        ) from None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise InputError(f"cannot read profile {uri}: {exc}") from None


def _pick(data: dict[str, Any], part: str | None, where: str) -> dict[str, Any]:
    if not isinstance(data, dict) or "profile_version" not in data:
        raise InputError(
            f"{where} is not a prepline profile (no profile_version)",
            hint="make one with `prepline profile DATA --output profile.json`",
        )
    if data["profile_version"] > PROFILE_VERSION:
        raise InputError(
            f"{where} has profile_version {data['profile_version']}, newer than this prepline reads "
            f"({PROFILE_VERSION})",
            hint="upgrade prepline",
        )
    if "columns" in data:  # a single profile
        return data
    choices = (["input"] if data.get("input") else []) + list(data.get("outputs") or {})
    wanted = part or "input"
    found = data.get("input") if wanted == "input" else (data.get("outputs") or {}).get(wanted)
    if not found:
        raise InputError(
            f"{where} has no profile named {wanted!r}; it holds: {', '.join(choices) or 'none'}",
            hint="choose one with --part NAME",
        )
    return found
