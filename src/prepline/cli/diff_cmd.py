"""`prepline diff`: run two versions of a recipe on sample data and report how the outputs differ."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prepline.cli import console as out

FORMAT_HELP = (
    "Report format: text (terminals), json (scripts) or markdown (e.g. >> $GITHUB_STEP_SUMMARY)."
)


def diff(
    base: Annotated[
        Path,
        typer.Option("--base", help="The recipe before the change (e.g. from the main branch)."),
    ],
    head: Annotated[Path, typer.Option("--head", help="The recipe after the change.")],
    input: Annotated[
        str,
        typer.Option(
            "--input", "-i", help="Sample input: a file or folder, a path, file:// or s3:// URI."
        ),
    ],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "text",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write the report to this file instead of stdout."),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", "-e", help="Dataframe engine for both runs.", envvar="PREPLINE_ENGINE"
        ),
    ] = "polars",
) -> None:
    """Run --base and --head on --input and report changed outputs, columns, rows and statistics.

    Exit code 0: the outputs are the same; 1: they differ; 2: a recipe or the input could not be run.
    """
    from prepline.errors import OutputError, PreplineError
    from prepline.review import diff_recipes, render
    from prepline.review.render import FORMATS, headline

    if format not in FORMATS:
        raise PreplineError(
            f"unknown report format {format!r}", hint=f"use --format {', '.join(FORMATS)}"
        )
    with out.stderr.status(f"running {base} and {head} on {input} ...", spinner="dots"):
        result = diff_recipes(base, head, input, engine=engine)
    report = render(result, format)
    if output is None:
        print(report, end="")  # plain: values from recipes and data are never read as Rich markup
    else:
        try:
            output.write_text(report, encoding="utf-8")
        except OSError as exc:
            raise OutputError(
                f"cannot write the report to {output}: {exc}", hint="check the path and permissions"
            ) from None
        out.info(f"{headline(result)}; {format} report written to {output}")
    if result.has_differences:
        # SystemExit, not typer.Exit: under standalone_mode=False (prepline.cli.app.main) click
        # returns typer.Exit's code instead of raising it, and main() does not use that value.
        raise SystemExit(1)
