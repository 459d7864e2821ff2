"""The `prepline` command: thin Typer commands over the library.

Each command module exposes a Typer sub-app or command function; heavy libraries
(Polars, boto3, Spark) are imported inside the commands, so `prepline --help` is fast.
"""

from __future__ import annotations

import sys

from prepline.cli.app import app, main

__all__ = ["app", "main"]

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
