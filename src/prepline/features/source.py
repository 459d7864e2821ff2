"""Read what prepline wrote: one data file, or one output of a prepline output folder or S3 prefix.

A folder or prefix is read through its ``_manifest.json`` (an output without one is
incomplete): ``output_name`` picks the output, ``transformed_data`` by default.
CSV types are inferred from the whole file; Parquet keeps the types the recipe gave.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from prepline.errors import InputError, StorageError, closest
from prepline.storage import FORMATS, MANIFEST, parse_uri, polars_storage_options, s3_client

DEFAULT_OUTPUT = "transformed_data"


def read_output(source: str | Path, output_name: str = DEFAULT_OUTPUT) -> tuple[pl.DataFrame, str]:
    """The data and the URI of the file it came from."""
    loc = parse_uri(str(source))
    if loc.scheme == "file":
        path = Path(loc.path)
        if path.is_dir():
            manifest = _local_manifest(path)
            path = path / _output_file(manifest, output_name, str(path))
        if not path.is_file():
            raise InputError(f"{source} does not exist", hint="give a data file or a prepline output folder")
        return _read(str(path), _format(path.name, str(path)), None), str(path)

    key = loc.path
    if Path(key).suffix.lower() in FORMATS:
        uri = f"s3://{loc.bucket}/{key}"
    else:
        prefix = key if not key or key.endswith("/") else key + "/"
        manifest = _s3_manifest(loc.bucket, prefix, str(source))
        uri = f"s3://{loc.bucket}/{prefix}{_output_file(manifest, output_name, str(source))}"
    return _read(uri, _format(uri, uri), polars_storage_options()), uri


def _local_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(
            f"{folder} is not a prepline output folder (no {MANIFEST})",
            hint="give the data file itself, or the folder `prepline run --output` wrote",
        )
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def _s3_manifest(bucket: str, prefix: str, display: str) -> dict[str, Any]:
    try:
        body = s3_client().get_object(Bucket=bucket, Key=prefix + MANIFEST)["Body"].read()
    except Exception as exc:
        code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", type(exc).__name__)
        if code in ("NoSuchKey", "404", "NotFound"):
            raise InputError(
                f"{display} has no {MANIFEST}: not a complete prepline output",
                hint="give the data object itself (s3://.../transformed_data.parquet); a job run on several "
                "instances writes one output per instance under algo-N/",
            ) from None
        raise StorageError(f"cannot read s3://{bucket}/{prefix}{MANIFEST}: {code}") from None
    return dict(json.loads(body))


def _output_file(manifest: dict[str, Any], name: str, display: str) -> str:
    outputs = manifest.get("outputs", {})
    if name not in outputs:
        names = sorted(outputs)
        near = closest(name, names)
        raise InputError(
            f"{display} has no output named {name!r}; it has: {', '.join(names) or 'none'}",
            hint=f"--output-name {near}" if near else "choose one with --output-name",
        )
    return str(outputs[name]["path"])


def _format(name: str, display: str) -> str:
    fmt = FORMATS.get(Path(name).suffix.lower())
    if fmt is None:
        raise InputError(f"cannot tell the format of {display}", hint="give a .csv, .parquet or .jsonl file")
    return fmt


def _read(uri: str, fmt: str, storage_options: dict[str, str] | None) -> pl.DataFrame:
    try:
        if fmt == "parquet":
            return pl.scan_parquet(uri, storage_options=storage_options).collect()
        if fmt == "csv":
            return pl.scan_csv(uri, infer_schema_length=None, storage_options=storage_options).collect()
        return pl.scan_ndjson(uri, infer_schema_length=None, storage_options=storage_options).collect()
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"cannot read {uri}: {first}") from None
