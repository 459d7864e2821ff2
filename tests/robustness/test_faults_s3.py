"""An S3 endpoint that refuses or resets connections, while prepline downloads its input and while it
uploads its outputs: retried with backoff, then either success or a clean failure with no manifest.

The endpoint is the session's moto server behind ``FaultProxy`` (127.0.0.1 only, dummy keys); the
proxy resets (TCP RST) the requests a test picks and logs every request it sees.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from tests.robustness.conftest import no_traceback
from tests.robustness.faultproxy import FaultProxy

RECIPE = """name: faults
input:
  format: csv
  columns: {id: int64, name: string, age: float64}
steps:
  - fill: {age: median}
  - output: out
  - aggregate: {name: ages, by: [name], values: {mean_age: {mean: age}}}
report: {enabled: false}
"""
DATA = b"id,name,age\n1,Ann,30\n2,Bob,\n3,Cy,50\n"
OUTPUTS = ["_manifest.json", "ages.csv", "out.csv"]


@pytest.fixture
def direct(s3_bucket: str):
    """A client that talks to moto directly (to set up and to look), never through the proxy."""
    return boto3.client("s3")


@pytest.fixture
def proxy(aws: str, s3_bucket: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultProxy]:
    """prepline's S3 traffic goes through a FaultProxy in front of moto (the bucket exists already)."""
    faulty = FaultProxy(aws)
    monkeypatch.setenv("AWS_ENDPOINT_URL", faulty.url)
    yield faulty
    faulty.close()


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE, encoding="utf-8")
    return path


def _keys(client, bucket: str, prefix: str) -> list[str]:
    listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    return sorted(o["Key"][len(prefix):] for o in listed)


def test_a_download_is_retried_after_reset_connections(direct, proxy, s3_bucket, recipe, tmp_path, cli):
    direct.put_object(Bucket=s3_bucket, Key="raw/people.csv", Body=DATA)
    proxy.fail(rf"^GET /{s3_bucket}/raw/people\.csv ", times=2)
    out = tmp_path / "out"
    result = cli("run", recipe, "--input", f"s3://{s3_bucket}/raw/people.csv", "--output", out)
    assert result.code == 0, result.stderr
    gets = proxy.lines(rf"^GET /{s3_bucket}/raw/people\.csv ")
    assert [g.reset for g in gets[:3]] == [True, True, False]  # two resets, then the retry got through
    assert (out / "out.csv").read_text() == "id,name,age\n1,Ann,30.0\n2,Bob,40.0\n3,Cy,50.0\n"
    assert json.loads((out / "_manifest.json").read_text())["rows_in"] == 3


def test_an_upload_is_retried_after_reset_connections(direct, proxy, s3_bucket, recipe, tmp_path, cli):
    source = tmp_path / "people.csv"
    source.write_bytes(DATA)
    proxy.fail(rf"^PUT /{s3_bucket}/run-1/out\.csv ", times=2)
    result = cli("run", recipe, "--input", source, "--output", f"s3://{s3_bucket}/run-1/")
    assert result.code == 0, result.stderr
    puts = proxy.lines(rf"^PUT /{s3_bucket}/run-1/out\.csv ")
    assert [p.reset for p in puts] == [True, True, False]
    assert _keys(direct, s3_bucket, "run-1/") == OUTPUTS
    body = direct.get_object(Bucket=s3_bucket, Key="run-1/out.csv")["Body"].read()
    assert body == b"id,name,age\n1,Ann,30.0\n2,Bob,40.0\n3,Cy,50.0\n"
    last = [s.line for s in proxy.seen if s.line.startswith("PUT")][-1]
    assert "_manifest.json" in last  # the manifest goes last


SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYFAULTKEY"


def test_a_download_that_keeps_failing_fails_cleanly(direct, proxy, s3_bucket, recipe, cli, monkeypatch):
    monkeypatch.setenv("PREPLINE_S3_MAX_ATTEMPTS", "3")
    direct.put_object(Bucket=s3_bucket, Key="raw/people.csv", Body=DATA)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # moto takes any key; the message must not show it
    proxy.fail(rf"^GET /{s3_bucket}/raw/")
    result = cli("run", recipe, "--input", f"s3://{s3_bucket}/raw/people.csv", "--output", f"s3://{s3_bucket}/run-1/")
    assert result.code == 2
    assert f"cannot read s3://{s3_bucket}/raw/people.csv: the S3 endpoint still failed after retries" in result.stderr
    assert "PREPLINE_S3_MAX_ATTEMPTS" in result.stderr
    no_traceback(result.stderr)
    assert SECRET not in result.stderr + result.stdout
    assert len(proxy.lines(rf"^GET /{s3_bucket}/raw/")) >= 3  # tried, and tried again
    assert _keys(direct, s3_bucket, "run-1/") == []  # nothing published


def test_an_upload_that_keeps_failing_publishes_no_manifest(direct, proxy, s3_bucket, recipe, tmp_path, cli,
                                                           monkeypatch):
    monkeypatch.setenv("PREPLINE_S3_MAX_ATTEMPTS", "2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    source = tmp_path / "people.csv"
    source.write_bytes(DATA)
    assert cli("run", recipe, "--input", source, "--output", f"s3://{s3_bucket}/run-1/").code == 0  # an earlier run
    source.write_bytes(DATA + b"4,Di,60\n")
    proxy.fail(rf"^PUT /{s3_bucket}/run-1/", after=1)  # the first file goes up, every later upload is reset
    result = cli("run", recipe, "--input", source, "--output", f"s3://{s3_bucket}/run-1/")
    assert result.code == 2
    assert "still failing after retries with backoff" in result.stderr
    assert f"s3://{s3_bucket}/run-1/ has no _manifest.json, so readers treat it as incomplete" in result.stderr
    no_traceback(result.stderr)
    assert SECRET not in result.stderr + result.stdout
    # the earlier manifest was removed before anything was replaced, and no new one was written:
    # a reader never takes this mix of old and new files for a complete set
    assert "_manifest.json" not in _keys(direct, s3_bucket, "run-1/")
    resets = [s for s in proxy.seen if s.reset]
    assert len(resets) >= 2 and len({s.line for s in resets}) == 1  # one upload retried, then given up


def test_an_endpoint_that_refuses_connections_fails_cleanly(tmp_path, recipe, cli, monkeypatch):
    import socket
    import tempfile

    staging = tmp_path / "tmp"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))  # where S3 outputs are staged

    with socket.socket() as sock:  # a port nothing listens on: every connection is refused
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", dead)
    monkeypatch.setenv("PREPLINE_S3_MAX_ATTEMPTS", "2")
    source = tmp_path / "people.csv"
    source.write_bytes(DATA)
    result = cli("run", recipe, "--input", source, "--output", "s3://nowhere-bucket/run-1/")
    assert result.code == 2
    assert "cannot replace the manifest of s3://nowhere-bucket/run-1/: EndpointConnectionError" in result.stderr
    no_traceback(result.stderr)
    assert list(staging.iterdir()) == []  # the staged outputs were removed
