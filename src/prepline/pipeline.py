"""Run a recipe end to end: resolve the input, run the engine, publish outputs and the manifest."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prepline.engines import check_capabilities, get_engine
from prepline.engines.base import ROW, RunRequest
from prepline.manifest import (
    OutputDigests,
    build_manifest,
    recipe_digest,
    split_records,
    write_manifest,
)
from prepline.recipe import Recipe, load_recipe
from prepline.recipe.flow import output_schemas
from prepline.storage import resolve_input, staged_output


@dataclass
class RunSummary:
    output_uri: str
    manifest: dict[str, Any]

    @property
    def rows_in(self) -> int:
        return int(self.manifest["rows_in"])

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.manifest["outputs"]


def run_recipe(
    recipe: Recipe | str | Path,
    input_uri: str,
    output_uri: str,
    *,
    engine: str = "polars",
    output_format: str = "csv",
    engine_options: dict[str, Any] | None = None,
) -> RunSummary:
    started = time.perf_counter()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    # the hash of the file's bytes (read_text would turn CRLF into LF), so `sha256sum recipe.yaml` matches
    recipe_bytes = Path(recipe.source).read_bytes() if Path(recipe.source).is_file() else recipe.model_dump_json().encode()
    backend = get_engine(engine, **(engine_options or {}))
    check_capabilities(backend, recipe, output_format)  # type: ignore[arg-type]
    source = resolve_input(input_uri, recipe.input.format)
    with staged_output(output_uri) as staging:
        result = backend.run(RunRequest(recipe=recipe, source=source, output_dir=staging, output_format=output_format))  # type: ignore[arg-type]
        _raise_for_failed_rules(recipe, result.rules)  # nothing is published
        seconds = dict(result.seconds)
        digests = OutputDigests(result.files)  # the outputs are hashed while they are profiled
        try:
            if recipe.report.enabled:
                _preload_report()
            quality = _quality(recipe, source, result.files, staging, seconds)
            seconds["wall"] = round(time.perf_counter() - started, 4)
            declared = output_schemas(recipe)
            columns = output_columns(result.files, declared)
            # the types as written (the engine's); the recipe's where an engine does not say
            schemas = {name: result.schemas.get(name) or _declared_schema(declared, name, columns[name]) for name in result.files}
            splits, split_notes = split_records(recipe, result)
            result.notes.extend(split_notes)
            manifest = build_manifest(
                recipe_name=recipe.name,
                recipe_source=recipe.source,
                recipe_sha256=recipe_digest(recipe_bytes),
                source=source,
                output_uri=output_uri,
                output_format=output_format,
                engine_name=backend.name,
                engine_version=backend.version(),
                result=result,
                columns=columns,
                seconds=seconds,
                schemas=schemas,
                writes={name: recipe.write_spec(name, output_format) for name in result.files},  # type: ignore[arg-type]
                splits=splits,
                digests=digests,
            )
        finally:
            digests.close()
        manifest["rules"] = result.rules
        if quality.get("drift") is not None:
            manifest["drift"] = quality["drift"].as_dict()
        write_manifest(staging, manifest)
        if recipe.report.enabled:
            _write_report(staging, manifest, quality)
    drifted = quality.get("drift")
    if drifted is not None and drifted.dataset_drift and recipe.report.on_drift == "fail":
        from prepline.errors import QualityError

        raise QualityError(
            f"the input drifted from the baseline {recipe.report.baseline}: {drifted.headline()} "
            f"(outputs and report.html were published to {output_uri})",
            hint="look at the drift table in report.html; if the change is expected, make this run's profile the new baseline",
        )
    return RunSummary(output_uri=output_uri, manifest=manifest)


def _raise_for_failed_rules(recipe: Recipe, rules: list[dict[str, Any]]) -> None:
    failed = [r for r in rules if not r["passed"] and r["severity"] == "error"]
    if not failed:
        return
    from prepline.errors import QualityError

    lines = "; ".join(f"{r['step']} {r['rule']}: {r['message']}" for r in failed)
    raise QualityError(
        f"{len(failed)} error rule(s) of recipe {recipe.name} failed, so no output was published: {lines}",
        hint="fix the data, or change the rule's severity to warn (report only) or reject (set those rows aside)",
    )


def _quality(recipe: Recipe, source: Any, files: dict[str, Path], staging: Path, seconds: dict[str, float]) -> dict[str, Any]:
    """Profiles of the input and outputs (profile.json) and the drift from the recipe's baseline."""
    spec = recipe.report
    if not spec.enabled and not spec.baseline:
        return {}
    from prepline.errors import PreplineError
    from prepline.quality import check_drift, profile_source, write_profiles
    from prepline.quality.profile import PROFILE_VERSION
    from prepline.storage import resolve_input

    t0 = time.perf_counter()
    bundle: dict[str, Any] = {"profile_version": PROFILE_VERSION, "input": None, "outputs": {}}
    try:  # the input as the profiler reads it (it may not be readable without the recipe's options)
        bundle["input"] = profile_source(source, "input", head_rows=spec.profile_rows)
    except PreplineError:
        bundle["input"] = None
    for name, path in files.items():
        if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
            continue  # a partitioned output without rows has no file to profile
        bundle["outputs"][name] = profile_source(resolve_input(str(path)), name, head_rows=spec.profile_rows)
    write_profiles(staging, bundle)
    drift = None
    if spec.baseline and bundle["input"] is not None:
        drift = check_drift(spec.baseline, bundle["input"], on_drift="warn", share=spec.drift_share)
    seconds["profile"] = round(time.perf_counter() - t0, 4)
    return {"profiles": bundle, "drift": drift}


def _preload_report() -> None:
    """Import the report's chart library (about 0.5 s) in a thread while the outputs are profiled
    and hashed; the report, written after them, finds it imported."""
    import threading

    def load() -> None:
        try:
            import matplotlib.backends.backend_svg
            import matplotlib.figure  # noqa: F401
        except ImportError:  # the report says so when it is written
            pass

    threading.Thread(target=load, name="preload matplotlib", daemon=True).start()


def _write_report(staging: Path, manifest: dict[str, Any], quality: dict[str, Any]) -> None:
    from prepline.errors import PreplineError
    from prepline.report import write_report

    try:
        write_report(staging)
    except PreplineError as exc:  # the report's libraries are an extra: say so, don't fail the run
        manifest["notes"].append(f"report.html was not written: {exc}")
        write_manifest(staging, manifest)
    except Exception as exc:  # a report bug must not cost the user a finished run
        import logging

        logging.getLogger("prepline").warning("report.html failed", exc_info=True)
        manifest["notes"].append(f"report.html was not written ({type(exc).__name__}: {exc}); this is a bug")
        write_manifest(staging, manifest)


def output_columns(files: dict[str, Path], schemas: dict[str, dict[str, str]] | None = None) -> dict[str, list[str]]:
    """Each written file's column names, read from its header or Parquet schema.

    A partitioned output (a folder) has its partition column in the folder names, not in the
    files: its columns are the recipe's, in the recipe's order.
    """
    import polars as pl

    columns = {}
    for name, path in files.items():
        if path.is_dir():
            columns[name] = list((schemas or {}).get(name, {}))
        elif path.suffix == ".parquet":
            columns[name] = list(pl.read_parquet_schema(path))
        else:
            columns[name] = pl.scan_csv(path, n_rows=0, infer_schema=False).collect_schema().names()
    return columns


def _declared_schema(declared: dict[str, dict[str, str]], name: str, columns: list[str]) -> dict[str, str]:
    """An output's types as the recipe declares them; the rejected rows: the row number, then text."""
    if name in declared:
        return declared[name]
    return {c: "int64" if c == ROW else "string" for c in columns}
