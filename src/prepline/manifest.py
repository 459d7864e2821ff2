"""``_manifest.json``: what a run read, what it wrote, and how, for audit and for readers of S3 prefixes.

A reader treats an output folder or prefix without a manifest as incomplete:
the manifest is always written (and uploaded) last.

Each output is described by its file (``path``, ``bytes``, ``sha256``), its rows, its columns
and their types (``schema``, the recipe's type names), and how it was written: CSV outputs say
whether formula cells were neutralized and how many; Parquet outputs give their options. A
partitioned Parquet output's ``path`` is a folder (``train/``), whose files are listed with
their own size and hash; its ``sha256`` is that of the listing (``<sha256>  <path>`` lines, as
``sha256sum`` prints them, sorted by path). Each split step is recorded under ``splits``.
"""

from __future__ import annotations

import hashlib
import json
import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prepline import __version__
from prepline.engines.base import EngineResult, InputSource
from prepline.recipe.model import Recipe, SplitStep, WriteSpec
from prepline.recipe.split import HASH_NAME
from prepline.storage import MANIFEST, fingerprint, sha256_file

SCHEMA_VERSION = 1


def recipe_digest(content: str | bytes) -> str:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()


class OutputDigests:
    """The SHA-256 of every output file, computed by threads (hashlib releases the GIL) from the
    moment this is made, so that a run can profile its outputs meanwhile. ``result`` waits."""

    def __init__(self, files: dict[str, Path]):
        every = [f for path in files.values() for f in _files_of(path)]
        self._pool = ThreadPoolExecutor(max_workers=2)
        self._futures = {f: self._pool.submit(sha256_file, f) for f in every}

    def result(self) -> dict[Path, str]:
        try:
            return {f: future.result() for f, future in self._futures.items()}
        finally:
            self.close()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


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
    schemas: dict[str, dict[str, str]] | None = None,
    writes: dict[str, WriteSpec] | None = None,
    splits: list[dict[str, Any]] | None = None,
    digests: OutputDigests | None = None,
) -> dict[str, Any]:
    """The manifest of a run. ``digests`` are the outputs' SHA-256, if they are being computed
    already (see ``OutputDigests``)."""
    files = result.files
    folder = next(iter(files.values())).parent if files else None
    parts = {name: _files_of(path) for name, path in files.items()}
    hashed = (digests or OutputDigests(files)).result()
    outputs: dict[str, Any] = {}
    for name, path in files.items():
        write = (writes or {}).get(name)
        entry: dict[str, Any] = {
            "path": path.name + "/" if path.is_dir() else path.name,
            "format": write.format if write else output_format,
            "rows": result.rows_out.get(name),
            "columns": columns.get(name, []),
            "schema": (schemas or {}).get(name, {}),
            "bytes": sum(f.stat().st_size for f in parts[name]),
        }
        if path.is_dir():
            assert folder is not None
            listing = [{"path": f.relative_to(folder).as_posix(), "bytes": f.stat().st_size, "sha256": hashed[f]}
                       for f in parts[name]]
            entry["sha256"] = hashlib.sha256("".join(f"{i['sha256']}  {i['path']}\n" for i in listing).encode()).hexdigest()
            entry["files"] = listing
        else:
            entry["sha256"] = hashed[path]
        if write is not None and write.format == "csv":
            entry["csv"] = write.csv.model_dump()
            entry["formulas_neutralized"] = result.neutralized.get(name, 0)
        elif write is not None:
            entry["parquet"] = write.parquet.model_dump()
        outputs[name] = entry
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
        "splits": splits or [],
        "fills": result.fill_values,
        "counters": [c.as_dict() for c in result.counters],
        "notes": result.notes,
        "timings_s": seconds,
    }


def split_records(recipe: Recipe, result: EngineResult) -> tuple[list[dict[str, Any]], list[str]]:
    """Each split step's fractions, asked and obtained (per stratum too), and notes on the ones that stray.

    A hash split matches the fractions up to chance: a part of fraction ``f`` of ``n`` rows gets
    ``f * n`` rows give or take ``sqrt(f * (1 - f) * n)``. A fraction further off than three times
    that (plus one row) is noted: a stratum too small to split as asked, or keys shared by many rows
    (rows with one key stay together).
    """
    records, notes = [], []
    for entry in result.splits:
        label = entry["step"]
        step = recipe.steps[int(label.split(":", 1)[0]) - 1]
        assert isinstance(step, SplitStep)
        spec = step.split
        rows = {name: int(result.rows_out.get(name) or 0) for name in spec.parts}
        total = sum(rows.values())
        record: dict[str, Any] = {
            "step": label, "by": spec.key_columns(), "hash": HASH_NAME, "stratify": spec.stratify, "rows": total,
            "parts": {name: {"asked": fraction, "rows": rows[name], "obtained": _share(rows[name], total)}
                      for name, fraction in spec.parts.items()},
        }
        notes += _strays(label, "", spec.parts, rows, total)
        if entry.get("strata") is not None:
            record["strata"] = []
            for stratum in entry["strata"]:
                n = sum(stratum["rows"].values())
                record["strata"].append({
                    "value": stratum["value"], "rows": n,
                    "parts": {name: {"rows": r, "obtained": _share(r, n)} for name, r in stratum["rows"].items()},
                })
                where = f" in stratum {spec.stratify}={stratum['value']!r}"
                notes += _strays(label, where, spec.parts, stratum["rows"], n)
        records.append(record)
    return records, notes


def _share(rows: int, total: int) -> float | None:
    return round(rows / total, 6) if total else None


def _strays(label: str, where: str, asked: dict[str, float], rows: dict[str, int], total: int) -> list[str]:
    notes = []
    for name, fraction in asked.items():
        if not total:
            continue
        got = rows.get(name, 0) / total
        if abs(got - fraction) > 3 * math.sqrt(fraction * (1 - fraction) / total) + 1 / total:
            notes.append(
                f"{label}: part {name!r}{where} has {rows.get(name, 0):,} of {total:,} rows ({got:.1%}; asked "
                f"{fraction:.1%}): too few rows to split as asked, or rows sharing a key (they stay together)"
            )
    return notes


def _files_of(path: Path) -> list[Path]:
    """An output's files: itself, or a partitioned output's data files in path order."""
    if not path.is_dir():
        return [path]
    return sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())


def write_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
