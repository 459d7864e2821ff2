"""Dataframe engines, loaded by name; a backend's library is imported only when it is used."""

from __future__ import annotations

import importlib
import importlib.util

from prepline.engines.base import Engine, EngineResult, InputSource, RunRequest
from prepline.errors import EngineError
from prepline.recipe.model import Recipe, step_kind

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


def check_capabilities(engine: Engine, recipe: Recipe) -> None:
    """Refuse a recipe whose steps the engine cannot run, before any data is read."""
    for index, step in enumerate(recipe.steps):
        kind = step_kind(step)
        if kind not in engine.capabilities:
            able = [n for n in ENGINES if n != engine.name]
            raise EngineError(
                f"{recipe.describe_step(index)}: the {engine.name} engine cannot run {kind} steps",
                hint=f"run with --engine {' or '.join(able)}" if able else None,
            )


__all__ = ["ENGINES", "Engine", "EngineResult", "InputSource", "RunRequest", "available", "check_capabilities", "get_engine"]
