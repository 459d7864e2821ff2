"""Rules and drift inside recipe runs: severities, rejected rows with reasons, drift against a baseline."""

from __future__ import annotations

import csv
import json

import pytest

from prepline.errors import QualityError
from prepline.pipeline import run_recipe
from prepline.recipe import parse_recipe
from tests.conftest import REPO

RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
HEADER = "id,name,age,salary,hire_date,profile,department,bonus\n"


def _write(tmp_path, rows):
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_the_employees_gates(tmp_path):
    data = _write(tmp_path, [
        '1,a,34,50000,,"{""address"": ""x""}",HR,\n',
        "2,b,150,60000,,,IT,\n",            # impossible age: rejected
        "3,c,-1,60000,,,IT,\n",             # impossible age: rejected
        "4,d,40,70000,,{oops,Sales,\n",     # invalid profile: rejected; Sales warns
    ])
    out = tmp_path / "out"
    summary = run_recipe(RECIPE, str(data), str(out))
    rules = {r["rule"]: r for r in summary.manifest["rules"]}
    assert rules["between(age) in [0, 120]"]["failing_rows"] == 2
    assert rules["in_set(department) in ['HR', 'IT', 'Finance', 'Marketing']"]["passed"] is False
    assert rules["in_set(department) in ['HR', 'IT', 'Finance', 'Marketing']"]["severity"] == "warn"
    with open(out / "rejected.csv", newline="") as handle:
        rejected = list(csv.DictReader(handle))
    assert [(r["_row"], r["_step"]) for r in rejected] == [("2", "1:check"), ("3", "1:check"), ("4", "2:extract_json")]
    assert rejected[0]["_reason"] == "rule between(age) in [0, 120] failed (value: 150.0)"
    assert rejected[2]["profile"] == "{oops"  # kept exactly as it was
    assert summary.outputs["cleaned_data"]["rows"] == 1


@pytest.mark.parametrize(("row", "message"), [
    ("2,b,40,60000,,,IT,\n2,c,41,60000,,,IT,\n", "unique(id): 1 of 3 rows repeat an earlier key"),
    ("2,b,40,-10,,,IT,\n", "between(salary) in [0.01, inf]: 1 of 2 rows fail"),
])
def test_an_error_rule_fails_the_run_and_publishes_nothing(tmp_path, row, message):
    data = _write(tmp_path, ["1,a,34,50000,,,HR,\n", row])
    out = tmp_path / "out"
    with pytest.raises(QualityError, match="no output was published") as err:
        run_recipe(RECIPE, str(data), str(out))
    assert message in str(err.value)
    assert err.value.exit_code == 1
    assert not out.exists()


def test_mostly_lets_a_share_of_rows_fail(tmp_path):
    text = """
name: m
input: {columns: {id: int64, code: string}}
steps:
  - check:
      - {rule: matches, column: code, regex: '^[A-Z]{3}$', mostly: 0.75, severity: error}
  - output: out
"""
    recipe = parse_recipe(text, source=str(tmp_path / "m.yaml"))
    ok = _plain(tmp_path, "ok.csv", "id,code\n1,ABC\n2,DEF\n3,GHI\n4,bad\n")
    summary = run_recipe(recipe, str(ok), str(tmp_path / "o1"))
    assert summary.manifest["rules"][0]["passed"] is True
    bad = _plain(tmp_path, "bad.csv", "id,code\n1,ABC\n2,x\n3,y\n4,bad\n")
    with pytest.raises(QualityError, match="3 of 4 rows fail"):
        run_recipe(recipe, str(bad), str(tmp_path / "o2"))


def _plain(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _with_baseline(tmp_path, baseline, on_drift):
    text = RECIPE.read_text() + f"\nreport:\n  baseline: {baseline}\n  on_drift: {on_drift}\n  drift_share: 0.3\n"
    return parse_recipe(text, source=str(tmp_path / "r.yaml"))


def test_drift_against_a_baseline_warns_or_fails(tmp_path):
    import polars as pl

    from prepline.sample.employees import employees_frame

    base = employees_frame(5000, seed=1)
    same = employees_frame(5000, seed=2)
    shifted = base.with_columns((pl.col("age") * 0 + 79.0).alias("age"), (pl.col("bonus") * 3).alias("bonus"))
    for name, frame in (("base", base), ("same", same), ("shifted", shifted)):
        frame.write_csv(tmp_path / f"{name}.csv")
    run_recipe(RECIPE, str(tmp_path / "base.csv"), str(tmp_path / "run-base"))
    baseline = tmp_path / "run-base"
    quiet = run_recipe(_with_baseline(tmp_path, baseline, "fail"), str(tmp_path / "same.csv"), str(tmp_path / "run-same"))
    assert quiet.manifest["drift"]["dataset_drift"] is False
    warned = run_recipe(_with_baseline(tmp_path, baseline, "warn"), str(tmp_path / "shifted.csv"), str(tmp_path / "run-warn"))
    drifted = {c["column"] for c in warned.manifest["drift"]["columns"] if c["drifted"]}
    assert {"age", "bonus"} <= drifted
    with pytest.raises(QualityError, match="drifted from the baseline") as err:
        run_recipe(_with_baseline(tmp_path, baseline, "fail"), str(tmp_path / "shifted.csv"), str(tmp_path / "run-fail"))
    assert err.value.exit_code == 1
    # the outputs and the report were published so the drift can be looked at
    assert (tmp_path / "run-fail" / "report.html").is_file()
    assert json.loads((tmp_path / "run-fail" / "_manifest.json").read_text())["drift"]["dataset_drift"] is True
