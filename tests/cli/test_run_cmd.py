"""`prepline run`: outputs, formats, and the error boundary (message and exit code, no traceback).

Error paths go through ``prepline.cli.app.main`` (in-process, with capsys) or a real subprocess:
the boundary lives in ``main()``, not in the Typer ``app``.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from prepline.cli.app import app, main

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
EMPLOYEES = """\
id,name,age,salary,hire_date,profile,department,bonus
1,Ann,34,52000,2020-01-02,"{""address"": ""1 Main St"", ""phone"": ""0123"", ""email"": ""a@x.org""}",Sales,100
2,Bob,,61000,2019-05-06,,HR,
3,Cy,58,,2018-07-08,"{""address"": ""2 Side St""}",,200.5
"""
OUTPUTS = ["cleaned_data", "transformed_data", "department_statistics", "rejected"]  # written as --format says
SPLITS = ["train", "validation", "test"]  # Parquet whatever --format says (the recipe's split sets format: parquet)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "employees.csv"
    path.write_text(EMPLOYEES, encoding="utf-8")
    return path


def _prepline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prepline", *args], capture_output=True, text=True, timeout=120)


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_run_writes_every_output_and_the_manifest(tmp_path, data):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(RECIPE), "--input", str(data), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{n}.csv" for n in OUTPUTS] + [f"{n}.parquet" for n in SPLITS] + ["_manifest.json", "profile.json", "report.html"])
    assert "employees: 3 rows in" in result.output
    manifest = json.loads((out / "_manifest.json").read_text())
    for name, part in manifest["splits"][0]["parts"].items():  # the split's table: part, asked, rows
        assert re.search(rf"{name}\s*│\s*{part['asked']:.0%}\s*│.*│\s*{part['rows']:,}\s*│", result.output), result.output
    assert (out / "department_statistics.csv").read_text() == (
        "Department,Average Salary,Average Age\n"
        "HR,61000.0,46.0\n"
        "Sales,52000.0,34.0\n"
        "Unknown,56500.0,58.0\n"
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging left over


def test_json_prints_the_manifest(tmp_path, data):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["run", str(RECIPE), "-i", str(data), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == json.loads((out / "_manifest.json").read_text())
    assert printed["rows_in"] == 3
    assert list(printed["outputs"]) == [*OUTPUTS[:2], *SPLITS, *OUTPUTS[2:]]


def test_parquet_outputs_hold_the_same_values_as_csv(tmp_path, data):
    runner = CliRunner()
    for fmt in ("csv", "parquet"):
        result = runner.invoke(app, ["run", str(RECIPE), "-i", str(data), "-o", str(tmp_path / fmt), "--format", fmt])
        assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "parquet" / "_manifest.json").read_text())
    assert manifest["output"]["format"] == "parquet"
    for name in OUTPUTS:
        assert manifest["outputs"][name]["path"] == f"{name}.parquet"
        from_parquet = pl.read_parquet(tmp_path / "parquet" / f"{name}.parquet")
        from_csv = pl.read_csv(tmp_path / "csv" / f"{name}.csv", schema=from_parquet.schema)
        assert from_parquet.equals(from_csv), name
    transformed = pl.read_parquet(tmp_path / "parquet" / "transformed_data.parquet")
    assert transformed.schema["phone"] == pl.String  # identifiers stay text
    assert transformed["address_length"].to_list() == [9, 0, 9]


def test_a_missing_input_exits_2_naming_it_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    result = _prepline("run", str(RECIPE), "--input", str(tmp_path / "nope.csv"), "--output", str(out))
    assert result.returncode == 2
    assert "nope.csv" in result.stderr
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_failed_run_leaves_the_previous_outputs_intact(tmp_path, data, capsys):
    out = tmp_path / "out"
    assert main(["run", str(RECIPE), "-i", str(data), "-o", str(out)]) == 0
    before = _snapshot(out)
    broken = tmp_path / "broken.csv"
    broken.write_text(EMPLOYEES.replace("52000", "lots"), encoding="utf-8")
    capsys.readouterr()
    assert main(["run", str(RECIPE), "-i", str(broken), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "row 1, column 'salary': lots is not a valid float64" in err
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.csv", "employees.csv", "out"]


def test_a_later_successful_run_replaces_the_outputs(tmp_path, data):
    out = tmp_path / "out"
    assert main(["run", str(RECIPE), "-i", str(data), "-o", str(out)]) == 0
    (out / "stale.csv").write_text("from an older recipe\n")
    assert main(["run", str(RECIPE), "-i", str(data), "-o", str(out)]) == 0
    assert not (out / "stale.csv").exists()


def test_a_folder_that_is_not_an_earlier_output_is_not_replaced(tmp_path, data, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert main(["run", str(RECIPE), "-i", str(data), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "is not empty and holds no _manifest.json" in err
    assert _snapshot(out) == {"precious.txt": b"keep me"}


def test_an_empty_folder_is_used(tmp_path, data):
    out = tmp_path / "out"
    out.mkdir()
    assert main(["run", str(RECIPE), "-i", str(data), "-o", str(out)]) == 0
    assert (out / "_manifest.json").is_file()


def test_an_unknown_format_is_refused(tmp_path, data, capsys):
    assert main(["run", str(RECIPE), "-i", str(data), "-o", str(tmp_path / "out"), "--format", "xlsx"]) == 2
    assert "unknown output format 'xlsx'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_bad_recipe_exits_2(tmp_path, data, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("name: t\ninput:\n  columns: {id: int64}\nsteps:\n  - fil: {id: median}\n")
    assert main(["run", str(recipe), "-i", str(data), "-o", str(tmp_path / "out")]) == 2
    assert "unknown step kind 'fil'; did you mean 'fill'?" in capsys.readouterr().err


def test_usage_errors_exit_2_without_a_traceback(tmp_path, capsys):
    assert main(["run", str(RECIPE), "--output", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "--input" in err
    assert "Traceback" not in err


def test_usage_errors_through_the_command(tmp_path):
    result = _prepline("run", str(RECIPE), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Missing option" in result.stderr and "--input" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_the_traceback(tmp_path):
    result = _prepline("--debug", "run", str(RECIPE), "--input", str(tmp_path / "nope.csv"), "--output", str(tmp_path / "out"))
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    assert "InputError" in result.stderr
    assert not (tmp_path / "out").exists()
