"""The report's charts: matplotlib figures saved as SVG, to be inlined in the page.

SVG with text kept as text (``svg.fonttype = none``) is small, sharp at any zoom and needs
nothing outside the page. Each chart gets its own hash salt so the ids matplotlib gives to
clip paths and markers never collide between the charts of one page; the unreferenced group
ids, the XML prolog (whose DOCTYPE names an external DTD) and fixed sizes are removed, so the
chart scales with its card.

Figures are built with :class:`matplotlib.figure.Figure`, not pyplot: no global state, no GUI
backend, and a faster import.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["AFTER", "BEFORE", "distribution_chart", "missingness_chart", "to_svg"]

BEFORE = "#94a3b8"  # the input: slate
AFTER = "#4f46e5"  # an output: indigo
INK = "#334155"
GRID = "#e2e8f0"
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
FEW_NUMBERS = 12  # numeric columns with at most this many distinct values are drawn as bars
_counter = 0


def restart_ids() -> None:
    """Number the next page's charts from 1 again: each chart's SVG ids are salted with its number, so
    ids are unique within a page and the same on every page built from the same run."""
    global _counter
    _counter = 0


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_alpha(0)
    return fig


def _style(ax: Any) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(GRID)
    ax.tick_params(colors=INK, labelsize=8, length=0, pad=4)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.patch.set_alpha(0)


def to_svg(fig: Any, label: str) -> str:
    """The figure as an ``<svg>`` element ready to inline (see the module docstring)."""
    import matplotlib

    global _counter
    _counter += 1
    import warnings

    # the SVG keeps text as text (svg.fonttype none), so the browser draws any glyph matplotlib's
    # font lacks, and date axes with one value are fine: those warnings say nothing to a user
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"prepline-{_counter}"}), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        buffer = io.StringIO()
        fig.savefig(
            buffer,
            format="svg",
            bbox_inches="tight",
            pad_inches=0.05,
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r'<g id="[^"]*">', "<g>", svg)
    svg = re.sub(r"font-family:[^;\"]*", f"font-family: {FONT}".replace('"', "'"), svg)
    svg = re.sub(r'\s(width|height)="[\d.]+pt"', "", svg, count=2)
    title = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return svg.replace(
        "<svg ",
        f'<svg role="img" aria-label="{title.replace(chr(34), "&quot;")}" class="chart" ',
        1,
    )


# --- per-column distributions ---------------------------------------------------------------


def distribution_chart(
    name: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *, top: int = 8
) -> str | None:
    """Input vs output distribution of one column, as shares, or None if there is nothing to draw."""
    sides = [s for s in (before, after) if s]
    if not sides:
        return None
    kind = sides[-1].get("kind")
    if len(sides) == 2 and sides[0].get("kind") != kind:
        before = None  # the step changed the column's kind (a number binned into labels): show the output only
        sides = [sides[-1]]
    if kind in ("numeric", "datetime"):
        # a handful of distinct numbers (codes, bins, filled values) read better as bars
        if all(s.get("frequencies") and len(s["frequencies"]) <= FEW_NUMBERS for s in sides):
            return _bar_chart(name, before, after, top=FEW_NUMBERS, by_value=True)
        if any(s.get("histogram") for s in sides):
            return _histogram_chart(name, before, after, datetime=kind == "datetime")
        return None
    if all(
        s.get("frequencies") for s in sides
    ):  # complete value counts: not identifiers or free text
        return _bar_chart(name, before, after, top)
    return None


def _histogram_chart(
    name: str, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None, *, datetime: bool
) -> str:
    fig = _figure(4.6, 2.1)
    ax = fig.add_subplot()
    _style(ax)
    scale = 86400.0 if datetime else 1.0  # matplotlib dates are days since 1970
    drawn = []
    for side, colour, label, filled in (
        (before, BEFORE, "input", True),
        (after, AFTER, "output", False),
    ):
        hist = (side or {}).get("histogram")
        if not hist or not sum(hist["counts"]):
            continue
        total = sum(hist["counts"])
        edges = [e / scale for e in hist["edges"]]
        shares = [c / total for c in hist["counts"]]
        if filled:
            ax.stairs(shares, edges, fill=True, color=colour, alpha=0.45, linewidth=0, label=label)
        else:
            ax.stairs(shares, edges, color=colour, linewidth=1.8, label=label)
        drawn.append(label)
    ax.yaxis.set_major_formatter(_percent())
    ax.margins(x=0.01)
    if datetime:
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator(maxticks=5)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    else:
        ax.xaxis.set_major_formatter(_compact())
        ax.locator_params(axis="x", nbins=6)
    ax.locator_params(axis="y", nbins=4)
    return to_svg(fig, f"distribution of {name}: {' vs '.join(drawn)}")


def _bar_chart(
    name: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    top: int,
    *,
    by_value: bool = False,
) -> str:
    def shares(side: Mapping[str, Any] | None) -> dict[str, float]:
        if not side:
            return {}
        values = side.get("frequencies") or []
        total = side.get("count") or sum(v["count"] for v in values) or 1
        return {_label(v["value"]): v["count"] / total for v in values}

    b, a = shares(before), shares(after)
    if by_value:
        numbers: dict[str, float] = {
            _label(v["value"]): float(v["value"])
            for s in (before, after)
            if s
            for v in s["frequencies"]
            if v["value"] is not None
        }
        order = sorted(set(a) | set(b), key=lambda k: numbers.get(k, math.inf))
    else:
        order = sorted(set(a) | set(b), key=lambda k: (-(a.get(k, 0) + b.get(k, 0)), k))
    shown = order[:top]
    rest_b, rest_a = 1 - sum(b.get(k, 0) for k in shown), 1 - sum(a.get(k, 0) for k in shown)
    if len(order) > top and max(rest_a if a else 0, rest_b if b else 0) > 0.0005:
        shown.append(f"other ({len(order) - top})")
        b[shown[-1]], a[shown[-1]] = max(rest_b, 0), max(rest_a, 0)
    labels = [_short(k) for k in reversed(shown)]
    height = 0.55 + 0.24 * len(shown)
    fig = _figure(4.6, max(1.4, height))
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    y = list(range(len(labels)))
    both = bool(a) and bool(b)
    bar = 0.38 if both else 0.6
    if b:
        ax.barh(
            [i + (bar / 2 if both else 0) for i in y],
            [b.get(k, 0) for k in reversed(shown)],
            height=bar,
            color=BEFORE,
            alpha=0.75,
            label="input",
        )
    if a:
        ax.barh(
            [i - (bar / 2 if both else 0) for i in y],
            [a.get(k, 0) for k in reversed(shown)],
            height=bar,
            color=AFTER,
            label="output",
        )
    ax.set_yticks(y, labels)
    ax.xaxis.set_major_formatter(_percent())
    ax.locator_params(axis="x", nbins=4)
    return to_svg(fig, f"most frequent values of {name}")


# --- missing values -------------------------------------------------------------------------


def missingness_chart(
    columns: Sequence[str], before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> str:
    """Share of missing values per column of an output, next to the input's."""
    b_cols = (before or {}).get("columns", {})
    a_cols = after.get("columns", {})
    names = list(columns)
    fig = _figure(7.2, 0.6 + 0.26 * len(names))
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    y = list(range(len(names)))[::-1]
    has_before = any(n in b_cols for n in names)
    bar = 0.38 if has_before else 0.6
    if has_before:
        ax.barh(
            [i + bar / 2 for i in y],
            [b_cols.get(n, {}).get("missing_share", 0) for n in names],
            height=bar,
            color=BEFORE,
            alpha=0.75,
            label="input",
        )
    ax.barh(
        [i - (bar / 2 if has_before else 0) for i in y],
        [a_cols.get(n, {}).get("missing_share", 0) for n in names],
        height=bar,
        color=AFTER,
        label="output",
    )
    ax.set_yticks(y, [_short(n, 28) for n in names])
    top = max([0.0] + [c.get("missing_share") or 0 for c in (*b_cols.values(), *a_cols.values())])
    ax.set_xlim(0, max(0.05, min(1.0, top * 1.15)))
    ax.xaxis.set_major_formatter(_percent())
    ax.locator_params(axis="x", nbins=5)
    return to_svg(fig, f"missing values per column of {after.get('name', 'the output')}")


# --- formatting -----------------------------------------------------------------------------


def _percent_value(x: float, _pos: Any = None) -> str:
    if x == 0:
        return "0"
    return f"{x * 100:.0f}%" if abs(x) >= 0.1 or x * 100 == round(x * 100) else f"{x * 100:.1f}%"


def _compact_value(x: float, _pos: Any = None) -> str:
    ax = abs(x)
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if ax >= size:
            return f"{x / size:.3g}{suffix}"
    if ax and ax < 0.01:
        return f"{x:.1e}"
    return f"{x:.4g}"


def _percent() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(_percent_value)


def _compact() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(_compact_value)


def _label(value: Any) -> str:
    if value is None:
        return "(null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value) and value == int(value):
        return f"{int(value):,}" if abs(value) >= 10_000 else str(int(value))
    text = str(value)
    return text if text.strip() else repr(text)


def _short(text: str, width: int = 22) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
