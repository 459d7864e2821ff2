"""The Spark engine's session: prepline's settings, one session per process, and a clear message without pyspark."""

from __future__ import annotations

import importlib.util

import pytest

from prepline.engines import available, get_engine
from prepline.errors import EngineError
from tests.conftest import _java_available

needs_spark = [
    pytest.mark.spark,
    pytest.mark.skipif(not available("spark"), reason="the spark engine needs pyspark"),
    pytest.mark.skipif(not _java_available(), reason="Spark needs Java, which is not installed"),
]


@pytest.fixture(scope="module")
def spark():
    from prepline.engines.spark.session import get_session

    return get_session()


class TestSession:
    pytestmark = needs_spark

    def test_prepline_settings_are_applied(self, spark):
        conf = spark.sparkContext.getConf()
        assert conf.get("spark.ui.enabled") == "false"
        assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
        assert int(spark.conf.get("spark.sql.shuffle.partitions")) <= 4
        # Spark 4 turns ANSI mode on by default: casts and division by zero would raise instead of giving null
        assert spark.conf.get("spark.sql.ansi.enabled") == "false"
        assert spark.conf.get("spark.sql.caseSensitive") == "true"

    def test_tests_run_spark_on_two_local_cores(self, spark):
        assert spark.sparkContext.master == "local[2]"  # PREPLINE_SPARK_MASTER, set by tests/conftest.py

    def test_ansi_off_gives_null_where_spark_4_would_raise(self, spark):
        row = spark.sql("SELECT CAST('x7' AS INT) AS bad, 1 / 0 AS by_zero").collect()[0]
        assert (row.bad, row.by_zero) == (None, None)

    def test_one_session_serves_every_run(self, spark, tmp_path):
        from prepline.engines.spark.session import get_session
        from prepline.pipeline import run_recipe
        from prepline.recipe import parse_recipe

        (tmp_path / "in.csv").write_text("id,x\n1,2.5\n2,\n", encoding="utf-8")
        recipe = parse_recipe(
            "name: t\ninput: {columns: {id: int64, x: float64}}\nsteps:\n  - fill: {x: mean}\n  - output: out\n"
            "report: {enabled: false}\n"
        )
        application = spark.sparkContext.applicationId
        for run in ("a", "b"):
            manifest = run_recipe(recipe, str(tmp_path / "in.csv"), str(tmp_path / run), engine="spark").manifest
            assert manifest["engine"]["name"] == "spark"
        assert get_session().sparkContext.applicationId == application
        assert (tmp_path / "a" / "out.csv").read_text() == "id,x\n1,2.5\n2,2.5\n"

    def test_a_run_puts_the_session_settings_back(self, spark, tmp_path):
        # small inputs run without code generation and with one shuffle partition, for this run only
        before = {k: spark.conf.get(k, None) for k in ("spark.sql.shuffle.partitions", "spark.sql.adaptive.enabled")}
        from prepline.pipeline import run_recipe
        from prepline.recipe import parse_recipe

        (tmp_path / "in.csv").write_text("id\n1\n", encoding="utf-8")
        recipe = parse_recipe("name: t\ninput: {columns: {id: int64}}\nsteps:\n  - output: out\nreport: {enabled: false}\n")
        run_recipe(recipe, str(tmp_path / "in.csv"), str(tmp_path / "out"), engine="spark")
        assert {k: spark.conf.get(k, None) for k in before} == before


@pytest.mark.skipif(not available("spark"), reason="the spark engine needs pyspark")
def test_the_master_comes_from_the_engine_then_the_environment(monkeypatch):
    from prepline.engines.spark.session import DEFAULT_MASTER, MASTER_VAR, master_url

    monkeypatch.delenv(MASTER_VAR, raising=False)
    assert master_url() == DEFAULT_MASTER == "local[*]"
    monkeypatch.setenv(MASTER_VAR, "spark://head:7077")
    assert master_url() == "spark://head:7077"
    assert master_url("local[3]") == "local[3]"


def test_without_pyspark_the_engine_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == "pyspark" or name.startswith("pyspark.") else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    assert not available("spark")
    with pytest.raises(EngineError) as info:
        get_engine("spark")
    assert "the spark engine needs pyspark, which is not installed" in str(info.value)
    assert info.value.hint == 'pip install "prepline[spark]"'
