"""What a request for SageMaker's Spark processing container needs: its image, prepline as code, the entrypoint.

``prepline job create --engine spark`` writes a request for the ``sagemaker-spark-processing``
image. Its entrypoint, ``smspark-submit``, starts YARN across the job's instances and runs
``spark-submit --master yarn`` with an application file on the primary instance. That
application is :mod:`prepline.processing.spark_main`, shipped in a code input named ``prepline``
with prepline's own source (a zip built from the installed package) and the list of its
dependencies, all uploaded under their content hash, as the recipe is. The data input is
replicated to every instance (never sharded): Spark's executors read their splits from the
local copy on their own instance, and the driver writes the outputs on the primary.

The image: the region's account for ``sagemaker-spark-processing`` as the SageMaker Python SDK
lists it (``image_uri_config/spark.json``), with :data:`IMAGE_TAG`. Those images run Spark 3.5
at most while the spark engine needs Spark 4, so a request for them fails at start with that
reason until AWS publishes a Spark 4 image: ``--image`` names one (see the README).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from prepline.errors import JobRequestError

REPOSITORY = "sagemaker-spark-processing"
IMAGE_TAG = "3.5-cpu-py312-v1.0"  # the newest tag we can verify; Spark 3.5, Python 3.12
IMAGE_SPARK = "3.5"
# Account that hosts the image, per region: the SageMaker Python SDK's image_uri_config/spark.json
# (Spark 3.x entries), checked against aws/sagemaker-spark-container's available_images.md.
ACCOUNTS: dict[str, str] = {
    "af-south-1": "309385258863", "ap-east-1": "732049463269", "ap-northeast-1": "411782140378",
    "ap-northeast-2": "860869212795", "ap-northeast-3": "102471314380", "ap-south-1": "105495057255",
    "ap-south-2": "873151114052", "ap-southeast-1": "759080221371", "ap-southeast-2": "440695851116",
    "ap-southeast-3": "800295151634", "ap-southeast-4": "819679513684", "ca-central-1": "446299261295",
    "ca-west-1": "000907499111", "cn-north-1": "671472414489", "cn-northwest-1": "844356804704",
    "eu-central-1": "906073651304", "eu-central-2": "142351485170", "eu-north-1": "330188676905",
    "eu-south-1": "753923664805", "eu-south-2": "833944533722", "eu-west-1": "571004829621",
    "eu-west-2": "836651553127", "eu-west-3": "136845547031", "il-central-1": "408426139102",
    "me-central-1": "395420993607", "me-south-1": "750251592176", "sa-east-1": "737130764395",
    "us-east-1": "173754725891", "us-east-2": "314815235551", "us-gov-east-1": "260923028637",
    "us-gov-west-1": "271483468897", "us-west-1": "667973535471", "us-west-2": "153931337802",
}

PACKAGE_INPUT = "prepline"  # the code input holding prepline itself
PACKAGE_PATH = "/opt/ml/processing/input/prepline"
APPLICATION = "prepline_spark.py"
ENTRYPOINT = ["smspark-submit", f"{PACKAGE_PATH}/{APPLICATION}"]
INSTANCE_TYPE = "ml.m5.xlarge"  # YARN, a driver and executors do not fit the polars default (ml.t3.medium)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same source gives the same bytes and the same hash


def configured_region() -> str | None:
    """The region of the standard AWS chain (AWS_REGION, AWS_DEFAULT_REGION, the profile's)."""
    import boto3

    return boto3.session.Session().region_name


def image_uri(region: str | None) -> str:
    """The region's ``sagemaker-spark-processing`` image."""
    if not region:
        raise JobRequestError("the Spark image depends on the AWS region, and none is configured",
                              hint="set AWS_REGION (or AWS_PROFILE with a region), or pass --image")
    account = ACCOUNTS.get(region)
    if account is None:
        raise JobRequestError(
            f"no {REPOSITORY} image is known for region {region!r}; known regions: {', '.join(sorted(ACCOUNTS))}",
            hint="pass --image with the Spark processing image of your region (or your own image with smspark-submit)",
        )
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"{account}.dkr.ecr.{region}.{suffix}/{REPOSITORY}:{IMAGE_TAG}"


@dataclass(frozen=True)
class Package:
    """The files of the ``prepline`` code input, and their content hash."""

    files: dict[str, bytes]

    @property
    def digest(self) -> str:
        h = hashlib.sha256()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        return h.hexdigest()[:16]


def build_package() -> Package:
    """prepline's source (from the installed package) as ``prepline.zip``, its requirements, the application."""
    import prepline

    root = Path(prepline.__file__).resolve().parent
    requirements = core_requirements()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
                continue
            _add(archive, "prepline/" + path.relative_to(root).as_posix(), path.read_bytes())
        # a dist-info, so importlib.metadata knows prepline's version inside the zip as after a pip install
        metadata = "".join([f"Metadata-Version: 2.1\nName: prepline\nVersion: {prepline.__version__}\n",
                            *[f"Requires-Dist: {r}\n" for r in requirements]])
        _add(archive, f"prepline-{prepline.__version__}.dist-info/METADATA", metadata.encode())
    application = (Path(__file__).parent / "spark_main.py").read_bytes()
    listing = "# prepline's dependencies: installed on the driver by prepline_spark.py when missing\n"
    return Package({
        "prepline.zip": buffer.getvalue(),
        "requirements.txt": (listing + "".join(f"{r}\n" for r in requirements)).encode(),
        APPLICATION: application,
    })


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def core_requirements() -> list[str]:
    """prepline's dependencies without extras: from pyproject.toml for an editable install, else its metadata."""
    try:
        dist = importlib.metadata.distribution("prepline")
    except importlib.metadata.PackageNotFoundError:
        raise JobRequestError("prepline is not installed, so its dependencies are unknown",
                              hint="pip install prepline (or pip install -e . in its source tree)") from None
    source = _editable_source(dist)
    if source is not None and (source / "pyproject.toml").is_file():
        import tomllib

        project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        return [str(r) for r in project.get("dependencies", [])]
    return [r for r in dist.requires or [] if "extra ==" not in r.replace("extra==", "extra ==")]


def _editable_source(dist: importlib.metadata.Distribution) -> Path | None:
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    info = json.loads(text)
    url = str(info.get("url", ""))
    if info.get("dir_info", {}).get("editable") and url.startswith("file://"):
        return Path(url[len("file://"):])
    return None


def ship_package(package: Package, code_uri: str) -> tuple[str, bool]:
    """Upload the package's files under ``<code uri>/prepline/<hash>/``; returns (folder URI, whether uploaded).
    The application is written last: its presence means the folder is complete."""
    from prepline.storage import ship_files

    return ship_files(code_uri, f"prepline/{package.digest}", package.files, last=APPLICATION, what="prepline")
