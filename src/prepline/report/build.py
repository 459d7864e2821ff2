"""Assemble a run's report: read what the run folder holds, draw the charts, render the page.

The page is one self-contained HTML file (styles inline, charts as inline SVG, no scripts or
fonts from elsewhere), so a copy downloaded from S3 opens offline.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prepline import __version__
from prepline.errors import InputError, PreplineError

__all__ = ["REJECTED", "REPORT_FILE", "build_report", "write_report"]

REPORT_FILE = "report.html"
REJECTED = "rejected"  # the output holding rejected rows
REJECTED_SAMPLE_ROWS = 20
MAX_CHARTED_COLUMNS = 60  # per output: wider outputs list the rest without charts
DASH = "\u2013"  # en dash: a value that is not there
TIMES = "\u00d7"
INSTALL_HINT = 'install the report extra: pip install "prepline[report]"'


def build_report(
    run_dir: Path,
    *,
    manifest: dict[str, Any] | None = None,
    input_profile: dict[str, Any] | None = None,
    output_profiles: dict[str, dict[str, Any]] | None = None,
    drift: Any = None,
    rules: list[dict[str, Any]] | None = None,
    rejected_sample: Any = None,
) -> str:
    """The report page for the run in ``run_dir``, as HTML text.

    Anything not given is read from the folder: ``_manifest.json`` (with its optional
    ``rules`` and ``drift`` sections), ``profile.json`` (``{"input": ..., "outputs": ...}``;
    without it the output files are profiled now) and the first rows of ``rejected.csv`` or
    ``rejected.parquet``. ``drift`` may be a :class:`prepline.quality.DriftResult` or its dict.
    """
    run_dir = Path(run_dir)
    jinja2 = _require("jinja2")
    _require("matplotlib")
    from prepline.report import charts

    charts.restart_ids()
    if manifest is None:
        manifest = _read_manifest(run_dir)
    if input_profile is None or output_profiles is None:
        stored_input, stored_outputs = _read_profiles(run_dir, manifest)
        input_profile = stored_input if input_profile is None else input_profile
        output_profiles = stored_outputs if output_profiles is None else output_profiles
    if drift is None:
        drift = manifest.get("drift")
    if drift is not None and hasattr(drift, "as_dict"):
        drift = drift.as_dict()
    if rules is None:
        rules = manifest.get("rules")
    if rejected_sample is None:
        rejected_sample = _read_rejected(run_dir, manifest)
    context = _context(
        manifest, input_profile, output_profiles or {}, drift, rules, rejected_sample
    )
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("prepline.report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["num"] = fmt_number
    env.filters["pct"] = fmt_percent
    env.filters["bytes"] = fmt_bytes
    return env.get_template("report.html.j2").render(**context)


def write_report(run_dir: Path, **parts: Any) -> Path:
    """Write ``run_dir/report.html`` (see :func:`build_report` for ``parts``) and return its path."""
    run_dir = Path(run_dir)
    html = build_report(run_dir, **parts)
    path = run_dir / REPORT_FILE
    path.write_text(html, encoding="utf-8")
    return path


# --- reading the run folder -----------------------------------------------------------------


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise PreplineError(
            f"the HTML report needs {module}, which is not installed", hint=INSTALL_HINT
        ) from None


def _read_manifest(run_dir: Path) -> dict[str, Any]:
    from prepline.storage import MANIFEST

    path = run_dir / MANIFEST
    if not path.is_file():
        raise InputError(
            f"{run_dir} holds no {MANIFEST}, so it is not a finished prepline run",
            hint="give the output folder of `prepline run` (download an S3 run with "
            "`aws s3 cp --recursive s3://BUCKET/PREFIX/ DIR/`)",
        )
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def _read_profiles(
    run_dir: Path, manifest: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    from prepline.quality.profile import PROFILE_FILE, profile_file

    path = run_dir / PROFILE_FILE
    if path.is_file():
        try:
            bundle = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(
                f"cannot read {path}: {exc}", hint="delete it to profile the outputs again"
            ) from None
        return bundle.get("input"), dict(bundle.get("outputs") or {})
    outputs = {}
    for name, info in manifest.get("outputs", {}).items():
        file = run_dir / info.get("path", "")
        if name != REJECTED and file.is_file():
            outputs[name] = profile_file(file, name=name)
    return None, outputs


def _read_rejected(run_dir: Path, manifest: dict[str, Any]) -> list[dict[str, Any]] | None:
    import polars as pl

    info = manifest.get("outputs", {}).get(REJECTED, {})
    candidates = [run_dir / info["path"]] if info.get("path") else []
    candidates += [run_dir / "rejected.csv", run_dir / "rejected.parquet"]
    for path in candidates:
        if path.is_file():
            try:
                if path.suffix == ".parquet":
                    frame = pl.scan_parquet(path).head(REJECTED_SAMPLE_ROWS).collect()
                else:
                    frame = pl.read_csv(path, n_rows=REJECTED_SAMPLE_ROWS, infer_schema=False)
            except pl.exceptions.PolarsError:
                return None
            return frame.to_dicts()
    return None


# --- the template's context -----------------------------------------------------------------


def _context(
    manifest: dict[str, Any],
    input_profile: dict[str, Any] | None,
    output_profiles: dict[str, dict[str, Any]],
    drift: dict[str, Any] | None,
    rules: list[dict[str, Any]] | None,
    rejected_sample: Any,
) -> dict[str, Any]:
    rows_in = manifest.get("rows_in")
    outputs = manifest.get("outputs", {})
    rejected_rows = (outputs.get(REJECTED) or {}).get("rows")
    data_outputs = {n: o for n, o in outputs.items() if n != REJECTED}
    failed_rules = [r for r in rules or [] if not r.get("passed")]
    errors = [r for r in failed_rules if r.get("severity", "error") == "error"]
    dataset_drift = bool(drift and drift.get("dataset_drift"))
    if errors:
        status, status_text = "fail", f"{len(errors)} rule{'s' if len(errors) != 1 else ''} failed"
    elif failed_rules or dataset_drift or rejected_rows:
        bits = []
        if failed_rules:
            bits.append(f"{len(failed_rules)} warning{'s' if len(failed_rules) != 1 else ''}")
        if dataset_drift:
            bits.append("data drifted")
        if rejected_rows:
            bits.append(f"{fmt_number(rejected_rows)} rows rejected")
        status, status_text = "warn", ", ".join(bits)
    else:
        status, status_text = "pass", "all checks passed"

    kpis = [
        {"label": "Rows in", "value": fmt_number(rows_in), "sub": _input_size(manifest)},
        {
            "label": "Outputs",
            "value": str(len(data_outputs)),
            "sub": fmt_bytes(sum(o.get("bytes") or 0 for o in data_outputs.values())),
        },
        {
            "label": "Rejected rows",
            "value": fmt_number(rejected_rows or 0),
            "sub": fmt_percent((rejected_rows or 0) / rows_in) + " of input" if rows_in else "",
            "tone": "warn" if rejected_rows else "pass",
        },
        {
            "label": "Values filled",
            "value": fmt_number(sum(f.get("filled") or 0 for f in manifest.get("fills", []))),
            "sub": f"{len(manifest.get('fills', []))} fill rules",
        },
    ]
    if rules is not None:
        kpis.append(
            {
                "label": "Rules",
                "value": f"{len(rules) - len(failed_rules)}/{len(rules)}",
                "sub": "passed",
                "tone": "fail" if errors else "warn" if failed_rules else "pass",
            }
        )
    if drift is not None:
        kpis.append(
            {
                "label": "Drift",
                "value": f"{drift.get('drifted_columns', 0)}/{drift.get('tested_columns', 0)}",
                "sub": "columns drifted",
                "tone": "warn" if dataset_drift else "pass",
            }
        )
    kpis.append(
        {
            "label": "Duration",
            "value": f"{(manifest.get('timings_s') or {}).get('wall', 0):.2f} s",
            "sub": f"{manifest.get('engine', {}).get('name', '?')} {manifest.get('engine', {}).get('version', '')}",
        }
    )

    output_rows = []
    for name, info in outputs.items():
        rows = info.get("rows")
        output_rows.append(
            {
                "name": name,
                "path": info.get("path"),
                "rows": rows,
                "share": rows / rows_in if rows is not None and rows_in else None,
                "columns": len(info.get("columns", [])),
                "bytes": info.get("bytes"),
                "sha256": (info.get("sha256") or "")[:12],
                "rejected": name == REJECTED,
            }
        )

    return {
        "title": manifest.get("recipe", {}).get("name", "prepline run"),
        "manifest": manifest,
        "status": status,
        "status_text": status_text,
        "kpis": kpis,
        "outputs": output_rows,
        "steps": _steps(manifest),
        "notes": manifest.get("notes", []),
        "rules": rules,
        "drift": _drift_context(drift),
        "rejected": _rejected_context(rejected_sample, rejected_rows),
        "sections": _sections(input_profile, output_profiles),
        "has_input_profile": input_profile is not None,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "details": _details(manifest),
    }


def _input_size(manifest: dict[str, Any]) -> str:
    info = manifest.get("input", {})
    files = info.get("files")
    size = fmt_bytes(info.get("bytes"))
    return f"{size} in {files} files" if files and files > 1 else size


def _steps(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    steps = []
    for fill in manifest.get("fills", []):
        value = fill.get("value")
        steps.append(
            {
                "step": fill.get("step", ""),
                "what": f"filled missing {fill.get('column')} with {fill.get('strategy')} "
                f"({fmt_number(value) if isinstance(value, int | float) else value})",
                "count": fill.get("filled"),
            }
        )
    for counter in manifest.get("counters", []):
        steps.append(
            {
                "step": counter.get("step", ""),
                "what": counter.get("what", ""),
                "count": counter.get("count"),
            }
        )
    return steps


def _details(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    recipe = manifest.get("recipe", {})
    source = manifest.get("input", {})
    timings = manifest.get("timings_s", {})
    return [
        ("recipe", f"{recipe.get('source', '')}"),
        ("recipe sha256", recipe.get("sha256", "")),
        ("input", f"{source.get('uri', '')} ({source.get('format', '')})"),
        ("input fingerprint", source.get("quick_sha256", "")),
        (
            "output",
            f"{manifest.get('output', {}).get('uri', '')} ({manifest.get('output', {}).get('format', '')})",
        ),
        (
            "engine",
            f"{manifest.get('engine', {}).get('name', '')} {manifest.get('engine', {}).get('version', '')}",
        ),
        (
            "timings",
            ", ".join(f"{k} {v:.2f} s" for k, v in timings.items() if isinstance(v, int | float)),
        ),
        ("created", manifest.get("created_at", "")),
        ("prepline", manifest.get("prepline_version", "")),
    ]


def _drift_context(drift: dict[str, Any] | None) -> dict[str, Any] | None:
    if drift is None:
        return None
    from prepline.quality.drift import P_VALUES

    rows = []
    for col in drift.get("columns", []):
        method = col.get("method")
        rows.append(
            {
                **col,
                "measure": "p-value" if method in P_VALUES else "distance" if method else "",
                "missing_change": (
                    None
                    if col.get("missing_baseline") is None or col.get("missing_current") is None
                    else col["missing_current"] - col["missing_baseline"]
                ),
            }
        )
    rows.sort(
        key=lambda r: (not r.get("drifted"), r.get("status") != "tested", r.get("column", ""))
    )
    return {**drift, "rows": rows}


def _rejected_context(sample: Any, total: int | None) -> dict[str, Any] | None:
    if sample is None:
        return None
    if hasattr(sample, "to_dicts"):
        sample = sample.to_dicts()
    rows = list(sample)[:REJECTED_SAMPLE_ROWS]
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    first = [c for c in ("_row", "_step", "_reason") if c in columns]
    columns = first + [c for c in columns if c not in first]
    return {
        "columns": columns,
        "rows": [[_cell(row.get(c)) for c in columns] for row in rows],
        "total": total if total is not None else len(rows),
    }


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


# --- per-output column sections -------------------------------------------------------------


def _sections(
    input_profile: dict[str, Any] | None, outputs: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    from prepline.report import charts

    before_cols = (input_profile or {}).get("columns", {})
    sections = []
    for name, profile in outputs.items():
        if name == REJECTED:
            continue
        cols = profile.get("columns", {})
        names = list(cols)
        cards = []
        for index, column in enumerate(names):
            before, after = before_cols.get(column), cols[column]
            chart = (
                charts.distribution_chart(column, before, after)
                if index < MAX_CHARTED_COLUMNS
                else None
            )
            cards.append(
                {
                    "name": column,
                    "dtype": after.get("dtype", ""),
                    "kind": after.get("kind", ""),
                    "tag": _tag(before, after, input_profile is not None),
                    "chart": _markup(chart),
                    "note": None
                    if chart or index >= MAX_CHARTED_COLUMNS
                    else _no_chart_reason(after),
                    "stats": _stat_rows(before, after),
                }
            )
        sections.append(
            {
                "name": name,
                "rows": profile.get("rows"),
                "columns": len(names),
                "missingness": _markup(charts.missingness_chart(names, input_profile, profile))
                if names
                else None,
                "cards": cards,
                "dropped": [c for c in before_cols if c not in cols],
                "uncharted": max(0, len(names) - MAX_CHARTED_COLUMNS),
            }
        )
    return sections


def _markup(svg: str | None) -> Any:
    if svg is None:
        return None
    from markupsafe import Markup

    return Markup(svg)  # matplotlib escapes the text it writes into the SVG


def _tag(before: dict[str, Any] | None, after: dict[str, Any], known: bool) -> str | None:
    if not known:
        return None
    if before is None:
        return "new"
    if before.get("dtype") != after.get("dtype"):
        return "retyped"
    return None


def _no_chart_reason(col: dict[str, Any]) -> str:
    if not col.get("count"):
        return "no values"
    if col.get("kind") == "text":
        return f"{fmt_number(col.get('distinct'))} distinct values: too many to chart"
    return "not charted"


def _stat_rows(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    kind = after.get("kind")
    rows = [
        (
            "missing",
            lambda c: fmt_percent(c.get("missing_share")) + f" ({fmt_number(c.get('missing'))})",
        ),
        ("distinct", lambda c: fmt_number(c.get("distinct"))),
    ]
    if kind == "numeric":
        rows += [
            ("mean", lambda c: fmt_number(c.get("mean"))),
            ("std", lambda c: fmt_number(c.get("std"))),
            ("min", lambda c: fmt_number(c.get("min"))),
            ("median", lambda c: fmt_number((c.get("quantiles") or {}).get("0.5"))),
            ("max", lambda c: fmt_number(c.get("max"))),
        ]
    elif kind == "datetime":
        rows += [
            ("min", lambda c: _date(c.get("min_text"))),
            ("max", lambda c: _date(c.get("max_text"))),
        ]
    elif kind == "text":
        rows += [
            ("length", lambda c: _length(c.get("length") or {})),
            ("top value", lambda c: _top(c.get("top") or [])),
        ]
    elif kind == "boolean":
        rows += [("top value", lambda c: _top(c.get("top") or []))]
    out = []
    for label, get in rows:
        now = get(after)
        was = get(before) if before is not None and before.get("kind") == kind else None
        out.append(
            {"label": label, "before": was, "after": now, "changed": was is not None and was != now}
        )
    return out


def _date(text: str | None) -> str:
    if not text:
        return DASH
    return text[:10] if text.endswith("T00:00:00Z") else text.replace("T", " ").rstrip("Z")


def _length(length: dict[str, Any]) -> str:
    if length.get("mean") is None:
        return DASH
    return f"{length['mean']:.1f} ({length.get('min')}{DASH}{length.get('max')})"


def _top(top: list[dict[str, Any]]) -> str:
    if not top:
        return DASH
    value = top[0]["value"]
    text = (
        "(null)" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    )
    if len(text) > 18:
        text = text[:17] + "…"
    return f"{text} {TIMES}{fmt_number(top[0]['count'])}"


# --- number formats (also the template's filters) ------------------------------------------


def fmt_number(value: Any) -> str:
    """1,234 / 0.1235 / 1.23e+09, or an en dash for nothing."""
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1e6 or abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    return str(value)


def fmt_percent(value: Any) -> str:
    if value is None:
        return DASH
    if value == 0:
        return "0%"
    percent = value * 100
    if abs(percent) < 0.1:
        return "<0.1%" if percent > 0 else ">-0.1%"
    return f"{percent:.1f}%" if abs(percent) < 10 else f"{percent:.0f}%"


def fmt_bytes(value: Any) -> str:
    if value is None:
        return DASH
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(value)
