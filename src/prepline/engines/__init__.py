"""Dataframe engines, loaded by name; a backend's library is imported only when it is used."""

from __future__ import annotations

import importlib
import importlib.util

from prepline.engines.base import REJECTED, Engine, EngineResult, InputSource, RunRequest
from prepline.errors import EngineError
from prepline.recipe.model import OutputFormat, Recipe, step_kind

# engine name -> (module, class, library that must be importable, pip extra)
ENGINES: dict[str, tuple[str, str, str, str | None]] = {
    "polars": ("prepline.engines.polars", "PolarsEngine", "polars", None),
    "spark": ("prepline.engines.spark", "SparkEngine", "pyspark", "spark"),
}


def available(name: str) -> bool:
    """Whether an engine and its library are installed, without importing either."""
    if name not in ENGINES:
        return False
    module, _, library, _ = ENGINES[name]
    return importlib.util.find_spec(library) is not None and _module_exists(module)


def _module_exists(dotted: str) -> bool:
    try:
        return importlib.util.find_spec(dotted) is not None
    except ModuleNotFoundError:
        return False


def get_engine(name: str, **options: object) -> Engine:
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r}", hint=f"choose one of: {', '.join(ENGINES)}")
    module_name, class_name, library, extra = ENGINES[name]
    if not available(name):
        install = f'pip install "prepline[{extra}]"' if extra else f"pip install {library}"
        raise EngineError(f"the {name} engine needs {library}, which is not installed", hint=install)
    module = importlib.import_module(module_name)
    return getattr(module, class_name)(**options)


def check_capabilities(engine: Engine, recipe: Recipe, output_format: OutputFormat = "csv") -> None:
    """Refuse a recipe whose steps or output options the engine cannot honour, before any data is read."""
    able = [n for n in ENGINES if n != engine.name]
    other = f"run with --engine {' or '.join(able)}" if able else None
    for index, step in enumerate(recipe.steps):
        kind = step_kind(step)
        if kind not in engine.capabilities:
            raise EngineError(f"{recipe.describe_step(index)}: the {engine.name} engine cannot run {kind} steps",
                              hint=other)
    names = [*recipe.output_names(), REJECTED]
    for name in names:
        spec = recipe.write_spec(name, output_format)
        if spec.format != "parquet":
            continue
        where = _where_written(recipe, name)
        codec, level = spec.parquet.compression, spec.parquet.compression_level
        if codec not in engine.parquet_codecs:
            raise EngineError(f"{where}: the {engine.name} engine cannot write {codec} Parquet (compression: {codec})",
                              hint=f"use compression: {' or '.join(sorted(engine.parquet_codecs))}, or {other}")
        if level is not None and codec not in engine.parquet_levels:
            raise EngineError(f"{where}: the {engine.name} engine cannot set compression_level for {codec}",
                              hint=f"remove compression_level (the codec's default level is used), or {other}")


def _where_written(recipe: Recipe, name: str) -> str:
    for index, step in enumerate(recipe.steps):
        if name in recipe.output_names_of(step):
            return f"{recipe.describe_step(index)}: output {name!r}"
    return f"{recipe.source}: output {name!r} (options from the recipe's `outputs` section)"


__all__ = ["ENGINES", "Engine", "EngineResult", "InputSource", "RunRequest", "available", "check_capabilities", "get_engine"]
