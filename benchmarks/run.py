"""Benchmark: the employees recipe, from raw CSV to its three outputs, against the alternatives.

For each size it generates the CSV once (``prepline sample employees``), then runs, one after
the other on that same file and each in its own process:

  pandas        benchmarks/seed_pandas.py: the seed's steps, done the seed's way
  prepline      prepline run of the employees recipe without the steps the seed does not
                have (split), Polars engine; rules, manifest, profiles and report included
  prepline-full the employees recipe as it is
  polars        benchmarks/handwritten_polars.py: one hand-written streaming query, three sinks
  duckdb        benchmarks/handwritten_duckdb.py: hand-written SQL (cleaned rows in a temp table)
  duckdb-rescan the same, each wide output re-reading the CSV (no table, less memory)
  spark         prepline run --engine spark (local[2] by default), for information
  io-floor      benchmarks/io_floor.py: read the CSV and write it back unchanged

and prints each one's wall time, CPU time (user+sys) and peak RSS (``_measure.py``:
``os.wait4``), its ratio to prepline, the 1-minute load average when it started, and whether
its three outputs hold the same values as prepline's (an order-independent fingerprint of the
rows, floats compared to 12 significant digits).

Two more sections, on request:

  --job-overhead   the same recipe as a local processing job (``job create`` with file://
                   URIs, then ``job run``) vs ``prepline run``, several repetitions, medians,
                   with the runtime's own breakdown (staging in, instance set-up, entrypoint,
                   upload);
  --staging        a moto server on 127.0.0.1: the runtime's download and upload of a ~40 MB
                   file (MB/s) and a whole local job with s3:// input and output.

    python benchmarks/run.py --sizes 200k,2M [--skip pandas,spark] [--only prepline,polars]
                             [--seed 1] [--workdir DIR] [--keep] [--json]
                             [--job-overhead [--reps 5]] [--staging [--staging-rows 300k]]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
OUTPUT_FILES = ("cleaned_data.csv", "transformed_data.csv", "department_statistics.csv")
TOOLS = (
    "pandas",
    "prepline",
    "prepline-full",
    "polars",
    "duckdb",
    "duckdb-rescan",
    "spark",
    "io-floor",
)
NOT_IN_SEED = {"split"}  # recipe steps the seed does not have: left out of the "prepline" run
COMPARED = (
    "prepline-full",
    "polars",
    "duckdb",
    "duckdb-rescan",
    "spark",
)  # outputs checked against prepline's
NUMERIC = {"id", "age", "salary", "bonus", "address_length", "Average Salary", "Average Age"}
SIG_FIGS = 12
ROLE = "arn:aws:iam::123456789012:role/prepline-benchmark"


# --- helpers ------------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    number = float(text[:-1] if scale > 1 else text)
    return int(number * scale)


def size_label(rows: int) -> str:
    if rows >= 1_000_000 and rows % 100_000 == 0:
        return f"{rows / 1_000_000:g}M"
    if rows >= 1_000 and rows % 1_000 == 0:
        return f"{rows // 1_000}k"
    return str(rows)


def load() -> float:
    return os.getloadavg()[0]


def run_step(
    label: str, cmd: list[str], env: dict[str, str] | None = None
) -> tuple[Measurement, float]:
    # The previous tool's outputs (GBs at 14M rows) would be flushed to disk during this one,
    # taking CPU and I/O from it: flush them first.
    os.sync()
    started_load = load()
    shown = " ".join("<script>" if "\n" in part else part for part in cmd)
    print(f"[{label}] load {started_load:.2f}: {shown}", file=sys.stderr, flush=True)
    result = measure(cmd, env=env or child_env(), cwd=REPO)
    if not result.ok:
        raise BenchmarkFailed(
            f"{label} failed with exit code {result.returncode} after {result.wall_s:.1f} s.\n"
            f"command: {' '.join(result.cmd)}\n--- last lines of its stderr ---\n{result.stderr_tail or '(empty)'}"
        )
    print(
        f"[{label}] {result.wall_s:.2f} s wall, {result.cpu_s:.2f} s CPU, {result.peak_rss_mb:.0f} MiB peak RSS",
        file=sys.stderr,
        flush=True,
    )
    return result, started_load


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    java = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        java = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, timeout=30
        ).stderr.splitlines()[0]
    git = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src", "examples"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        git = head.stdout.strip() + (
            f" + {len(dirty)} uncommitted files in src/, examples/" if dirty else ""
        )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "git": git,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_mib": mem,
        "polars": package_version("polars"),
        "pandas": package_version("pandas"),
        "duckdb": package_version("duckdb"),
        "pyspark": package_version("pyspark"),
        "java": java,
    }


# --- the tools ----------------------------------------------------------------------------------


def seed_recipe(workdir: Path) -> tuple[Path, list[str]]:
    """The employees recipe without the steps the seed does not have (e.g. ``split``).

    So ``prepline`` does the same work as the hand-written queries (the seed's three outputs,
    plus prepline's own rules, manifest, profiles and report); ``prepline-full`` runs the
    recipe as it is. Returns the recipe to run and the kinds of the steps left out.
    """
    import yaml

    doc = yaml.safe_load(RECIPE.read_text(encoding="utf-8"))
    kept = [step for step in doc.get("steps", []) if next(iter(step)) not in NOT_IN_SEED]
    dropped = [next(iter(step)) for step in doc.get("steps", []) if next(iter(step)) in NOT_IN_SEED]
    if not dropped:
        return RECIPE, []
    doc["steps"] = kept
    path = workdir / "employees-seed-outputs.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path, dropped


def commands(tool: str, data: Path, out: Path, recipe: Path) -> list[str]:
    python = sys.executable

    def prepline(path: Path) -> list[str]:
        return [
            python,
            "-m",
            "prepline",
            "run",
            str(path),
            "--input",
            str(data),
            "--output",
            str(out),
        ]

    return {
        "pandas": lambda: [python, str(HERE / "seed_pandas.py"), str(data), str(out)],
        "prepline": lambda: prepline(recipe),
        "prepline-full": lambda: prepline(RECIPE),
        "polars": lambda: [python, str(HERE / "handwritten_polars.py"), str(data), str(out)],
        "duckdb": lambda: [python, str(HERE / "handwritten_duckdb.py"), str(data), str(out)],
        "duckdb-rescan": lambda: [
            python,
            str(HERE / "handwritten_duckdb.py"),
            str(data),
            str(out),
            "--rescan",
        ],
        # through the reaper, so the JVM's CPU time and peak RSS are counted
        "spark": lambda: [python, __file__, "--reap", "--", *prepline(recipe), "--engine", "spark"],
        "io-floor": lambda: [python, str(HERE / "io_floor.py"), str(data), str(out)],
    }[tool]()


def fingerprint(path: Path) -> dict[str, Any]:
    """Columns, rows and an order-independent hash of the rows and of each column's values.

    Every value is read as text; numeric columns are normalised (``38`` = ``38.0``, floats to
    12 significant digits), so files that differ only in float formatting or row order match.
    Streaming: the file is never held in memory.
    """
    import polars as pl

    frame = pl.scan_csv(path, infer_schema=False)
    names = frame.collect_schema().names()

    def norm(name: str) -> pl.Expr:
        col = pl.col(name)
        if name in NUMERIC:
            col = col.cast(pl.Float64, strict=False).round_sig_figs(SIG_FIGS).cast(pl.String)
        return col.fill_null("\x00")

    low, high = pl.lit(0xFFFFFFFF, dtype=pl.UInt64), pl.lit(2**32, dtype=pl.UInt64)

    def folded(expr: pl.Expr, key: str) -> list[pl.Expr]:
        h = expr.hash(seed=7)
        return [(h & low).sum().alias(f"{key}.lo"), (h // high).sum().alias(f"{key}.hi")]

    row = pl.concat_str([norm(n) for n in names], separator="\x1f")
    aggs = [pl.len().alias("rows"), *folded(row, "row")]
    for name in names:
        aggs += folded(norm(name), f"col:{name}")
    got = frame.select(aggs).collect(engine="streaming").row(0, named=True)
    return {"columns": names, **got}


def compare(reference: Path, other: Path) -> dict[str, Any]:
    """Whether ``other`` holds the same three outputs as ``reference``; what differs if not."""
    differences = []
    for name in OUTPUT_FILES:
        a, b = reference / name, other / name
        if not b.is_file():
            differences.append(f"{name}: missing")
            continue
        fa, fb = fingerprint(a), fingerprint(b)
        if fa["columns"] != fb["columns"]:
            differences.append(f"{name}: columns {fb['columns']} vs {fa['columns']}")
            continue
        if fa["rows"] != fb["rows"]:
            differences.append(f"{name}: {fb['rows']} rows vs {fa['rows']}")
            continue
        cols = [
            c
            for c in fa["columns"]
            if (fa[f"col:{c}.lo"], fa[f"col:{c}.hi"]) != (fb[f"col:{c}.lo"], fb[f"col:{c}.hi"])
        ]
        if cols:
            differences.append(f"{name}: values differ in {', '.join(cols)}")
        elif (fa["row.lo"], fa["row.hi"]) != (fb["row.lo"], fb["row.hi"]):
            differences.append(f"{name}: same column values, combined differently into rows")
    return {"match": not differences, "differences": differences}


def prepline_timings(folder: Path) -> dict[str, float] | None:
    manifest = folder / "_manifest.json"
    if not manifest.is_file():
        return None
    return json.loads(manifest.read_text(encoding="utf-8")).get("timings_s")


def generate(rows: int, seed: int, data: Path) -> dict[str, Any]:
    if data.is_file() and count_data_lines(data) == rows:
        print(f"[sample] reusing {data}", file=sys.stderr)
        return {
            "path": str(data),
            "rows": rows,
            "mib": file_mb(data),
            "seed": seed,
            "generated_s": None,
        }
    cmd = [
        sys.executable,
        "-m",
        "prepline",
        "sample",
        "employees",
        "--rows",
        str(rows),
        "--seed",
        str(seed),
        "--output",
        str(data),
    ]
    result, _ = run_step("sample", cmd)
    return {
        "path": str(data),
        "rows": count_data_lines(data),
        "mib": file_mb(data),
        "seed": seed,
        "generated_s": round(result.wall_s, 2),
    }


def bench_size(rows: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    label = size_label(rows)
    data = workdir / f"employees-{label}.csv"
    source = generate(rows, args.seed, data)
    figures: dict[str, dict[str, Any]] = {}
    reference = workdir / f"out-{label}-prepline"
    spark_env = child_env({"PREPLINE_SPARK_MASTER": args.spark_master})
    recipe, dropped = seed_recipe(workdir)
    tools = [t for t in args.tools if t != "prepline-full" or dropped]
    try:
        for tool in tools:
            out = workdir / f"out-{label}-{tool}"
            shutil.rmtree(out, ignore_errors=True)  # a fresh write every time
            env = spark_env if tool == "spark" else None
            try:
                result, started_load = run_step(
                    f"{label} {tool}", commands(tool, data, out, recipe), env
                )
            except BenchmarkFailed as failure:
                print(f"[{label} {tool}] FAILED: {failure}", file=sys.stderr)
                figures[tool] = {"failed": str(failure)}
                shutil.rmtree(out, ignore_errors=True)
                continue
            entry: dict[str, Any] = {
                "wall_s": round(result.wall_s, 3),
                "cpu_s": round(result.cpu_s, 3),
                "peak_rss_mb": round(result.peak_rss_mb, 1),
                "load_at_start": round(started_load, 2),
                "load_at_end": round(load(), 2),
            }
            if tool == "prepline":
                entry["timings_s"] = prepline_timings(out)
            if tool in COMPARED and reference.is_dir():
                entry["outputs"] = compare(reference, out)
                verdict = (
                    "match"
                    if entry["outputs"]["match"]
                    else "DIFFER: " + "; ".join(entry["outputs"]["differences"])
                )
                print(
                    f"[{label} {tool}] outputs vs prepline: {verdict}", file=sys.stderr, flush=True
                )
            figures[tool] = entry
            if tool != "prepline" and not args.keep:
                shutil.rmtree(out, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(reference, ignore_errors=True)
            if not args.keep_data:
                data.unlink(missing_ok=True)
    base = figures.get("prepline", {})
    for entry in figures.values():
        if "wall_s" in entry and "wall_s" in base:
            entry["ratio_to_prepline"] = {
                k: round(entry[k] / base[k], 3) if base[k] else None
                for k in ("wall_s", "cpu_s", "peak_rss_mb")
            }
    return {"size": label, "input": source, "tools": figures, "recipe_steps_left_out": dropped}


# --- job runtime overhead and staging ------------------------------------------------------------


def job_driver(request_path: str) -> int:
    """Run a request with the local runtime, timing its phases (``--job-driver``; a child process).

    The phases are the runtime's own methods, wrapped with timers; the figures go to stdout as
    JSON. A method that is not there any more is simply not timed.
    """
    from prepline.processing.local.runtime import LocalRuntime
    from prepline.processing.request import load_request

    phases: dict[str, float] = {}

    def timed(cls: type, name: str, phase: str) -> None:
        original = getattr(cls, name, None)
        if original is None:
            return

        def wrapper(self: Any, *a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(self, *a, **kw)
            finally:
                phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - t0

        setattr(cls, name, wrapper)

    for method, phase in (
        ("_stage_inputs", "stage_inputs"),
        ("_prepare", "prepare_instances"),
        ("_start", "start_entrypoint"),
        ("_watch", "entrypoint_run"),
        ("_upload_outputs", "upload_outputs"),
    ):
        timed(LocalRuntime, method, phase)
    t0 = time.perf_counter()
    body = load_request(Path(request_path))
    job = LocalRuntime(runtime="local").run(body, source=request_path)
    phases["runtime_total"] = time.perf_counter() - t0
    status = job.get("status") or job.get("ProcessingJobStatus")
    print(json.dumps({"status": status, "phases_s": {k: round(v, 4) for k, v in phases.items()}}))
    return 0 if status == "Completed" else 1


def create_job(input_uri: str, output_uri: str, request: Path, env: dict[str, str]) -> Measurement:
    cmd = [
        sys.executable,
        "-m",
        "prepline",
        "job",
        "create",
        "--recipe",
        str(RECIPE),
        "--input",
        input_uri,
        "--output",
        output_uri,
        "--role",
        ROLE,
        "--image",
        "unused-locally",
        "--output-file",
        str(request),
    ]
    result, _ = run_step("job create", cmd, env)
    return result


def median(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def job_overhead(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rows = parse_size(args.job_rows)
    folder = workdir / "job-overhead"
    folder.mkdir(parents=True, exist_ok=True)
    data_dir = folder / "input"
    data_dir.mkdir(exist_ok=True)
    source = generate(rows, args.seed, data_dir / "employees.csv")
    env = child_env({"PREPLINE_HOME": str(folder / "home")})
    runs: dict[str, list[dict[str, Any]]] = {
        "direct": [],
        "job_create": [],
        "job_run": [],
        "job_driver": [],
    }
    for rep in range(args.reps):
        out = folder / "direct-out"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [
            sys.executable,
            "-m",
            "prepline",
            "run",
            str(RECIPE),
            "--input",
            str(data_dir),
            "--output",
            str(out),
        ]
        result, ld = run_step(f"job-overhead {rep + 1} direct", cmd, env)
        runs["direct"].append(
            {
                "wall_s": result.wall_s,
                "cpu_s": result.cpu_s,
                "peak_rss_mb": result.peak_rss_mb,
                "load": ld,
                "timings_s": prepline_timings(out),
            }
        )
        for kind in ("job_run", "job_driver"):
            request = folder / f"job-{rep}-{kind}.json"
            created = create_job(
                data_dir.as_uri() + "/",
                (folder / "jobs-out").as_uri(),
                request,
                env,
            )
            runs["job_create"].append({"wall_s": created.wall_s})
            if kind == "job_run":
                cmd = [sys.executable, "-m", "prepline", "job", "run", str(request)]
            else:
                cmd = [sys.executable, __file__, "--job-driver", str(request)]
            result, ld = run_step(f"job-overhead {rep + 1} {kind}", cmd, env)
            entry: dict[str, Any] = {
                "wall_s": result.wall_s,
                "cpu_s": result.cpu_s,
                "peak_rss_mb": result.peak_rss_mb,
                "load": ld,
            }
            if kind == "job_driver":
                entry.update(json.loads(result.stdout_tail.splitlines()[-1]))
            runs[kind].append(entry)
        shutil.rmtree(folder / "jobs-out", ignore_errors=True)
    direct = median([r["wall_s"] for r in runs["direct"]])
    job = median([r["wall_s"] for r in runs["job_run"]])
    phases = sorted({k for r in runs["job_driver"] for k in r.get("phases_s", {})})
    breakdown = {p: median([r["phases_s"].get(p, 0.0) for r in runs["job_driver"]]) for p in phases}
    entrypoint_engine = median([(r["timings_s"] or {}).get("wall", 0.0) for r in runs["direct"]])
    summary = {
        "rows": rows,
        "input_mib": source["mib"],
        "reps": args.reps,
        "direct_run_wall_s": direct,
        "job_run_wall_s": job,
        "job_create_wall_s": median([r["wall_s"] for r in runs["job_create"]]),
        "job_overhead_s": round(job - direct, 3),
        "job_breakdown_s": breakdown,
        "direct_run_pipeline_wall_s": entrypoint_engine,
        "loads": [round(r["load"], 2) for k in ("direct", "job_run") for r in runs[k]],
        "runs": runs,
    }
    shutil.rmtree(folder, ignore_errors=True)
    return summary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def moto_server() -> Iterator[tuple[str, dict[str, str]]]:
    """A moto S3 server on 127.0.0.1 with dummy credentials; yields (endpoint, environment)."""
    port = _free_port()
    aws = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env = {k: v for k, v in os.environ.items() if k != "AWS_PROFILE"} | aws
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchmarkFailed("the moto server did not start") from None
                time.sleep(0.1)
        yield url, aws | {"AWS_ENDPOINT_URL": url}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


STAGING_PROBE = """
import json, sys, time
from pathlib import Path
from prepline.processing import staging
mode, uri, local = sys.argv[1:4]
t0 = time.perf_counter()
if mode == "download":
    objects = staging.list_objects({"S3Uri": uri})
    n = staging.download(objects, Path(local))
else:
    _, n = staging.upload(Path(local), uri)
print(json.dumps({"seconds": time.perf_counter() - t0, "bytes": n}))
"""


def staging_throughput(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    rows = parse_size(args.staging_rows)
    folder = workdir / "staging"
    folder.mkdir(parents=True, exist_ok=True)
    up_dir = folder / "input"
    up_dir.mkdir(exist_ok=True)
    source = generate(rows, args.seed, up_dir / "employees.csv")
    results: dict[str, Any] = {"rows": rows, "file_mib": source["mib"]}
    with moto_server() as (_url, aws):
        env = child_env(aws | {"PREPLINE_HOME": str(folder / "home")})
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import boto3; boto3.client('s3').create_bucket(Bucket='bench')",
            ],
            env=env,
            check=True,
        )
        probes: dict[str, list[dict[str, float]]] = {"upload": [], "download": []}
        for rep in range(args.reps):
            for mode, uri, local in (
                ("upload", f"s3://bench/probe-{rep}/", up_dir),
                ("download", f"s3://bench/probe-{rep}/", folder / f"down-{rep}"),
            ):
                result, ld = run_step(
                    f"staging {mode} {rep + 1}",
                    [sys.executable, "-c", STAGING_PROBE, mode, uri, str(local)],
                    env,
                )
                probe = json.loads(result.stdout_tail.splitlines()[-1])
                probe["mb_per_s"] = probe["bytes"] / 2**20 / probe["seconds"]
                probe["load"] = ld
                probes[mode].append(probe)
            shutil.rmtree(folder / f"down-{rep}", ignore_errors=True)
        for mode, items in probes.items():
            results[f"{mode}_mib_per_s"] = median([p["mb_per_s"] for p in items])
            results[f"{mode}_s"] = median([p["seconds"] for p in items])
        # a whole job with s3:// input and output, timed by phase
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import boto3, sys; boto3.client('s3').upload_file(sys.argv[1], 'bench', 'input/employees.csv')",
                str(up_dir / "employees.csv"),
            ],
            env=env,
            check=True,
        )
        jobs = []
        for rep in range(args.reps):
            request = folder / f"s3-job-{rep}.json"
            create_job("s3://bench/input/", "s3://bench/output", request, env)
            result, ld = run_step(
                f"staging s3 job {rep + 1}",
                [sys.executable, __file__, "--job-driver", str(request)],
                env,
            )
            entry = json.loads(result.stdout_tail.splitlines()[-1])
            entry.update({"wall_s": result.wall_s, "load": ld})
            jobs.append(entry)
        out_bytes = int(
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import boto3; c = boto3.client('s3'); "
                    f"print(sum(o['Size'] for o in c.list_objects_v2(Bucket='bench', Prefix='output/')['Contents']) // {max(1, args.reps)})",
                ],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
        )
        in_bytes = (up_dir / "employees.csv").stat().st_size + RECIPE.stat().st_size
        phases = {p: median([j["phases_s"].get(p, 0.0) for j in jobs]) for p in jobs[0]["phases_s"]}
        results["s3_job"] = {
            "wall_s": median([j["wall_s"] for j in jobs]),
            "phases_s": phases,
            "input_mib": round(in_bytes / 2**20, 1),
            "output_mib": round(out_bytes / 2**20, 1),
            "download_mib_per_s": round(in_bytes / 2**20 / phases["stage_inputs"], 1)
            if phases.get("stage_inputs")
            else None,
            "upload_mib_per_s": round(out_bytes / 2**20 / phases["upload_outputs"], 1)
            if phases.get("upload_outputs")
            else None,
            "loads": [round(j["load"], 2) for j in jobs],
        }
        results["probes"] = probes
    shutil.rmtree(folder, ignore_errors=True)
    return results


# --- output -------------------------------------------------------------------------------------


def _f(value: Any, digits: int, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def render(report: dict[str, Any], stream: Any) -> None:
    m = report["machine"]
    print(
        f"\n{m['date']}; {m['cpus']} CPUs ({m['cpu']}), {m['memory_mib']:,} MiB; Python {m['python']}, "
        f"polars {m['polars']}, pandas {m['pandas']}, duckdb {m['duckdb']}, pyspark {m['pyspark']}; "
        f"code: {m['git']}",
        file=stream,
    )
    for size in report.get("sizes", []):
        src = size["input"]
        print(f"\n{src['rows']:,} rows ({src['mib']:,.0f} MiB CSV)", file=stream)
        if size.get("recipe_steps_left_out"):
            left_out = ", ".join(size["recipe_steps_left_out"])
            print(
                f"prepline: the recipe without its {left_out} step(s); prepline-full: as is",
                file=stream,
            )
        header = [
            "tool",
            "wall s",
            "CPU s",
            "peak RSS MiB",
            "wall/prepline",
            "CPU/prepline",
            "RSS/prepline",
            "load",
            "outputs",
        ]
        body = []
        for tool, f in size["tools"].items():
            if "failed" in f:
                body.append([tool, "failed", *[""] * 7])
                continue
            r = f.get("ratio_to_prepline") or {}
            match = f.get("outputs")
            verdict = "-" if match is None else "same" if match["match"] else "DIFFER"
            body.append(
                [
                    tool,
                    _f(f["wall_s"], 2),
                    _f(f["cpu_s"], 2),
                    _f(f["peak_rss_mb"], 0),
                    _f(r.get("wall_s"), 2, "x"),
                    _f(r.get("cpu_s"), 2, "x"),
                    _f(r.get("peak_rss_mb"), 2, "x"),
                    f"{f['load_at_start']:.1f}",
                    verdict,
                ]
            )
        widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]
        for row in [header, *body]:
            print(
                "  ".join(
                    [
                        row[0].ljust(widths[0]),
                        *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)),
                    ]
                ),
                file=stream,
            )
        timings = size["tools"].get("prepline", {}).get("timings_s")
        if timings:
            print(
                "prepline phases (manifest timings_s): "
                + ", ".join(f"{k} {v:.2f}" for k, v in timings.items()),
                file=stream,
            )
    if "job_overhead" in report:
        j = report["job_overhead"]
        print(
            f"\njob runtime overhead, {j['rows']:,} rows, median of {j['reps']}: prepline run {j['direct_run_wall_s']:.2f} s, "
            f"job run {j['job_run_wall_s']:.2f} s (+{j['job_overhead_s']:.2f} s), job create {j['job_create_wall_s']:.2f} s",
            file=stream,
        )
        print(
            "  job phases: " + ", ".join(f"{k} {v:.3f}" for k, v in j["job_breakdown_s"].items()),
            file=stream,
        )
    if "staging" in report:
        s = report["staging"]
        print(
            f"\nstaging against moto ({s['file_mib']:.1f} MiB file, median of {len(s['probes']['upload'])}): "
            f"upload {s['upload_mib_per_s']:.1f} MiB/s ({s['upload_s']:.2f} s), download {s['download_mib_per_s']:.1f} MiB/s "
            f"({s['download_s']:.2f} s)",
            file=stream,
        )
        j = s["s3_job"]
        print(
            f"  s3:// job: {j['wall_s']:.2f} s wall; in {j['input_mib']} MiB at {j['download_mib_per_s']} MiB/s, out "
            f"{j['output_mib']} MiB at {j['upload_mib_per_s']} MiB/s; phases "
            + ", ".join(f"{k} {v:.3f}" for k, v in j["phases_s"].items()),
            file=stream,
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="The employees recipe: prepline vs pandas, hand-written Polars and "
        "DuckDB, Spark and the I/O floor; the job runtime's overhead and staging."
    )
    parser.add_argument(
        "--rows",
        "--sizes",
        dest="sizes",
        action="append",
        default=None,
        help="sizes, e.g. 200k,2M,14M (repeatable; default 200k)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--skip", default="", help=f"tools to leave out (comma-separated; of {', '.join(TOOLS)})"
    )
    parser.add_argument("--only", default="", help="run only these tools (comma-separated)")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument(
        "--workdir", type=Path, help="data and outputs (default: a new folder under /tmp)"
    )
    parser.add_argument("--keep", action="store_true", help="keep every output folder")
    parser.add_argument(
        "--keep-data", action="store_true", help="keep the generated CSVs (reused by a later run)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print the figures as JSON on stdout (tables on stderr)"
    )
    parser.add_argument(
        "--job-overhead", action="store_true", help="measure a local job vs prepline run"
    )
    parser.add_argument("--job-rows", default="200k")
    parser.add_argument(
        "--staging", action="store_true", help="measure staging to/from a local moto server"
    )
    parser.add_argument(
        "--staging-rows", default="300k", help="rows of the staged file (300k is ~42 MB)"
    )
    parser.add_argument(
        "--reps", type=int, default=5, help="repetitions for --job-overhead and --staging"
    )
    args = parser.parse_args(argv)
    args.sizes = [
        parse_size(s)
        for group in (args.sizes or ([] if (args.job_overhead or args.staging) else ["200k"]))
        for s in group.split(",")
        if s.strip()
    ]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = (skip | only) - set(TOOLS)
    if unknown:
        parser.error(
            f"unknown tool(s) {', '.join(sorted(unknown))}; the tools are {', '.join(TOOLS)}"
        )
    tools = [t for t in TOOLS if t not in skip and (not only or t in only)]
    # prepline first among the compared tools, so the others can be checked against it
    args.tools = (["prepline"] if "prepline" in tools else []) + [
        t for t in tools if t != "prepline"
    ]
    if any(t in COMPARED for t in args.tools) and "prepline" not in args.tools:
        print("note: without prepline no outputs are compared", file=sys.stderr)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--reap"]:
        return reap(argv[2:] if argv[1:2] == ["--"] else argv[1:])
    if argv[:1] == ["--job-driver"]:
        return job_driver(argv[1])
    args = parse_args(argv)
    owned = args.workdir is None
    workdir = (
        Path(tempfile.mkdtemp(prefix="prepline-run-", dir="/tmp"))
        if owned
        else args.workdir.resolve()
    )
    workdir.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "sizes": []}
    try:
        for rows in args.sizes:
            report["sizes"].append(bench_size(rows, args, workdir))
        if args.job_overhead:
            report["job_overhead"] = job_overhead(args, workdir)
        if args.staging:
            report["staging"] = staging_throughput(args, workdir)
    except BenchmarkFailed as failure:
        print(f"benchmark failed: {failure}", file=sys.stderr)
        return 1
    finally:
        if owned and not (args.keep or args.keep_data):
            shutil.rmtree(workdir, ignore_errors=True)
    render(report, sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
