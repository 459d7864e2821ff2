"""`prepline profile`, `prepline drift` and `prepline report`: look at data and at runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from prepline.cli import console as out

DATA_HELP = "A CSV, Parquet or JSON Lines file or folder: a path, file:// or s3:// URI."
SIDE_HELP = (
    "A profile (JSON), a run's output folder or profile.json, or a data file to profile now."
)
THRESHOLD_HELP = (
    "Drift threshold: a number for every test, or METHOD=NUMBER for one "
    "(ks, chisquare, z: p-values; wasserstein, jensenshannon, psi: distances). Repeatable."
)


def profile(
    data: Annotated[str, typer.Argument(help=DATA_HELP, show_default=False)],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the profile (JSON) to this file.")
    ] = None,
    format: Annotated[
        str | None,
        typer.Option("--format", "-f", help="csv, parquet or jsonl (default: from the file name)."),
    ] = None,
    row_sample: Annotated[
        int | None,
        typer.Option("--row-sample", help="Profile about this many rows of larger data.", min=1),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
) -> None:
    """Profile DATA: per column count, missing, distinct, min/max/mean/std, quantiles, histogram,
    top values and string lengths (format: docs/profile-format.md)."""
    from prepline.errors import OutputError
    from prepline.quality.profile import profile_file

    with out.stderr.status(f"profiling {data} ...", spinner="dots"):
        result = profile_file(data, format, row_sample=row_sample)
    if output is not None:
        try:
            output.write_text(
                json.dumps(result, indent=1, allow_nan=False) + "\n", encoding="utf-8"
            )
        except OSError as exc:
            raise OutputError(
                f"cannot write {output}: {exc.strerror}", hint="check the path"
            ) from None
        out.info(
            f"profile of {result['rows']:,} rows, {len(result['columns'])} columns written to {output}"
        )
    if as_json:
        out.print_json(result)
    elif output is None:
        _print_profile(result)


def drift(
    baseline: Annotated[
        str, typer.Argument(help="The reference. " + SIDE_HELP, show_default=False)
    ],
    current: Annotated[
        str, typer.Argument(help="The data to check. " + SIDE_HELP, show_default=False)
    ],
    threshold: Annotated[list[str], typer.Option("--threshold", "-t", help=THRESHOLD_HELP)] = [],  # noqa: B006
    share: Annotated[
        float,
        typer.Option(
            "--share",
            help="The data set drifts when at least this share of the tested columns drift.",
        ),
    ] = 0.5,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            "-m",
            help="auto (Evidently's defaults), ks, wasserstein, chisquare, z, jensenshannon or psi.",
        ),
    ] = "auto",
    psi: Annotated[bool, typer.Option("--psi", help="Also report each column's PSI.")] = False,
    missing_threshold: Annotated[
        float | None,
        typer.Option(
            "--missing-threshold",
            help="A column also drifts when its missing share changes by more than this.",
        ),
    ] = None,
    part: Annotated[
        str | None,
        typer.Option(
            "--part", help="In a run's profile.json: input (default) or an output's name."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Compare CURRENT with BASELINE column by column and decide whether the data drifted.

    Exit code 0: no drift; 1: the data set drifted; 2: a side could not be read.
    """
    from prepline.quality.drift import drift as compare
    from prepline.quality.profile import load_profile

    with out.stderr.status("comparing ...", spinner="dots"):
        base = load_profile(baseline, part)
        now = load_profile(current, part)
        result = compare(
            base,
            now,
            method=method,
            threshold=parse_thresholds(threshold),
            share=share,
            psi=psi,
            missing_threshold=missing_threshold,
        )
    if as_json:
        out.print_json(result.as_dict())
    else:
        _print_drift(result)
    if result.dataset_drift:
        # SystemExit, not typer.Exit: under standalone_mode=False (prepline.cli.app.main) click
        # returns typer.Exit's code instead of raising it, and main() does not use that value.
        raise SystemExit(1)


def report(
    run_dir: Annotated[
        Path,
        typer.Argument(help="A run's output folder (holding _manifest.json).", show_default=False),
    ],
    open_: Annotated[
        bool | None,
        typer.Option(
            "--open/--no-open", help="Open the report in a browser (default: on a terminal)."
        ),
    ] = None,
) -> None:
    """Write RUN_DIR/report.html again from what the folder holds, and open it."""
    import sys
    import webbrowser

    from prepline.report import write_report

    with out.stderr.status(f"writing the report of {run_dir} ...", spinner="dots"):
        path = write_report(run_dir)
    print(path)
    if open_ is None:
        open_ = sys.stdout.isatty()
    if open_ and not webbrowser.open(path.resolve().as_uri()):
        out.warn(f"no browser to open; open {path} yourself")


def parse_thresholds(values: list[str]) -> float | dict[str, float] | None:
    """``["0.2"]`` -> 0.2; ``["ks=0.01", "psi=0.2"]`` -> ``{"ks": 0.01, "psi": 0.2}``."""
    from prepline.errors import PreplineError

    if not values:
        return None
    per_method: dict[str, float] = {}
    single: float | None = None
    for value in values:
        name, _, number = value.rpartition("=")
        try:
            parsed = float(number)
        except ValueError:
            raise PreplineError(
                f"--threshold {value!r} is not a number or METHOD=NUMBER",
                hint="e.g. --threshold 0.2 or --threshold ks=0.01",
            ) from None
        if name:
            per_method[name.strip()] = parsed
        else:
            single = parsed
    if single is not None and per_method:
        raise PreplineError("give either one --threshold NUMBER or METHOD=NUMBER ones, not both")
    return single if single is not None else per_method


# --- rendering ------------------------------------------------------------------------------


def _print_profile(profile: dict[str, Any]) -> None:
    from rich.table import Table

    from prepline.report.build import fmt_number, fmt_percent

    table = Table(title=f"{profile['name']}: {profile['rows']:,} rows", title_justify="left")
    for name, justify in (
        ("column", "left"),
        ("type", "left"),
        ("count", "right"),
        ("missing", "right"),
        ("distinct", "right"),
        ("min", "right"),
        ("mean", "right"),
        ("max", "right"),
        ("top value", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for name, col in profile["columns"].items():
        top = (col.get("top") or [{}])[0]
        minimum, maximum = (
            (col.get("min_text"), col.get("max_text"))
            if col.get("kind") == "datetime"
            else (col.get("min"), col.get("max"))
        )
        table.add_row(
            name,
            col["dtype"],
            fmt_number(col["count"]),
            fmt_percent(col["missing_share"]),
            fmt_number(col.get("distinct")),
            fmt_number(minimum) if minimum is not None else "",
            fmt_number(col.get("mean")) if col.get("kind") == "numeric" else "",
            fmt_number(maximum) if maximum is not None else "",
            f"{top['value']} ({top['count']:,})" if top else "",
        )
    out.stdout.print(table)


def _print_drift(result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from prepline.report.build import fmt_percent

    table = Table(title=f"{result.baseline} -> {result.current}", title_justify="left")
    for name in ("column", "type", "result", "test", "missing"):
        table.add_column(name)
    for col in result.columns:
        verdict = (
            "[red]drifted[/]"
            if col.drifted
            else "[green]stable[/]"
            if col.status == "tested"
            else col.status
        )
        missing = f"{fmt_percent(col.missing_baseline)} -> {fmt_percent(col.missing_current)}"
        test = col.describe() + (f", psi={col.psi:.3g}" if col.psi is not None else "")
        table.add_row(escape(col.column), col.type, verdict, escape(test), missing)
    out.stdout.print(table)
    colour = "red" if result.dataset_drift else "green"
    out.stdout.print(f"[{colour}]{escape(result.headline())}[/]")
