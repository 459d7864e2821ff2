"""Benchmark: the employees recipe on the Spark engine (local) vs the Polars engine.

Generates a sample employees CSV with ``prepline sample employees``, then runs, one after the
other and each in its own process,

  (a) ``prepline run examples/employees/recipe.yaml --input CSV --output DIR/polars-out --engine polars``
  (b) ``prepline run examples/employees/recipe.yaml --input CSV --output DIR/spark-out --engine spark``

and prints each one's wall time, CPU time (user+sys) and peak RSS, then whether the two runs
wrote the same files. For information only: Spark in local mode on one machine pays for a JVM,
query planning and a single-file write that Polars does not; Spark's case is a cluster.

    python benchmarks/spark_vs_polars.py [--rows N] [--seed S] [--master local[*]]
                                         [--workdir DIR] [--keep] [--json]

Figures come from ``_measure.measure()`` (``os.wait4`` on the child). Spark's JVM is a
grandchild that the Python process never waits for, so each run goes through a small reaper
(this script with ``--reap``): it becomes the "child subreaper" of its descendants (Linux
``prctl``), runs the command, and waits for every process left over, so their CPU time and peak
RSS are in the figures. Peak RSS is that of the largest single process (Python or the JVM), not
their sum.
"""

from __future__ import annotations

import argparse
import filecmp
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
    reap,
)

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
OUTPUT_FILES = ("cleaned_data.csv", "transformed_data.csv", "department_statistics.csv")
ENGINES = ("polars", "spark")


def run_step(label: str, cmd: list[str], master: str) -> Measurement:
    print(f"[{label}] {' '.join(cmd)}", file=sys.stderr, flush=True)
    result = measure([sys.executable, __file__, "--reap", "--", *cmd], env=child_env({"PREPLINE_SPARK_MASTER": master}), cwd=REPO)
    if not result.ok:
        raise BenchmarkFailed(
            f"{label} failed with exit code {result.returncode} after {result.wall_s:.1f} s.\n"
            f"command: {' '.join(result.cmd)}\n--- last lines of its stderr ---\n{result.stderr_tail or '(empty)'}"
        )
    print(f"[{label}] done: {result.wall_s:.2f} s wall, {result.cpu_s:.2f} s CPU, {result.peak_rss_mb:.0f} MiB peak RSS",
          file=sys.stderr, flush=True)
    return result


def _outputs(label: str, folder: Path) -> dict[str, int]:
    missing = [name for name in OUTPUT_FILES if not (folder / name).is_file()]
    if missing:
        raise BenchmarkFailed(f"{label} exited 0 but did not write {missing} in {folder}")
    return {name: count_data_lines(folder / name) for name in OUTPUT_FILES}


def _engine_seconds(folder: Path) -> dict[str, float]:
    manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
    return dict(manifest.get("timings_s", {}))


def benchmark(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    python = sys.executable
    data = workdir / "employees.csv"
    sample = run_step("sample", [python, "-m", "prepline", "sample", "employees", "--rows", str(args.rows),
                                 "--seed", str(args.seed), "--output", str(data)], args.master)
    if not data.is_file():
        raise BenchmarkFailed(f"prepline sample exited 0 but did not write {data}")
    figures: dict[str, dict[str, object]] = {}
    for engine in ENGINES:
        out = workdir / f"{engine}-out"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [python, "-m", "prepline", "run", str(RECIPE), "--input", str(data), "--output", str(out),
               "--engine", engine]
        result = run_step(engine, cmd, args.master)
        figures[engine] = {**result.as_dict(), "output_rows": _outputs(engine, out), "timings_s": _engine_seconds(out)}
    same = {name: filecmp.cmp(workdir / "polars-out" / name, workdir / "spark-out" / name, shallow=False)
            for name in OUTPUT_FILES}
    polars, spark = figures["polars"], figures["spark"]
    return {
        "input": {"path": str(data), "rows": count_data_lines(data), "mib": file_mb(data), "seed": args.seed},
        "sample_generation": {"wall_s": sample.wall_s, "cpu_s": sample.cpu_s},
        "engines": figures,
        "spark_over_polars": {k: (spark[k] / polars[k] if polars[k] else None)  # type: ignore[operator]
                              for k in ("wall_s", "cpu_s", "peak_rss_mb")},
        "identical_files": same,
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
                    "polars": package_version("polars"), "pyspark": package_version("pyspark"), "spark_master": args.master},
    }


def _fmt(value: object, digits: int) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(report: dict, stream) -> None:  # type: ignore[no-untyped-def]
    source = report["input"]
    print(f"employees recipe — {source['rows']:,} rows, {source['mib']:,.1f} MiB CSV", file=stream)
    rows = [["", "wall s", "CPU s", "peak RSS MiB", "engine s"]]
    for name, f in report["engines"].items():
        rows.append([name, _fmt(f["wall_s"], 2), _fmt(f["cpu_s"], 2), _fmt(f["peak_rss_mb"], 0),
                     _fmt(f["timings_s"].get("total"), 2)])
    ratio = report["spark_over_polars"]
    rows.append(["spark / polars", *(_fmt(ratio[k], 2) + "x" for k in ("wall_s", "cpu_s", "peak_rss_mb")), ""])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]),
              file=stream)
    same = report["identical_files"]
    print("identical output files: " + ", ".join(f"{n} {'yes' if ok else 'NO'}" for n, ok in same.items()), file=stream)
    machine = report["machine"]
    print(f"Python {machine['python']}, polars {machine['polars']}, pyspark {machine['pyspark']} "
          f"({machine['spark_master']}), {machine['cpus']} CPUs; sample generation took "
          f"{report['sample_generation']['wall_s']:.1f} s; 'engine s' is the engine's own time from the manifest",
          file=stream)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Time the employees recipe on the Spark engine (local) vs Polars.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to generate (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0, help="sample data seed (default 0)")
    parser.add_argument("--master", default="local[*]", help="Spark master URL (default local[*])")
    parser.add_argument("--workdir", type=Path, help="where the data and outputs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the generated data and outputs")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON on stdout")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["--reap", "--"]:
        return reap(argv[2:])
    args = parse_args(argv)
    owned = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="prepline-spark-bench-")) if owned else args.workdir.resolve()
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
        else:
            (workdir / "employees.csv").unlink(missing_ok=True)
            for engine in ENGINES:
                shutil.rmtree(workdir / f"{engine}-out", ignore_errors=True)
    render(report, sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
