"""The employees generator: reproducible, streamed, atomic, and shaped like the upstream mock data."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from prepline.errors import InputError, PreplineError
from prepline.sample import employees as emp
from prepline.sample.employees import COLUMNS, SampleResult, employees_frame, write_employees

MOCK = Path(__file__).resolve().parents[2].parent / "shared" / "seed" / "mock_data.csv"
HEADER = "id,name,age,salary,hire_date,profile,department,bonus\n"
NULLABLE = ("age", "salary", "hire_date", "profile", "department", "bonus")
PROFILE_KEYS = ["address", "phone", "email"]
SIBLING_COMMANDS = ("recipe_cmd", "run_cmd", "demo_cmd")  # imported by prepline.cli.app

# Big enough that every rate and range is stable, small enough to build in a blink.
SAMPLE_ROWS = 60_000


@pytest.fixture(scope="module")
def mock() -> pl.DataFrame:
    if not MOCK.is_file():
        pytest.skip(f"the upstream mock data is not at {MOCK}")
    return pl.read_csv(MOCK, infer_schema_length=0)  # all text: compare formats, not parsed values


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """A generated CSV read back exactly like the mock, so both go through the same parser."""
    path = tmp_path_factory.mktemp("sample") / "employees.csv"
    write_employees(path, SAMPLE_ROWS, seed=11)
    return pl.read_csv(path, infer_schema_length=0)


def _numbers(frame: pl.DataFrame, column: str, pattern: str) -> pl.Series:
    return frame[column].drop_nulls().str.extract(pattern).cast(pl.Int64)


# -- reproducibility ----------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(tmp_path: Path) -> None:
    a = write_employees(tmp_path / "a.csv", 5_000, seed=3)
    b = write_employees(tmp_path / "b.csv", 5_000, seed=3)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.bytes == b.bytes == a.path.stat().st_size


def test_different_seeds_give_different_data(tmp_path: Path) -> None:
    a = write_employees(tmp_path / "a.csv", 5_000, seed=3).path.read_bytes()
    b = write_employees(tmp_path / "b.csv", 5_000, seed=4).path.read_bytes()
    assert a != b
    # Only the random columns differ: ids are the same sequence.
    ids = [pl.read_csv(data)["id"].to_list() for data in (a, b)]
    assert ids[0] == ids[1] == list(range(1, 5_001))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_chunk_size_does_not_change_the_file(tmp_path: Path, suffix: str) -> None:
    rows = 2 * emp.BLOCK_ROWS + 123
    whole = write_employees(tmp_path / f"whole{suffix}", rows, seed=5)
    pieces = write_employees(tmp_path / f"pieces{suffix}", rows, seed=5, chunk_rows=7_777)
    assert whole.path.read_bytes() == pieces.path.read_bytes()


def test_start_id_returns_the_matching_slice() -> None:
    whole = employees_frame(25_000, seed=9)
    part = employees_frame(300, seed=9, start_id=19_901)
    assert part["id"].to_list() == list(range(19_901, 20_201))
    assert part.equals(whole.slice(19_900, 300))


def test_a_smaller_file_is_a_prefix_of_a_larger_one(tmp_path: Path) -> None:
    small = write_employees(tmp_path / "s.csv", 1_000, seed=2).path.read_bytes()
    large = write_employees(tmp_path / "l.csv", 12_000, seed=2).path.read_bytes()
    assert large.startswith(small)


# -- shape --------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [1, 17, 10_001])
def test_row_count_and_sequential_ids(tmp_path: Path, rows: int) -> None:
    result = write_employees(tmp_path / "e.csv", rows, seed=1)
    assert result == SampleResult(result.path, rows, result.path.stat().st_size, result.seconds)
    frame = pl.read_csv(result.path)
    assert frame.height == rows
    assert frame["id"].to_list() == list(range(1, rows + 1))


def test_zero_rows_writes_only_the_header(tmp_path: Path) -> None:
    result = write_employees(tmp_path / "empty.csv", 0)
    assert result.path.read_text() == HEADER
    assert result.rows == 0
    assert result.bytes == len(HEADER)
    assert employees_frame(0).columns == list(COLUMNS)


def test_columns_in_order(mock: pl.DataFrame, sample: pl.DataFrame) -> None:
    assert sample.columns == list(COLUMNS) == HEADER.strip().split(",")
    assert sample.columns == mock.columns


def test_types_of_the_in_memory_frame() -> None:
    assert employees_frame(10).schema == pl.Schema(
        {
            "id": pl.Int64,
            "name": pl.String,
            "age": pl.Float64,
            "salary": pl.Int64,
            "hire_date": pl.Date,
            "profile": pl.String,
            "department": pl.String,
            "bonus": pl.Float64,
        }
    )


def test_csv_text_matches_the_mock_formatting(tmp_path: Path) -> None:
    line = write_employees(tmp_path / "e.csv", 50, seed=0).path.read_text().splitlines()
    # A complete row (no missing values), formatted exactly as the upstream file does it.
    row = re.compile(
        r"^\d+,Name_\d+,\d+\.0,[567]0000,\d{4}-\d\d-\d\d,"
        r'"\{""address"": ""Street \d+, City \d+"", ""phone"": ""\d{10}"", '
        r'""email"": ""email_\d+@example\.com""\}",(HR|IT|Finance|Marketing),\d+\.0$'
    )
    assert line[0] == HEADER.strip()
    assert any(row.match(text) for text in line[1:])
    assert all(text.count(",") >= 7 for text in line[1:])


@pytest.mark.parametrize(
    ("column", "pattern"),
    [
        ("id", r"^[1-9]\d*$"),
        ("name", r"^Name_\d+$"),
        ("age", r"^\d+\.0$"),
        ("salary", r"^\d+$"),
        ("hire_date", r"^\d{4}-\d{2}-\d{2}$"),
        ("bonus", r"^\d+\.0$"),
    ],
)
def test_value_formats_match_the_mock(
    mock: pl.DataFrame, sample: pl.DataFrame, column: str, pattern: str
) -> None:
    for frame in (mock, sample):
        assert frame[column].drop_nulls().str.contains(pattern).all(), column


# -- distributions against the upstream mock ----------------------------------------------


@pytest.mark.parametrize("column", NULLABLE)
def test_missing_rate_matches_the_mock(
    mock: pl.DataFrame, sample: pl.DataFrame, column: str
) -> None:
    real = mock[column].null_count() / mock.height
    generated = sample[column].null_count() / sample.height
    assert generated == pytest.approx(real, abs=0.012), column
    assert generated == pytest.approx(emp.MISSING_RATES[column], abs=0.006), column


def test_id_and_name_never_missing(sample: pl.DataFrame) -> None:
    assert sample["id"].null_count() == sample["name"].null_count() == 0


@pytest.mark.parametrize(
    ("column", "pattern"),
    [
        ("name", r"^Name_(\d+)$"),
        ("age", r"^(\d+)\.0$"),
        ("bonus", r"^(\d+)\.0$"),
    ],
)
def test_numeric_ranges_match_the_mock(
    mock: pl.DataFrame, sample: pl.DataFrame, column: str, pattern: str
) -> None:
    real, generated = _numbers(mock, column, pattern), _numbers(sample, column, pattern)
    assert (generated.min(), generated.max()) == (real.min(), real.max()), column


def test_categories_match_the_mock(mock: pl.DataFrame, sample: pl.DataFrame) -> None:
    for column in ("salary", "department"):
        assert set(sample[column].drop_nulls()) == set(mock[column].drop_nulls()), column
    assert set(sample["salary"].drop_nulls()) == {"50000", "60000", "70000"}
    assert set(sample["department"].drop_nulls()) == {"HR", "IT", "Finance", "Marketing"}
    # Equally likely, as in the mock: every category within 2 points of an even share.
    for column, share in (("salary", 1 / 3), ("department", 1 / 4)):
        counts = sample[column].drop_nulls().value_counts()["count"]
        assert (counts / counts.sum() - share).abs().max() < 0.02, column


def test_hire_dates_span_the_mock_range(mock: pl.DataFrame, sample: pl.DataFrame) -> None:
    real = mock["hire_date"].drop_nulls()
    generated = sample["hire_date"].drop_nulls()
    assert (
        (generated.min(), generated.max())
        == (real.min(), real.max())
        == (
            "2015-07-30",
            "2025-07-27",
        )
    )
    assert generated.str.to_date().is_not_null().all()


def test_every_profile_is_json_with_the_mock_keys(mock: pl.DataFrame, sample: pl.DataFrame) -> None:
    for frame in (mock.head(2_000), sample.head(2_000)):
        profiles = [json.loads(text) for text in frame["profile"].drop_nulls()]
        assert profiles
        assert all(list(p) == PROFILE_KEYS for p in profiles)
        assert all(isinstance(p[k], str) for p in profiles for k in PROFILE_KEYS)
    # Every profile in the whole sample, parsed by Polars this time.
    decoded = (
        sample["profile"]
        .drop_nulls()
        .str.json_decode(pl.Struct({k: pl.String for k in PROFILE_KEYS}))
    )
    assert decoded.null_count() == 0
    assert decoded.struct.field("phone").str.contains(r"^[1-9]\d{9}$").all()


@pytest.mark.parametrize(
    ("field", "pattern"),
    [
        ("street", r'"address": "Street (\d+), City \d+"'),
        ("city", r'"address": "Street \d+, City (\d+)"'),
        ("email", r'"email": "email_(\d+)@example\.com"'),
    ],
)
def test_profile_ranges_match_the_mock(
    mock: pl.DataFrame, sample: pl.DataFrame, field: str, pattern: str
) -> None:
    real, generated = _numbers(mock, "profile", pattern), _numbers(sample, "profile", pattern)
    assert generated.null_count() == 0
    assert (generated.min(), generated.max()) == (real.min(), real.max()), field


# -- formats and failure ------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".ndjson"])
def test_other_formats_hold_the_same_rows(tmp_path: Path, suffix: str) -> None:
    path = write_employees(tmp_path / "deep" / "er" / f"e{suffix}", 1_500, seed=8).path
    expected = employees_frame(1_500, seed=8)
    if suffix == ".parquet":
        got = pl.read_parquet(path)
    else:
        got = pl.read_ndjson(path, schema=expected.schema)
    assert got.equals(expected)


def test_unknown_extension_is_refused_before_writing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"\.xlsx") as info:
        write_employees(tmp_path / "e.xlsx", 10)
    assert ".csv, .parquet, .jsonl or .ndjson" in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": -1}, "rows must be >= 0"),
        ({"rows": 2.5}, "rows must be a whole number"),
        ({"rows": True}, "rows must be a whole number"),
        ({"rows": 5, "seed": -3}, "seed must be >= 0"),
    ],
)
def test_bad_arguments_raise_input_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(InputError, match=message):
        write_employees(tmp_path / "e.csv", **kwargs)
    with pytest.raises(InputError, match=message):
        employees_frame(**kwargs)
    assert not (tmp_path / "e.csv").exists()


def test_bad_start_id() -> None:
    with pytest.raises(InputError, match="start_id must be >= 1"):
        employees_frame(5, start_id=0)


def test_a_failure_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "e.csv"
    target.parent.mkdir()
    target.write_text("previous contents\n")

    def boom(done: int) -> None:
        raise RuntimeError(f"interrupted after {done} rows")

    with pytest.raises(RuntimeError, match="after 1000 rows"):
        write_employees(target, 5_000, chunk_rows=1_000, on_chunk=boom)
    assert target.read_text() == "previous contents\n"  # the old file is untouched
    assert [p.name for p in target.parent.iterdir()] == ["e.csv"]  # no temp file left


def test_unwritable_folder_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PreplineError, match="Cannot create") as info:
        write_employees(blocker / "e.csv", 10)
    assert info.value.hint


# -- CLI ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cli():
    """``(app, prefix)``: the root app, so the test also proves `prepline sample` is registered.

    Importing any ``prepline.cli`` module runs the root app, which imports every command
    module; while a sibling command module is still unwritten, skip and name it.
    """
    import prepline

    cli_dir = Path(prepline.__file__).parent / "cli"
    absent = [m for m in SIBLING_COMMANDS if not (cli_dir / f"{m}.py").exists()]
    if absent:
        pytest.skip(f"the CLI cannot be imported yet: {', '.join(absent)} not written")
    from prepline.cli.app import app

    return app, ["sample", "employees"]


def test_cli_writes_the_file_and_a_summary(cli, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    app, prefix = cli
    target = tmp_path / "nested" / "e.csv"
    result = CliRunner().invoke(
        app, [*prefix, "--rows", "500", "--seed", "4", "--output", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert target.read_bytes() == employees_frame(500, seed=4).write_csv().encode()
    assert "Wrote 500 rows" in result.stderr
    assert f"{target.stat().st_size:,} bytes" in result.stderr
    assert str(target) in result.stderr
    assert result.stdout == ""


def test_cli_defaults_to_20000_rows_and_seed_0(cli, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    app, prefix = cli
    target = tmp_path / "e.parquet"
    result = CliRunner().invoke(app, [*prefix, "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert pl.read_parquet(target).equals(employees_frame(20_000, seed=0))


def test_cli_needs_an_output_and_refuses_negative_rows(cli, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    app, prefix = cli
    missing = CliRunner().invoke(app, prefix)
    assert missing.exit_code == 2
    assert "--output" in missing.output
    negative = CliRunner().invoke(app, [*prefix, "--rows", "-1", "-o", str(tmp_path / "e.csv")])
    assert negative.exit_code == 2
    assert not (tmp_path / "e.csv").exists()


def test_cli_streams_more_than_a_million_rows_with_progress(cli, tmp_path: Path) -> None:
    """Over 1M rows: several chunks, the progress path, still every row once and in order."""
    from typer.testing import CliRunner

    app, prefix = cli
    rows = 1_000_003
    target = tmp_path / "big.parquet"
    result = CliRunner().invoke(app, [*prefix, "-n", str(rows), "--seed", "1", "-o", str(target)])
    assert result.exit_code == 0, result.output
    ids = pl.scan_parquet(target).select(
        pl.len(),
        pl.col("id").min().alias("first"),
        pl.col("id").max().alias("last"),
        pl.col("id").n_unique().alias("distinct"),
    )
    assert ids.collect().row(0) == (rows, 1, rows, rows)
    tail = pl.scan_parquet(target).tail(3).collect()
    assert tail.equals(employees_frame(3, seed=1, start_id=rows - 2))
