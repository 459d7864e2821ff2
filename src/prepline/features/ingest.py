"""Feature groups: create or check one, then put records into it through the Feature Store runtime.

The runtime API has no batch put: records go one ``PutRecord`` at a time, from a
small thread pool (boto3 clients are thread-safe), a batch of rows at a time.
A record that is throttled or meets a 5xx or a dropped connection is retried with
exponential backoff; one that still fails, or that Feature Store refuses
(``ValidationError``), is written with its error to the failed-records file and
the rest go on. An error that would fail every record (access denied, no such
group, no credentials) stops the run.

Clients come from the standard AWS configuration (profile, region,
``AWS_ENDPOINT_URL``) or are injected, as in ``prepline.processing.sagemaker``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import polars as pl

from prepline.cloud.aws_errors import THROTTLING, AwsError, translate
from prepline.errors import InputError, PreplineError
from prepline.features.definitions import (
    FeatureDefinition,
    FeatureSchema,
    as_text,
    derive_definitions,
)
from prepline.features.groups import check_group_name, check_status, compare, create_request
from prepline.features.source import DEFAULT_OUTPUT, read_output

WORKERS = 8
BATCH_SIZE = 500
MAX_ATTEMPTS = 5  # per record: 1 try + 4 retries, backoff 0.5, 1, 2, 4 s
FIRST_DELAY = 0.5
MAX_DELAY = 20.0
CONTROL_ATTEMPTS = 5  # Describe/CreateFeatureGroup when throttled: backoff 1, 2, 4, 8 s
CREATE_TIMEOUT = 900.0  # seconds to wait for a new group to become Created

# Worth another try: throttling, the service's own 5xx codes, a dropped or slow connection.
RETRYABLE = set(THROTTLING) | {
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
    "InternalError",
    "RequestTimeout",
    "RequestTimeoutException",
}
CONNECTION = {"EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError", "ConnectionClosedError"}
# The record itself was refused: keep it with its error and go on.
REFUSED = {"ValidationError", "ValidationException"}


def default_clients(session: Any = None, workers: int = WORKERS) -> tuple[Any, Any]:
    """SageMaker (control plane) and Feature Store runtime clients.

    botocore retries the control plane itself; for PutRecord its retries are off so
    that our per-record attempts are the ones counted and reported.
    """
    import boto3
    from botocore.config import Config

    session = session or boto3.session.Session()
    control = Config(retries={"mode": "standard", "max_attempts": 6})
    data = Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=max(10, 2 * workers))
    return session.client("sagemaker", config=control), session.client("sagemaker-featurestore-runtime", config=data)


@dataclass(frozen=True)
class GroupCheck:
    """The feature group as found (or created), and how the data relates to it."""

    name: str
    arn: str
    status: str
    created: bool
    extra_features: tuple[str, ...]  # in the group but not in the data: left unset
    online: bool
    offline_s3_uri: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arn": self.arn,
            "status": self.status,
            "created": self.created,
            "extra_features": list(self.extra_features),
            "online_store": self.online,
            "offline_store": self.offline_s3_uri,
        }


@dataclass(frozen=True)
class IngestResult:
    group: str
    total: int
    written: int
    failed: int
    failed_path: Path | None  # None when nothing failed
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "feature_group": self.group,
            "records": self.total,
            "written": self.written,
            "failed": self.failed,
            "failed_output": str(self.failed_path) if self.failed_path else None,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class _Failure:
    row: int
    record: dict[str, str]
    code: str
    message: str
    attempts: int

    def as_json(self) -> str:
        error = {"code": self.code, "message": self.message, "attempts": self.attempts}
        return json.dumps({"row": self.row, "error": error, "record": self.record}, ensure_ascii=False)


class _Stop(Exception):
    """Raised in a worker: an error no record can get past (carries the translated error)."""

    def __init__(self, error: PreplineError):
        super().__init__(str(error))
        self.error = error


class FeatureStoreIngestor:
    def __init__(
        self,
        sagemaker: Any = None,
        runtime: Any = None,
        session: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        workers: int = WORKERS,
    ):
        if sagemaker is None or runtime is None:
            default_sm, default_runtime = default_clients(session, workers)
            sagemaker = sagemaker or default_sm
            runtime = runtime or default_runtime
        self.sm = sagemaker
        self.runtime = runtime
        self.sleep = sleep
        self.workers = max(1, workers)

    # --- the feature group -------------------------------------------------------------------

    def describe(self, name: str) -> dict[str, Any] | None:
        """DescribeFeatureGroup, or None when there is no such group."""
        try:
            return dict(self._call(f"describe feature group {name}", "describe_feature_group", FeatureGroupName=name))
        except AwsError as err:
            if err.code in ("ResourceNotFound", "ResourceNotFoundException"):
                return None
            raise

    def ensure_group(
        self,
        name: str,
        definitions: Sequence[FeatureDefinition],
        record_id: str,
        event_time: str,
        *,
        role_arn: str | None = None,
        offline_s3_uri: str | None = None,
        online: bool = True,
        create: bool = True,
        timeout: float = CREATE_TIMEOUT,
    ) -> GroupCheck:
        """Create the group if absent (and ``create``), wait until Created, and check the data fits it."""
        check_group_name(name)
        described = self.describe(name)
        created = False
        if described is None:
            if not create:
                raise PreplineError(
                    f"feature group {name!r} does not exist",
                    hint="let prepline create it (drop --no-create), or declare it in the CDK app "
                    "(-c feature_group=NAME)",
                )
            try:
                described = self.create_group(
                    name, definitions, record_id, event_time,
                    role_arn=role_arn, offline_s3_uri=offline_s3_uri, online=online, timeout=timeout,
                )
                created = True
            except AwsError as err:
                # Created by someone else since we looked: check that one instead.
                found = self.describe(name) if err.code in ("ResourceInUse", "ResourceInUseException") else None
                if found is None:
                    raise
                described = found
        if described.get("FeatureGroupStatus") == "Creating":
            described = self.wait_until_created(name, timeout)
        check_status(name, described)
        extra = compare(name, described, definitions, record_id, event_time)
        offline = (described.get("OfflineStoreConfig") or {}).get("S3StorageConfig", {}).get("S3Uri")
        return GroupCheck(
            name=name,
            arn=str(described.get("FeatureGroupArn", "")),
            status=str(described.get("FeatureGroupStatus")),
            created=bool(created),
            extra_features=tuple(extra),
            online=bool((described.get("OnlineStoreConfig") or {}).get("EnableOnlineStore")),
            offline_s3_uri=offline,
        )

    def create_group(
        self,
        name: str,
        definitions: Sequence[FeatureDefinition],
        record_id: str,
        event_time: str,
        *,
        role_arn: str | None = None,
        offline_s3_uri: str | None = None,
        online: bool = True,
        timeout: float = CREATE_TIMEOUT,
    ) -> dict[str, Any]:
        """CreateFeatureGroup, then wait until it is Created; returns its description."""
        request = create_request(
            name, definitions, record_id, event_time,
            role_arn=role_arn, offline_s3_uri=offline_s3_uri, online=online,
        )
        try:
            self._call(f"create feature group {name}", "create_feature_group", **request)
        except AwsError as err:
            if err.code in ("ValidationException", "ValidationError"):
                err.hint = (
                    "check the role (--role, trusted by sagemaker.amazonaws.com and allowed to write "
                    "--offline-store) and the offline store URI; the features come from the data's schema"
                )
            raise
        return self.wait_until_created(name, timeout)

    def wait_until_created(self, name: str, timeout: float = CREATE_TIMEOUT) -> dict[str, Any]:
        """Poll with backoff (1 s doubling to 15 s) while the group is Creating."""
        waited, delay = 0.0, 1.0
        while True:
            described = self.describe(name)
            if described is None:
                raise PreplineError(f"feature group {name!r} disappeared while it was being created")
            if described.get("FeatureGroupStatus") != "Creating":
                check_status(name, described)
                return described
            if waited >= timeout:
                raise PreplineError(
                    f"feature group {name!r} is still Creating after {timeout:g} s",
                    hint="run the command again later: an existing group is checked, not created again",
                    transient=True,
                )
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, 15.0)

    def _call(self, action: str, method: str, **kwargs: Any) -> Any:
        """A control-plane call; throttling is retried with exponential backoff, then reported."""
        delay = 1.0
        for attempt in range(1, CONTROL_ATTEMPTS + 1):
            try:
                return getattr(self.sm, method)(**kwargs)
            except Exception as exc:
                error = translate(exc, action)
                throttled = isinstance(error, AwsError) and error.code in THROTTLING
                if not throttled or attempt == CONTROL_ATTEMPTS:
                    if throttled:
                        error.message += f" (gave up after {attempt} attempts with backoff)"
                    raise error from None
                self.sleep(delay)
                delay = min(delay * 2, 20.0)
        raise AssertionError("unreachable")

    # --- records ----------------------------------------------------------------------------

    def ingest(
        self,
        source: str | Path | pl.DataFrame,
        group: str,
        *,
        record_id: str | None = None,
        event_time: str | None = None,
        schema: FeatureSchema | None = None,
        output_name: str = DEFAULT_OUTPUT,
        batch_size: int = BATCH_SIZE,
        max_attempts: int = MAX_ATTEMPTS,
        failed_output: Path | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> IngestResult:
        """Put every row of ``source`` into ``group``; failed records go to ``failed_output``.

        ``source`` is a DataFrame, a data file or a prepline output (folder or S3 prefix,
        ``output_name`` choosing the output). ``on_progress(n)`` is called as records finish.
        """
        if batch_size < 1 or max_attempts < 1:
            raise InputError("batch size and attempts must be at least 1")
        frame = source if isinstance(source, pl.DataFrame) else read_output(source, output_name)[0]
        if schema is None:
            if record_id is None or event_time is None:
                raise InputError("ingest needs the record identifier and event time columns (or a schema)")
            schema = derive_definitions(frame.schema, record_id, event_time)
        failed_path = Path(failed_output) if failed_output else Path(f"{group}-failed.jsonl")
        started = time.monotonic()
        text = as_text(frame, schema)
        stop = threading.Event()
        written = failed = 0
        sink: IO[str] | None = None
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="put-record") as pool:
                first_row = 1
                for batch in text.iter_slices(batch_size):
                    futures = [
                        pool.submit(self._put, group, schema, first_row + i, row, max_attempts, stop)
                        for i, row in enumerate(batch.iter_rows(named=True))
                    ]
                    first_row += batch.height
                    for outcome in _results(futures, stop):
                        if outcome is None:
                            written += 1
                        else:
                            failed += 1
                            if sink is None:
                                failed_path.parent.mkdir(parents=True, exist_ok=True)
                                sink = failed_path.open("w", encoding="utf-8")
                            sink.write(outcome.as_json() + "\n")
                        if on_progress:
                            on_progress(1)
        except _Stop as stopped:
            error = stopped.error
            kept = f"; {failed} failed record(s) are in {failed_path}" if failed else ""
            error.message += f" ({written} of {frame.height} records were written before this{kept})"
            raise error from None
        finally:
            if sink is not None:
                sink.close()
        return IngestResult(
            group=group,
            total=frame.height,
            written=written,
            failed=failed,
            failed_path=failed_path if failed else None,
            seconds=time.monotonic() - started,
        )

    def _put(
        self,
        group: str,
        schema: FeatureSchema,
        row: int,
        values: dict[str, str | None],
        max_attempts: int,
        stop: threading.Event,
    ) -> _Failure | None:
        record = {name: value for name, value in values.items() if value is not None}
        for role, name in (("record identifier", schema.record_id), ("event time", schema.event_time)):
            if name not in record:
                return _Failure(row, record, "MissingValue", f"the {role} {name!r} is null", 0)
        body = [{"FeatureName": name, "ValueAsString": value} for name, value in record.items()]
        delay = FIRST_DELAY
        for attempt in range(1, max_attempts + 1):
            if stop.is_set():
                return None  # the run is stopping: not sent, not counted
            try:
                self.runtime.put_record(FeatureGroupName=group, Record=body)
                return None
            except Exception as exc:
                code, message, retryable = _classify(exc)
                if code in REFUSED:
                    return _Failure(row, record, code, message, attempt)
                if not retryable:
                    raise _Stop(translate(exc, f"put records into feature group {group}")) from None
                if attempt == max_attempts:
                    return _Failure(row, record, code, f"{message} (gave up after {attempt} attempts)", attempt)
                self.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
        raise AssertionError("unreachable")


def _results(futures: list[Future[_Failure | None]], stop: threading.Event) -> Iterator[_Failure | None]:
    """Each future's result in order; on a _Stop, tell the others to stop and re-raise it."""
    for future in futures:
        try:
            yield future.result()
        except _Stop:
            stop.set()
            for other in futures:
                other.cancel()
            raise


def _classify(exc: Exception) -> tuple[str, str, bool]:
    """(error code, message, worth retrying)."""
    name = type(exc).__name__
    if name in CONNECTION:
        return name, str(exc), True
    response: dict[str, Any] = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code = str(error.get("Code") or name)
    message = str(error.get("Message") or exc)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    retryable = code in RETRYABLE or (isinstance(status, int) and status >= 500)
    return code, message, retryable
