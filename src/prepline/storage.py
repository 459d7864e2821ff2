"""Where data lives: local paths, ``file://`` and ``s3://`` URIs; atomic publishing of outputs.

Inputs are only ever read. Outputs are staged in a private folder and published
in one step: locally by renaming the folder into place (the previous outputs
stay intact until then), on S3 by removing an earlier manifest, uploading every
file and the manifest last, so a reader that finds ``_manifest.json`` finds a
complete set.

S3 requests are retried (``PREPLINE_S3_MAX_ATTEMPTS`` tries, 5 by default) with
exponential backoff and jitter, by boto3's ``standard`` retry mode and by Polars'
object store alike: throttling, 5xx answers, refused, reset and timed-out
connections. What still fails is reported as a transient :class:`StorageError`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from prepline import settings
from prepline.engines.base import InputSource
from prepline.errors import InputError, JobRequestError, OutputError, PreplineError, StorageError

MANIFEST = "_manifest.json"
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


@dataclass(frozen=True)
class Location:
    scheme: Literal["file", "s3"]
    path: str  # local: an absolute path; s3: the key (may be "" or end with "/")
    bucket: str = ""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.path}" if self.scheme == "s3" else self.path


def parse_uri(uri: str) -> Location:
    """A local path, ``file://`` URI or ``s3://bucket/key``; anything else is refused."""
    if uri.startswith("s3://"):
        parsed = urlparse(uri)
        if not parsed.netloc:
            raise StorageError(f"S3 URI {uri!r} has no bucket", hint="write it as s3://bucket/key")
        return Location("s3", parsed.path.lstrip("/"), parsed.netloc)
    if uri.startswith("file://"):
        parsed = urlparse(uri)
        return Location("file", str(Path(unquote(parsed.path)).resolve()))
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise StorageError(f"unsupported URI scheme {scheme!r} in {uri!r}", hint="use a local path, file:// or s3://")
    return Location("file", str(Path(uri).expanduser().resolve()))


# --- S3 ------------------------------------------------------------------------------------------


def s3_client(session: Any = None) -> Any:
    """A boto3 S3 client configured the standard way (profile, region, AWS_ENDPOINT_URL), with retries."""
    import boto3

    return (session or boto3.session.Session()).client("s3", config=s3_config())


def s3_config() -> Any:
    """botocore's settings for S3 clients: the standard retry mode (exponential backoff with jitter,
    retrying throttling, 5xx and connection errors) and bounded timeouts, so a dead endpoint fails."""
    from botocore.config import Config

    return Config(retries={"max_attempts": settings.s3_attempts(), "mode": "standard"},
                  connect_timeout=10, read_timeout=60)


def polars_storage_options(session: Any = None) -> dict[str, Any]:
    """Credentials and endpoint for Polars' object store, taken from the same boto3 chain."""
    import boto3

    session = session or boto3.session.Session()
    options: dict[str, Any] = {}
    credentials = session.get_credentials()
    if credentials is None:
        raise StorageError(
            "no AWS credentials found for reading or writing S3",
            hint="configure a profile (aws configure, AWS_PROFILE) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        )
    frozen = credentials.get_frozen_credentials()
    options["aws_access_key_id"] = frozen.access_key
    options["aws_secret_access_key"] = frozen.secret_key
    if frozen.token:
        options["aws_session_token"] = frozen.token
    options["aws_region"] = session.region_name or "us-east-1"
    # Polars' object store retries as boto3 does: the same number of tries, exponential backoff
    options["max_retries"] = settings.s3_attempts() - 1
    options["retry_init_backoff_ms"] = 100
    options["retry_max_backoff_ms"] = 5000
    options["retry_timeout_ms"] = 120_000
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        options["aws_endpoint_url"] = endpoint
        if endpoint.startswith("http://"):
            options["aws_allow_http"] = "true"
        options["aws_virtual_hosted_style_request"] = "false"
    return options


TRANSIENT = frozenset({
    "SlowDown", "Throttling", "RequestTimeout", "InternalError", "ServiceUnavailable", "500", "502", "503", "504",
    "EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError", "ConnectTimeoutError",
    "ProtocolError", "ConnectionError", "ResponseStreamingError",
})


def _s3_error(exc: Exception, action: str, uri: str) -> StorageError:
    code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", type(exc).__name__)
    transient = code in TRANSIENT
    if transient:
        return StorageError(
            f"cannot {action} {uri}: {code} ({exc}), still failing after retries with backoff "
            f"({settings.s3_attempts()} tries per request)",
            hint=f"the S3 endpoint is unreachable or overloaded: check the network or AWS_ENDPOINT_URL and run again "
            f"(more tries: {settings.S3_ATTEMPTS_VAR})",
            transient=True,
        )
    hints = {
        "NoSuchBucket": "check the bucket name; `aws s3 ls` lists the buckets you can see",
        "AccessDenied": "the credentials in use lack permission for this S3 action on this bucket",
        "403": "the credentials in use lack permission for this S3 action on this bucket",
        "NoSuchKey": "check the key; `aws s3 ls` the prefix to see what is there",
        "404": "check the key; `aws s3 ls` the prefix to see what is there",
    }
    return StorageError(f"cannot {action} {uri}: {code}", hint=hints.get(code), transient=transient)


def object_store_error(exc: BaseException, uri: str) -> StorageError | None:
    """The StorageError for a failure of Polars' object store (an OSError whose text says so), or None."""
    text = str(exc)
    if not isinstance(exc, OSError) or ("object-store error" not in text and "Generic S3 error" not in text):
        return None
    first = " ".join(line.strip() for line in text.strip().splitlines()[:1])
    if isinstance(exc, (FileNotFoundError, PermissionError)) or "403" in text or "404" in text:
        return StorageError(f"cannot read {uri}: {first}", hint="check the URI and the credentials' permissions")
    return StorageError(
        f"cannot read {uri}: the S3 endpoint still failed after retries with backoff "
        f"({settings.s3_attempts()} tries per request: {first})",
        hint="check the network or AWS_ENDPOINT_URL and run again "
        f"(more tries: {settings.S3_ATTEMPTS_VAR}); nothing was published",
        transient=True,
    )


# --- inputs --------------------------------------------------------------------------------------


def resolve_input(uri: str, declared_format: str = "auto") -> InputSource:
    """Check that the input exists and say how to read it; a folder or prefix reads all its files."""
    loc = parse_uri(uri)
    if loc.scheme == "file":
        return _local_input(uri, Path(loc.path), declared_format)
    return _s3_input(uri, loc, declared_format)


def _format_of(name: str, declared: str, display: str) -> Any:
    if declared != "auto":
        return declared
    suffix = Path(name.rstrip("/")).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    raise InputError(
        f"cannot tell the format of input {display} from its name",
        hint="set input.format in the recipe to csv, parquet or jsonl",
    )


def _local_input(uri: str, path: Path, declared: str) -> InputSource:
    if not path.exists():
        raise InputError(
            f"input {uri!r} does not exist (looked for {path})",
            hint="check the path; `prepline sample employees --output FILE` makes example data",
        )
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
        wanted = [p for p in files if declared != "auto" or p.suffix.lower() in FORMATS]
        if not wanted:
            raise InputError(f"input folder {path} has no data files", hint="put .csv, .parquet or .jsonl files in it")
        fmt = _format_of(wanted[0].name, declared, str(path))
        mixed = [p.name for p in wanted if declared == "auto" and FORMATS.get(p.suffix.lower()) != fmt]
        if mixed:
            raise InputError(f"input folder {path} mixes formats ({', '.join(mixed[:3])} ...)",
                             hint="keep one format per input folder")
        size = sum(p.stat().st_size for p in wanted)
        target = [str(p) for p in wanted]
        return InputSource(uri=target if len(target) > 1 else target[0], format=fmt, display=str(path), size_bytes=size)  # type: ignore[arg-type]
    if not os.access(path, os.R_OK):
        raise InputError(f"input {path} is not readable by this user", hint="check its permissions")
    fmt = _format_of(path.name, declared, str(path))
    return InputSource(uri=str(path), format=fmt, display=str(path), size_bytes=path.stat().st_size)


def _s3_input(uri: str, loc: Location, declared: str) -> InputSource:
    client = s3_client()
    keys: list[tuple[str, int]] = []
    try:
        if loc.path and not loc.path.endswith("/"):
            try:
                head = client.head_object(Bucket=loc.bucket, Key=loc.path)
                keys = [(loc.path, int(head["ContentLength"]))]
            except Exception as exc:  # a prefix without the trailing slash, or a missing key
                if getattr(exc, "response", {}).get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                    raise
        if not keys:
            prefix = loc.path if not loc.path or loc.path.endswith("/") else loc.path + "/"
            for page in client.get_paginator("list_objects_v2").paginate(Bucket=loc.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    name = obj["Key"].rsplit("/", 1)[-1]
                    if not obj["Key"].endswith("/") and not name.startswith((".", "_")):
                        keys.append((obj["Key"], int(obj["Size"])))
    except StorageError:
        raise
    except Exception as exc:
        if type(exc).__name__ in ("NoCredentialsError", "PartialCredentialsError"):
            raise StorageError("no AWS credentials found to read " + uri,
                               hint="configure a profile (AWS_PROFILE) or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY") from None
        raise _s3_error(exc, "read", uri) from None
    if not keys:
        raise InputError(f"input {uri} does not exist: no object or prefix with that name",
                         hint="check the bucket and key; `aws s3 ls` the prefix")
    fmt = _format_of(keys[0][0], declared, uri)
    if declared == "auto":
        keys = [(k, s) for k, s in keys if FORMATS.get(Path(k).suffix.lower()) == fmt]
    urls = [f"s3://{loc.bucket}/{k}" for k, _ in sorted(keys)]
    return InputSource(
        uri=urls if len(urls) > 1 else urls[0],  # type: ignore[arg-type]
        format=fmt,
        display=uri,
        storage_options=polars_storage_options(),
        size_bytes=sum(s for _, s in keys),
    )


def fingerprint(source: InputSource) -> dict[str, Any]:
    """A cheap identity of the input: size plus SHA-256 of its first and last MiB (local files)."""
    paths = source.uri if isinstance(source.uri, list) else [source.uri]
    digest = hashlib.sha256()
    for p in paths:
        if p.startswith("s3://"):
            digest.update(p.encode())
            continue
        with open(p, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            digest.update(str(size).encode())
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), os.SEEK_END)
                digest.update(handle.read(1 << 20))
    return {"bytes": source.size_bytes, "quick_sha256": digest.hexdigest(), "files": len(paths)}


# --- outputs -------------------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def ship_files(code_uri: str, subfolder: str, files: dict[str, bytes], *, last: str, what: str,
               content_types: dict[str, str] | None = None) -> tuple[str, bool]:
    """Put ``files`` (name -> bytes) into ``<code_uri>/<subfolder>/`` (an ``s3://`` or ``file://``
    URI; the subfolder is named by their content hash) unless they are there already; returns
    (the folder's URI, whether anything was written).

    ``last`` is written last, so its presence means the folder is complete: on S3 only it is
    checked. ``what`` names the files in errors ("the recipe").
    """
    if not code_uri.startswith(("s3://", "file://")):
        raise JobRequestError(f"code URI {code_uri!r} must be an s3:// or file:// URI")
    folder = f"{code_uri.rstrip('/')}/{subfolder}/"
    ordered = sorted(files, key=lambda name: name == last)
    if folder.startswith("s3://"):
        from prepline.cloud.aws_errors import translate

        bucket, _, prefix = folder[len("s3://"):].partition("/")
        client = s3_client()
        try:
            client.head_object(Bucket=bucket, Key=prefix + last)
            return folder, False
        except Exception as exc:
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code")
            if code not in ("404", "NoSuchKey", "NotFound"):
                raise translate(exc, f"check s3://{bucket}/{prefix}{last}") from None
        for name in ordered:
            extra = {"ContentType": content_types[name]} if content_types and name in content_types else {}
            try:
                client.put_object(Bucket=bucket, Key=prefix + name, Body=files[name], **extra)
            except Exception as exc:
                raise translate(exc, f"upload {what} to s3://{bucket}/{prefix}{name}") from None
        return folder, True
    target = Path(folder[len("file://"):])
    if all((target / name).is_file() and (target / name).read_bytes() == data for name, data in files.items()):
        return folder, False
    target.mkdir(parents=True, exist_ok=True)
    for name in ordered:
        tmp = target / f".{name}.tmp"
        tmp.write_bytes(files[name])
        tmp.replace(target / name)
    return folder, True


@contextlib.contextmanager
def staged_output(uri: str) -> Iterator[Path]:
    """Yield an empty private folder; on success publish it to ``uri`` atomically, on failure discard it."""
    loc = parse_uri(uri)
    if loc.scheme == "file":
        target = Path(loc.path)
        _check_replaceable(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent))
        staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; published outputs follow the umask
    else:
        staging = Path(tempfile.mkdtemp(prefix="prepline-staging-"))
    try:
        yield staging
        if loc.scheme == "file":
            _publish_local(staging, Path(loc.path))
        else:
            _publish_s3(staging, loc)
    except OSError as exc:  # writing into the staging folder: a full disk, a quota, a read-only file system
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS) and not _disk_full(str(exc)):
            raise
        raise _write_error(uri, staging, str(exc)) from None
    except PreplineError as exc:
        if _disk_full(str(exc)):  # an engine's sink failed the same way, in the library's words
            raise _write_error(uri, staging, str(exc)) from None
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _disk_full(text: str) -> bool:
    lowered = text.lower()
    return "no space left on device" in lowered or "os error 28" in lowered or "disk quota exceeded" in lowered


def _write_error(uri: str, staging: Path, text: str) -> OutputError:
    first = text.strip().splitlines()[0] if text.strip() else "write failed"
    if _disk_full(text):
        return OutputError(
            f"cannot write the outputs of {uri}: the disk holding {staging.parent} is full ({first}); "
            "nothing was published and earlier outputs are intact",
            hint="free space there, or write elsewhere (--output); the staging folder was removed",
        )
    return OutputError(f"cannot write the outputs of {uri}: {first}; nothing was published",
                       hint=f"check that {staging.parent} is writable and has space")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_replaceable(target: Path) -> None:
    if target.exists() and not target.is_dir():
        raise OutputError(f"output {target} exists and is a file", hint="give a folder path for the outputs")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).exists():
        raise OutputError(
            f"output folder {target} is not empty and holds no {MANIFEST}, so it is not an earlier prepline output",
            hint="choose a new or empty folder; prepline replaces only its own earlier outputs",
        )


def _publish_local(staging: Path, target: Path) -> None:
    """Swap the staged folder into place; the old outputs are removed only once the new ones are there."""
    backup = target.with_name(f".{target.name}.previous-{uuid.uuid4().hex[:8]}")
    try:
        if target.exists():
            os.replace(target, backup)
        os.replace(staging, target)
    except OSError as exc:
        if backup.exists() and not target.exists():
            os.replace(backup, target)
        raise OutputError(f"cannot publish outputs to {target}: {exc}") from None
    shutil.rmtree(backup, ignore_errors=True)


def _publish_s3(staging: Path, loc: Location) -> None:
    client = s3_client()
    prefix = loc.path if not loc.path or loc.path.endswith("/") else loc.path + "/"
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    ordered = [p for p in files if p.name != MANIFEST] + [p for p in files if p.name == MANIFEST]
    try:  # an earlier run's manifest must not vouch for files this run is replacing
        client.delete_object(Bucket=loc.bucket, Key=prefix + MANIFEST)
    except Exception as exc:
        raise _s3_error(exc, "replace the manifest of", f"s3://{loc.bucket}/{prefix}") from None
    for path in ordered:
        key = prefix + path.relative_to(staging).as_posix()
        try:
            client.upload_file(str(path), loc.bucket, key)
        except Exception as exc:
            error = _s3_error(exc, "upload to", f"s3://{loc.bucket}/{key}")
            error.message += (f"; the outputs were not published: s3://{loc.bucket}/{prefix} has no {MANIFEST}, "
                              "so readers treat it as incomplete")
            raise error from None
