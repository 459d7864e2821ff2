"""Drift between two profiles: per column, the test Evidently uses by default, with SciPy.

The choice of test and the thresholds follow Evidently's defaults (``evidently`` legacy
``calculations/stattests/registry.py::_get_default_stattest`` and the ``default_threshold``
of each test), with *n* = the baseline's values present in the column and *values* = the
distinct values of both sides together:

================  ==========================  ========================  ===========================
column            n <= 1000                   n > 1000                  drifted when
================  ==========================  ========================  ===========================
numeric, > 5      Kolmogorov-Smirnov          Wasserstein distance      KS p-value < 0.05;
values            (``scipy.stats.ks_2samp``)  divided by the baseline   normed Wasserstein >= 0.1
                                              std (``wasserstein``)
numeric, <= 5     chi-square (3-5 values),    Jensen-Shannon distance   p < 0.05; JS >= 0.1
values            Z-test (1-2 values)         (``jensenshannon``)
categorical       chi-square, or Z-test       Jensen-Shannon distance   p < 0.05; JS >= 0.1
(text, boolean)   for <= 2 values
================  ==========================  ========================  ===========================

- chi-square: ``scipy.stats.chisquare`` of the current counts against the baseline counts
  scaled to the current size (a value the baseline never had gives p = 0);
- Z-test: two-proportion z-test, two-sided, p from ``scipy.stats.norm``;
- Jensen-Shannon: ``scipy.spatial.distance.jensenshannon`` of the two value shares (natural
  logarithm, so it lies in [0, 0.83]);
- Wasserstein: ``scipy.stats.wasserstein_distance`` of the two samples over the baseline's
  standard deviation (population, ``ddof=0``; at least 0.001);
- PSI (``method="psi"``, or alongside every test with ``psi=True``): population stability
  index over Sturges bins of both samples together (numeric, > 20 baseline values) or over the
  values, empty bins replaced by a tiny share as Evidently does; drifted when >= 0.1 (0.1-0.2 is
  commonly read as a moderate shift, >= 0.2 as a significant one).

Datetimes are tested as numbers (seconds since 1970). The data set drifts when at least
``share`` (Evidently's ``drift_share``, 0.5) of the tested columns drift. A column in one profile
only, or of another kind (numbers became text), is reported; a kind change counts as drift.
Text columns with more distinct values than a profile keeps frequencies for (identifiers,
free text) are not tested: only their missing share is compared.

Numeric tests run on the profiles' samples: every value of a column with at most
``sample_size`` (1000) of them, else a quantile sketch of that many order statistics (see
:mod:`prepline.quality.profile`), so the Wasserstein distance of two profiles is close to the
one of the full columns, and KS p-values for larger columns are those of 1000-value samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from prepline.errors import PreplineError, QualityError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "ColumnDrift",
    "DriftResult",
    "check_drift",
    "drift",
]

DEFAULT_THRESHOLDS: dict[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "jensenshannon": 0.1,
    "psi": 0.1,
}
# drifted when the p-value < threshold; for the distances, when >= threshold
P_VALUES = frozenset({"ks", "chisquare", "z"})
METHODS = ("auto", *DEFAULT_THRESHOLDS)
SMALL = 1000  # Evidently: reference sizes up to this use the tests, larger ones the distances
FEW_VALUES = 5  # Evidently: numeric columns with at most this many values are tested as categories
PSI_BINNED = 20  # Evidently's get_binned_data: numeric columns with more values are binned
DRIFT_VERSION = 1


@dataclass
class ColumnDrift:
    """One column's comparison; ``statistic`` is a p-value for ks/chisquare/z, else a distance."""

    column: str
    type: str  # numeric | datetime | categorical | other, or "a -> b" for a changed kind
    status: str  # tested | not tested | only in baseline | only in current | kind changed
    method: str | None = None
    statistic: float | None = None
    threshold: float | None = None
    drifted: bool = False
    missing_baseline: float | None = None
    missing_current: float | None = None
    count_baseline: int | None = None
    count_current: int | None = None
    psi: float | None = None
    note: str | None = None

    @property
    def is_p_value(self) -> bool:
        return self.method in P_VALUES

    def describe(self) -> str:
        """``ks p=0.0012 < 0.05`` / ``wasserstein 0.31 >= 0.1``: the test, its value and the bar."""
        if self.method is None or self.statistic is None:
            return self.note or self.status
        hit = _is_drift(self.method, self.statistic, self.threshold or 0.0)
        op = ("<" if hit else ">=") if self.is_p_value else (">=" if hit else "<")
        name = f"{self.method} p" if self.is_p_value else self.method
        return f"{name}={_fmt(self.statistic)} {op} {_fmt(self.threshold)}"


@dataclass
class DriftResult:
    baseline: str
    current: str
    share: float
    columns: list[ColumnDrift] = field(default_factory=list)

    @property
    def tested(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.status in ("tested", "kind changed")]

    @property
    def drifted(self) -> list[ColumnDrift]:
        return [c for c in self.columns if c.drifted]

    @property
    def drift_share(self) -> float:
        return len(self.drifted) / len(self.tested) if self.tested else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.tested) and self.drift_share >= self.share

    def headline(self) -> str:
        verdict = "drift" if self.dataset_drift else "no drift"
        return (
            f"{verdict}: {len(self.drifted)} of {len(self.tested)} tested columns drifted "
            f"({self.drift_share:.0%}; the data set drifts at {self.share:.0%})"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "drift_version": DRIFT_VERSION,
            "baseline": self.baseline,
            "current": self.current,
            "dataset_drift": self.dataset_drift,
            "share": self.share,
            "drift_share": round(self.drift_share, 6),
            "drifted_columns": len(self.drifted),
            "tested_columns": len(self.tested),
            "columns": [{k: _clean(v) for k, v in asdict(c).items()} for c in self.columns],
        }


# --- the comparison -------------------------------------------------------------------------


def drift(
    baseline: Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    method: str = "auto",
    threshold: float | Mapping[str, float] | None = None,
    share: float = 0.5,
    psi: bool = False,
    missing_threshold: float | None = None,
    columns: list[str] | None = None,
) -> DriftResult:
    """Compare two profiles (:func:`prepline.quality.profile_frame`) column by column.

    ``method``: ``auto`` (Evidently's choice, see the module docstring) or one test for every
    column it applies to (``ks``, ``wasserstein``, ``chisquare``, ``z``, ``jensenshannon``,
    ``psi``); other columns keep the automatic choice. ``threshold``: one number for every
    test, or ``{method: number}`` for some. ``psi``: also report each column's PSI.
    ``missing_threshold``: a column also drifts when its missing share changes by more.
    ``columns``: compare only these.
    """
    _require_scipy()
    if method not in METHODS:
        raise PreplineError(
            f"unknown drift method {method!r}", hint=f"use one of: {', '.join(METHODS)}"
        )
    if not 0 < share <= 1:
        raise PreplineError(f"drift share {share} is not in (0, 1]", hint="e.g. --share 0.5")
    thresholds = _thresholds(threshold)
    base_cols = baseline.get("columns", {})
    cur_cols = current.get("columns", {})
    names = list(base_cols) + [c for c in cur_cols if c not in base_cols]
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise PreplineError(
                f"no column(s) {', '.join(unknown)} in either profile",
                hint=f"the columns are: {', '.join(names)}",
            )
        names = [c for c in names if c in columns]
    result = DriftResult(
        baseline=str(baseline.get("name", "baseline")),
        current=str(current.get("name", "current")),
        share=share,
    )
    for name in names:
        result.columns.append(
            _compare(
                name,
                base_cols.get(name),
                cur_cols.get(name),
                method,
                thresholds,
                psi,
                missing_threshold,
            )
        )
    return result


def _require_scipy() -> None:
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise PreplineError(
            "drift tests need SciPy, which is not installed",
            hint='install the report extra: pip install "prepline[report]"',
        ) from None


def check_drift(
    baseline: str | Path | Mapping[str, Any],
    current: Mapping[str, Any],
    *,
    on_drift: str = "fail",
    part: str | None = None,
    **options: Any,
) -> DriftResult:
    """Compare ``current`` with a baseline (a profile, a profile file, a run folder or data).

    With ``on_drift="fail"`` a data-set drift raises :class:`QualityError` (exit code 1)
    naming the drifted columns; with ``"warn"`` the caller reports the returned result.
    """
    from prepline.quality.profile import load_profile

    if on_drift not in ("fail", "warn"):
        raise PreplineError(f"unknown on_drift {on_drift!r}", hint="use fail or warn")
    base = load_profile(baseline if isinstance(baseline, str | Path) else dict(baseline), part)
    result = drift(base, current, **options)
    if on_drift == "fail" and result.dataset_drift:
        details = "; ".join(f"{c.column} ({c.describe()})" for c in result.drifted[:10])
        raise QualityError(
            f"the data drifted from the baseline {baseline if isinstance(baseline, str | Path) else result.baseline}: "
            f"{result.headline()}: {details}",
            hint="look at the drift table in report.html; if the change is expected, make this run's "
            "profile the new baseline, or set the drift action to warn",
        )
    return result


def _thresholds(threshold: float | Mapping[str, float] | None) -> dict[str, float]:
    values = dict(DEFAULT_THRESHOLDS)
    if threshold is None:
        return values
    if isinstance(threshold, Mapping):
        unknown = [m for m in threshold if m not in DEFAULT_THRESHOLDS]
        if unknown:
            raise PreplineError(
                f"unknown drift method(s) in thresholds: {', '.join(unknown)}",
                hint=f"use: {', '.join(DEFAULT_THRESHOLDS)}",
            )
        values.update({m: float(v) for m, v in threshold.items()})
        return values
    return dict.fromkeys(values, float(threshold))


def _type(col: Mapping[str, Any]) -> str:
    kind = col.get("kind", "other")
    return "categorical" if kind in ("text", "boolean") else kind


def _compare(
    name: str,
    base: Mapping[str, Any] | None,
    cur: Mapping[str, Any] | None,
    method: str,
    thresholds: dict[str, float],
    psi: bool,
    missing_threshold: float | None,
) -> ColumnDrift:
    if base is None or cur is None:
        only = base if cur is None else cur
        return ColumnDrift(
            name,
            _type(only or {}),
            "only in baseline" if cur is None else "only in current",
            missing_baseline=None if base is None else base.get("missing_share"),
            missing_current=None if cur is None else cur.get("missing_share"),
            note="the column is "
            + ("missing from the current data" if cur is None else "new in the current data"),
        )
    out = ColumnDrift(
        name,
        _type(base),
        "not tested",
        missing_baseline=base.get("missing_share"),
        missing_current=cur.get("missing_share"),
        count_baseline=base.get("count"),
        count_current=cur.get("count"),
    )
    if _type(base) != _type(cur):
        out.type = f"{_type(base)} -> {_type(cur)}"
        out.status, out.drifted = "kind changed", True
        out.note = f"{base.get('dtype')} became {cur.get('dtype')}"
        return out
    if out.type == "other":
        out.note = f"{base.get('dtype')} values are not compared"
    elif not base.get("count") or not cur.get("count"):
        out.note = "no values in the " + ("baseline" if not base.get("count") else "current data")
    else:
        chosen, why = _choose(base, cur, method)
        if chosen is None:
            out.note = why
        else:
            out.method, out.threshold, out.status = chosen, thresholds[chosen], "tested"
            out.statistic = _run(chosen, base, cur)
            out.drifted = _is_drift(chosen, out.statistic, out.threshold)
            if why:
                out.note = why
        if psi and out.type != "other":
            out.psi = _psi(base, cur)
    if (
        missing_threshold is not None
        and out.missing_baseline is not None
        and out.missing_current is not None
    ):
        change = out.missing_current - out.missing_baseline
        if abs(change) > missing_threshold:
            out.drifted = True
            out.status = "tested"
            out.note = ((out.note + "; ") if out.note else "") + (
                f"missing share {out.missing_baseline:.1%} -> {out.missing_current:.1%}"
            )
    return out


def _is_drift(method: str, statistic: float | None, threshold: float) -> bool:
    if statistic is None or math.isnan(statistic):
        return False
    return statistic < threshold if method in P_VALUES else statistic >= threshold


def _choose(
    base: Mapping[str, Any], cur: Mapping[str, Any], method: str
) -> tuple[str | None, str | None]:
    """The test for this column, and a note when it is not the one asked for."""
    numeric = _type(base) in ("numeric", "datetime")
    values = _n_values(base, cur)
    freqs = base.get("frequencies") is not None and cur.get("frequencies") is not None
    n = _n(base)
    if numeric:
        if values > FEW_VALUES:
            auto = "ks" if n <= SMALL else "wasserstein"
        else:
            auto = ("chisquare" if values > 2 else "z") if n <= SMALL else "jensenshannon"
    elif not freqs:
        distinct = max(int(base.get("distinct") or 0), int(cur.get("distinct") or 0))
        return None, f"not tested: {distinct:,} distinct values, too many to compare as categories"
    else:
        auto = ("chisquare" if values > 2 else "z") if n <= SMALL else "jensenshannon"
    if method == "auto" or method == auto:
        return auto, None
    applicable = {
        "ks": numeric and bool(base.get("sample")) and bool(cur.get("sample")),
        "wasserstein": numeric and bool(base.get("sample")) and bool(cur.get("sample")),
        "chisquare": freqs,
        "z": freqs,
        "jensenshannon": freqs or numeric,
        "psi": freqs or numeric,
    }
    if applicable.get(method):
        return method, None
    return auto, f"{method} does not apply to this column; used {auto}"


def _n(col: Mapping[str, Any]) -> int:
    """Evidently's n: the values present (finite ones, for numbers)."""
    return int(col.get("count") or 0) - int(col.get("infinite") or 0)


def _n_values(base: Mapping[str, Any], cur: Mapping[str, Any]) -> int:
    b, c = base.get("frequencies"), cur.get("frequencies")
    if b is not None and c is not None:
        return len({_key(v["value"]) for v in b} | {_key(v["value"]) for v in c})
    return max(int(base.get("distinct") or 0), int(cur.get("distinct") or 0), FEW_VALUES + 1)


def _key(value: Any) -> Any:
    # 1 and 1.0 are one value (an int column that became float), text stays text
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _counts(base: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[list[float], list[float]]:
    """The two sides' value counts over the values of both, in one order."""
    b = {_key(v["value"]): v["count"] for v in base["frequencies"]}
    c = {_key(v["value"]): v["count"] for v in cur["frequencies"]}
    keys = sorted(set(b) | set(c), key=lambda k: (str(type(k)), str(k)))
    return [float(b.get(k, 0)) for k in keys], [float(c.get(k, 0)) for k in keys]


def _run(method: str, base: Mapping[str, Any], cur: Mapping[str, Any]) -> float | None:
    import numpy as np
    from scipy import stats
    from scipy.spatial import distance

    if method == "ks":
        return float(stats.ks_2samp(base["sample"], cur["sample"]).pvalue)
    if method == "wasserstein":
        ref = np.asarray(base["sample"], dtype=float)
        std = _population_std(base, ref)
        return float(
            stats.wasserstein_distance(ref, np.asarray(cur["sample"], dtype=float))
            / max(std, 0.001)
        )
    if method == "psi":
        return _psi(base, cur)
    if method == "jensenshannon":
        ref, now = _binned(base, cur)
        return float(distance.jensenshannon(ref, now))
    ref_counts, cur_counts = _counts(base, cur)
    if method == "chisquare":
        observed = np.asarray(cur_counts)
        expected = np.asarray(ref_counts) * (observed.sum() / sum(ref_counts))
        if np.any((expected == 0) & (observed > 0)):
            return 0.0  # a value the baseline never had
        if len(observed) < 2:
            return 1.0
        return float(stats.chisquare(observed, expected).pvalue)
    return _z_test(ref_counts, cur_counts)


def _population_std(col: Mapping[str, Any], sample: Any) -> float:
    """The baseline's std with ddof=0 (as numpy's, which Evidently uses), from all its values."""
    import numpy as np

    std, n = col.get("std"), _n(col)
    if std is not None and n > 1:
        return float(std) * math.sqrt((n - 1) / n)
    return float(np.std(sample)) if len(sample) else 0.0


def _z_test(ref_counts: list[float], cur_counts: list[float]) -> float:
    """Two-proportion z-test on "first value" vs the rest (Evidently's z_stat_test)."""
    from scipy.stats import norm

    n1, n2 = sum(ref_counts), sum(cur_counts)
    if len(ref_counts) < 2:
        return 1.0  # one value on both sides
    p1, p2 = 1 - ref_counts[0] / n1, 1 - cur_counts[0] / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    return float(2 * norm.sf(abs((p1 - p2) / spread)))


def _binned(base: Mapping[str, Any], cur: Mapping[str, Any]) -> tuple[Any, Any]:
    """Shares per bin (Evidently's get_binned_data, without filling empty bins)."""
    import numpy as np

    numeric = _type(base) in ("numeric", "datetime")
    few = base.get("frequencies") is not None and cur.get("frequencies") is not None
    if numeric and not (few and int(base.get("distinct") or 0) <= PSI_BINNED):
        ref = np.asarray(base["sample"], dtype=float)
        now = np.asarray(cur["sample"], dtype=float)
        edges = np.histogram_bin_edges(np.concatenate([ref, now]), bins="sturges")
        return np.histogram(ref, edges)[0] / len(ref), np.histogram(now, edges)[0] / len(now)
    ref_counts, cur_counts = _counts(base, cur)
    ref_arr, cur_arr = np.asarray(ref_counts), np.asarray(cur_counts)
    return ref_arr / ref_arr.sum(), cur_arr / cur_arr.sum()


def _psi(base: Mapping[str, Any], cur: Mapping[str, Any]) -> float | None:
    import numpy as np

    numeric = _type(base) in ("numeric", "datetime")
    if numeric and not (base.get("sample") and cur.get("sample")):
        return None
    if not numeric and (base.get("frequencies") is None or cur.get("frequencies") is None):
        return None
    ref, now = (np.array(a, dtype=float) for a in _binned(base, cur))
    for shares in (ref, now):  # Evidently's feel_zeroes: empty bins get a tiny share
        nonzero = shares[shares != 0]
        if len(nonzero):
            smallest = nonzero.min()
            shares[shares == 0] = smallest / 10**6 if smallest <= 0.0001 else 0.0001
    return float(np.sum((ref - now) * np.log(ref / now)))


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.1e}"
    return f"{value:.3g}"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
