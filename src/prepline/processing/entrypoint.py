"""The in-container entrypoint: run a recipe shipped in the job's ``code`` input on its data input.

``python -m prepline.processing`` reads ``/opt/ml/config/processingjobconfig.json``
to find the recipe (the YAML file in the input named ``code``), the data (the
other input; ``prepline``, prepline itself in a Spark job, is code too) and where to
write (the output's LocalPath). With several instances each writes into
``<output>/<current_host>/``, except with ``--engine spark``: there the one driver
(on the primary instance, under ``smspark-submit``) runs the recipe for the whole
cluster. Failures write a short reason to ``/opt/ml/output/message``, which
SageMaker reports as ExitMessage.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prepline.errors import PreplineError

CODE_INPUT = "code"
PACKAGE_INPUT = "prepline"  # prepline's own source, in a Spark job (see spark_job)
MESSAGE_LIMIT = 1024


@dataclass
class Plan:
    recipe: Path
    input: Path
    output: Path
    host: str


def _config(opt_ml: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    job_path = opt_ml / "config" / "processingjobconfig.json"
    resource_path = opt_ml / "config" / "resourceconfig.json"
    job = json.loads(job_path.read_text(encoding="utf-8")) if job_path.is_file() else {}
    resource = json.loads(resource_path.read_text(encoding="utf-8")) if resource_path.is_file() else {}
    return job, resource


def plan_from_config(opt_ml: Path, recipe: str | None, data: str | None, output: str | None,
                     per_host: bool = True) -> Plan:
    job, resource = _config(opt_ml)
    inputs = job.get("ProcessingInputs") or []
    outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []

    def local(path: str) -> Path:
        return opt_ml / Path(path).relative_to("/opt/ml")

    if recipe is None:
        code = [i for i in inputs if i.get("InputName") == CODE_INPUT and "S3Input" in i]
        if not code:
            raise PreplineError(
                f"no recipe: the job has no input named {CODE_INPUT!r} and --recipe was not given",
                hint=f"add an input named {CODE_INPUT!r} holding recipe.yaml (prepline job create does), or pass --recipe",
            )
        folder = local(code[0]["S3Input"]["LocalPath"])
        found = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml"))
        if len(found) != 1:
            raise PreplineError(
                f"expected exactly one recipe (.yaml) in the code input {folder}, found {len(found)}",
                hint="ship one recipe per job, or pass --recipe PATH",
            )
        recipe_path = found[0]
    else:
        recipe_path = Path(recipe)
    if data is None:
        candidates = [i for i in inputs if i.get("InputName") not in (CODE_INPUT, PACKAGE_INPUT) and "S3Input" in i]
        if len(candidates) != 1:
            raise PreplineError(
                f"cannot tell which input holds the data ({len(candidates)} non-code inputs)",
                hint="pass --input /opt/ml/processing/<name>",
            )
        data_path = local(candidates[0]["S3Input"]["LocalPath"])
    else:
        data_path = Path(data)
    if output is None:
        if len(outputs) != 1 or "S3Output" not in outputs[0]:
            raise PreplineError(f"cannot tell where to write ({len(outputs)} outputs)",
                                hint="pass --output /opt/ml/processing/<name>")
        output_path = local(outputs[0]["S3Output"]["LocalPath"])
    else:
        output_path = Path(output)
    host = resource.get("current_host", "algo-1")
    if per_host and len(resource.get("hosts") or [host]) > 1:
        output_path = output_path / host
    return Plan(recipe=recipe_path, input=data_path, output=output_path, host=host)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m prepline.processing", description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", help="recipe file (default: the YAML file in the 'code' input)")
    parser.add_argument("--input", help="data file or folder (default: the job's data input)")
    parser.add_argument("--output", help="output folder (default: the job's output)")
    parser.add_argument("--format", default="csv", choices=["csv", "parquet"])
    parser.add_argument("--engine", default="polars")
    parser.add_argument("--opt-ml", default="/opt/ml", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    opt_ml = Path(args.opt_ml)
    try:
        from prepline.pipeline import run_recipe

        plan = plan_from_config(opt_ml, args.recipe, args.input, args.output, per_host=args.engine != "spark")
        print(f"prepline {plan.host}: recipe {plan.recipe}, input {plan.input}, output {plan.output}", flush=True)
        summary = run_recipe(plan.recipe, str(plan.input), str(plan.output), engine=args.engine, output_format=args.format)
        outputs = ", ".join(f"{n} {i['rows']} rows" for n, i in summary.outputs.items())
        print(f"prepline {plan.host}: {summary.rows_in} rows in; {outputs}", flush=True)
        return 0
    except PreplineError as exc:
        _write_message(opt_ml, str(exc))
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except Exception as exc:
        _write_message(opt_ml, f"internal error: {type(exc).__name__}: {exc}")
        raise


def _write_message(opt_ml: Path, text: str) -> None:
    folder = opt_ml / "output"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "message").write_bytes(text.encode("utf-8")[:MESSAGE_LIMIT])
    except OSError:
        pass
