"""Fill ``{{KEY}}`` placeholders of a job template (the upstream template is not JSON until filled)."""

from __future__ import annotations

import json
import re

from prepline.errors import JobRequestError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    bad = [p for p in pairs if "=" not in p or not p.split("=", 1)[0].strip()]
    if bad:
        raise JobRequestError("each --set must be KEY=VALUE", problems=[f"got {p!r}" for p in bad])
    for pair in pairs:
        key, value = pair.split("=", 1)
        values[key.strip()] = value
    return values


def render(template: str, values: dict[str, str], source: str = "<template>") -> str:
    """Replace every placeholder; values are JSON-escaped so quotes or backslashes cannot break the document.

    Every placeholder without a value is reported at once, with its line.
    """
    missing: dict[str, list[int]] = {}
    for match in PLACEHOLDER.finditer(template):
        key = match.group(1)
        if key not in values:
            line = template.count("\n", 0, match.start()) + 1
            missing.setdefault(key, []).append(line)
    if missing:
        problems = [f"{{{{{k}}}}} (line {', '.join(map(str, lines))})" for k, lines in missing.items()]
        raise JobRequestError(
            f"{source}: {len(missing)} placeholder(s) have no value",
            problems=problems,
            hint="pass each with --set KEY=VALUE, e.g. " + " ".join(f"--set {k}=..." for k in missing),
        )
    text = PLACEHOLDER.sub(lambda m: json.dumps(values[m.group(1)])[1:-1], template)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobRequestError(
            f"{source}: the rendered template is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint="check the value given for the placeholder on that line (numbers go unquoted in the template)",
        ) from None
    return text
