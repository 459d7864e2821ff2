"""On a cluster, Spark's tasks write through the cluster's default file system and the driver copies the parts.

A local master is told it is a cluster (``on_cluster``): the parts then go to ``/tmp/prepline/``
on the default file system (here the local disk; HDFS in SageMaker's Spark container) and come
back through Hadoop's FileSystem API. The files must be those of a local run, and nothing may be
left behind.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import polars as pl
import pytest

from prepline.engines import available
from tests.conftest import _java_available

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(not available("spark"), reason="the spark engine needs pyspark"),
    pytest.mark.skipif(not _java_available(), reason="Spark needs Java, which is not installed"),
]

RECIPE = """\
name: t
input: {columns: {id: int64, grp: string, x: float64}}
steps:
  - fill: {x: median}
  - output: filled
  - aggregate: {name: by_group, by: {Group: grp}, values: {n: {count: '*'}, total: {sum: x}}}
report: {enabled: false}
"""
DATA = "id,grp,x\n1,a,2.5\n2,b,\n3,a,\"4\"\n4,,1e3\n5,b,-0.5\n"


def _run(tmp_path: Path, name: str, output_format: str) -> Path:
    from prepline.pipeline import run_recipe
    from prepline.recipe import parse_recipe

    data = tmp_path / "in.csv"
    data.write_text(DATA, encoding="utf-8")
    out = tmp_path / "a b=c%20" / name  # characters a URI quotes: the files must still land here
    run_recipe(parse_recipe(RECIPE), str(data), str(out), engine="spark", output_format=output_format)
    return out


@pytest.mark.parametrize("output_format", ["csv", "parquet"])
def test_a_cluster_writes_the_files_of_a_local_run_and_leaves_nothing_behind(tmp_path, monkeypatch, output_format):
    import prepline.engines.spark.engine as spark_engine

    monkeypatch.setattr(spark_engine, "SMALL_INPUT_BYTES", 0)  # CSV through Spark's writer, not collected
    local = _run(tmp_path, "local", output_format)
    assert (local / f"filled.{output_format}").is_file()

    targets: list[str] = []
    scratch = spark_engine._scratch

    @contextlib.contextmanager
    def recorded(spark, folder):
        with scratch(spark, folder) as (target, fetch):
            targets.append(target)
            yield target, fetch

    monkeypatch.setattr(spark_engine, "on_cluster", lambda spark: True)
    monkeypatch.setattr(spark_engine, "_scratch", recorded)
    cluster = _run(tmp_path, "cluster", output_format)

    assert targets and all(t.startswith("file:/tmp/prepline/spark-") for t in targets)  # the default FS, not beside the outputs
    assert not any(Path(t[len("file:"):]).exists() for t in targets)
    for name in ("filled", "by_group"):
        mine, theirs = cluster / f"{name}.{output_format}", local / f"{name}.{output_format}"
        if output_format == "csv":
            assert mine.read_bytes() == theirs.read_bytes(), name
        else:
            assert pl.read_parquet(mine).equals(pl.read_parquet(theirs)), name
    assert sorted(p.name for p in cluster.iterdir()) == sorted(p.name for p in local.iterdir())  # no .spark-* left
