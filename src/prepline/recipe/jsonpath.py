"""The JSON paths an extract step accepts: object members only, e.g. ``$.a.b`` or ``$['a b'].c``.

Array indexes and wildcards are refused at validation: a path that can match
several values has no single column value.
"""

from __future__ import annotations

import re

_MEMBER = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*)|\[\s*(?:'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\")\s*\]")


def parse_json_path(path: str) -> tuple[str, ...]:
    """``"$.a['b c'].d"`` -> ``("a", "b c", "d")``; ValueError says what is unsupported."""
    if not path.startswith("$"):
        raise ValueError(f"JSON path {path!r} must start with '$' (for example '$.address')")
    keys: list[str] = []
    pos = 1
    while pos < len(path):
        match = _MEMBER.match(path, pos)
        if match is None:
            rest = path[pos:]
            raise ValueError(
                f"JSON path {path!r}: cannot read {rest!r}; only object members are supported "
                "('$.a.b' or \"$['a b']\"), not array indexes or wildcards"
            )
        key = match.group(1) or match.group(2) or match.group(3) or ""
        keys.append(key.replace("\\'", "'").replace('\\"', '"'))
        pos = match.end()
    if not keys:
        raise ValueError(f"JSON path {path!r} selects the whole document; name a field, e.g. '$.address'")
    return tuple(keys)
