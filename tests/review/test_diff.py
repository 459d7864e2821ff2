"""`prepline diff`: two versions of a recipe on the same sample, compared output by output."""

from __future__ import annotations

import importlib
import json
import textwrap
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import typer

from prepline.errors import PreplineError
from prepline.review import diff_recipes, render_json, render_markdown, render_text
from prepline.review.diff import OutputDiff, RecipeDiff, Side, compare_frames

REPO = Path(__file__).resolve().parents[2]
EMPLOYEES_RECIPE = REPO / "examples" / "employees" / "recipe.yaml"

# ages present: 25 30 35 40 45 55 65 -> median 40, filled into id 3
DATA = """\
id,age,city
1,25,Paris
2,35,Lyon
3,,Paris
4,45,Nice
5,55,Lyon
6,65,Paris
7,30,Nice
8,40,Lyon
"""

HEADER = """\
version: 1
name: people
input:
  format: csv
  columns:
    id: int64
    age: float64
    city: string
steps:
"""

FILL = "  - fill: {age: median}\n"


def bin_step(edge: int = 30) -> str:
    return f"  - bin: {{column: age, into: age_group, edges: [0, {edge}, 60, .inf], labels: [young, mid, old]}}\n"


OUTPUT = "  - output: people\n"
BASE_STEPS = FILL + bin_step() + OUTPUT


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    return write(tmp_path, "people.csv", DATA)


def recipes(tmp_path: Path, head_steps: str, base_steps: str = BASE_STEPS) -> tuple[Path, Path]:
    return write(tmp_path, "base.yaml", HEADER + base_steps), write(
        tmp_path, "head.yaml", HEADER + head_steps
    )


def run_diff(
    tmp_path: Path, sample: Path, head_steps: str, base_steps: str = BASE_STEPS
) -> RecipeDiff:
    base, head = recipes(tmp_path, head_steps, base_steps)
    return diff_recipes(base, head, str(sample))


def cli(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> int:
    """`prepline diff ARGS` through the CLI's error boundary (main), registered or not yet."""
    from prepline.cli import diff_cmd

    app_module = importlib.import_module(
        "prepline.cli.app"
    )  # the module; prepline.cli.app is also the Typer app

    if not any(c.name == "diff" for c in app_module.app.registered_commands):
        tiny = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        tiny.command("diff")(diff_cmd.diff)
        tiny.command("other")(lambda: None)  # two commands: "diff" stays a subcommand name
        monkeypatch.setattr(app_module, "app", tiny)
    return app_module.main(["diff", *args])


def output(diff: RecipeDiff, name: str) -> OutputDiff:
    return next(o for o in diff.outputs if o.name == name)


# --- the cases the issue names -----------------------------------------------------------------


def test_identical_recipes_report_no_difference_and_exit_0(
    tmp_path: Path,
    sample: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, head = recipes(tmp_path, BASE_STEPS)
    before = sorted(p.name for p in tmp_path.iterdir())
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(temp))

    code = cli(
        monkeypatch,
        ["--base", str(base), "--head", str(head), "--input", str(sample), "--format", "json"],
    )

    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["identical"] is True
    assert report["summary"] == {
        "outputs_changed": 0,
        "outputs_added": 0,
        "outputs_removed": 0,
        "outputs_unchanged": 1,
    }
    assert report["outputs"][0]["rows"] == {"base": 8, "head": 8}
    assert report["fills"] == [] and report["counters"] == []
    # nothing written beside the recipes, and the temporary runs are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == [*before, "temp"]
    assert list(temp.iterdir()) == []


def test_added_derived_column_in_all_three_formats(tmp_path: Path, sample: Path) -> None:
    diff = run_diff(
        tmp_path, sample, FILL + bin_step() + "  - derive: {age_months: age * 12}\n" + OUTPUT
    )

    people = output(diff, "people")
    assert people.status == "changed"
    assert [(c.name, c.type) for c in people.added] == [("age_months", "float64")]
    assert people.removed == [] and people.retyped == []
    assert people.rows is not None and people.rows.key == "id" and not people.rows.any

    data = json.loads(render_json(diff))
    assert data["identical"] is False
    assert data["outputs"][0]["columns"]["added"] == [{"name": "age_months", "type": "float64"}]
    assert data["outputs"][0]["row_changes"] == {
        "method": "key",
        "key": "id",
        "only_in_base": 0,
        "only_in_head": 0,
        "changed": 0,
        "cells_changed": {},
        "reordered": False,
    }
    assert "  + column age_months (float64)" in render_text(diff).splitlines()
    markdown = render_markdown(diff)
    assert markdown.startswith("## prepline diff: 1 output changed\n")
    assert "| people | changed | 8 → 8 | 1 added | — |" in markdown
    assert "| age_months | added | — | float64 |" in markdown


def test_moved_bin_edge_counts_changed_rows_and_value_counts(tmp_path: Path, sample: Path) -> None:
    diff = run_diff(tmp_path, sample, FILL + bin_step(40) + OUTPUT)

    people = output(diff, "people")
    rows = people.rows
    assert rows is not None
    # ages 35 (id 2), 40 (id 8) and the filled 40 (id 3) move from mid to young
    assert (rows.method, rows.key, rows.changed, rows.only_in_base, rows.only_in_head) == (
        "key",
        "id",
        3,
        0,
        0,
    )
    assert rows.cells_changed == {"age_group": 3}
    assert [(v.column, v.value, v.base, v.head) for v in people.value_counts] == [
        ("age_group", "mid", 5, 2),
        ("age_group", "young", 2, 5),
    ]
    assert people.statistics == []  # same nulls, same number of distinct groups
    text = render_text(diff)
    assert "  rows aligned on id: 3 changed, 0 only in base, 0 only in head" in text
    assert "    age_group = young: 2 → 5" in text
    assert "| age_group | young | 2 | 5 |" in render_markdown(diff)


def test_rows_without_a_unique_column_compare_as_multisets(tmp_path: Path, sample: Path) -> None:
    out = "  - output: {name: groups, columns: [city, age_group]}\n"
    diff = run_diff(tmp_path, sample, FILL + bin_step(40) + out, base_steps=FILL + bin_step() + out)

    rows = output(diff, "groups").rows
    assert rows is not None
    # base: (Lyon, mid) x3, (Paris, mid) x1 ... head: (Lyon, young) x2, (Paris, young) x2 ...
    assert (rows.method, rows.key, rows.only_in_base, rows.only_in_head, rows.changed) == (
        "multiset",
        None,
        3,
        3,
        None,
    )
    assert "compared as multisets: 3 only in base, 3 only in head" in render_text(diff)


def test_cast_column_is_retyped(tmp_path: Path, sample: Path) -> None:
    diff = run_diff(
        tmp_path, sample, BASE_STEPS.replace(OUTPUT, "  - cast: {age: int64}\n" + OUTPUT)
    )

    people = output(diff, "people")
    assert [(c.name, c.base, c.head) for c in people.retyped] == [("age", "float64", "int64")]
    assert people.status == "changed"
    assert people.rows is not None and people.rows.cells_changed == {}  # whole numbers: same values
    assert "  ~ column age: float64 → int64" in render_text(diff)
    assert "| age | retyped | float64 | int64 |" in render_markdown(diff)


def test_added_filter_changes_rows_statistics_fills_and_counters(
    tmp_path: Path, sample: Path
) -> None:
    diff = run_diff(tmp_path, sample, '  - filter: "id > 1"\n' + BASE_STEPS)

    people = output(diff, "people")
    assert (people.rows_base, people.rows_head) == (8, 7)
    rows = people.rows
    assert rows is not None
    # id 1 is gone; the median of the other ages is 42.5, filled into id 3
    assert (rows.only_in_base, rows.only_in_head, rows.changed, rows.cells_changed) == (
        1,
        0,
        1,
        {"age": 1},
    )
    stats = {(s.column, s.statistic): (s.base, s.head) for s in people.statistics}
    assert stats[("age", "mean")] == (pytest.approx(335 / 8), pytest.approx(312.5 / 7))
    assert stats[("age", "min")] == (25.0, 30.0)
    assert stats[("id", "min")] == (1, 2)
    assert stats[("id", "mean")] == (4.5, 5.0)
    assert ("age", "max") not in stats and ("city", "distinct_count") not in stats
    assert [(v.column, v.value, v.base, v.head) for v in people.value_counts] == [
        ("city", "Paris", 3, 2),
        ("age_group", "young", 2, 1),
    ]

    [fill] = diff.fills
    assert (fill.column, fill.base["value"], fill.head["value"]) == ("age", 40.0, 42.5)
    [counter] = diff.counters
    assert (counter.kind, counter.what, counter.base, counter.head) == (
        "filter",
        "rows removed by the filter 'id > 1'",
        None,
        {"step": "1:filter", "count": 1},
    )
    text = render_text(diff)
    assert "  age: median 40.0 (1 filled) → median 42.5 (1 filled)" in text
    assert "  filter: rows removed by the filter 'id > 1': — → 1" in text
    assert "    age mean: 41.875 → 44.64285714" in text
    markdown = render_markdown(diff)
    assert markdown.startswith("## prepline diff: 1 output changed, 2 fills or counters moved\n")
    assert "| fill age | median 40.0 (1 filled) | median 42.5 (1 filled) |" in markdown


def test_renamed_output_is_removed_and_added(
    tmp_path: Path,
    sample: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, head = recipes(tmp_path, FILL + bin_step() + "  - output: persons\n")
    report = tmp_path / "summary.md"

    code = cli(
        monkeypatch,
        [
            "--base",
            str(base),
            "--head",
            str(head),
            "-i",
            str(sample),
            "-f",
            "markdown",
            "-o",
            str(report),
        ],
    )

    assert code == 1
    assert capsys.readouterr().out == ""
    markdown = report.read_text()
    assert markdown.startswith("## prepline diff: 2 outputs changed (1 added, 1 removed)\n")
    assert "| people | removed | 8 → — | 4 columns | — |" in markdown
    assert "| persons | added | — → 8 | 4 columns | — |" in markdown
    diff = diff_recipes(base, head, str(sample))
    assert [(o.name, o.status) for o in diff.outputs] == [
        ("people", "removed"),
        ("persons", "added"),
    ]


def test_text_report_on_stdout_and_exit_1(
    tmp_path: Path,
    sample: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, head = recipes(tmp_path, FILL + bin_step(40) + OUTPUT)

    code = cli(monkeypatch, ["--base", str(base), "--head", str(head), "--input", str(sample)])

    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:4] == ["1 output changed", "", "people: changed"]


def test_invalid_head_recipe_exits_2_naming_head(
    tmp_path: Path,
    sample: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base, head = recipes(tmp_path, FILL + "  - derive: {x: nope * 2}\n" + OUTPUT)

    code = cli(monkeypatch, ["--base", str(base), "--head", str(head), "--input", str(sample)])

    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"head recipe '{head}' failed:" in captured.err
    assert "nope" in captured.err


def test_head_failing_at_run_time_names_head(tmp_path: Path, sample: Path) -> None:
    base, head = recipes(tmp_path, BASE_STEPS.replace(OUTPUT, "  - cast: {city: int64}\n" + OUTPUT))

    with pytest.raises(PreplineError) as caught:
        diff_recipes(base, head, str(sample))

    assert caught.value.exit_code == 2
    assert str(caught.value).startswith(f"head recipe '{head}' failed:")


def test_missing_base_recipe_names_base(tmp_path: Path, sample: Path) -> None:
    _, head = recipes(tmp_path, BASE_STEPS)

    with pytest.raises(
        PreplineError, match=r"^base recipe .* failed: recipe file .* does not exist"
    ):
        diff_recipes(tmp_path / "missing.yaml", head, str(sample))


def test_unknown_format_exits_2(
    tmp_path: Path, sample: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base, head = recipes(tmp_path, BASE_STEPS)
    assert (
        cli(
            monkeypatch,
            ["--base", str(base), "--head", str(head), "--input", str(sample), "--format", "html"],
        )
        == 2
    )


# --- comparison details ------------------------------------------------------------------------


def test_floats_compare_within_relative_tolerance() -> None:
    base = pl.LazyFrame({"id": [1, 2], "x": [1.0, 1e6]})
    close = compare_frames(
        "t", base, pl.LazyFrame({"id": [1, 2], "x": [1.0 + 1e-12, 1e6 * (1 + 1e-12)]})
    )
    far = compare_frames("t", base, pl.LazyFrame({"id": [1, 2], "x": [1.0, 1e6 * (1 + 1e-6)]}))

    assert close.status == "unchanged" and close.statistics == []
    assert far.status == "changed"
    assert far.rows is not None and far.rows.cells_changed == {"x": 1}
    assert {s.statistic for s in far.statistics} == {"mean", "max"}


def test_nulls_and_nan_count_as_cell_changes_only_when_they_differ() -> None:
    base = pl.LazyFrame({"id": [1, 2, 3, 4], "x": [float("nan"), None, 1.0, None]})
    head = pl.LazyFrame({"id": [1, 2, 3, 4], "x": [float("nan"), None, None, 2.0]})

    rows = compare_frames("t", base, head).rows

    assert rows is not None and (rows.changed, rows.cells_changed) == (2, {"x": 2})


def test_same_rows_in_another_order_are_reported() -> None:
    diff = compare_frames("t", pl.LazyFrame({"id": [1, 2]}), pl.LazyFrame({"id": [2, 1]}))

    assert diff.status == "changed" and diff.rows is not None and diff.rows.reordered


def test_dates_and_bools_have_their_own_statistics_and_json_is_plain() -> None:
    base = pl.LazyFrame(
        {"id": [1, 2], "day": [date(2020, 1, 1), date(2020, 1, 2)], "flag": [True, False]}
    )
    head = pl.LazyFrame(
        {"id": [1, 2], "day": [date(2020, 1, 1), date(2021, 1, 2)], "flag": [True, True]}
    )

    diff = compare_frames("t", base, head).as_dict()

    assert diff["statistics"] == [
        {"column": "day", "statistic": "max", "base": "2020-01-02", "head": "2021-01-02"},
        {"column": "flag", "statistic": "distinct_count", "base": 2, "head": 1},
    ]
    assert diff["value_counts"] == [
        {"column": "flag", "value": "false", "base": 1, "head": 0},
        {"column": "flag", "value": "true", "base": 1, "head": 2},
    ]
    assert diff["row_changes"]["cells_changed"] == {"day": 1, "flag": 1}
    json.dumps(diff)  # no dates or other non-JSON values left


def test_markdown_escapes_values_and_caps_long_lists() -> None:
    base = pl.LazyFrame({"id": [1]})
    head = pl.LazyFrame({"id": [1], "a|b`c<d>": [1], **{f"extra_{i:02d}": [i] for i in range(24)}})
    side = Side(recipe="r|1.yaml", name="r", sha256="0" * 64, rows_in=1)
    diff = RecipeDiff(
        input="in.csv",
        engine="polars",
        base=side,
        head=side,
        outputs=[compare_frames("o`ut", base, head)],
        fills=[],
        counters=[],
    )

    markdown = render_markdown(diff)

    assert "| a\\|b\\`c&lt;d&gt; | added | — | int64 |" in markdown
    assert "### o\\`ut: changed" in markdown
    assert "Base r\\|1.yaml → head r\\|1.yaml" in markdown
    assert "| extra_18 | added |" in markdown and "| extra_19 | added |" not in markdown
    assert "| and 5 more |  |  |  |" in markdown
    for line in markdown.splitlines():
        if line.startswith("| a\\|b"):
            assert line.replace("\\|", "").count("|") == 5  # four cells


# --- the employees recipe ------------------------------------------------------------------------


def test_employees_recipe_with_moved_salary_bins(tmp_path: Path) -> None:
    from prepline.sample.employees import employees_frame

    sample = tmp_path / "employees.csv"
    employees_frame(rows=500, seed=1).write_csv(sample)
    head = write(
        tmp_path,
        "recipe.yaml",
        EMPLOYEES_RECIPE.read_text().replace(
            "edges: [0, 50000, 70000, 100000]", "edges: [0, 60000, 70000, 100000]"
        ),
    )
    assert head.read_text() != EMPLOYEES_RECIPE.read_text()

    diff = diff_recipes(EMPLOYEES_RECIPE, head, str(sample))

    assert {o.name: o.status for o in diff.outputs} == {
        "cleaned_data": "unchanged",
        "transformed_data": "changed",
        "department_statistics": "unchanged",
        "rejected": "unchanged",
        # the training sets carry salary_category: the same rows in each part, other categories
        "train": "changed",
        "validation": "changed",
        "test": "changed",
    }
    transformed = output(diff, "transformed_data")
    assert transformed.rows is not None and transformed.rows.key == "id"
    # every salary of 60000 (drawn or the median fill) moves from medium to low
    assert transformed.rows.cells_changed == {"salary_category": 262}
    assert [(v.value, v.base, v.head) for v in transformed.value_counts] == [
        ("low", 111, 373),
        ("medium", 389, 127),
    ]
    assert diff.fills == [] and diff.counters == []
    markdown = render_markdown(diff)
    assert "salary_category" in markdown
    assert "| transformed_data | changed | 500 → 500 | — | 262 changed |" in markdown
    assert "| salary_category | 262 cells changed |  |  |" in markdown
    assert (
        textwrap.dedent("""\
        | salary_category | low | 111 | 373 |
        | salary_category | medium | 389 | 127 |""")
        in markdown
    )
