"""Moving data in and out of a processing job, as SageMaker does: inputs before the entrypoint
runs (S3Prefix or ManifestFile, FullyReplicated or ShardedByS3Key), outputs after it ends."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from prepline.errors import JobRequestError, StorageError


@dataclass(frozen=True)
class StagedObject:
    uri: str  # s3://bucket/key or file:///path
    relative: str  # where it goes below the LocalPath
    size: int


def _client() -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def _split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri[len("s3://"):].partition("/")
    return bucket, key


def _safe_relative(relative: str, uri: str) -> str:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not relative:
        raise JobRequestError(
            f"object {uri} would be written outside its LocalPath (relative path {relative!r})",
            hint="remove '..' and leading '/' from the key; SageMaker refuses such keys too",
        )
    return str(path)


def list_objects(s3_input: dict[str, Any]) -> list[StagedObject]:
    """Every object the input names, sorted by URI, with its place below LocalPath."""
    uri = s3_input["S3Uri"]
    if s3_input.get("S3DataType", "S3Prefix") == "ManifestFile":
        return _manifest_objects(uri)
    return _prefix_objects(uri)


def _prefix_objects(uri: str) -> list[StagedObject]:
    found: list[StagedObject] = []
    if uri.startswith("s3://"):
        bucket, prefix = _split_s3(uri)
        try:
            for page in _client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/"):
                        continue
                    relative = key[len(prefix):].lstrip("/") or PurePosixPath(key).name
                    found.append(StagedObject(f"s3://{bucket}/{key}", _safe_relative(relative, f"s3://{bucket}/{key}"), int(obj["Size"])))
        except Exception as exc:
            raise _storage_error(exc, "list", uri) from None
    elif uri.startswith("file://"):
        base = Path(uri[len("file://"):])
        if base.is_file():
            found.append(StagedObject(uri, base.name, base.stat().st_size))
        elif base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    found.append(StagedObject(path.as_uri(), path.relative_to(base).as_posix(), path.stat().st_size))
        else:  # a plain prefix of file names, as on S3
            for path in sorted(base.parent.glob(base.name + "*")) if base.parent.is_dir() else []:
                items = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
                for item in items:
                    relative = str(item)[len(str(base)):].lstrip("/") or item.name
                    found.append(StagedObject(item.as_uri(), _safe_relative(relative, item.as_uri()), item.stat().st_size))
    else:
        raise JobRequestError(f"unsupported input URI {uri!r}", hint="use s3:// or file://")
    if not found:
        raise JobRequestError(f"input {uri} matches no objects",
                              hint="check the URI; SageMaker fails a job whose input prefix is empty too")
    return sorted(found, key=lambda o: o.uri)


def _manifest_objects(uri: str) -> list[StagedObject]:
    text = read_text(uri)
    try:
        entries = json.loads(text)
        prefix = entries[0]["prefix"]
        keys = entries[1:]
        assert isinstance(prefix, str) and all(isinstance(k, str) for k in keys)
    except (ValueError, KeyError, IndexError, TypeError, AssertionError):
        raise JobRequestError(
            f"manifest {uri} is not a SageMaker manifest file",
            hint='it must be a JSON list: [{"prefix": "s3://bucket/prefix/"}, "relative/key1", "relative/key2", ...]',
        ) from None
    objects = []
    for key in keys:
        relative = _safe_relative(key, prefix + key)
        full = prefix.rstrip("/") + "/" + key if not prefix.endswith("/") else prefix + key
        objects.append(StagedObject(full, relative, _size(full)))
    return sorted(objects, key=lambda o: o.uri)


def _size(uri: str) -> int:
    if uri.startswith("s3://"):
        bucket, key = _split_s3(uri)
        try:
            return int(_client().head_object(Bucket=bucket, Key=key)["ContentLength"])
        except Exception as exc:
            raise _storage_error(exc, "read", uri) from None
    path = Path(uri[len("file://"):])
    if not path.is_file():
        raise JobRequestError(f"manifest entry {uri} does not exist")
    return path.stat().st_size


def read_text(uri: str) -> str:
    if uri.startswith("s3://"):
        bucket, key = _split_s3(uri)
        try:
            return _client().get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        except Exception as exc:
            raise _storage_error(exc, "read", uri) from None
    try:
        return Path(uri.removeprefix("file://")).read_text(encoding="utf-8")
    except OSError as exc:
        raise StorageError(f"cannot read {uri}: {exc.strerror}") from None


def shard(objects: list[StagedObject], index: int, count: int) -> list[StagedObject]:
    """ShardedByS3Key: object i (in key order) goes to instance i mod count."""
    return [obj for i, obj in enumerate(objects) if i % count == index]


def download(objects: Iterable[StagedObject], local_dir: Path, progress: Any = None) -> int:
    local_dir.mkdir(parents=True, exist_ok=True)
    total = 0
    client = None
    for obj in objects:
        target = local_dir / obj.relative
        if not target.resolve().is_relative_to(local_dir.resolve()):
            raise JobRequestError(f"object {obj.uri} would be written outside {local_dir}")
        target.parent.mkdir(parents=True, exist_ok=True)
        if obj.uri.startswith("s3://"):
            client = client or _client()
            bucket, key = _split_s3(obj.uri)
            try:
                client.download_file(bucket, key, str(target), Callback=progress)
            except Exception as exc:
                raise _storage_error(exc, "download", obj.uri) from None
        else:
            shutil.copyfile(obj.uri[len("file://"):], target)
            if progress:
                progress(obj.size)
        total += obj.size
    return total


def files_to_upload(local_dir: Path) -> list[tuple[Path, str]]:
    """Regular files below ``local_dir`` with their relative keys; symbolic links are not followed."""
    found = []
    for root, dirs, files in os.walk(local_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(root, d)))
        for name in sorted(files):
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            found.append((path, path.relative_to(local_dir).as_posix()))
    # a prepline manifest goes last: a reader that sees it may trust the rest is there
    return sorted(found, key=lambda item: item[0].name == "_manifest.json")


def upload(local_dir: Path, uri: str, progress: Any = None) -> tuple[int, int]:
    """Upload every file below ``local_dir`` to ``uri``; returns (files, bytes)."""
    files = files_to_upload(local_dir)
    total = 0
    client = None
    for path, relative in files:
        size = path.stat().st_size
        if uri.startswith("s3://"):
            client = client or _client()
            bucket, prefix = _split_s3(uri)
            key = (prefix.rstrip("/") + "/" + relative) if prefix else relative
            try:
                client.upload_file(str(path), bucket, key, Callback=progress)
            except Exception as exc:
                raise _storage_error(exc, "upload to", f"s3://{bucket}/{key}") from None
        elif uri.startswith("file://"):
            target = Path(uri[len("file://"):]) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            if progress:
                progress(size)
        else:
            raise JobRequestError(f"unsupported output URI {uri!r}", hint="use s3:// or file://")
        total += size
    return len(files), total


def _storage_error(exc: Exception, action: str, uri: str) -> StorageError:
    response = getattr(exc, "response", None) or {}
    code = response.get("Error", {}).get("Code") or type(exc).__name__
    transient = code in {"SlowDown", "Throttling", "RequestTimeout", "InternalError", "ServiceUnavailable",
                         "EndpointConnectionError", "ConnectionClosedError", "ReadTimeoutError"}
    return StorageError(f"cannot {action} {uri}: {code}: {exc}", transient=transient)
