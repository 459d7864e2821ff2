"""Drift: a shifted distribution drifts, a resample of the same one does not, for every test."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import typer

from prepline.errors import PreplineError, QualityError
from prepline.quality import check_drift, drift, profile_frame, write_profiles


def numbers(n: int, seed: int, shift: float = 0.0) -> dict:
    values = np.random.default_rng(seed).normal(10 + shift, 2, n)
    return profile_frame(pl.DataFrame({"x": values}).lazy(), f"numbers-{seed}")


def categories(n: int, seed: int, shares: tuple[float, ...], values: str = "abc") -> dict:
    picked = np.random.default_rng(seed).choice(list(values), n, p=shares)
    return profile_frame(pl.DataFrame({"c": picked}).lazy(), f"categories-{seed}")


def codes(n: int, seed: int, shares: tuple[float, ...]) -> dict:
    picked = np.random.default_rng(seed).choice(np.arange(len(shares)), n, p=shares)
    return profile_frame(pl.DataFrame({"k": picked}).lazy(), f"codes-{seed}")


def only(result, column: str):
    return next(c for c in result.columns if c.column == column)


@pytest.mark.parametrize(
    ("n", "method", "shift"),
    [
        (500, "ks", 1.0),
        (5000, "wasserstein", 0.5),
    ],  # Evidently: KS up to 1000 rows, Wasserstein above
)
def test_numeric_shift_drifts_and_a_resample_does_not(n: int, method: str, shift: float) -> None:
    base = numbers(n, seed=1)
    same = drift(base, numbers(n, seed=2))
    moved = drift(base, numbers(n, seed=3, shift=shift))
    for result, drifted in ((same, False), (moved, True)):
        col = only(result, "x")
        assert (col.method, col.status, col.drifted) == (method, "tested", drifted), col
        assert result.dataset_drift is drifted
    if method == "ks":
        assert only(same, "x").statistic > 0.05 > only(moved, "x").statistic  # p-values
    else:  # the sketch keeps sampling noise far below the 0.1 threshold
        assert only(same, "x").statistic < 0.06 and only(moved, "x").statistic == pytest.approx(
            0.25, abs=0.05
        )


@pytest.mark.parametrize(
    ("n", "method", "values", "base_shares", "moved_shares"),
    [
        (600, "chisquare", "abc", (0.5, 0.3, 0.2), (0.3, 0.3, 0.4)),
        (600, "z", "ab", (0.7, 0.3), (0.55, 0.45)),
        (6000, "jensenshannon", "abcd", (0.4, 0.3, 0.2, 0.1), (0.25, 0.25, 0.25, 0.25)),
    ],
)
def test_categorical_shift_drifts_and_a_resample_does_not(
    n, method, values, base_shares, moved_shares
) -> None:
    base = categories(n, 1, base_shares, values)
    same = only(drift(base, categories(n, 2, base_shares, values)), "c")
    moved = only(drift(base, categories(n, 3, moved_shares, values)), "c")
    assert (same.method, same.drifted) == (method, False), same
    assert (moved.method, moved.drifted) == (method, True), moved


@pytest.mark.parametrize(("n", "method"), [(800, "chisquare"), (8000, "jensenshannon")])
def test_numbers_with_few_values_are_tested_as_categories(n: int, method: str) -> None:
    base = codes(n, 1, (0.5, 0.3, 0.2))
    assert only(drift(base, codes(n, 2, (0.5, 0.3, 0.2))), "k").drifted is False
    moved = only(drift(base, codes(n, 3, (0.2, 0.3, 0.5))), "k")
    assert (moved.method, moved.drifted) == (method, True)


def test_a_value_the_baseline_never_had_drifts() -> None:
    base = categories(300, 1, (0.5, 0.5), "ab")
    new = categories(300, 2, (0.45, 0.45, 0.1), "abz")
    col = only(drift(base, new), "c")
    assert (col.method, col.statistic, col.drifted) == ("chisquare", 0.0, True)


def test_psi_on_request_and_as_the_deciding_test() -> None:
    base, same, moved = numbers(4000, 1), numbers(4000, 2), numbers(4000, 3, shift=1.0)
    reported = drift(base, moved, psi=True)
    assert only(reported, "x").method == "wasserstein" and only(reported, "x").psi > 0.2
    assert only(drift(base, same), "x").psi is None  # only on request
    assert only(drift(base, same, method="psi"), "x").drifted is False
    by_psi = only(drift(base, moved, method="psi"), "x")
    assert (by_psi.method, by_psi.threshold, by_psi.drifted) == ("psi", 0.1, True)
    cats = only(
        drift(
            categories(3000, 1, (0.5, 0.3, 0.2)), categories(3000, 3, (0.2, 0.3, 0.5)), method="psi"
        ),
        "c",
    )
    assert cats.drifted and cats.statistic > 0.2


def test_thresholds_can_be_set_for_all_tests_or_per_test() -> None:
    base, moved = numbers(5000, 1), numbers(5000, 3, shift=0.5)
    assert only(drift(base, moved, threshold=0.5), "x").drifted is False
    assert only(drift(base, moved, threshold={"wasserstein": 0.5}), "x").threshold == 0.5
    assert only(drift(base, moved, threshold={"ks": 0.01}), "x").drifted is True
    with pytest.raises(PreplineError, match="unknown drift method"):
        drift(base, moved, threshold={"kolmogorov": 0.1})
    with pytest.raises(PreplineError, match="unknown drift method"):
        drift(base, moved, method="magic")


def mixed(seed: int, shift: float) -> dict:
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "a": rng.normal(shift, 1, 3000),
            "b": rng.normal(0, 1, 3000),
            "c": rng.choice(["x", "y"], 3000),
        }
    )
    return profile_frame(frame.lazy(), f"mixed-{seed}")


def test_the_data_set_drifts_when_a_set_share_of_columns_drift() -> None:
    result = drift(mixed(1, 0.0), mixed(2, 1.0))
    assert [c.column for c in result.drifted] == ["a"]
    assert len(result.tested) == 3 and result.drift_share == pytest.approx(1 / 3)
    assert result.dataset_drift is False  # 1/3 < 0.5, Evidently's default share
    assert drift(mixed(1, 0.0), mixed(2, 1.0), share=0.3).dataset_drift is True
    with pytest.raises(PreplineError, match="share"):
        drift(mixed(1, 0.0), mixed(2, 0.0), share=0)


def test_columns_on_one_side_kind_changes_and_untestable_columns_are_reported() -> None:
    rng = np.random.default_rng(0)
    base = profile_frame(
        pl.DataFrame(
            {
                "kept": rng.normal(size=500),
                "gone": rng.normal(size=500),
                "kind": rng.normal(size=500),
                "ids": [f"id-{i}" for i in range(500)],
                "empty": pl.Series([None] * 500, dtype=pl.Float64),
            }
        ).lazy(),
        "base",
    )
    now = profile_frame(
        pl.DataFrame(
            {
                "kept": rng.normal(size=500),
                "new": rng.normal(size=500),
                "kind": [str(v) for v in range(500)],
                "ids": [f"id-{i}" for i in range(500, 1000)],
                "empty": rng.normal(size=500),
            }
        ).lazy(),
        "now",
    )
    result = drift(base, now)
    status = {c.column: (c.status, c.drifted) for c in result.columns}
    assert status == {
        "kept": ("tested", False),
        "gone": ("only in baseline", False),
        "kind": ("kind changed", True),
        "ids": ("not tested", False),
        "empty": ("not tested", False),
        "new": ("only in current", False),
    }
    assert only(result, "kind").type == "numeric -> categorical"
    assert "distinct values" in only(result, "ids").note
    assert only(result, "empty").note == "no values in the baseline"
    assert len(result.tested) == 2  # kept and kind


def test_missing_share_changes_are_reported_and_can_drift() -> None:
    values = np.random.default_rng(1).normal(size=1000)
    holes = values.copy()
    holes[::4] = np.nan
    base = profile_frame(pl.DataFrame({"x": values}).lazy(), "b")
    now = profile_frame(pl.DataFrame({"x": holes}).lazy(), "n")
    col = only(drift(base, now), "x")
    assert (col.missing_baseline, col.missing_current, col.drifted) == (0.0, 0.25, False)
    flagged = only(drift(base, now, missing_threshold=0.1), "x")
    assert flagged.drifted and "missing share 0.0% -> 25.0%" in flagged.note


def test_results_are_json_and_check_drift_fails_or_warns(tmp_path: Path) -> None:
    base, moved = numbers(500, 1), numbers(500, 3, shift=1.0)
    data = drift(base, moved, psi=True).as_dict()
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert data["dataset_drift"] is True and data["columns"][0]["column"] == "x"
    assert set(data["columns"][0]) >= {
        "column",
        "type",
        "method",
        "statistic",
        "threshold",
        "drifted",
    }

    write_profiles(tmp_path, {"profile_version": 1, "input": base, "outputs": {}})
    with pytest.raises(QualityError, match=r"drifted.*x \(ks p=") as err:
        check_drift(tmp_path, moved)
    assert err.value.exit_code == 1
    assert check_drift(tmp_path, moved, on_drift="warn").dataset_drift is True
    assert check_drift(base, numbers(500, 2)).dataset_drift is False


# --- the CLI ---------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):
    """prepline's main() (error boundary, exit codes) over an app with the quality commands."""
    import importlib

    from prepline.cli import quality_cmd

    app_module = importlib.import_module(
        "prepline.cli.app"
    )  # the module: the package exports the app

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("profile")(quality_cmd.profile)
    app.command("drift")(quality_cmd.drift)
    app.command("report")(quality_cmd.report)
    monkeypatch.setattr(app_module, "app", app)
    return app_module.main


def write(path: Path, shift: float, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    pl.DataFrame({"x": rng.normal(shift, 1, 400), "c": rng.choice(["a", "b", "c"], 400)}).write_csv(
        path
    )
    return path


def test_cli_exit_codes_follow_diff(
    cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = write(tmp_path / "base.csv", 0.0, 1)
    same = write(tmp_path / "same.csv", 0.0, 2)
    moved = write(tmp_path / "moved.csv", 1.5, 3)
    assert cli(["profile", str(base), "--output", str(tmp_path / "base.json")]) == 0
    capsys.readouterr()
    assert cli(["drift", str(tmp_path / "base.json"), str(same)]) == 0
    assert "no drift" in capsys.readouterr().out
    assert cli(["drift", str(tmp_path / "base.json"), str(moved), "--share", "0.5", "--psi"]) == 1
    capsys.readouterr()
    assert cli(["drift", str(base), str(moved), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["drifted_columns"] >= 1
    assert cli(["drift", str(base), str(moved), "--threshold", "ks=1e-300", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset_drift"] is False
    assert cli(["drift", str(base), str(tmp_path / "missing.csv")]) == 2
    assert cli(["drift", str(base), str(moved), "--threshold", "ks=lots"]) == 2
    assert cli(["drift", str(base), str(moved), "--method", "magic"]) == 2
    assert cli(["drift", str(base)]) == 2  # usage error


def test_cli_profile_prints_a_table_or_json(
    cli, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write(tmp_path / "data.csv", 0.0, 1)
    assert cli(["profile", str(data)]) == 0
    assert "data: 400 rows" in capsys.readouterr().out
    assert cli(["profile", str(data), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["columns"]["x"]["count"] == 400
    assert cli(["profile", str(tmp_path / "nope.csv")]) == 2
