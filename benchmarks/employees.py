"""Benchmark: the employees recipe under prepline vs the seed's pandas script.

Generates a sample employees CSV with ``prepline sample employees``, then runs, one
after the other and each in its own process,

  (a) ``prepline run examples/employees/recipe.yaml --input CSV --output DIR/prepline-out``
  (b) ``benchmarks/seed_pandas.py CSV DIR/pandas-out``

and prints each one's wall time, CPU time (user+sys) and peak RSS, with the
pandas/prepline ratios. See benchmarks/README.md.

    python benchmarks/employees.py [--rows N] [--seed S] [--workdir DIR]
                                   [--skip-pandas] [--keep] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _measure import (
    BenchmarkFailed,
    Measurement,
    child_env,
    count_data_lines,
    file_mb,
    measure,
    package_version,
)

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
SEED_SCRIPT = REPO / "benchmarks" / "seed_pandas.py"
OUTPUT_FILES = ("cleaned_data.csv", "transformed_data.csv", "department_statistics.csv")


def run_step(label: str, cmd: list[str]) -> Measurement:
    print(f"[{label}] {' '.join(cmd)}", file=sys.stderr, flush=True)
    result = measure(cmd, env=child_env(), cwd=REPO)
    if not result.ok:
        raise BenchmarkFailed(
            f"{label} failed with exit code {result.returncode} after {result.wall_s:.1f} s.\n"
            f"command: {' '.join(result.cmd)}\n"
            f"--- last lines of its stderr ---\n{result.stderr_tail or '(empty)'}"
        )
    print(
        f"[{label}] done: {result.wall_s:.2f} s wall, {result.cpu_s:.2f} s CPU, "
        f"{result.peak_rss_mb:.0f} MiB peak RSS",
        file=sys.stderr,
        flush=True,
    )
    return result


def output_rows(label: str, folder: Path) -> dict[str, int]:
    """Data rows of each expected output; a missing output is a failure."""
    missing = [name for name in OUTPUT_FILES if not (folder / name).is_file()]
    if missing:
        raise BenchmarkFailed(f"{label} exited 0 but did not write {missing} in {folder}")
    return {name: count_data_lines(folder / name) for name in OUTPUT_FILES}


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator > 0 else None


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    python = sys.executable
    data = workdir / "employees.csv"
    sample = run_step(
        "sample",
        [python, "-m", "prepline", "sample", "employees",
         "--rows", str(args.rows), "--seed", str(args.seed), "--output", str(data)],
    )  # fmt: skip
    if not data.is_file():
        raise BenchmarkFailed(f"prepline sample exited 0 but did not write {data}")
    rows_in = count_data_lines(data)

    tools: dict[str, list[str]] = {
        "prepline": [python, "-m", "prepline", "run", str(RECIPE),
                     "--input", str(data), "--output", str(workdir / "prepline-out")],
    }  # fmt: skip
    if not args.skip_pandas:
        tools["pandas"] = [python, str(SEED_SCRIPT), str(data), str(workdir / "pandas-out")]

    figures: dict[str, dict[str, object]] = {}
    for name, cmd in tools.items():
        outdir = Path(cmd[-1])
        shutil.rmtree(outdir, ignore_errors=True)  # time a fresh write every time
        result = run_step(name, cmd)
        figures[name] = {**result.as_dict(), "output_rows": output_rows(name, outdir)}

    report: dict[str, object] = {
        "input": {"path": str(data), "rows": rows_in, "mib": file_mb(data), "seed": args.seed},
        "sample_generation": {"wall_s": sample.wall_s, "cpu_s": sample.cpu_s},
        "tools": figures,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "polars": package_version("polars"),
            "pandas": package_version("pandas"),
        },
    }
    if "pandas" in figures:
        a, b = figures["pandas"], figures["prepline"]
        report["ratios_pandas_over_prepline"] = {
            key: _ratio(a[key], b[key]) for key in ("wall_s", "cpu_s", "peak_rss_mb")
        }
        if a["output_rows"] != b["output_rows"]:
            print(
                f"warning: output row counts differ: pandas {a['output_rows']} "
                f"vs prepline {b['output_rows']}",
                file=sys.stderr,
            )
    return report


def _fmt(value: object, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(report: dict, stream) -> None:  # type: ignore[no-untyped-def]
    source = report["input"]
    title = f"employees recipe — {source['rows']:,} rows, {source['mib']:,.1f} MiB CSV"
    header = ["", "wall s", "CPU s", "peak RSS MiB"]
    body = [
        [name, _fmt(f["wall_s"], 2), _fmt(f["cpu_s"], 2), _fmt(f["peak_rss_mb"], 0)]
        for name, f in report["tools"].items()
    ]
    ratios = report.get("ratios_pandas_over_prepline")
    if ratios:
        body.append(
            [
                "pandas / prepline",
                *(_fmt(ratios[k], 2) + "x" for k in ("wall_s", "cpu_s", "peak_rss_mb")),
            ]
        )
    machine = report["machine"]
    note = (
        f"Python {machine['python']}, polars {machine['polars']}, pandas {machine['pandas']}, "
        f"{machine['cpus']} CPUs; sample generation took {report['sample_generation']['wall_s']:.1f} s"
    )
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        print(title, file=stream)
        for row in [header, *body]:
            cells = [row[0].ljust(widths[0])] + [
                c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
            ]
            print("  ".join(cells), file=stream)
        print(note, file=stream)
        return
    table = Table(title=title, caption=note)
    table.add_column(header[0])
    for column in header[1:]:
        table.add_column(column, justify="right")
    for i, row in enumerate(body):
        table.add_row(*row, end_section=bool(ratios) and i == len(body) - 2)
    Console(file=stream).print(table)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time and measure the employees recipe: prepline vs the seed's pandas script."
    )
    parser.add_argument(
        "--rows", type=int, default=2_000_000, help="rows to generate (default 2,000,000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="sample data seed (default 0)")
    parser.add_argument(
        "--workdir", type=Path, help="where the data and outputs go (default: a temp dir)"
    )
    parser.add_argument("--skip-pandas", action="store_true", help="measure prepline only")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and outputs")
    parser.add_argument(
        "--json",
        action="store_true",
        help="also print the figures as JSON on stdout (the table goes to stderr)",
    )
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="prepline-bench-")) if owned else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        report = benchmark(args, workdir)
    except BenchmarkFailed as failure:
        print(f"benchmark failed: {failure}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        elif owned:
            shutil.rmtree(workdir, ignore_errors=True)
        else:  # a folder the user gave us: remove only what we wrote there
            (workdir / "employees.csv").unlink(missing_ok=True)
            for name in ("prepline-out", "pandas-out"):
                shutil.rmtree(workdir / name, ignore_errors=True)
    render(report, sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
