"""`job create --engine spark`: a request for SageMaker's Spark container, prepline shipped as code.

The request is checked against botocore's SageMaker model and the moto server; the shipped
application is run the way smspark-submit runs it on the primary instance (``spark-submit``
with the job's /opt/ml), with pyspark's own spark-submit and a local master instead of YARN.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import boto3
import polars as pl
import pytest

from prepline.engines import available
from prepline.errors import JobRequestError
from prepline.processing import spark_job
from prepline.processing.create import CreateOptions, build_request
from prepline.processing.request import validate_request
from tests.conftest import REPO, _java_available
from tests.processing.conftest import ROLE, prepline

RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
EMPLOYEES = """\
id,name,age,salary,hire_date,profile,department,bonus
1,Ann,34,52000,2020-01-02,"{""address"": ""1 Main St"", ""phone"": ""0123"", ""email"": ""a@x.org""}",Sales,100
2,Bob,,61000,2019-05-06,,HR,
3,Cy,58,,2018-07-08,"{""address"": ""2 Side St""}",,200.5
"""

SMALL_RECIPE = """\
name: staff
input: {columns: {id: int64, name: string, age: int64, salary: float64, hire_date: date, profile: string,
                  department: string, bonus: float64}}
steps:
  - fill: {age: median, department: {value: Unknown}}
  - extract_json: {column: profile, fields: {address: $.address}, on_invalid: "null"}
  - output: cleaned
  - aggregate: {name: by_department, by: {Department: department}, values: {staff: {count: '*'}}}
report: {enabled: false}
"""


def spark_options(input_uri: str, output_uri: str, **overrides) -> CreateOptions:
    values = dict(recipe=RECIPE, input_uri=input_uri, output_uri=output_uri, role_arn=ROLE,
                  image_uri=spark_job.image_uri("us-east-1"), engine="spark", instance_type=spark_job.INSTANCE_TYPE)
    values.update(overrides)
    return CreateOptions(**values)


# --- the image ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("region", "uri"), [
    ("us-east-1", "173754725891.dkr.ecr.us-east-1.amazonaws.com/sagemaker-spark-processing:"),
    ("eu-west-1", "571004829621.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-spark-processing:"),
    ("ap-northeast-3", "102471314380.dkr.ecr.ap-northeast-3.amazonaws.com/sagemaker-spark-processing:"),
    ("cn-north-1", "671472414489.dkr.ecr.cn-north-1.amazonaws.com.cn/sagemaker-spark-processing:"),
])
def test_the_spark_image_is_the_regions(region, uri):
    assert spark_job.image_uri(region) == uri + spark_job.IMAGE_TAG


def test_an_unknown_region_is_refused_naming_the_known_ones():
    with pytest.raises(JobRequestError) as info:
        spark_job.image_uri("xx-moon-1")
    text = str(info.value)
    assert "no sagemaker-spark-processing image is known for region 'xx-moon-1'" in text
    assert "us-east-1" in text and "eu-central-1" in text
    assert "--image" in text
    with pytest.raises(JobRequestError, match="none is configured"):
        spark_job.image_uri(None)


# --- the request ----------------------------------------------------------------------------------


def test_a_spark_request_ships_prepline_and_runs_smspark_submit(s3_bucket):
    options = spark_options(f"s3://{s3_bucket}/input/", f"s3://{s3_bucket}/output", instance_count=3,
                            output_format="parquet")
    body, facts = build_request(options)
    validate_request(body, local=False, source="the spark request")
    app = body["AppSpecification"]
    assert app["ImageUri"] == spark_job.image_uri("us-east-1")
    assert app["ContainerEntrypoint"] == ["smspark-submit", "/opt/ml/processing/input/prepline/prepline_spark.py"]
    assert app["ContainerArguments"] == ["--engine", "spark", "--format", "parquet"]
    assert body["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 3
    inputs = {i["InputName"]: i["S3Input"] for i in body["ProcessingInputs"]}
    assert set(inputs) == {"input-data", "code", "prepline"}
    # one Spark cluster over the instances: every executor reads its splits from its own full copy
    assert {i["S3DataDistributionType"] for i in inputs.values()} == {"FullyReplicated"}
    assert inputs["prepline"]["LocalPath"] == "/opt/ml/processing/input/prepline"
    assert {"Key": "engine", "Value": "spark"} in body["Tags"]

    s3 = boto3.client("s3")
    prefix = inputs["prepline"]["S3Uri"][len(f"s3://{s3_bucket}/"):]
    assert prefix.startswith("code/prepline/") and facts["package_uploaded"] is True
    keys = {o["Key"][len(prefix):] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix=prefix)["Contents"]}
    assert keys == {"prepline.zip", "requirements.txt", "prepline_spark.py"}
    archive = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=s3_bucket, Key=prefix + "prepline.zip")["Body"].read()))
    names = set(archive.namelist())
    assert {"prepline/__init__.py", "prepline/processing/entrypoint.py", "prepline/engines/spark/engine.py"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    requirements = s3.get_object(Bucket=s3_bucket, Key=prefix + "requirements.txt")["Body"].read().decode()
    assert any(line.startswith("polars") for line in requirements.splitlines())
    assert "pyspark" not in requirements  # the container's Spark is used, never one installed over it

    again, facts_again = build_request(options)  # the same source: the same folder, not uploaded again
    assert facts_again["package_uploaded"] is False
    assert {i["InputName"]: i["S3Input"]["S3Uri"] for i in again["ProcessingInputs"]}["prepline"] == inputs["prepline"]["S3Uri"]


def test_the_polars_request_is_unchanged_by_the_spark_option(s3_bucket):
    body, facts = build_request(spark_options(f"s3://{s3_bucket}/in/", f"s3://{s3_bucket}/out", engine="polars",
                                              image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/prepline:1",
                                              instance_count=2))
    assert body["AppSpecification"]["ContainerEntrypoint"] == ["python3", "-m", "prepline.processing"]
    assert [i["InputName"] for i in body["ProcessingInputs"]] == ["input-data", "code"]
    assert body["ProcessingInputs"][0]["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert "package_uri" not in facts


def test_job_create_engine_spark_writes_a_valid_request(tmp_path, s3_bucket):
    path = tmp_path / "job.json"
    created = prepline("job", "create", "--engine", "spark", "--instance-count", "2", "--recipe", str(RECIPE),
                       "--input", f"s3://{s3_bucket}/input/", "--output", f"s3://{s3_bucket}/output",
                       "--role", ROLE, "--output-file", str(path))
    assert created.returncode == 0, created.stderr
    body = json.loads(path.read_text())
    assert body["AppSpecification"]["ImageUri"] == spark_job.image_uri("us-east-1")
    assert body["AppSpecification"]["ContainerEntrypoint"][0] == "smspark-submit"
    assert body["ProcessingResources"]["ClusterConfig"] == {
        "InstanceCount": 2, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
    # the stock images run Spark 3.5; the engine needs Spark 4: said now, not after the cluster started
    assert "runs Spark 3.5" in created.stderr and "--image" in created.stderr
    assert prepline("job", "validate", "--cloud", str(path)).returncode == 0

    own = prepline("job", "create", "--engine", "spark", "--recipe", str(RECIPE), "--input", f"s3://{s3_bucket}/input/",
                   "--output", f"s3://{s3_bucket}/output", "--role", ROLE,
                   "--image", "123456789012.dkr.ecr.us-east-1.amazonaws.com/spark4:1")
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout)["AppSpecification"]["ImageUri"].endswith("/spark4:1")
    assert "runs Spark 3.5" not in own.stderr


def test_job_create_engine_spark_in_an_unknown_region_exits_2(s3_bucket, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "xx-moon-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "xx-moon-1")
    result = prepline("job", "create", "--engine", "spark", "--recipe", str(RECIPE), "--input", f"s3://{s3_bucket}/in/",
                      "--output", f"s3://{s3_bucket}/out", "--role", ROLE)
    assert result.returncode == 2
    assert "xx-moon-1" in result.stderr and "--image" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_local_runtime_refuses_a_spark_request_saying_why(tmp_path, home):
    body, _ = build_request(spark_options((tmp_path / "in").as_uri() + "/", (tmp_path / "out").as_uri()))
    path = tmp_path / "job.json"
    path.write_text(json.dumps(body))
    result = prepline("job", "run", str(path))
    assert result.returncode == 2
    assert "smspark-submit" in result.stderr and "only on SageMaker" in result.stderr
    assert "--engine spark" in result.stderr
    assert "Traceback" not in result.stderr
    listed = prepline("job", "list", "--json")
    assert json.loads(listed.stdout)["ProcessingJobSummaries"] == []  # refused before it was recorded


# --- the shipped application ----------------------------------------------------------------------


def _stage(body: dict, opt_ml: Path, data: Path, hosts: list[str]) -> None:
    """/opt/ml of the primary instance as SageMaker prepares it: the inputs downloaded, the config written."""
    from prepline.processing.describe import config_document

    for item in body["ProcessingInputs"]:
        s3 = item["S3Input"]
        target = opt_ml / Path(s3["LocalPath"]).relative_to("/opt/ml")
        if item["InputName"] == "input-data":
            target.mkdir(parents=True)
            shutil.copy(data, target / data.name)
        else:
            shutil.copytree(Path(s3["S3Uri"][len("file://"):]), target)
    (opt_ml / "config").mkdir(parents=True)
    (opt_ml / "config" / "processingjobconfig.json").write_text(json.dumps(config_document(body)))
    (opt_ml / "config" / "resourceconfig.json").write_text(json.dumps({"current_host": "algo-1", "hosts": hosts}))


@pytest.mark.spark
@pytest.mark.skipif(not available("spark"), reason="the spark engine needs pyspark")
@pytest.mark.skipif(not _java_available(), reason="Spark needs Java, which is not installed")
def test_the_shipped_application_runs_the_recipe_under_spark_submit(tmp_path):
    import pyspark

    from prepline.pipeline import run_recipe

    data = tmp_path / "employees.csv"
    data.write_text(EMPLOYEES, encoding="utf-8")
    recipe = tmp_path / "recipe.yaml"  # small, so a cold JVM runs it in seconds; no report (engine-independent)
    recipe.write_text(SMALL_RECIPE, encoding="utf-8")
    body, _ = build_request(spark_options((tmp_path / "in").as_uri() + "/", (tmp_path / "out").as_uri(),
                                          code_uri=(tmp_path / "code").as_uri(), recipe=recipe))
    opt_ml = tmp_path / "opt" / "ml"
    _stage(body, opt_ml, data, hosts=["algo-1", "algo-2"])
    application = opt_ml / "processing" / "input" / "prepline" / "prepline_spark.py"
    env = {k: v for k, v in os.environ.items() if k not in ("PREPLINE_SPARK_MASTER", "PYTHONPATH")}
    # PIP_NO_INDEX: should a dependency be missing, the test fails instead of reaching PyPI
    env.update(PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable, PIP_NO_INDEX="1")
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    # smspark-submit runs `spark-submit --master yarn --deploy-mode client APP ARGS`; here, one local core
    result = subprocess.run(
        [str(submit), "--master", "local[1]", "--conf", "spark.ui.enabled=false", str(application),
         *body["AppSpecification"]["ContainerArguments"], "--opt-ml", str(opt_ml)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{application.parent}/prepline.zip/prepline" in result.stdout  # prepline came from the shipped zip
    output = opt_ml / "processing" / "output"  # the driver writes for the whole cluster: no algo-1/ folder
    manifest = json.loads((output / "_manifest.json").read_text())
    assert manifest["engine"]["name"] == "spark" and manifest["rows_in"] == 3
    expected = run_recipe(recipe, str(data), str(tmp_path / "polars"), engine="polars").manifest
    assert list(manifest["outputs"]) == list(expected["outputs"])
    for name, info in expected["outputs"].items():
        mine, theirs = output / info["path"], tmp_path / "polars" / info["path"]
        if info["format"] == "csv":
            assert mine.read_bytes() == theirs.read_bytes(), name
        else:  # the same values; Parquet's bytes differ between the engines' writers
            assert pl.read_parquet(mine).equals(pl.read_parquet(theirs)), name


def _application(folder: Path, requirements: str, with_zip: bool = True) -> Path:
    folder.mkdir(parents=True)
    package = spark_job.build_package()
    (folder / spark_job.APPLICATION).write_bytes(package.files[spark_job.APPLICATION])
    (folder / "requirements.txt").write_text(requirements, encoding="utf-8")
    if with_zip:
        (folder / "prepline.zip").write_bytes(package.files["prepline.zip"])
    return folder / spark_job.APPLICATION


def test_the_application_says_when_dependencies_cannot_be_installed(tmp_path):
    application = _application(tmp_path / "prepline", "prepline-no-such-distribution==1.0\n")
    opt_ml = tmp_path / "opt" / "ml"
    env = dict(os.environ, PIP_NO_INDEX="1", TMPDIR=str(tmp_path))  # no index: pip fails here, offline
    result = subprocess.run([sys.executable, str(application), "--opt-ml", str(opt_ml)], capture_output=True,
                            text=True, timeout=120, env=env)
    assert result.returncode == 2
    assert "could not install prepline's dependencies (prepline-no-such-distribution==1.0)" in result.stderr
    assert "PyPI" in result.stderr and "--image" in result.stderr
    message = (opt_ml / "output" / "message").read_text()  # SageMaker's ExitMessage
    assert message.startswith("could not install prepline's dependencies")


def test_the_application_without_its_zip_says_how_to_ship_it(tmp_path):
    application = _application(tmp_path / "prepline", "", with_zip=False)
    result = subprocess.run([sys.executable, str(application), "--opt-ml", str(tmp_path / "opt" / "ml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "prepline.zip is missing" in result.stderr and "job create --engine spark" in result.stderr


def test_installed_requirements_are_not_installed_again():
    import polars

    from prepline.processing.spark_main import unmet

    assert unmet([f"polars=={polars.__version__}", "pyyaml>=6"]) == []
    assert unmet(["polars==0.0.1", "prepline-no-such-distribution"]) == ["polars==0.0.1", "prepline-no-such-distribution"]
