"""What a SageMaker Processing job costs: an estimate before it runs, the bill after it ran.

Prices live in ``prices.json`` beside this module (us-east-1 on-demand list prices, each section
with its source page and the date it was written down). Everything here is pure: no AWS call,
no clock, no environment.

The billing model, as AWS publishes it for SageMaker Processing:

* compute    = hourly rate x InstanceCount x hours. SageMaker bills processing per second with no
  minimum charge, so an actual cost uses the seconds from ProcessingStartTime to
  ProcessingEndTime, rounded *up* to a whole second (a partial second is never free).
* ML storage = VolumeSizeInGB x InstanceCount x price per GB-month x hours / 730; AWS counts a
  month as 730 hours and bills the volume pro rata while it exists.
* S3         = (input + output GB) x S3 Standard price per GB-month, for one month of storage
  (a GB being 2**30 bytes, as AWS counts it). Requests and data transfer are not counted.

USD amounts are kept unrounded in :class:`CostEstimate`; the dict forms round them to 6 places.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeGuard

from prepline.errors import JobError, JobRequestError, closest

HOURS_PER_MONTH = 730
BYTES_PER_GB = 2**30
CURRENCY = "USD"
PRICES_FILE = "prices.json"
_DIGITS = 6  # dict forms keep a millionth of a dollar


@dataclass(frozen=True)
class LineItem:
    """One line of a bill: ``name`` is stable (for --json), ``detail`` shows the arithmetic."""

    name: str
    label: str
    detail: str
    usd: float

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "detail": self.detail, "usd": round(self.usd, _DIGITS)}


@dataclass(frozen=True)
class CostEstimate:
    """The cost of one processing job, line by line, with what was assumed to compute it."""

    instance_type: str
    instance_count: int
    volume_gb: int
    minutes: float
    compute: LineItem
    storage: LineItem
    s3: LineItem
    assumptions: tuple[str, ...]
    duration_source: str  # "given", "MaxRuntimeInSeconds" or "ProcessingStartTime..ProcessingEndTime"
    region: str
    prices_retrieved: str
    currency: str = CURRENCY

    @property
    def items(self) -> tuple[LineItem, ...]:
        return (self.compute, self.storage, self.s3)

    @property
    def total_usd(self) -> float:
        return self.compute.usd + self.storage.usd + self.s3.usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_type": self.instance_type,
            "instance_count": self.instance_count,
            "volume_gb": self.volume_gb,
            "minutes": self.minutes,
            "duration_source": self.duration_source,
            "currency": self.currency,
            "region": self.region,
            "items": [item.to_dict() for item in self.items],
            "total_usd": round(self.total_usd, _DIGITS),
            "assumptions": list(self.assumptions),
            "prices_retrieved": self.prices_retrieved,
        }


@lru_cache(maxsize=1)
def _prices_text() -> str:
    from importlib.resources import files

    return files("prepline.processing").joinpath(PRICES_FILE).read_text(encoding="utf-8")


def load_prices() -> dict[str, Any]:
    """The packaged price table (a fresh dict each call, so callers may change it)."""
    data: dict[str, Any] = json.loads(_prices_text())
    return data


def known_instance_types(prices: dict[str, Any] | None = None) -> list[str]:
    """Instance types that have a price, in the file's order (family, then size)."""
    return list((prices or load_prices())["processing"]["prices"])


def hourly_rate(instance_type: str, prices: dict[str, Any] | None = None) -> float:
    """USD per instance-hour; an unknown type is an error naming every known one and the closest."""
    table = (prices or load_prices())["processing"]["prices"]
    if instance_type not in table:
        known = list(table)
        guess = closest(instance_type, known)
        lead = f"use {guess!r} (the closest known type), or " if guess else ""
        raise JobRequestError(
            f"no price for instance type {instance_type!r}; known types: {', '.join(known)}",
            hint=f"{lead}add its hourly rate to prepline/processing/{PRICES_FILE}",
        )
    return float(table[instance_type])


def default_minutes(request: dict[str, Any]) -> float:
    """The worst case: the request's StoppingCondition.MaxRuntimeInSeconds, in minutes."""
    seconds = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
    if not _is_number(seconds) or seconds <= 0:
        raise JobRequestError(
            "the request has no StoppingCondition.MaxRuntimeInSeconds to take as the job's duration",
            hint="give the expected duration with --minutes N",
        )
    return float(seconds) / 60


def estimate(
    request: dict[str, Any],
    minutes: float | None,
    input_bytes: int | None = None,
    output_bytes: int | None = None,
    prices: dict[str, Any] | None = None,
) -> CostEstimate:
    """What ``request`` costs if it runs ``minutes`` (None: its MaxRuntimeInSeconds, the worst case)."""
    notes: list[str] = []
    source = "given" if minutes is not None else "MaxRuntimeInSeconds"
    if minutes is None:
        minutes = default_minutes(request)
        seconds = request["StoppingCondition"]["MaxRuntimeInSeconds"]
        notes.append(
            f"duration: {_minutes_text(minutes)}, the request's StoppingCondition.MaxRuntimeInSeconds "
            f"({seconds} s) - the worst case; pass --minutes for an expected duration"
        )
    else:
        if not _is_number(minutes) or not math.isfinite(minutes) or minutes <= 0:
            raise JobRequestError(f"minutes must be a number greater than 0, got {minutes!r}")
        notes.append(f"duration: {_minutes_text(minutes)}, as given")
    return _bill(request, float(minutes), _minutes_text(float(minutes)), input_bytes, output_bytes,
                 prices or load_prices(), notes, source)


def actual_cost(described: dict[str, Any], prices: dict[str, Any] | None = None) -> CostEstimate:
    """The billable cost of a job that ran, from a DescribeProcessingJob dict (local or cloud).

    Billable time is ProcessingEndTime - ProcessingStartTime rounded up to a whole second, with
    no minimum (SageMaker bills processing per second). S3 storage is not part of a job's bill.
    """
    from prepline.processing.describe import duration_seconds

    name = described.get("ProcessingJobName", "?")
    seconds = duration_seconds(described)
    if seconds is None:
        raise JobError(
            f"job {name} ({described.get('ProcessingJobStatus', '?')}) has no ProcessingStartTime and "
            "ProcessingEndTime yet; its cost is known once it has ended"
        )
    if seconds < 0:
        raise JobError(f"job {name}: ProcessingEndTime is before ProcessingStartTime")
    billable = billable_seconds(seconds)
    table = prices or load_prices()
    notes = [
        f"duration: {billable} s billable (ProcessingStartTime to ProcessingEndTime, per-second "
        "billing rounded up to a whole second, no minimum)",
    ]
    region_note = _region_note(described, table)
    if region_note:
        notes.append(region_note)
    return _bill(described, billable / 60, f"{billable} s", None, None, table, notes,
                 "ProcessingStartTime..ProcessingEndTime",
                 s3_note="S3 storage is billed to the buckets, not to the job: not counted")


def billable_seconds(seconds: float) -> int:
    """Whole seconds billed for ``seconds`` of run time (rounded up; float noise below 1 us ignored)."""
    return math.ceil(round(seconds, 6))


def cost_lines_for_job(described: dict[str, Any], prices: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The actual cost of a described job, for ``job describe``; None until it has started and ended.

    Keys: billable_seconds, compute_usd, storage_usd, total_usd (rounded to 6 places), instance_type,
    instance_count, currency and note. An instance type without a price does not fail (describe
    must still work): the USD values are then None and ``note`` says why.
    """
    from prepline.processing.describe import duration_seconds

    seconds = duration_seconds(described)
    if seconds is None or seconds < 0:
        return None
    cluster = (described.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    lines: dict[str, Any] = {
        "billable_seconds": billable_seconds(seconds),
        "compute_usd": None,
        "storage_usd": None,
        "total_usd": None,
        "instance_type": cluster.get("InstanceType"),
        "instance_count": cluster.get("InstanceCount"),
        "currency": CURRENCY,
        "note": None,
    }
    try:
        bill = actual_cost(described, prices)
    except JobRequestError as exc:
        lines["note"] = exc.message.split(";")[0]  # "no price for instance type 'x'", without the list
        return lines
    lines["compute_usd"] = round(bill.compute.usd, _DIGITS)
    lines["storage_usd"] = round(bill.storage.usd, _DIGITS)
    lines["total_usd"] = round(bill.total_usd, _DIGITS)
    lines["note"] = _region_note(described, prices or load_prices())
    return lines


def cost_summary(described: dict[str, Any], prices: dict[str, Any] | None = None) -> str | None:
    """One line for ``job describe``: "$0.0084 (600 s billable: compute $0.0083 + ML storage $0.0001)"."""
    lines = cost_lines_for_job(described, prices)
    if lines is None:
        return None
    if lines["total_usd"] is None:
        return f"unknown: {lines['note']}"
    text = (f"${lines['total_usd']:.4f} ({lines['billable_seconds']} s billable: compute "
            f"${lines['compute_usd']:.4f} + ML storage ${lines['storage_usd']:.4f}; approximate list price)")
    return f"{text}; {lines['note']}" if lines["note"] else text


def _bill(
    request: dict[str, Any],
    minutes: float,
    duration_text: str,
    input_bytes: int | None,
    output_bytes: int | None,
    prices: dict[str, Any],
    notes: list[str],
    duration_source: str,
    s3_note: str = "S3 storage not counted: give the input and output sizes to include it",
) -> CostEstimate:
    instance_type, count, volume = _cluster(request)
    rate = hourly_rate(instance_type, prices)
    hours = minutes / 60
    compute = LineItem(
        "compute", "Processing compute",
        f"{count} x {instance_type} x {duration_text} x ${rate:g}/hour",
        rate * count * hours,
    )
    gb_month = float(prices["ml_storage"]["price"])
    storage = LineItem(
        "ml_storage", "ML storage volume",
        f"{count} x {volume} GB x {duration_text} x ${gb_month:g}/GB-month ({HOURS_PER_MONTH} h)",
        volume * count * gb_month * hours / HOURS_PER_MONTH,
    )
    s3 = _s3_line(input_bytes, output_bytes, float(prices["s3_standard"]["price"]))
    assumptions = [
        *notes,
        f"prices: {prices.get('region')} on-demand list prices, approximate, retrieved "
        f"{prices['processing']['retrieved']} from {prices['processing']['source']}",
    ]
    if input_bytes is None and output_bytes is None:
        assumptions.append(s3_note)
    else:
        assumptions.append("S3 storage is one month of S3 Standard for the inputs and outputs; "
                           "requests and data transfer are not counted")
    return CostEstimate(
        instance_type=instance_type,
        instance_count=count,
        volume_gb=volume,
        minutes=minutes,
        compute=compute,
        storage=storage,
        s3=s3,
        assumptions=tuple(assumptions),
        duration_source=duration_source,
        region=str(prices.get("region")),
        prices_retrieved=str(prices["processing"]["retrieved"]),
    )


def _s3_line(input_bytes: int | None, output_bytes: int | None, gb_month: float) -> LineItem:
    if input_bytes is None and output_bytes is None:
        return LineItem("s3_storage", "S3 storage (1 month)", "not counted (sizes not given)", 0.0)
    sizes = {"input": input_bytes, "output": output_bytes}
    for what, size in sizes.items():
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            raise JobRequestError(f"{what} size must be a whole number of bytes >= 0, got {size!r}")
    gb = ((input_bytes or 0) + (output_bytes or 0)) / BYTES_PER_GB
    return LineItem("s3_storage", "S3 storage (1 month)",
                    f"{gb:.3f} GB x ${gb_month:g}/GB-month x 1 month", gb * gb_month)


def _cluster(request: dict[str, Any]) -> tuple[str, int, int]:
    cluster = (request.get("ProcessingResources") or {}).get("ClusterConfig")
    if not isinstance(cluster, dict):
        raise JobRequestError("the request has no ProcessingResources.ClusterConfig to price",
                              hint="prepline job validate REQUEST lists what a request needs")
    problems = []
    instance_type, count, volume = (cluster.get(k) for k in ("InstanceType", "InstanceCount", "VolumeSizeInGB"))
    if not isinstance(instance_type, str) or not instance_type:
        problems.append(f"ProcessingResources.ClusterConfig.InstanceType: expected a string, got {instance_type!r}")
    for field, value in (("InstanceCount", count), ("VolumeSizeInGB", volume)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            problems.append(f"ProcessingResources.ClusterConfig.{field}: expected a whole number >= 1, got {value!r}")
    if problems:
        raise JobRequestError("cannot price this request", problems=problems)
    return str(instance_type), int(count), int(volume)  # type: ignore[arg-type]  # checked above


def _minutes_text(minutes: float) -> str:
    return f"{minutes:g} min" if float(minutes).is_integer() else f"{minutes:.2f} min"


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _region_note(described: dict[str, Any], prices: dict[str, Any]) -> str | None:
    region = _arn_region(described.get("ProcessingJobArn"))
    if region and region != prices.get("region"):
        return f"the job ran in {region} but the prices are {prices.get('region')} list prices"
    return None


def _arn_region(arn: Any) -> str | None:
    parts = str(arn or "").split(":")
    if len(parts) > 3 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None
