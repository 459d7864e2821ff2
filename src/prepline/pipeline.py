"""Run a recipe end to end: resolve the input, run the engine, publish outputs and the manifest."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prepline.engines import check_capabilities, get_engine
from prepline.engines.base import RunRequest
from prepline.manifest import build_manifest, recipe_digest, write_manifest
from prepline.recipe import Recipe, load_recipe
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
    check_capabilities(backend, recipe)
    source = resolve_input(input_uri, recipe.input.format)
    with staged_output(output_uri) as staging:
        result = backend.run(RunRequest(recipe=recipe, source=source, output_dir=staging, output_format=output_format))  # type: ignore[arg-type]
        seconds = dict(result.seconds)
        seconds["wall"] = round(time.perf_counter() - started, 4)
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
            columns=output_columns(result.files),
            seconds=seconds,
        )
        write_manifest(staging, manifest)
    return RunSummary(output_uri=output_uri, manifest=manifest)


def output_columns(files: dict[str, Path]) -> dict[str, list[str]]:
    """Each written file's column names, read from its header or Parquet schema."""
    import polars as pl

    columns = {}
    for name, path in files.items():
        if path.suffix == ".parquet":
            columns[name] = list(pl.read_parquet_schema(path))
        else:
            columns[name] = pl.scan_csv(path, n_rows=0, infer_schema=False).collect_schema().names()
    return columns
