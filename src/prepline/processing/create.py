"""Write a complete CreateProcessingJob request for a recipe, with the recipe shipped as code.

The recipe is uploaded content-addressed (``<code prefix>/<sha256>/recipe.yaml``),
so an unchanged recipe is uploaded once. The request for the polars engine (prepline's
image) runs unchanged under ``prepline job run`` (local) and ``prepline job submit``
(SageMaker); the one for the spark engine targets SageMaker's Spark container and runs
only on SageMaker (see :mod:`prepline.processing.spark_job`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prepline.engines import ENGINES as ENGINE_MODULES
from prepline.errors import JobRequestError
from prepline.recipe import load_recipe
from prepline.storage import ship_files

ENTRYPOINT = ["python3", "-m", "prepline.processing"]
ENGINES = tuple(ENGINE_MODULES)
NAME_LIMIT = 63


@dataclass(frozen=True)
class CreateOptions:
    recipe: Path
    input_uri: str
    output_uri: str
    role_arn: str
    image_uri: str
    instance_type: str = "ml.t3.medium"
    instance_count: int = 1
    volume_gb: int = 30
    max_runtime_s: int = 3600
    name_prefix: str = "prepline"
    code_uri: str | None = None
    output_format: str = "csv"
    tags: tuple[tuple[str, str], ...] = ()
    engine: str = "polars"


def job_name(prefix: str, recipe_name: str, now: float | None = None) -> str:
    """``<prefix>-<recipe>-<UTC timestamp>-<random>``, cut to SageMaker's 63 characters."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    suffix = f"{stamp}-{secrets.token_hex(2)}"
    head = re.sub(r"[^A-Za-z0-9]+", "-", f"{prefix}-{recipe_name}").strip("-")
    head = head[: NAME_LIMIT - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}" if head else suffix


def default_code_uri(output_uri: str) -> str:
    """A ``code/`` prefix in the output's bucket (or next to a file:// output)."""
    if output_uri.startswith("s3://"):
        bucket = output_uri[len("s3://"):].split("/", 1)[0]
        return f"s3://{bucket}/code/"
    if output_uri.startswith("file://"):
        return Path(output_uri[len("file://"):].rstrip("/")).parent.joinpath("code").as_uri() + "/"
    raise JobRequestError(f"output {output_uri!r} must be an s3:// or file:// URI")


def ship_recipe(recipe: Path, code_uri: str) -> tuple[str, bool]:
    """Upload the recipe under its content hash; returns (its folder URI, whether it was uploaded)."""
    data = recipe.read_bytes()
    return ship_files(code_uri, hashlib.sha256(data).hexdigest()[:16], {"recipe.yaml": data}, last="recipe.yaml",
                      what="the recipe", content_types={"recipe.yaml": "application/yaml"})


def build_request(options: CreateOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request, and facts about it (recipe folder, whether it was uploaded)."""
    recipe = load_recipe(options.recipe)
    for label, uri in (("--input", options.input_uri), ("--output", options.output_uri)):
        if not uri.startswith(("s3://", "file://")):
            raise JobRequestError(f"{label} {uri!r} must be an s3:// or file:// URI",
                                  hint="processing jobs read and write S3 (file:// runs only locally)")
    if options.engine not in ENGINES:
        raise JobRequestError(f"unknown engine {options.engine!r}", hint=f"use --engine {' or --engine '.join(ENGINES)}")
    code_uri = options.code_uri or default_code_uri(options.output_uri)
    code_folder, uploaded = ship_recipe(options.recipe, code_uri)
    name = job_name(options.name_prefix, recipe.name)
    spark = options.engine == "spark"
    # polars: each instance runs the recipe on its shard; spark: one driver, executors read the replicated input
    sharded = options.instance_count > 1 and not spark
    arguments = ["--format", options.output_format] if options.output_format != "csv" else []
    app: dict[str, Any] = {"ImageUri": options.image_uri, "ContainerEntrypoint": ENTRYPOINT}
    code_inputs = [{"InputName": "code", "S3Input": {
        "S3Uri": code_folder, "LocalPath": "/opt/ml/processing/input/code", "S3DataType": "S3Prefix",
        "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}]
    facts: dict[str, Any] = {}
    if spark:
        from prepline.processing import spark_job

        package_folder, package_uploaded = spark_job.ship_package(spark_job.build_package(), code_uri)
        app["ContainerEntrypoint"] = spark_job.ENTRYPOINT
        arguments = ["--engine", "spark", *arguments]
        code_inputs.append({"InputName": spark_job.PACKAGE_INPUT, "S3Input": {
            "S3Uri": package_folder, "LocalPath": spark_job.PACKAGE_PATH, "S3DataType": "S3Prefix",
            "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}})
        facts = {"package_uri": package_folder, "package_uploaded": package_uploaded}
    if arguments:
        app["ContainerArguments"] = arguments
    digest = hashlib.sha256(options.recipe.read_bytes()).hexdigest()
    tags = [{"Key": "project", "Value": "prepline"}, {"Key": "recipe", "Value": recipe.name},
            {"Key": "recipe-sha256", "Value": digest[:16]}, {"Key": "engine", "Value": options.engine}]
    tags += [{"Key": k, "Value": v} for k, v in options.tags]
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": [
            {"InputName": "input-data", "S3Input": {
                "S3Uri": options.input_uri, "LocalPath": "/opt/ml/processing/input/data", "S3DataType": "S3Prefix",
                "S3InputMode": "File", "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated"}},
            *code_inputs,
        ],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "output-data", "S3Output": {
            "S3Uri": options.output_uri.rstrip("/") + f"/{name}/", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]},
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": options.instance_count, "InstanceType": options.instance_type,
            "VolumeSizeInGB": options.volume_gb}},
        "StoppingCondition": {"MaxRuntimeInSeconds": options.max_runtime_s},
        "AppSpecification": app,
        "Environment": {"PREPLINE_RECIPE_SHA256": digest},
        "RoleArn": options.role_arn,
        "Tags": tags,
    }
    from prepline.processing.request import validate_request

    validate_request(request, local=True, source="the generated request")
    return request, {"recipe_uri": code_folder + "recipe.yaml", "uploaded": uploaded,
                     "output_uri": request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"], **facts}


# --- training channels ----------------------------------------------------------------------------

CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/x-parquet"}


@dataclass(frozen=True)
class Channel:
    """Where a split part lands: one S3 prefix per instance that writes it (one, unless polars shards)."""

    name: str
    prefixes: tuple[str, ...]
    content_type: str


def training_channels(recipe_path: Path, job_output_uri: str, *, engine: str, instance_count: int,
                      output_format: str) -> list[Channel]:
    """Each split part of the recipe as a training channel: the prefix(es) its file(s) will have.

    A part is ``<job output>/<part>.<format>``, or the folder ``<job output>/<part>/`` when it is
    partitioned. With several polars instances each writes its own parts under ``algo-N/``.
    """
    from prepline.recipe.model import SplitStep

    recipe = load_recipe(recipe_path)
    base = job_output_uri.rstrip("/") + "/"
    hosts = [f"algo-{i}/" for i in range(1, instance_count + 1)] if instance_count > 1 and engine != "spark" else [""]
    channels = []
    for step in recipe.steps:
        if not isinstance(step, SplitStep):
            continue
        for part in step.split.parts:
            spec = recipe.write_spec(part, output_format)  # type: ignore[arg-type]
            leaf = f"{part}/" if spec.partition_by else f"{part}.{spec.format}"
            channels.append(Channel(part, tuple(base + host + leaf for host in hosts), CONTENT_TYPES[spec.format]))
    return channels


def input_data_config(channels: list[Channel]) -> list[dict[str, Any]]:
    """``InputDataConfig`` for CreateTrainingJob: each channel's files in /opt/ml/input/data/<channel>/."""
    sharded = [c.name for c in channels if len(c.prefixes) > 1]
    if sharded:
        raise JobRequestError(
            f"the split parts {', '.join(sharded)} are written once per instance (algo-1/, algo-2/ ...), so each is "
            "not one S3 prefix a training channel can name",
            hint="create the job with --instance-count 1 (or --engine spark) to get one prefix per part, or list "
            "the per-instance files in an S3 manifest file (S3DataType ManifestFile) yourself",
        )
    return [
        {"ChannelName": c.name, "ContentType": c.content_type, "InputMode": "File",
         "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": c.prefixes[0],
                                         "S3DataDistributionType": "FullyReplicated"}}}
        for c in channels
    ]
