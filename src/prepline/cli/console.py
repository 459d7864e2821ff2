"""Where the CLI writes: results to stdout, messages and progress to stderr."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape

stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


def error(message: str) -> None:
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False)


def warn(message: str) -> None:
    stderr.print(f"[yellow]warning:[/] {escape(message)}", highlight=False)


def info(message: str) -> None:
    stderr.print(escape(message), highlight=False)


def print_json(data: Any) -> None:
    """Machine output: plain JSON on stdout, no colour, no wrapping."""
    print(json.dumps(data, indent=2, default=str))
