"""`prepline sample ...`: write generated sample data sets to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prepline.cli import console as out

app = typer.Typer(
    help="Generate sample data (any size, reproducible from a seed) for demos, tests and benchmarks.",
    no_args_is_help=True,
)

# Below this a run takes well under a second, and a bar would only flicker.
_PROGRESS_ABOVE_ROWS = 1_000_000


@app.command("employees")
def employees(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="File to write; the extension picks the format: .csv, .parquet, .jsonl or .ndjson.",
            dir_okay=False,
        ),
    ],
    rows: Annotated[
        int, typer.Option("--rows", "-n", min=0, help="Number of rows (0 writes just the header).")
    ] = 20_000,
    seed: Annotated[
        int,
        typer.Option(
            "--seed", min=0, help="Random seed; the same seed and rows give the same file."
        ),
    ] = 0,
) -> None:
    """Employee records shaped like the upstream mock data (ids, names, ages, salaries, JSON profiles, ...)."""
    from prepline.sample.employees import write_employees  # pulls in NumPy and Polars

    if rows <= _PROGRESS_ABOVE_ROWS:
        result = write_employees(output, rows, seed)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(
            TextColumn("employees"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,} rows"),
            TimeRemainingColumn(),
            console=out.stderr,
            transient=True,
        ) as progress:
            task = progress.add_task("employees", total=rows)
            result = write_employees(
                output, rows, seed, on_chunk=lambda done: progress.update(task, completed=done)
            )
    out.info(
        f"Wrote {result.rows:,} rows, {result.bytes:,} bytes to {result.path} "
        f"in {result.seconds:.1f} s."
    )
