"""The I/O floor: read the CSV and write it back unchanged, with Polars' streaming engine.

Every column is read as text (no type parsing, no JSON) and written to one CSV: the cost of
moving the bytes through a CSV reader and writer once, which no tool doing real work beats.

Usage: ``python benchmarks/io_floor.py INPUT.csv OUTDIR``
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: io_floor.py INPUT.csv OUTDIR\n")
        return 2
    target = Path(argv[1])
    target.mkdir(parents=True, exist_ok=True)
    pl.scan_csv(argv[0], infer_schema=False).sink_csv(target / "copy.csv", engine="streaming")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
