"""A :class:`~prepline.review.diff.RecipeDiff` as text (terminals), JSON (machines) or Markdown
(``$GITHUB_STEP_SUMMARY`` and pull-request comments).

JSON is complete and its keys are always present. Text and Markdown show at most
:data:`LIST_LIMIT` items of any list, then "and N more". Markdown escapes the characters that
would break a table or inject markup (``|``, backticks, ``<``, ``*`` ...) in every value taken
from a recipe or the data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from prepline.review.diff import OutputDiff, RecipeDiff, RowChanges

__all__ = ["FORMATS", "LIST_LIMIT", "render", "render_json", "render_markdown", "render_text"]

FORMATS = ("text", "json", "markdown")
LIST_LIMIT = 20
ARROW = "→"
NONE = "—"


def render(diff: RecipeDiff, format: str) -> str:
    renderers: dict[str, Callable[[RecipeDiff], str]] = {
        "text": render_text,
        "json": render_json,
        "markdown": render_markdown,
    }
    return renderers[format](diff)


def render_json(diff: RecipeDiff) -> str:
    return json.dumps(diff.as_dict(), indent=2, ensure_ascii=False, default=str) + "\n"


# --- shared wording --------------------------------------------------------------------------


def headline(diff: RecipeDiff) -> str:
    changed = diff.changed_outputs
    if not diff.has_differences:
        return "no differences"
    parts = [f"{_plural(len(changed), 'output')} changed"]
    statuses = [o.status for o in changed]
    detail = [f"{statuses.count(s)} {s}" for s in ("added", "removed") if s in statuses]
    if detail:
        parts[0] += f" ({', '.join(detail)})"
    moved = len(diff.fills) + len(diff.counters)
    if moved:
        parts.append(f"{_plural(moved, 'fill or counter', 'fills or counters')} moved")
    return ", ".join(parts)


def fmt(value: Any) -> str:
    """A value for people: floats keep up to 10 significant digits and always show a decimal point."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = f"{value:.10g}"
        return text if any(ch in text for ch in ".e") else text + ".0"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"


def _rows_summary(rows: RowChanges) -> str:
    if rows.method == "key":
        text = (
            f"aligned on {rows.key}: {rows.changed} changed, {rows.only_in_base} only in base, "
            f"{rows.only_in_head} only in head"
        )
    else:
        text = f"compared as multisets: {rows.only_in_base} only in base, {rows.only_in_head} only in head"
    if rows.reordered:
        text += "; same rows in another order"
    return text


def _fill_text(side: dict[str, Any] | None) -> str:
    if side is None:
        return NONE
    return f"{side['strategy']} {fmt(side['value'])} ({side['filled']} filled)"


def _counter_text(side: dict[str, Any] | None) -> str:
    return NONE if side is None else str(side["count"])


def _capped(items: Sequence[Any], limit: int = LIST_LIMIT) -> tuple[Sequence[Any], int]:
    return items[:limit], max(0, len(items) - limit)


# --- text ------------------------------------------------------------------------------------


def render_text(diff: RecipeDiff) -> str:
    lines = [
        f"prepline diff: base {diff.base.recipe} {ARROW} head {diff.head.recipe} "
        f"on {diff.input} ({diff.engine}, {diff.head.rows_in} input rows)",
        headline(diff),
    ]
    for output in diff.outputs:
        lines.append("")
        lines += _text_output(output)
    if diff.fills:
        lines += ["", "fills:"]
        shown, more = _capped(diff.fills)
        lines += [f"  {f.column}: {_fill_text(f.base)} {ARROW} {_fill_text(f.head)}" for f in shown]
        lines += [f"  and {more} more"] if more else []
    if diff.counters:
        lines += ["", "counters:"]
        shown, more = _capped(diff.counters)
        lines += [
            f"  {c.kind}: {c.what}: {_counter_text(c.base)} {ARROW} {_counter_text(c.head)}"
            for c in shown
        ]
        lines += [f"  and {more} more"] if more else []
    return "\n".join(lines) + "\n"


def _text_output(o: OutputDiff) -> list[str]:
    if o.status == "unchanged":
        return [f"{o.name}: unchanged, {_plural(o.rows_head or 0, 'row')}"]
    lines = [f"{o.name}: {o.status}", f"  rows: {fmt(o.rows_base)} {ARROW} {fmt(o.rows_head)}"]
    if o.status in ("added", "removed"):
        columns = o.added or o.removed
        shown, more = _capped(columns)
        lines.append(
            f"  columns: {', '.join(f'{c.name} ({c.type})' for c in shown)}"
            + (f", and {more} more" if more else "")
        )
        return lines
    items = (
        [f"+ column {c.name} ({c.type})" for c in o.added]
        + [f"- column {c.name} ({c.type})" for c in o.removed]
        + [f"~ column {c.name}: {c.base} {ARROW} {c.head}" for c in o.retyped]
    )
    shown, more = _capped(items)
    lines += [f"  {item}" for item in shown] + (
        [f"  and {more} more column changes"] if more else []
    )
    if o.order_changed:
        lines.append("  column order changed")
    if o.rows is not None and (o.rows.any or o.status == "changed"):
        lines.append(f"  rows {_rows_summary(o.rows)}")
        if o.rows.cells_changed:
            cells, more = _capped(list(o.rows.cells_changed.items()))
            lines.append(
                "  cells changed: "
                + ", ".join(f"{c} {n}" for c, n in cells)
                + (f", and {more} more" if more else "")
            )
    if o.statistics:
        lines.append("  statistics:")
        shown, more = _capped(o.statistics)
        lines += [
            f"    {s.column} {s.statistic}: {fmt(s.base)} {ARROW} {fmt(s.head)}" for s in shown
        ]
        lines += [f"    and {more} more"] if more else []
    if o.value_counts:
        lines.append("  value counts:")
        shown, more = _capped(o.value_counts)
        lines += [f"    {v.column} = {v.value}: {v.base} {ARROW} {v.head}" for v in shown]
        lines += [f"    and {more} more"] if more else []
    return lines


# --- Markdown --------------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "[": "\\[",
        "]": "\\]",
        "<": "&lt;",
        ">": "&gt;",
        "\n": " ",
        "\r": " ",
    }
)


def md(value: Any) -> str:
    """A value safe inside Markdown text and table cells."""
    return (value if isinstance(value, str) else fmt(value)).translate(_MD_SPECIAL)


def _table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], limit: int = LIST_LIMIT
) -> list[str]:
    """A Markdown table of already escaped cells, capped at ``limit`` rows."""
    shown, more = _capped(rows, limit)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in shown]
    if more:
        lines.append("| " + " | ".join([f"and {more} more"] + [""] * (len(header) - 1)) + " |")
    return lines


def _details(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def render_markdown(diff: RecipeDiff) -> str:
    lines = [
        f"## prepline diff: {headline(diff)}",
        "",
        f"Base {md(diff.base.recipe)} {ARROW} head {md(diff.head.recipe)}, both run on {md(diff.input)} "
        f"({md(diff.engine)}, {diff.head.rows_in} input rows).",
        "",
    ]
    overview = [
        [
            md(o.name),
            o.status,
            f"{fmt(o.rows_base)} {ARROW} {fmt(o.rows_head)}",
            _md_columns(o),
            _md_rows(o),
        ]
        for o in diff.outputs
    ]
    lines += [
        *_table(["output", "status", "rows", "columns", "rows changed"], overview, limit=100),
        "",
    ]
    for output in diff.changed_outputs:
        lines += _md_output(output)
    if diff.fills or diff.counters:
        lines += ["### Fills and counters", ""]
        rows = [
            [md(f"fill {f.column}"), md(_fill_text(f.base)), md(_fill_text(f.head))]
            for f in diff.fills
        ]
        rows += [
            [md(f"{c.kind}: {c.what}"), _counter_text(c.base), _counter_text(c.head)]
            for c in diff.counters
        ]
        lines += [*_table(["what", "base", "head"], rows), ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _md_columns(o: OutputDiff) -> str:
    if o.status in ("added", "removed"):
        return _plural(len(o.added or o.removed), "column")
    parts = [
        f"{n} {what}"
        for n, what in (
            (len(o.added), "added"),
            (len(o.removed), "removed"),
            (len(o.retyped), "retyped"),
        )
        if n
    ]
    if o.order_changed:
        parts.append("reordered")
    return ", ".join(parts) or NONE


def _md_rows(o: OutputDiff) -> str:
    r = o.rows
    if r is None or not r.any:
        return NONE
    parts = []
    if r.changed:
        parts.append(f"{r.changed} changed")
    if r.only_in_base:
        parts.append(f"{r.only_in_base} only in base")
    if r.only_in_head:
        parts.append(f"{r.only_in_head} only in head")
    if r.reordered:
        parts.append("reordered")
    return ", ".join(parts)


def _md_output(o: OutputDiff) -> list[str]:
    lines = [f"### {md(o.name)}: {o.status}", ""]
    if o.status in ("added", "removed"):
        cols = o.added or o.removed
        lines += [f"{fmt(o.rows_head if o.status == 'added' else o.rows_base)} rows.", ""]
        lines += [*_table(["column", "type"], [[md(c.name), md(c.type)] for c in cols]), ""]
        return lines
    lines += [
        f"Rows: {fmt(o.rows_base)} {ARROW} {fmt(o.rows_head)}"
        + (f"; {md(_rows_summary(o.rows))}." if o.rows else "."),
        "",
    ]
    columns = (
        [[md(c.name), "added", NONE, md(c.type)] for c in o.added]
        + [[md(c.name), "removed", md(c.type), NONE] for c in o.removed]
        + [[md(c.name), "retyped", md(c.base), md(c.head)] for c in o.retyped]
        + [
            [md(c), f"{_plural(n, 'cell')} changed", "", ""]
            for c, n in (o.rows.cells_changed.items() if o.rows else [])
        ]
    )
    if columns:
        lines += [*_table(["column", "change", "base", "head"], columns), ""]
    if o.order_changed:
        lines += ["The columns come in another order.", ""]
    if o.statistics:
        rows = [[md(s.column), s.statistic, md(fmt(s.base)), md(fmt(s.head))] for s in o.statistics]
        lines += _details(
            f"{_plural(len(o.statistics), 'statistic')} moved",
            _table(["column", "statistic", "base", "head"], rows),
        )
    if o.value_counts:
        rows = [[md(v.column), md(v.value), str(v.base), str(v.head)] for v in o.value_counts]
        lines += _details(
            f"{_plural(len(o.value_counts), 'value count')} moved",
            _table(["column", "value", "base", "head"], rows),
        )
    return lines
