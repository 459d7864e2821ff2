"""Oracle for the employees recipe: prepline's outputs vs an independent computation.

``prepline run examples/employees/recipe.yaml`` runs once on the seed's mock data
(../shared/seed/mock_data.csv next to the repository; the module is skipped without it).
The expected values are computed here with the standard library only (csv, json,
statistics) — a code path that shares nothing with prepline or its engines.

The semantics are the seed tutorial's, with three deliberate fixes:
  1. a missing address has ``address_length`` 0 (the seed wrote 3, ``len("nan")``);
  2. ``phone`` stays text in every output (the seed's re-read made it a float);
  3. a missing input file fails the run (non-zero exit, no output folder).

Cells are compared as values, not bytes: numbers as floats within a relative tolerance
of 1e-9 (integer columns as ints), text exactly, and a missing value is an empty cell.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MOCK_DATA = REPO.parent / "shared" / "seed" / "mock_data.csv"
RECIPE = REPO / "examples" / "employees" / "recipe.yaml"
RUN_TIMEOUT_S = 300
REL_TOL = 1e-9

CLEANED_COLUMNS = [
    "id", "name", "age", "salary", "hire_date", "department", "bonus",
    "address", "phone", "email",
]  # fmt: skip
TRANSFORMED_COLUMNS = [*CLEANED_COLUMNS, "address_length", "salary_category", "age_group"]
STATISTICS_COLUMNS = ["Department", "Average Salary", "Average Age"]

# How each column's cells are compared; anything not listed is exact text.
INT_COLUMNS = {"id", "address_length"}
FLOAT_COLUMNS = {"age", "salary", "bonus", "Average Salary", "Average Age"}

SALARY_BINS = ([0.0, 50_000.0, 70_000.0, 100_000.0], ["low", "medium", "high"])
AGE_BINS = (
    [0.0, 25.0, 35.0, 45.0, 55.0, math.inf],
    ["Young", "Early Career", "Mid Career", "Senior", "Experienced"],
)

Row = dict[str, object]  # column -> int | float | str | None (None = missing)


# --------------------------------------------------------------------------------------
# The independent computation
# --------------------------------------------------------------------------------------


def _number(text: str) -> float | None:
    return float(text) if text != "" else None


def _text(text: str) -> str | None:
    return text if text != "" else None


def bin_label(value: float | None, edges: list[float], labels: list[str]) -> str | None:
    """pd.cut(right=True, include_lowest=True): [e0, e1], (e1, e2], ...; an inf edge is open."""
    if value is None or math.isnan(value):
        return None
    for i, label in enumerate(labels):
        low, high = edges[i], edges[i + 1]
        above_low = value >= low if i == 0 else value > low
        below_high = value < high if math.isinf(high) else value <= high
        if above_low and below_high:
            return label
    return None


def _profile_fields(text: str) -> dict[str, str | None]:
    if text == "":
        return dict.fromkeys(("address", "phone", "email"))
    record = json.loads(text)
    assert isinstance(record, dict), f"profile is not a JSON object: {text!r}"
    fields: dict[str, str | None] = {}
    for key in ("address", "phone", "email"):
        value = record.get(key)
        fields[key] = None if value is None else str(value)
    return fields


def expected_outputs(source: Path) -> dict[str, tuple[list[str], list[Row]]]:
    """The three outputs the recipe must produce from ``source``: name -> (columns, rows)."""
    with source.open(newline="", encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))

    ages = [float(r["age"]) for r in raw if r["age"] != ""]
    salaries = [float(r["salary"]) for r in raw if r["salary"] != ""]
    age_fill, salary_fill = statistics.median(ages), statistics.median(salaries)

    cleaned: list[Row] = []
    for r in raw:
        age, salary = _number(r["age"]), _number(r["salary"])
        row: Row = {
            "id": int(r["id"]),
            "name": _text(r["name"]),
            "age": age_fill if age is None else age,
            "salary": salary_fill if salary is None else salary,
            "hire_date": _text(r["hire_date"]),
            "department": r["department"] or "Unknown",
            "bonus": _number(r["bonus"]),
        }
        row.update(_profile_fields(r["profile"]))
        cleaned.append(row)

    transformed: list[Row] = []
    for row in cleaned:
        address = row["address"]
        transformed.append(
            {
                **row,
                "address_length": 0 if address is None else len(address),  # type: ignore[arg-type]
                "salary_category": bin_label(row["salary"], *SALARY_BINS),  # type: ignore[arg-type]
                "age_group": bin_label(row["age"], *AGE_BINS),  # type: ignore[arg-type]
            }
        )

    groups: dict[str, list[Row]] = {}
    for row in cleaned:
        groups.setdefault(row["department"], []).append(row)  # type: ignore[arg-type]
    department_stats: list[Row] = [
        {
            "Department": name,
            "Average Salary": statistics.fmean(m["salary"] for m in members),  # type: ignore[misc]
            "Average Age": statistics.fmean(m["age"] for m in members),  # type: ignore[misc]
        }
        for name, members in sorted(groups.items())
    ]

    return {
        "cleaned_data": (CLEANED_COLUMNS, cleaned),
        "transformed_data": (TRANSFORMED_COLUMNS, transformed),
        "department_statistics": (STATISTICS_COLUMNS, department_stats),
    }


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _cell_matches(column: str, expected: object, actual: str) -> bool:
    if expected is None:
        return actual == ""
    if actual == "":
        return False
    if column in INT_COLUMNS:
        try:
            return int(actual) == expected
        except ValueError:
            return False
    if column in FLOAT_COLUMNS:
        try:
            return math.isclose(float(actual), float(expected), rel_tol=REL_TOL)  # type: ignore[arg-type]
        except ValueError:
            return False
    return actual == expected


def cell_mismatches(
    columns: Iterable[str], expected: list[Row], actual: list[dict[str, str]]
) -> list[tuple[int, str, object, str]]:
    """Every (row index, column, expected, actual) that differs; rows are zipped in order."""
    found = []
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        for column in columns:
            cell = got.get(column)
            if cell is None or not _cell_matches(column, want[column], cell):
                found.append((index, column, want[column], cell))
    return found


def describe(mismatches: list[tuple[int, str, object, str]], limit: int = 15) -> str:
    per_column: dict[str, int] = {}
    for _, column, _, _ in mismatches:
        per_column[column] = per_column.get(column, 0) + 1
    lines = [f"{len(mismatches)} cells differ; per column: {per_column}"]
    lines += [
        f"  row {index} (data line {index + 2}) {column}: expected {want!r}, got {got!r}"
        for index, column, want, got in mismatches[:limit]
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Running prepline
# --------------------------------------------------------------------------------------


def _prepline(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO / "src"), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    )
    env.update(NO_COLOR="1", COLUMNS="500", PREPLINE_HOME=str(home))
    return subprocess.run(
        [sys.executable, "-m", "prepline", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="module")
def mock_data() -> Path:
    if not MOCK_DATA.is_file():
        pytest.skip(f"seed mock data not found at {MOCK_DATA}")
    return MOCK_DATA


@pytest.fixture(scope="module")
def run_dir(mock_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prepline's output folder for the mock data (the recipe runs once per module)."""
    base = tmp_path_factory.mktemp("employees-oracle")
    out = base / "out"
    done = _prepline(
        ["run", str(RECIPE), "--input", str(mock_data), "--output", str(out)], base / "home"
    )
    assert done.returncode == 0, (
        f"prepline run exited {done.returncode}\n--- stdout ---\n{done.stdout[-3000:]}"
        f"\n--- stderr ---\n{done.stderr[-3000:]}"
    )
    return out


@pytest.fixture(scope="module")
def expected(mock_data: Path) -> dict[str, tuple[list[str], list[Row]]]:
    return expected_outputs(mock_data)


OUTPUTS = ["cleaned_data", "transformed_data", "department_statistics"]


@pytest.mark.parametrize("name", OUTPUTS)
def test_columns_in_order(name: str, run_dir: Path, expected) -> None:
    header, _ = read_csv(run_dir / f"{name}.csv")
    assert header == expected[name][0]


@pytest.mark.parametrize("name", OUTPUTS)
def test_row_count(name: str, run_dir: Path, expected) -> None:
    _, rows = read_csv(run_dir / f"{name}.csv")
    assert len(rows) == len(expected[name][1])


@pytest.mark.parametrize("name", OUTPUTS)
def test_every_cell(name: str, run_dir: Path, expected) -> None:
    columns, want = expected[name]
    header, got = read_csv(run_dir / f"{name}.csv")
    assert header == columns, "column mismatch (see test_columns_in_order)"
    assert len(got) == len(want), "row count mismatch (see test_row_count)"
    mismatches = cell_mismatches(columns, want, got)
    if mismatches:
        pytest.fail(describe(mismatches), pytrace=False)


def test_statistics_one_row_per_department(run_dir: Path, mock_data: Path) -> None:
    with mock_data.open(newline="", encoding="utf-8") as handle:
        departments = {r["department"] or "Unknown" for r in csv.DictReader(handle)}
    _, got = read_csv(run_dir / "department_statistics.csv")
    names = [r["Department"] for r in got]
    assert names == sorted(departments)
    assert "Unknown" in names


def test_phone_is_text_everywhere(run_dir: Path, mock_data: Path) -> None:
    """Fix #2, checked on its own so a float phone is reported plainly."""
    with mock_data.open(newline="", encoding="utf-8") as handle:
        phones = [_profile_fields(r["profile"])["phone"] or "" for r in csv.DictReader(handle)]
    for name in ("cleaned_data", "transformed_data"):
        _, got = read_csv(run_dir / f"{name}.csv")
        assert [r["phone"] for r in got] == phones, f"{name}.csv: phone is not the profile's text"


def test_missing_address_has_length_zero(run_dir: Path) -> None:
    """Fix #1, checked on its own: the seed wrote 3 (len("nan"))."""
    _, got = read_csv(run_dir / "transformed_data.csv")
    missing = [r for r in got if r["address"] == ""]
    assert missing, "the mock data has rows without an address; none came out"
    assert {r["address_length"] for r in missing} == {"0"}


def _data_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def _column_names(columns: object) -> object:
    """The manifest's columns as a list of names (it may list names or {name: ...} objects)."""
    if isinstance(columns, list) and all(isinstance(c, dict) for c in columns):
        return [c.get("name") for c in columns]
    if isinstance(columns, dict):
        return list(columns)
    return columns


def test_manifest_describes_the_outputs(run_dir: Path, expected) -> None:
    manifest_path = run_dir / "_manifest.json"
    assert manifest_path.is_file(), f"no manifest at {manifest_path}"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    outputs = manifest.get("outputs")
    assert isinstance(outputs, dict), f"manifest 'outputs' is not a mapping: {outputs!r}"

    for name in OUTPUTS:
        file = run_dir / f"{name}.csv"
        entries = [
            (key, entry)
            for key, entry in outputs.items()
            if key in (name, file.name) or Path(str(entry.get("path", ""))).name == file.name
        ]
        assert len(entries) == 1, (
            f"manifest lists {file.name} {len(entries)} times: {list(outputs)}"
        )
        key, entry = entries[0]
        missing_keys = {"rows", "columns", "bytes", "sha256", "path"} - set(entry)
        assert not missing_keys, f"manifest entry {key!r} lacks {sorted(missing_keys)}"

        listed = Path(entry["path"])
        listed = listed if listed.is_absolute() else run_dir / listed
        assert listed.resolve() == file.resolve(), f"{key}: path {entry['path']!r} is not {file}"

        body = file.read_bytes()
        assert entry["sha256"] == hashlib.sha256(body).hexdigest(), f"{key}: sha256"
        assert entry["bytes"] == len(body), f"{key}: bytes"
        assert entry["rows"] == _data_rows(file) == len(expected[name][1]), f"{key}: rows"
        assert _column_names(entry["columns"]) == expected[name][0], f"{key}: columns"


def test_missing_input_fails_without_output(tmp_path: Path) -> None:
    """Fix #3: a missing input is an error, named in the message, and nothing is written."""
    absent, out = tmp_path / "nope.csv", tmp_path / "out"
    done = _prepline(["run", str(RECIPE), "--input", str(absent), "--output", str(out)], tmp_path)
    said = (done.stdout + done.stderr).replace("\n", "")
    assert done.returncode != 0, f"exit 0 for a missing input; output:\n{said}"
    assert "nope.csv" in said, f"the message does not name the missing file:\n{said}"
    assert not out.exists(), "an output folder was created for a run that could not start"


# Guards on the oracle itself, so a vacuous comparison cannot pass unnoticed.


@pytest.mark.parametrize(
    ("column", "expected_value", "actual", "matches"),
    [
        ("age", 48.0, "48", True),
        ("age", 48.0, "48.0000001", False),
        ("age", None, "", True),
        ("age", None, "nan", False),
        ("age", 48.0, "", False),
        ("id", 7, "7", True),
        ("id", 7, "7.0", False),
        ("phone", "7323475298", "7323475298.0", False),
        ("phone", "0123", "123", False),
        ("address_length", 0, "3", False),
        ("salary_category", "low", "low", True),
        ("salary_category", None, "", True),
    ],
)
def test_oracle_cell_rules(column: str, expected_value: object, actual: str, matches: bool) -> None:
    assert _cell_matches(column, expected_value, actual) is matches


def test_oracle_bins() -> None:
    edges, labels = SALARY_BINS
    assert [bin_label(v, edges, labels) for v in (0, 50_000, 50_000.5, 70_000, 100_000, 100_001, -1)] == [
        "low", "low", "medium", "medium", "high", None, None,
    ]  # fmt: skip
    edges, labels = AGE_BINS
    assert [bin_label(v, edges, labels) for v in (0, 25, 25.5, 35, 45, 55, 56, math.inf)] == [
        "Young", "Young", "Early Career", "Early Career", "Mid Career", "Senior", "Experienced", None,
    ]  # fmt: skip
    assert statistics.median([1.0, 2.0, 3.0, 4.0]) == 2.5
