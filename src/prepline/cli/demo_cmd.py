"""`prepline demo`: the main job on a fresh machine, end to end, in a working folder.

Sample data -> the employees recipe run as a local SageMaker Processing job
(file:// URIs, the container's /opt/ml layout) -> a summary of what came out, with the
train/validation/test split: the fractions obtained and where a training job finds each part.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Annotated

import typer

from prepline.cli import console as out

DEMO_ROLE = "arn:aws:iam::000000000000:role/prepline-demo"
DEMO_IMAGE = "prepline:local"


def demo(
    workdir: Annotated[Path, typer.Option("--workdir", "-w", help="Folder for the sample data and outputs.")] = Path("prepline-demo"),
    rows: Annotated[int, typer.Option("--rows", "-n", min=1, help="Rows of sample data to generate.")] = 100_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample data.")] = 7,
) -> None:
    """Make sample employees data and run the employees recipe on it as a local processing job."""
    from prepline.cli.job_cmd import print_job
    from prepline.cli.run_cmd import print_run_summary, print_splits
    from prepline.examples import employees_job_template, employees_recipe
    from prepline.manifest import read_manifest
    from prepline.processing import describe as shapes
    from prepline.processing.local.runtime import LocalRuntime, job_error
    from prepline.processing.template import render
    from prepline.sample.employees import write_employees

    started = time.perf_counter()
    workdir = workdir.resolve()
    data = workdir / "input" / "employees.csv"
    code = workdir / "code"
    output = workdir / "output"
    with out.stderr.status(f"generating {rows:,} rows of sample data ..."):
        sample = write_employees(data, rows=rows, seed=seed)
    out.info(f"sample data: {sample.rows:,} rows, {sample.bytes / 1e6:.1f} MB -> {data}")
    code.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(employees_recipe(), code / "recipe.yaml")
    if output.exists():
        shutil.rmtree(output)  # the demo owns this folder; a job's EndOfJob upload adds to what is there
    name = time.strftime("employees-demo-%Y%m%d-%H%M%S") + f"-{time.time_ns() % 1000:03d}"
    request_text = render(
        employees_job_template().read_text(encoding="utf-8"),
        {
            "JOB_NAME": name,
            "INPUT_URI": data.parent.as_uri(),
            "RECIPE_URI": code.as_uri(),
            "OUTPUT_URI": output.as_uri(),
            "INSTANCE_COUNT": "1",
            "INSTANCE_TYPE": "ml.t3.medium",
            "IMAGE_URI": DEMO_IMAGE,
            "ROLE_ARN": DEMO_ROLE,
        },
        source="examples/employees/job.json",
    )
    (workdir / "job.json").write_text(request_text, encoding="utf-8")
    import json

    out.info(f"running the employees recipe as local processing job {name} ...")
    job = LocalRuntime().run(json.loads(request_text), source=str(workdir / "job.json"))
    print_job(shapes.describe(job))
    error = job_error(job)
    if error:
        raise error
    manifest = read_manifest(output)
    print_run_summary(manifest, str(output))
    print_splits(manifest, str(output))
    out.stdout.print(
        f"demo finished in {time.perf_counter() - started:.1f} s. Next: prepline job logs {name}; "
        f"the request is {workdir / 'job.json'}"
    )
