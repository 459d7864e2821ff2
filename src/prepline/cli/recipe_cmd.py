"""`prepline recipe validate|schema`: check a recipe without data; print its JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from prepline.cli import console as out

app = typer.Typer(help="Check recipes and print their JSON Schema.", no_args_is_help=True)


@app.command("validate")
def validate(
    recipe: Annotated[Path, typer.Argument(help="The recipe YAML file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check a recipe: its structure, every step's parameters, and the columns each step uses."""
    from prepline.recipe import load_recipe
    from prepline.recipe.flow import trace_flow
    from prepline.recipe.model import step_kind

    parsed = load_recipe(recipe)
    schemas = trace_flow(parsed)
    if as_json:
        out.print_json(
            {
                "recipe": str(recipe),
                "valid": True,
                "name": parsed.name,
                "steps": [step_kind(s) for s in parsed.steps],
                "outputs": parsed.output_names() + (["rejected"] if parsed.rejects_rows() else []),
                "final_columns": schemas[-1],
            }
        )
        return
    from rich.table import Table

    table = Table(title=f"{recipe}: valid", show_lines=False)
    table.add_column("#", justify="right")
    table.add_column("step")
    table.add_column("columns after the step")
    for index, step in enumerate(parsed.steps):
        table.add_row(str(index + 1), step_kind(step) or "?", ", ".join(schemas[index + 1]))
    out.stdout.print(table)
    outputs = parsed.output_names() + (["rejected"] if parsed.rejects_rows() else [])
    out.stdout.print(f"outputs: {', '.join(outputs)}")


@app.command("schema")
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the recipe format's JSON Schema (point your editor's YAML plugin at it)."""
    from prepline.recipe.model import Recipe

    document = Recipe.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "prepline recipe"
    text = json.dumps(document, indent=2) + "\n"
    if output:
        output.write_text(text, encoding="utf-8")
        out.info(f"wrote {output}")
    else:
        print(text, end="")
