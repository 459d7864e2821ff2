"""`prepline run --engine spark --spark-master URL`: flag > PREPLINE_SPARK_MASTER > the default (local[*]).

A bad URL is refused before a JVM starts (exit 2, no traceback); so is a standalone master that
does not answer. Runs on another master go through a subprocess: a process has one SparkContext.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from prepline.engines import available
from prepline.errors import EngineError
from tests.conftest import _java_available

RECIPE = "name: t\ninput: {columns: {id: int64, x: float64}}\nsteps:\n  - fill: {x: mean}\n  - output: out\nreport: {enabled: false}\n"

needs_spark = [
    pytest.mark.spark,
    pytest.mark.skipif(not available("spark"), reason="the spark engine needs pyspark"),
    pytest.mark.skipif(not _java_available(), reason="Spark needs Java, which is not installed"),
]


def spark(test):
    for mark in needs_spark:
        test = mark(test)
    return test


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    data = tmp_path / "in.csv"
    data.write_text("id,x\n1,2.5\n2,\n", encoding="utf-8")
    return recipe, data


def _prepline(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prepline", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("url", ["nonsense://x", "local[0]", "local[two]", "spark://no-port", "mesos://host:5050"])
def test_a_bad_master_url_exits_2_naming_it_without_a_traceback(tmp_path, files, url):
    recipe, data = files
    result = _prepline("run", str(recipe), "-i", str(data), "-o", str(tmp_path / "out"), "--engine", "spark",
                       "--spark-master", url)
    assert result.returncode == 2
    assert f"{url!r} (from --spark-master) is not a Spark master URL" in result.stderr
    assert "local[*]" in result.stderr and "spark://HOST:PORT" in result.stderr  # the forms it could be
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_master_in_the_environment_is_named_as_such(tmp_path, files):
    recipe, data = files
    env = dict(os.environ, PREPLINE_SPARK_MASTER="local[-1]")
    result = _prepline("run", str(recipe), "-i", str(data), "-o", str(tmp_path / "out"), "--engine", "spark", env=env)
    assert result.returncode == 2
    assert "'local[-1]' (from PREPLINE_SPARK_MASTER) is not a Spark master URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_standalone_master_that_does_not_answer_exits_2(tmp_path, files):
    recipe, data = files
    url = f"spark://127.0.0.1:{_free_port()}"  # nothing listens there
    result = _prepline("run", str(recipe), "-i", str(data), "-o", str(tmp_path / "out"), "--engine", "spark",
                       "--spark-master", url)
    assert result.returncode == 2
    assert f"the Spark master {url} (from --spark-master) does not answer" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_spark_master_with_the_polars_engine_is_refused(tmp_path, files):
    recipe, data = files
    result = _prepline("run", str(recipe), "-i", str(data), "-o", str(tmp_path / "out"), "--spark-master", "local[1]")
    assert result.returncode == 2
    assert "--spark-master is an option of the spark engine, and this run uses --engine polars" in result.stderr
    assert "add --engine spark" in result.stderr
    assert not (tmp_path / "out").exists()


@spark
def test_a_run_uses_the_master_given_over_the_environment(tmp_path, files):
    recipe, data = files
    out = tmp_path / "out"
    # the CLI in a fresh process, then the master its session really ran on
    script = textwrap.dedent(f"""
        import sys
        from prepline.cli.app import main
        code = main(["run", {str(recipe)!r}, "-i", {str(data)!r}, "-o", {str(out)!r}, "--engine", "spark",
                     "--spark-master", "local[1]", "--json"])
        from pyspark.sql import SparkSession
        print("master:", SparkSession.getActiveSession().sparkContext.master)
        sys.exit(code)
    """)
    env = dict(os.environ, PREPLINE_SPARK_MASTER="local[2]")  # the flag wins over the environment
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "master: local[1]"
    assert (out / "out.csv").read_text() == "id,x\n1,2.5\n2,2.5\n"


@spark
def test_another_master_than_the_running_sessions_is_an_error():
    from prepline.engines.spark.session import get_session

    running = get_session().sparkContext.master
    assert get_session(running).sparkContext.master == running  # the same master: the same session
    other = "local[3]" if running != "local[3]" else "local[1]"
    with pytest.raises(EngineError, match=re.escape(f"already runs a Spark session on {running}")):
        get_session(other)


def test_the_master_comes_from_the_flag_the_environment_spark_submit_then_the_default(monkeypatch):
    from prepline.engines.spark.session import (
        DEFAULT_MASTER,
        MASTER_VAR,
        SUBMITTED_VAR,
        resolve_master,
    )

    monkeypatch.delenv(MASTER_VAR, raising=False)
    monkeypatch.delenv(SUBMITTED_VAR, raising=False)
    assert resolve_master() == (DEFAULT_MASTER, "the default")
    monkeypatch.setenv(SUBMITTED_VAR, "40123")  # under spark-submit: its --master, so no master is set
    assert resolve_master() == (None, "spark-submit")
    monkeypatch.setenv(MASTER_VAR, "local[3]")
    assert resolve_master() == ("local[3]", MASTER_VAR)
    assert resolve_master("spark://head:7077") == ("spark://head:7077", "--spark-master")
