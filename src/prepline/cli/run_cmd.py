"""`prepline run`: run a recipe on an input and publish its outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prepline.cli import console as out

ENGINE_HELP = "Dataframe engine: polars (one machine, default) or spark."
MASTER_HELP = ("Spark master URL for --engine spark: local[*], local[N], spark://HOST:PORT, yarn, k8s://... "
               "Default: $PREPLINE_SPARK_MASTER, else local[*].")


def run(
    recipe: Annotated[Path, typer.Argument(help="The recipe YAML file.")],
    input: Annotated[str, typer.Option("--input", "-i", help="Input file or folder: a path, file:// or s3:// URI.")],
    output: Annotated[str, typer.Option("--output", "-o", help="Output folder: a path, file:// or s3:// URI.")],
    format: Annotated[str, typer.Option("--format", "-f", help="Output file format: csv or parquet.")] = "csv",
    engine: Annotated[str, typer.Option("--engine", "-e", help=ENGINE_HELP, envvar="PREPLINE_ENGINE")] = "polars",
    spark_master: Annotated[str | None, typer.Option("--spark-master", help=MASTER_HELP, show_default=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifest as JSON instead of a table.")] = False,
) -> None:
    """Run RECIPE on --input and write its outputs and _manifest.json to --output (atomically)."""
    from prepline.errors import PreplineError
    from prepline.pipeline import run_recipe

    if format not in ("csv", "parquet"):
        raise PreplineError(f"unknown output format {format!r}", hint="use --format csv or --format parquet")
    options: dict[str, Any] = {}
    if spark_master is not None:
        if engine != "spark":
            raise PreplineError(f"--spark-master is an option of the spark engine, and this run uses --engine {engine}",
                                hint=f"add --engine spark to run on {spark_master}, or leave --spark-master out")
        options["master"] = spark_master
    with out.stderr.status(f"running {recipe} on {input} ...", spinner="dots"):
        summary = run_recipe(recipe, input, output, engine=engine, output_format=format, engine_options=options)
    if as_json:
        out.print_json(summary.manifest)
        return
    print_run_summary(summary.manifest, output)
    print_splits(summary.manifest, output)


def print_run_summary(manifest: dict[str, Any], output: str) -> None:
    from rich.table import Table

    table = Table(title=f"{manifest['recipe']['name']}: {manifest['rows_in']:,} rows in", title_justify="left")
    table.add_column("output")
    table.add_column("rows", justify="right")
    table.add_column("columns", justify="right")
    table.add_column("size", justify="right")
    table.add_column("file")
    for name, info in manifest["outputs"].items():
        rows = info.get("rows")
        table.add_row(
            name,
            f"{rows:,}" if rows is not None else "?",
            str(len(info["columns"])),
            _size(info["bytes"]),
            info["path"],
        )
    out.stdout.print(table)
    rules = manifest.get("rules") or []
    if rules:
        rule_table = Table(title="rules", title_justify="left")
        for col in ("step", "rule", "severity", "result", "detail"):
            rule_table.add_column(col)
        for rule in rules:
            ok = rule["passed"]
            result = "[green]pass[/]" if ok else ("[red]FAIL[/]" if rule["severity"] == "error" else "[yellow]warn[/]")
            rule_table.add_row(rule["step"], rule["rule"], rule["severity"], result, rule["message"])
        out.stdout.print(rule_table)
    drift = manifest.get("drift")
    if drift:
        verdict = "drift" if drift["dataset_drift"] else "no drift"
        out.stdout.print(f"drift from the baseline: {verdict} ({drift['drifted_columns']} of {drift['tested_columns']} columns)")
    for counter in manifest.get("counters", []):
        if counter["count"]:
            out.warn(f"step {counter['step']}: {counter['count']:,} {counter['what']}")
    for note in manifest.get("notes", []):
        out.warn(note)
    timings = manifest.get("timings_s", {})
    engine = manifest["engine"]
    out.stdout.print(
        f"engine {engine['name']} {engine['version']}, {timings.get('wall', 0):.2f} s; outputs and _manifest.json in {output}"
    )
    if not output.startswith("s3://") and (Path(output.removeprefix("file://")) / "report.html").is_file():
        out.stdout.print(f"report: {Path(output.removeprefix('file://')).resolve() / 'report.html'}")


def print_splits(manifest: dict[str, Any], folder: str) -> None:
    """Each split's parts: the fractions asked and obtained, the file, and the training channel it makes."""
    from rich.table import Table

    for split in manifest.get("splits") or []:
        table = Table(title=f"split {split['step']}: {split['rows']:,} rows by a hash of {', '.join(split['by'])}, "
                      f"files in {folder}", title_justify="left")
        for column in ("part", "asked", "obtained", "rows", "file", "a training job reads it in"):
            table.add_column(column, justify="right" if column in ("asked", "obtained", "rows") else "left")
        for name, part in split["parts"].items():
            info = manifest["outputs"][name]
            obtained = f"{part['obtained']:.2%}" if part["obtained"] is not None else "-"
            table.add_row(name, f"{part['asked']:.0%}", obtained, f"{part['rows']:,}", info["path"],
                          f"/opt/ml/input/data/{name}/")
        out.stdout.print(table)
        strata = split.get("strata") or []
        if strata:
            worst = max(abs(s["parts"][n]["obtained"] - p["asked"]) for s in strata for n, p in split["parts"].items()
                        if s["parts"][n]["obtained"] is not None)
            out.stdout.print(f"per {split['stratify']}: {len(strata)} values, each within {worst:.1%} of the fractions "
                             f"asked (see splits in _manifest.json)")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
