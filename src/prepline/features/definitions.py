"""Feature definitions derived from a dataframe's schema, and the values as Feature Store text.

Feature Store has three feature types: ``Integral`` (64-bit integers), ``Fractional``
(64-bit floats) and ``String``. Integer columns become Integral, float columns
Fractional, everything else (text, booleans, dates, datetimes, nested values) String.
Every value is sent as text (``ValueAsString``); a null is left out of the record,
which Feature Store stores as a missing feature.

The event time feature must be ``String`` (ISO-8601 UTC, ``yyyy-MM-dd'T'HH:mm:ss[.SSS]Z``)
or ``Fractional`` (seconds since the epoch): a date or datetime column is sent as that
ISO text, an integer column as Fractional, and the conversion is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import polars as pl

from prepline.errors import ColumnNotFoundError, InputError, closest

FeatureType = Literal["Integral", "Fractional", "String"]

# CreateFeatureGroup's limits (FeatureDefinition.FeatureName, FeatureDefinitions).
NAME_RE = re.compile(r"[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}")
RESERVED = ("api_invocation_time", "is_deleted", "write_time")
MAX_FEATURES = 2500
EVENT_TIME_TYPES = ("Fractional", "String")
# The only text Feature Store accepts for a String event time.
EVENT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"


@dataclass(frozen=True)
class FeatureDefinition:
    name: str
    type: FeatureType
    dtype: str  # the column's Polars type, for messages

    def as_api(self) -> dict[str, str]:
        return {"FeatureName": self.name, "FeatureType": self.type}


@dataclass(frozen=True)
class FeatureSchema:
    """What a feature group made from this data looks like, and how values are converted."""

    definitions: tuple[FeatureDefinition, ...]
    record_id: str
    event_time: str
    conversions: tuple[str, ...] = ()  # one sentence per column sent differently from its type

    def api_definitions(self) -> list[dict[str, str]]:
        return [d.as_api() for d in self.definitions]

    def types(self) -> dict[str, FeatureType]:
        return {d.name: d.type for d in self.definitions}


def feature_type(dtype: pl.DataType) -> FeatureType:
    """Integral for integers, Fractional for floats, String for everything else."""
    if dtype.is_integer():
        return "Integral"
    if dtype.is_float():
        return "Fractional"
    return "String"


def derive_definitions(
    schema: Mapping[str, pl.DataType], record_id: str, event_time: str
) -> FeatureSchema:
    """One feature per column; every problem with the names is reported at once."""
    columns = list(schema)
    for role, name in (("record identifier", record_id), ("event time", event_time)):
        if name not in schema:
            near = closest(name, columns)
            raise ColumnNotFoundError(
                f"the {role} column {name!r} is not in the data (columns: {', '.join(columns)})",
                hint=f"did you mean {near!r}?" if near else f"name one of the columns with --{_option(role)}",
            )

    problems: list[str] = []
    if len(columns) > MAX_FEATURES:
        problems.append(
            f"{len(columns)} columns: a feature group holds at most {MAX_FEATURES} features"
        )
    seen: dict[str, str] = {}
    for name in columns:
        if not NAME_RE.fullmatch(name):
            problems.append(
                f"{name!r} is not a valid feature name: 1-64 letters or digits, '-' and '_' only "
                "between them"
            )
        if name.lower() in RESERVED:
            problems.append(f"{name!r} is reserved by Feature Store ({', '.join(RESERVED)})")
        if name.lower() in seen:
            problems.append(
                f"{seen[name.lower()]!r} and {name!r} differ only by case; the offline store's "
                "Glue table would see one column"
            )
        seen.setdefault(name.lower(), name)

    conversions: list[str] = []
    definitions: list[FeatureDefinition] = []
    for name, dtype in schema.items():
        kind = feature_type(dtype)
        if name == event_time:
            kind = _event_time_type(name, dtype, kind, problems, conversions)
        elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
            conversions.append(f"{name} ({dtype}) is sent as ISO-8601 text (String)")
        elif dtype == pl.Boolean:
            conversions.append(f"{name} (Boolean) is sent as 'true'/'false' (String)")
        elif isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
            conversions.append(f"{name} ({dtype}) is sent as JSON text (String)")
        definitions.append(FeatureDefinition(name, kind, str(dtype)))

    if problems:
        raise InputError(
            "the data cannot become a feature group:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="rename or drop those columns in the recipe (a `derive` or the `output` step's columns)",
        )
    return FeatureSchema(tuple(definitions), record_id, event_time, tuple(conversions))


def _option(role: str) -> str:
    return "record-id" if role == "record identifier" else "event-time"


def _event_time_type(
    name: str, dtype: pl.DataType, kind: FeatureType, problems: list[str], conversions: list[str]
) -> FeatureType:
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        zone = getattr(dtype, "time_zone", None)
        assumed = "" if zone else " (no time zone: taken as UTC)"
        conversions.append(
            f"event time {name} ({dtype}) is sent as ISO-8601 UTC text{assumed}, e.g. 2024-01-31T12:00:00.000Z"
        )
        return "String"
    if kind == "Integral":
        conversions.append(f"event time {name} ({dtype}) is declared Fractional (seconds since the epoch)")
        return "Fractional"
    if kind not in EVENT_TIME_TYPES or dtype == pl.Boolean or isinstance(
        dtype, (pl.List, pl.Array, pl.Struct)
    ):
        problems.append(
            f"event time {name!r} is {dtype}; it must be text in ISO-8601 (yyyy-MM-ddTHH:mm:ssZ), "
            "a date or datetime, or seconds since the epoch"
        )
    return kind


def add_event_time(frame: pl.DataFrame, column: str, now: datetime | None = None) -> pl.DataFrame:
    """``frame`` with ``column`` set to ``now`` (UTC) on every row; refused if it exists already."""
    if column in frame.columns:
        raise InputError(
            f"the data already has a column {column!r}; --add-event-time would overwrite it",
            hint="drop --add-event-time to use that column, or name another --event-time",
        )
    stamp = (now or datetime.now(UTC)).astimezone(UTC)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"
    return frame.with_columns(pl.lit(text, dtype=pl.String).alias(column))


def as_text(frame: pl.DataFrame, schema: FeatureSchema) -> pl.DataFrame:
    """Every feature as Feature Store text (nulls stay null: they are left out of the record)."""
    return frame.select([_text(name, frame.schema[name], name == schema.event_time) for name in frame.columns])


def _text(name: str, dtype: pl.DataType, is_event_time: bool) -> pl.Expr:
    col = pl.col(name)
    if dtype == pl.Date or isinstance(dtype, pl.Datetime):
        if getattr(dtype, "time_zone", None):
            col = col.dt.convert_time_zone("UTC")
        if is_event_time:
            moment = col.cast(pl.Datetime("ms")) if dtype == pl.Date else col
            return moment.dt.strftime(EVENT_TIME_FORMAT).alias(name)
        if dtype == pl.Date:
            return col.dt.strftime("%Y-%m-%d").alias(name)
        zone = "Z" if getattr(dtype, "time_zone", None) else ""
        return col.dt.strftime(f"%Y-%m-%dT%H:%M:%S%.6f{zone}").alias(name)
    if dtype.is_float():
        # Java's Double.parseDouble (Feature Store) reads "Infinity", not Polars' "inf".
        return col.cast(pl.String).replace({"inf": "Infinity", "-inf": "-Infinity"}).alias(name)
    if isinstance(dtype, (pl.List, pl.Array, pl.Struct)):
        return col.map_elements(_json, return_dtype=pl.String, skip_nulls=True).alias(name)
    return col.cast(pl.String).alias(name)


def _json(value: Any) -> str:
    if isinstance(value, pl.Series):
        value = value.to_list()
    return json.dumps(value, default=str, separators=(",", ":"))
