"""`prepline job ...`: SageMaker Processing jobs, run here or on AWS, watched with the same verbs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from prepline.cli import console as out

app = typer.Typer(help="Render, validate, run and watch SageMaker Processing jobs (local or AWS).", no_args_is_help=True)

Backend = Annotated[str, typer.Option("--backend", "-b", help="Where the job lives: local or sagemaker.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the AWS API's JSON shape.")]


@app.command("render")
def render(
    template: Annotated[Path, typer.Argument(help="A job template with {{KEY}} placeholders.")],
    set_: Annotated[list[str], typer.Option("--set", "-s", help="KEY=VALUE for a placeholder (repeatable).")] = [],  # noqa: B006
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
) -> None:
    """Fill a template's {{KEY}} placeholders; any placeholder left without a value is an error."""
    from prepline.errors import JobRequestError
    from prepline.processing.template import parse_assignments
    from prepline.processing.template import render as fill

    try:
        text = template.read_text(encoding="utf-8")
    except OSError as exc:
        raise JobRequestError(f"cannot read template {template}: {exc.strerror}") from None
    rendered = fill(text, parse_assignments(set_), source=str(template))
    if output:
        output.write_text(rendered, encoding="utf-8")
        out.info(f"wrote {output}")
    else:
        print(rendered, end="" if rendered.endswith("\n") else "\n")


@app.command("validate")
def validate(
    request: Annotated[Path, typer.Argument(help="A CreateProcessingJob request (JSON).")],
    cloud: Annotated[bool, typer.Option("--cloud", help="Check it for SageMaker (no file:// URIs).")] = False,
) -> None:
    """Check a request against the SageMaker API model and the processing contract; list every problem."""
    from prepline.processing.request import load_request, validate_request

    validate_request(load_request(request), local=not cloud, source=str(request))
    out.stdout.print(f"{request}: valid")


@app.command("run")
def run(
    request: Annotated[Path, typer.Argument(help="A CreateProcessingJob request (JSON).")],
    runtime: Annotated[str, typer.Option("--runtime", help="local (private mount namespaces) or docker.")] = "local",
    keep: Annotated[bool, typer.Option("--keep", help="Keep the staged data of each instance.")] = False,
    as_json: AsJson = False,
) -> None:
    """Run a request on this machine; exit 0 only when the job ends Completed."""
    from prepline.processing import describe as shapes
    from prepline.processing.local.runtime import LocalRuntime, job_error
    from prepline.processing.request import load_request

    body = load_request(request)
    out.info(f"job {body.get('ProcessingJobName')}: starting {body.get('ProcessingResources', {}).get('ClusterConfig', {}).get('InstanceCount', '?')} instance(s) locally")
    job = LocalRuntime(runtime=runtime, keep=keep).run(body, source=str(request))
    described = shapes.describe(job)
    if as_json:
        out.print_json(described)
    else:
        print_job(described)
    error = job_error(job)
    if error:
        raise error


@app.command("submit")
def submit(
    request: Annotated[Path, typer.Argument(help="A CreateProcessingJob request (JSON).")],
    wait_: Annotated[bool, typer.Option("--wait", help="Wait until the job ends (polling with backoff).")] = False,
    logs_: Annotated[bool, typer.Option("--logs", help="Stream the job's CloudWatch logs until it ends (implies --wait).")] = False,
    as_json: AsJson = False,
) -> None:
    """Validate a request and start it on SageMaker; with --wait, exit 0 only when it ends Completed."""
    from prepline.processing.request import load_request
    from prepline.processing.sagemaker import SageMakerJobs

    body = load_request(request)
    jobs = SageMakerJobs()
    arn = jobs.submit(body, source=str(request))
    name = body["ProcessingJobName"]
    out.info(f"submitted {name} ({arn})")
    if not (wait_ or logs_):
        if as_json:
            out.print_json({"ProcessingJobArn": arn})
        return
    if logs_:
        for line in jobs.logs(name, follow=True):
            print(line, flush=True)
    described = jobs.wait(name, on_poll=lambda d: out.info(f"{name}: {d['ProcessingJobStatus']}"))
    _finish(described, as_json)


def _finish(described: dict[str, Any], as_json: bool) -> None:
    from prepline.errors import JobError

    if as_json:
        out.print_json(described)
    else:
        print_job(described)
    status = described["ProcessingJobStatus"]
    if status != "Completed":
        parts = [f"job {described['ProcessingJobName']} ended {status}"]
        for key in ("FailureReason", "ExitMessage"):
            if described.get(key):
                parts.append(f"{key}: {described[key]}")
        raise JobError("\n".join(parts), hint=f"read the logs: prepline job logs {described['ProcessingJobName']}")


@app.command("create")
def create(
    recipe: Annotated[Path, typer.Option("--recipe", "-r", help="The recipe YAML file to ship as the job's code.")],
    input: Annotated[str | None, typer.Option("--input", "-i", help="Input data: s3://... (or file:// for local runs).")] = None,
    output: Annotated[str | None, typer.Option("--output", "-o", help="Output prefix; the job writes under <output>/<job name>/.")] = None,
    role: Annotated[str | None, typer.Option("--role", help="The processing role's ARN.", envvar="PREPLINE_ROLE_ARN")] = None,
    image: Annotated[str | None, typer.Option("--image", help="The processing image URI. Default: polars, $PREPLINE_IMAGE_URI or the stack's; spark, the region's sagemaker-spark-processing image.", show_default=False)] = None,
    engine: Annotated[str, typer.Option("--engine", "-e", help="polars (prepline's image, one process per instance) or spark (SageMaker's Spark container, one cluster across the instances).")] = "polars",
    stack: Annotated[str | None, typer.Option("--stack", help="Fill role, image, input, output, code URI and name prefix from this CDK stack's outputs.")] = None,
    stack_file: Annotated[Path | None, typer.Option("--stack-file", help="Same, from a file written by `prepline infra outputs --write`.")] = None,
    instance_type: Annotated[str | None, typer.Option("--instance-type", help="e.g. ml.t3.medium, ml.m5.xlarge. Default: ml.t3.medium; spark, ml.m5.xlarge.", show_default=False)] = None,
    instance_count: Annotated[int, typer.Option("--instance-count", min=1, help="Instances; >1 shards the input by object (polars) or makes a Spark cluster of them (spark).")] = 1,
    volume_gb: Annotated[int, typer.Option("--volume-gb", min=1, help="EBS volume per instance.")] = 30,
    max_runtime: Annotated[int, typer.Option("--max-runtime", min=1, help="MaxRuntimeInSeconds.")] = 3600,
    name_prefix: Annotated[str | None, typer.Option("--name-prefix", help="Job names start with this (default prepline).")] = None,
    code_uri: Annotated[str | None, typer.Option("--code-uri", help="Where recipes go (default: code/ in the output's bucket).")] = None,
    format: Annotated[str, typer.Option("--format", help="Output files: csv or parquet.")] = "csv",
    tag: Annotated[list[str], typer.Option("--tag", help="KEY=VALUE tag (repeatable).")] = [],  # noqa: B006
    output_file: Annotated[Path | None, typer.Option("--output-file", help="Write the request here (default stdout).")] = None,
    channels_file: Annotated[Path | None, typer.Option("--channels-file", help="Write the recipe's split parts as a CreateTrainingJob InputDataConfig (one channel per part) here.")] = None,
) -> None:
    """Write a complete CreateProcessingJob request that runs RECIPE (locally with `job run`, on AWS with `job submit`).

    Explicit options win over the stack's outputs.
    """
    import json
    import os

    from prepline.errors import JobRequestError
    from prepline.processing.create import CreateOptions, build_request
    from prepline.processing.template import parse_assignments

    spark = engine == "spark"  # an unknown engine is refused by build_request
    deployed: dict[str, Any] = {}
    if stack or stack_file:
        from prepline.cloud.stack_outputs import StackOutputs, read_stack_outputs

        outputs = StackOutputs.read(stack_file) if stack_file else read_stack_outputs(stack)  # type: ignore[arg-type]
        deployed = {"input": outputs.raw_input_uri, "output": outputs.processed_output_uri,
                    "role": outputs.processing_role_arn, "image": outputs.image_uri,
                    "code_uri": outputs.code_uri, "name_prefix": outputs.job_name_prefix}
    if spark:
        deployed.pop("image", None)  # the stack's image is prepline's own, which has no Spark
    elif image is None and os.environ.get("PREPLINE_IMAGE_URI"):
        image = os.environ["PREPLINE_IMAGE_URI"]
    given = {"input": input, "output": output, "role": role, "image": image, "code_uri": code_uri, "name_prefix": name_prefix}
    values = {k: v if v is not None else deployed.get(k) for k, v in given.items()}
    missing = [f"--{k.replace('_', '-')}" for k in ("input", "output", "role", "image")
               if not values[k] and not (k == "image" and spark)]
    if missing:
        raise JobRequestError(f"job create needs {', '.join(missing)}",
                              hint="give them, or --stack NAME to read them from the deployed CDK stack")
    stock_image = False
    if spark and not values["image"]:
        from prepline.processing import spark_job

        values["image"] = spark_job.image_uri(spark_job.configured_region())
        stock_image = True
    if not instance_type:
        from prepline.processing.spark_job import INSTANCE_TYPE

        instance_type = INSTANCE_TYPE if spark else "ml.t3.medium"
    options = CreateOptions(
        recipe=recipe, input_uri=values["input"], output_uri=values["output"], role_arn=values["role"],
        image_uri=values["image"], instance_type=instance_type, instance_count=instance_count, volume_gb=volume_gb,
        max_runtime_s=max_runtime, name_prefix=values["name_prefix"] or "prepline", code_uri=values["code_uri"],
        output_format=format, tags=tuple(parse_assignments(tag).items()), engine=engine,
    )
    body, facts = build_request(options)
    text = json.dumps(body, indent=2) + "\n"
    if output_file:
        output_file.write_text(text, encoding="utf-8")
        out.info(f"wrote {output_file}")
    else:
        print(text, end="")
    state = "uploaded" if facts["uploaded"] else "unchanged, not uploaded again"
    out.info(f"job {body['ProcessingJobName']}: recipe {facts['recipe_uri']} ({state}); outputs -> {facts['output_uri']}")
    _training_channels(options, facts["output_uri"], channels_file)
    if spark:
        from prepline.processing.spark_job import IMAGE_SPARK

        shipped = "uploaded" if facts["package_uploaded"] else "unchanged, not uploaded again"
        out.info(f"prepline and its Spark application: {facts['package_uri']} ({shipped}); runs only on SageMaker "
                 "(prepline job submit)")
        if stock_image:
            out.warn(f"{body['AppSpecification']['ImageUri']} runs Spark {IMAGE_SPARK}, and the spark engine needs "
                     "Spark 4: the job will fail at start saying so. Pass --image with a Spark 4 image that has "
                     "smspark-submit (see the README), or use --engine polars")


def _training_channels(options: Any, job_output_uri: str, channels_file: Path | None) -> None:
    """Print where each split part will be, as a training channel; write them as InputDataConfig if asked."""
    import json

    from prepline.processing.create import input_data_config, training_channels

    channels = training_channels(options.recipe, job_output_uri, engine=options.engine,
                                 instance_count=options.instance_count, output_format=options.output_format)
    for channel in channels:
        out.info(f"training channel {channel.name} ({channel.content_type}): {', '.join(channel.prefixes)}")
    if channels_file is None:
        return
    if not channels:
        from prepline.errors import JobRequestError

        raise JobRequestError(f"--channels-file: recipe {options.recipe} has no split step, so no training channels",
                              hint="add a split step (see the README's recipe reference), or drop --channels-file")
    channels_file.write_text(json.dumps(input_data_config(channels), indent=2) + "\n", encoding="utf-8")
    out.info(f"wrote {channels_file} (InputDataConfig for CreateTrainingJob)")


@app.command("list")
def list_(
    status: Annotated[str | None, typer.Option("--status", help="InProgress, Completed, Failed, Stopping or Stopped.")] = None,
    name_contains: Annotated[str | None, typer.Option("--name-contains", help="Only names containing this.")] = None,
    max_results: Annotated[int, typer.Option("--max-results", min=1, help="At most this many jobs.")] = 100,
    backend: Backend = "local",
    as_json: AsJson = False,
) -> None:
    """List jobs, newest first."""
    from prepline.processing.jobs import backend as get_backend

    jobs = get_backend(backend).list(status=status, name_contains=name_contains, max_results=max_results)
    if as_json:
        out.print_json({"ProcessingJobSummaries": jobs})
        return
    from rich.table import Table

    table = Table(title=f"{backend} processing jobs")
    for col in ("name", "status", "created", "ended"):
        table.add_column(col)
    for job in jobs:
        table.add_row(job["ProcessingJobName"], _status(job["ProcessingJobStatus"]), str(job.get("CreationTime", "")),
                      str(job.get("ProcessingEndTime", "")))
    out.stdout.print(table)


@app.command("describe")
def describe(
    name: Annotated[str, typer.Argument(help="The job's name.")],
    backend: Backend = "local",
    as_json: AsJson = False,
    format: Annotated[str, typer.Option("--format", help="table, json or markdown (for $GITHUB_STEP_SUMMARY).")] = "table",
) -> None:
    """Show a job as DescribeProcessingJob does (markdown adds rows in/out from the output's manifest)."""
    from prepline.errors import PreplineError
    from prepline.processing.jobs import backend as get_backend

    if format not in ("table", "json", "markdown"):
        raise PreplineError(f"unknown format {format!r}", hint="use --format table, json or markdown")
    described = get_backend(backend).describe(name)
    if as_json or format == "json":
        out.print_json(described)
    elif format == "markdown":
        from prepline.processing.summary import markdown, read_output_manifest

        print(markdown(described, read_output_manifest(described), backend=backend), end="")
    else:
        print_job(described)


@app.command("logs")
def logs(
    name: Annotated[str, typer.Argument(help="The job's name.")],
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing until the job ends.")] = False,
    instance: Annotated[str | None, typer.Option("--instance", help="Only this instance (algo-N).")] = None,
    backend: Backend = "local",
) -> None:
    """Print a job's logs, each line prefixed with its instance."""
    from prepline.processing.jobs import backend as get_backend

    for line in get_backend(backend).logs(name, instance=instance, follow=follow):
        print(line, flush=True)


@app.command("wait")
def wait(
    name: Annotated[str, typer.Argument(help="The job's name.")],
    timeout: Annotated[float | None, typer.Option("--timeout", help="Give up after this many seconds.")] = None,
    backend: Backend = "local",
    as_json: AsJson = False,
) -> None:
    """Wait until a job ends; exit 0 only when it Completed."""
    from prepline.processing.jobs import backend as get_backend

    _finish(get_backend(backend).wait(name, timeout=timeout), as_json)


@app.command("stop")
def stop(
    name: Annotated[str, typer.Argument(help="The job's name.")],
    backend: Backend = "local",
) -> None:
    """Ask a running job to stop (SIGTERM, a grace period, then SIGKILL); it ends Stopped."""
    from prepline.processing.jobs import backend as get_backend

    described = get_backend(backend).stop(name)
    out.stdout.print(f"{name}: {described['ProcessingJobStatus']}")


def print_job(described: dict[str, Any]) -> None:
    from rich.table import Table

    from prepline.processing.describe import duration_seconds

    table = Table(show_header=False, title=described["ProcessingJobName"], title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("status", _status(described["ProcessingJobStatus"]))
    cluster = described.get("ProcessingResources", {}).get("ClusterConfig", {})
    table.add_row("instances", f"{cluster.get('InstanceCount')} x {cluster.get('InstanceType')}")
    seconds = duration_seconds(described)
    if seconds is not None:
        table.add_row("duration", f"{seconds:.1f} s")
    for item in described.get("ProcessingInputs", []):
        if "S3Input" in item:
            table.add_row(f"input {item['InputName']}", f"{item['S3Input']['S3Uri']} -> {item['S3Input']['LocalPath']}")
    for item in described.get("ProcessingOutputConfig", {}).get("Outputs", []):
        if "S3Output" in item:
            table.add_row(f"output {item['OutputName']}", f"{item['S3Output']['LocalPath']} -> {item['S3Output']['S3Uri']}")
    from prepline.processing.cost import cost_summary

    cost = cost_summary(described)
    if cost:
        table.add_row("cost", cost)
    if described.get("FailureReason"):
        table.add_row("FailureReason", described["FailureReason"])
    if described.get("ExitMessage"):
        table.add_row("ExitMessage", described["ExitMessage"])
    out.stdout.print(table)


def _status(status: str) -> str:
    colour = {"Completed": "green", "Failed": "red", "Stopped": "yellow", "Stopping": "yellow"}.get(status, "cyan")
    return f"[{colour}]{status}[/]"
