"""`prepline demo`: the main job on a fresh machine, end to end, in a working folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prepline.cli import console as out


def demo(
    workdir: Annotated[Path, typer.Option("--workdir", "-w", help="Folder for the sample data and outputs.")] = Path("prepline-demo"),
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Rows of sample data to generate.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample data.")] = 7,
) -> None:
    """Make sample employees data, run the employees recipe on it, and show what came out."""
    import time

    from prepline.cli.run_cmd import print_run_summary
    from prepline.examples import employees_recipe
    from prepline.pipeline import run_recipe
    from prepline.sample.employees import write_employees

    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "input" / "employees.csv"
    output = workdir / "output"
    t0 = time.perf_counter()
    with out.stderr.status(f"generating {rows:,} rows of sample data ..."):
        sample = write_employees(data, rows=rows, seed=seed)
    out.info(f"sample data: {sample.rows:,} rows, {sample.bytes / 1e6:.1f} MB -> {data}")
    recipe = employees_recipe()
    with out.stderr.status("running the employees recipe ..."):
        summary = run_recipe(recipe, str(data), str(output))
    print_run_summary(summary.manifest, str(output))
    out.stdout.print(f"demo finished in {time.perf_counter() - t0:.1f} s; recipe: {recipe}")
