"""Shared fixtures: every test body runs against each installed engine; S3 is a local moto server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MOCK_DATA = SHARED / "seed" / "mock_data.csv"

# No test may reach a real AWS endpoint or the instance metadata service.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
os.environ.pop("AWS_PROFILE", None)


def engine_names() -> list[str]:
    from prepline.engines import ENGINES, available

    return [name for name in ENGINES if available(name)]


@pytest.fixture(params=engine_names())
def engine(request: pytest.FixtureRequest) -> str:
    """The name of an installed engine; tests using it run once per engine."""
    if request.param == "spark":
        pytest.importorskip("pyspark")
        if not _java_available():
            pytest.skip("Spark needs Java, which is not installed")
    return str(request.param)


@pytest.fixture(scope="session", autouse=True)
def _spark_on_two_local_cores() -> Iterator[None]:
    """Spark in tests: ``local[2]``; the engine makes its one session (UI off, UTC, ANSI off) on first use."""
    os.environ.setdefault("PREPLINE_SPARK_MASTER", "local[2]")
    yield


def _java_available() -> bool:
    from shutil import which

    return which("java") is not None or bool(os.environ.get("JAVA_HOME"))


@pytest.fixture
def mock_data() -> Path:
    """The seed's upstream mock data (read, never copied); skipped when ../shared is absent."""
    if not MOCK_DATA.is_file():
        pytest.skip(f"{MOCK_DATA} is not available")
    return MOCK_DATA


def write_recipe(folder: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def write_text(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


# --- moto server -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 for the whole session; yields its endpoint URL."""
    pytest.importorskip("moto")
    port = _free_port()
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the moto server exited at start-up") from None
            time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError("the moto server did not start within 30 s")
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture
def aws(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 and Polars at the moto server with dummy credentials; yields the endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    return moto_server


@pytest.fixture
def s3_bucket(aws: str) -> str:
    """A fresh, empty bucket on the moto server."""
    import uuid

    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    return name
