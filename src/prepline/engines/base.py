"""The engine contract: what every dataframe backend (Polars, Spark) implements.

An engine takes a validated recipe and a readable input, and writes each named
output as one file into a local folder (a partitioned Parquet output: one folder of files). Everything around that — where the input
comes from, publishing outputs atomically, the manifest — is the pipeline's job
(:mod:`prepline.pipeline`), identical for every engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from prepline.recipe.model import OutputFormat, Recipe

REJECTED = "rejected"
ROW = "_row"  # 1-based number of the data row in the input (header excluded)
REJECT_COLUMNS = (ROW, "_step", "_reason")

# CSV formula injection (OWASP): a text cell a spreadsheet would run as a formula starts with one of
# these; it is written with a leading ' unless the whole text is a plain number (-5, +3.5, -1e5),
# which a spreadsheet reads as that number. Both patterns mean the same in Rust's and Java's regex.
FORMULA_START = r"^[=+\-@\t\r]"
PLAIN_NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\z"
FORMULA_PREFIX = "'"


@dataclass(frozen=True)
class InputSource:
    """A readable input: a local path or an ``s3://`` URL, with the options to reach it."""

    uri: str
    format: Literal["csv", "parquet", "jsonl"]
    display: str  # how messages name it
    storage_options: dict[str, Any] | None = None  # Polars' object store: credentials, endpoint, retries
    size_bytes: int | None = None


@dataclass(frozen=True)
class RunRequest:
    recipe: Recipe
    source: InputSource
    output_dir: Path
    output_format: OutputFormat = "csv"


@dataclass
class Counter:
    """Something a step did to values or rows that a person should know about."""

    step: str
    what: str
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {"step": self.step, "what": self.what, "count": self.count}


@dataclass
class EngineResult:
    files: dict[str, Path]  # output name -> written file
    rows_in: int
    rows_out: dict[str, int] = field(default_factory=dict)
    fill_values: list[dict[str, Any]] = field(default_factory=list)
    counters: list[Counter] = field(default_factory=list)
    rules: list[dict[str, Any]] = field(default_factory=list)  # each rule's outcome (see the manifest)
    neutralized: dict[str, int] = field(default_factory=dict)  # CSV output -> formula cells prefixed with '
    schemas: dict[str, dict[str, str]] = field(default_factory=dict)  # output -> column -> type, as written
    # per split step: {"step": label, "strata": [{"value": text or None, "rows": {part: n}}] or None}
    splits: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class Engine(Protocol):
    """What a dataframe backend implements."""

    name: str
    #: step kinds this engine can compile; others are refused before data is read
    capabilities: frozenset[str]
    #: Parquet codecs it writes, and those whose compression_level it can set
    parquet_codecs: frozenset[str]
    parquet_levels: frozenset[str]

    def version(self) -> str:
        """The backend library's version, recorded in the manifest."""
        ...

    def run(self, request: RunRequest) -> EngineResult:
        """Read the input, run the recipe's steps, write every output into ``request.output_dir``."""
        ...
