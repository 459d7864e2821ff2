"""``_manifest.json``: what a run read, what it wrote, and how, for audit and for readers of S3 prefixes.

A reader treats an output folder or prefix without a manifest as incomplete:
the manifest is always written (and uploaded) last.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prepline import __version__
from prepline.engines.base import EngineResult, InputSource
from prepline.storage import MANIFEST, fingerprint, sha256_file

SCHEMA_VERSION = 1


def recipe_digest(content: str | bytes) -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


def build_manifest(
    *,
    recipe_name: str,
    recipe_source: str,
    recipe_sha256: str,
    source: InputSource,
    output_uri: str,
    output_format: str,
    engine_name: str,
    engine_version: str,
    result: EngineResult,
    columns: dict[str, list[str]],
    seconds: dict[str, float],
) -> dict[str, Any]:
    files = result.files
    with ThreadPoolExecutor(max_workers=4) as pool:  # hashlib releases the GIL: hash files in parallel
        digests = dict(zip(files, pool.map(sha256_file, files.values()), strict=True))
    outputs = {
        name: {
            "path": path.name,
            "format": output_format,
            "rows": result.rows_out.get(name),
            "columns": columns.get(name, []),
            "bytes": path.stat().st_size,
            "sha256": digests[name],
        }
        for name, path in files.items()
    }
    return {
        "manifest_version": SCHEMA_VERSION,
        "prepline_version": __version__,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "recipe": {"name": recipe_name, "source": recipe_source, "sha256": recipe_sha256},
        "input": {"uri": source.display, "format": source.format, **fingerprint(source)},
        "output": {"uri": output_uri, "format": output_format},
        "engine": {"name": engine_name, "version": engine_version},
        "rows_in": result.rows_in,
        "outputs": outputs,
        "fills": result.fill_values,
        "counters": [c.as_dict() for c in result.counters],
        "notes": result.notes,
        "timings_s": seconds,
    }


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
