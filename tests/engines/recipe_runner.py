"""Run a small recipe on a small CSV with a given engine and read the outputs back as text rows."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path
from typing import Any

from prepline.pipeline import run_recipe
from prepline.recipe import parse_recipe


def run_small(
    tmp_path: Path,
    engine: str,
    *,
    columns: str,
    steps: str,
    data: str,
    input_extra: str = "",
) -> tuple[dict[str, list[dict[str, str]]], dict[str, Any]]:
    """Returns ({output name: rows as dicts of text}, manifest)."""
    text = (
        "name: t\ninput:\n  format: csv\n  columns:\n"
        + textwrap.indent(textwrap.dedent(columns).strip(), "    ")
        + "\n"
        + (textwrap.indent(textwrap.dedent(input_extra).strip(), "  ") + "\n" if input_extra else "")
        + "steps:\n"
        + textwrap.indent(textwrap.dedent(steps).strip(), "  ")
        + "\n"
        # profile.json and report.html are made from the output files by Polars whatever the engine;
        # the same body's Polars run makes them from the same outputs. For Spark they were most of
        # a small test's time (about 1 s of charts against 0.7 s of Spark), so the Spark run skips them.
        + ("report: {enabled: false}\n" if engine == "spark" else "")
    )
    recipe_path = tmp_path / "recipe.yaml"
    recipe_path.write_text(text, encoding="utf-8")
    source = tmp_path / "input.csv"
    source.write_text(textwrap.dedent(data).lstrip(), encoding="utf-8")
    recipe = parse_recipe(text, source=str(recipe_path))
    out = tmp_path / f"out-{engine}"
    summary = run_recipe(recipe, str(source), str(out), engine=engine)
    results = {}
    for name, info in summary.manifest["outputs"].items():
        with open(out / info["path"], newline="", encoding="utf-8") as handle:
            results[name] = list(csv.DictReader(handle))
    manifest = json.loads((out / "_manifest.json").read_text())
    return results, manifest


def column(rows: list[dict[str, str]], name: str) -> list[str]:
    return [r[name] for r in rows]


def floats(rows: list[dict[str, str]], name: str) -> list[float | None]:
    return [float(r[name]) if r[name] != "" else None for r in rows]
