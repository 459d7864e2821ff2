"""Feature group requests and checks, without I/O: the CreateFeatureGroup request, the schema comparison.

A group fits the data when every column is a feature of the same type and the
record identifier and event time are the same features; features the group has
and the data lacks are allowed (they are left unset).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from prepline.errors import InputError, PreplineError, closest
from prepline.features.definitions import FeatureDefinition

GROUP_NAME_RE = re.compile(r"[a-zA-Z0-9]([-_]*[a-zA-Z0-9]){0,63}")
PREPLINE_DESCRIPTION = "created by prepline features ingest"


def check_group_name(name: str) -> None:
    if not GROUP_NAME_RE.fullmatch(name):
        raise InputError(
            f"{name!r} is not a valid feature group name",
            hint="1-64 letters or digits, with '-' or '_' only between them",
        )


def create_request(
    name: str,
    definitions: Sequence[FeatureDefinition],
    record_id: str,
    event_time: str,
    *,
    role_arn: str | None = None,
    offline_s3_uri: str | None = None,
    online: bool = True,
) -> dict[str, Any]:
    """The CreateFeatureGroup request for these features."""
    if offline_s3_uri is not None and not offline_s3_uri.startswith("s3://"):
        raise InputError(f"the offline store {offline_s3_uri!r} must be an s3:// URI")
    if offline_s3_uri and not role_arn:
        raise InputError(
            "an offline store needs a role Feature Store can assume to write it",
            hint="give --role ARN (the CDK app's feature store role, trusted by sagemaker.amazonaws.com)",
        )
    if not online and not offline_s3_uri:
        raise InputError(
            f"feature group {name!r} would have no store",
            hint="drop --no-online, or give --offline-store s3://BUCKET/PREFIX/ and --role ARN",
        )
    request: dict[str, Any] = {
        "FeatureGroupName": name,
        "RecordIdentifierFeatureName": record_id,
        "EventTimeFeatureName": event_time,
        "FeatureDefinitions": [d.as_api() for d in definitions],
        "Description": PREPLINE_DESCRIPTION,
    }
    if online:
        request["OnlineStoreConfig"] = {"EnableOnlineStore": True}
    if offline_s3_uri:
        request["OfflineStoreConfig"] = {"S3StorageConfig": {"S3Uri": offline_s3_uri}}
    if role_arn:
        request["RoleArn"] = role_arn
    return request


def compare(
    name: str,
    described: dict[str, Any],
    definitions: Sequence[FeatureDefinition],
    record_id: str,
    event_time: str,
) -> list[str]:
    """The group's features the data lacks (allowed); raises naming every column that conflicts."""
    group_types = {d["FeatureName"]: d["FeatureType"] for d in described.get("FeatureDefinitions", [])}
    problems: list[str] = []
    for role, ours, field in (
        ("record identifier", record_id, "RecordIdentifierFeatureName"),
        ("event time", event_time, "EventTimeFeatureName"),
    ):
        theirs = described.get(field)
        if theirs and theirs != ours:
            problems.append(f"{role}: {ours!r} in this ingest, {theirs!r} in the group")
    for d in definitions:
        theirs = group_types.get(d.name)
        if theirs is None:
            near = closest(d.name, [n for n in group_types if n not in {x.name for x in definitions}])
            like = f" (the group has {near!r})" if near else ""
            problems.append(f"{d.name}: {d.type} in the data ({d.dtype}), not in the group{like}")
        elif theirs != d.type:
            problems.append(f"{d.name}: {d.type} in the data ({d.dtype}), {theirs} in the group")
    if problems:
        raise InputError(
            f"the data does not fit feature group {name!r}:\n" + "\n".join(f"  - {p}" for p in problems),
            hint="cast, rename or drop those columns in the recipe; add missing features to the group "
            "(aws sagemaker update-feature-group --feature-additions ...); or ingest into a new group",
        )
    in_data = {d.name for d in definitions}
    return [n for n in group_types if n not in in_data]


def check_status(name: str, described: dict[str, Any]) -> None:
    status = described.get("FeatureGroupStatus")
    if status in ("Created", "Creating"):
        return
    reason = described.get("FailureReason")
    raise PreplineError(
        f"feature group {name!r} is {status}" + (f": {reason}" if reason else ""),
        hint="delete it (aws sagemaker delete-feature-group --feature-group-name "
        f"{name}) and run again, or choose another --feature-group"
        if status in ("CreateFailed", "DeleteFailed")
        else "wait until it is deleted, or choose another --feature-group",
    )
