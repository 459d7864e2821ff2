"""The bad-input corpus: every case is an input (and a recipe) with ONE documented outcome.

Outcomes:

* ``processed``: exit 0; what prepline did about the oddity is checked (and, where there is
  something to count, the count in ``_manifest.json`` or ``profile.json``).
* ``rejected``: exit 0; the offending rows are in ``rejected.csv`` with their reasons, the rest
  is in the output.
* ``refused``: exit 2; one message that names the file, the line and the column (or the recipe's
  file, line and step) and a fix; no traceback; no output folder.

Inputs are generated here, not stored: the big ones (a 10 MB cell, 10,000 columns, a 1 MB JSON
value, JSON nested 10,000 deep) are written to a temporary folder by the tests, and the small
ones hold bytes (Latin-1, a BOM, CRLF) that editors and git settings like to "fix".
``python -m tests.robustness.corpus OUT_DIR`` writes every case's files for a look.
The README's table "Bad inputs and what prepline does" lists these cases; keep the two in step.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Outcome = Literal["processed", "rejected", "refused"]

COLUMNS = "{id: int64, name: string, age: float64}"


def recipe(steps: str = "  - output: out\n", *, columns: str = COLUMNS, fmt: str = "csv", extra: str = "",
           report: bool = False) -> str:
    """A small recipe; the report is off unless a case is about it (it is slow and not the point)."""
    text = f"name: corpus\ninput:\n  format: {fmt}\n  columns: {columns}\n{extra}steps:\n{steps}"
    return text + ("" if report else "report: {enabled: false}\n")


AGE_RULES = """  - check:
      - {rule: between, column: age, min: 0, max: 120, severity: reject}
      - {rule: not_null, column: age, severity: reject}
  - output: out
"""
PROFILE_JSON = """  - extract_json:
      column: profile
      fields: {address: $.address, phone: $.phone}
      on_invalid: reject
  - output: out
"""
PROFILE_COLUMNS = "{id: int64, profile: string}"


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def profiles(cell: str) -> bytes:
    """A CSV whose first row's profile is ``cell`` (a JSON text) and second row's a good object."""
    good = json.dumps({"address": "2 Side St", "phone": "0123"})
    return f"id,profile\n1,{csv_cell(cell)}\n2,{csv_cell(good)}\n".encode()


def parquet(columns: dict[str, list[object]]) -> bytes:
    import polars as pl

    buffer = io.BytesIO()
    pl.DataFrame(columns).write_parquet(buffer)
    return buffer.getvalue()


def big_cell() -> bytes:
    return b"id,name,age\n1," + b"x" * (10 << 20) + b",30\n2,Bob,40\n"


WIDE = 10_000


def wide_rows() -> bytes:
    header = "id,name,age," + ",".join(f"c{i}" for i in range(WIDE))
    rows = [f"{r},n{r},{20 + r}," + ",".join(str(i * r) for i in range(WIDE)) for r in (1, 2, 3)]
    return ("\n".join([header, *rows]) + "\n").encode()


def megabyte_json() -> bytes:
    return profiles(json.dumps({"address": "a" * (1 << 20), "phone": "0123"}))


def deep_json() -> bytes:
    depth = 10_000
    return profiles('{"address": "x", "n": ' + "[" * depth + "]" * depth + "}")


@dataclass(frozen=True)
class Case:
    id: str
    title: str  # what the input is, for the README
    outcome: Outcome
    result: str  # what prepline does, for the README
    data: bytes | Callable[[], bytes] | dict[str, bytes]  # a dict: a folder of files
    recipe: str = field(default_factory=recipe)
    name: str = "input.csv"
    # refused: texts the message must hold ({input} and {recipe} are replaced by the paths)
    message: tuple[str, ...] = ()
    # rejected: (the _row, a text its _reason holds) for every rejected row, and the rows kept
    reasons: tuple[tuple[int, str], ...] = ()
    kept: int | None = None
    big: bool = False  # generated in the test's temporary folder only (large)

    def bytes(self) -> bytes | dict[str, bytes]:
        return self.data() if callable(self.data) else self.data


CASES: list[Case] = [
    # --- the file as a whole ----------------------------------------------------------------------
    Case("empty-file", "a 0-byte file", "refused", "says it is empty and which header it needs",
         b"", message=("input {input} is empty (0 bytes)", "id, name, age")),
    Case("blank-lines-only", "only blank lines", "refused", "says there is no header line",
         b"\n\n\r\n", message=("input {input} has no header line", "id, name, age")),
    Case("header-only", "a header and no rows", "processed",
         "outputs with the header and no rows; rows_in 0; a `row_count` warn rule reports it",
         b"id,name,age\n", recipe=recipe("  - check: [{rule: row_count, min: 1, severity: warn}]\n  - output: out\n")),
    Case("no-header", "no header line (the first row is data)", "refused",
         "names the columns found on line 1; the fix says `has_header: false`",
         b"1,Ann,30\n2,Bob,40\n",
         message=("input {input} lacks required column(s) 'id', 'name', 'age'", "its columns are: 1, Ann, 30",
                  "has_header: false")),
    Case("duplicate-header", "duplicate header names", "refused", "names the duplicated column",
         b"id,name,age,name\n1,Ann,30,Anna\n", message=("input {input} has duplicate column names in its header: name",)),
    Case("wrong-delimiter", "`;`-separated data read as `,`", "refused",
         "the fix names the delimiter the header uses", b"id;name;age\n1;Ann;30\n",
         message=("input {input} lacks required column(s)", "its columns are: id;name;age",
                  "set input.csv.delimiter: ';'")),
    # --- quoting and fields -----------------------------------------------------------------------
    Case("unclosed-quote", "a quote that never closes", "refused",
         "names the line and column where the quote opens",
         b'id,name,age\n1,Ann,30\n2,"Bob,40\n3,Cy,50\n',
         message=("input {input} is not valid CSV: line 3, column 3:", "never closed")),
    Case("text-after-quote", "text after a closing quote (`\"Ann\"x`)", "refused",
         "names the line and column", b'id,name,age\n1,"Ann"x,30\n',
         message=("input {input} is not valid CSV: line 2, column 8:", "write a quote as two quotes")),
    Case("ragged-long", "a row with more fields than the header", "refused",
         "names the line, the column where the extra field starts, and the counts",
         b"id,name,age\n1,Ann,30\n2,Bob,40,extra\n",
         message=("input {input} is not valid CSV: line 3, column 10: the row has 4 fields, the header has 3",)),
    Case("ragged-short", "a row with fewer fields than the header", "rejected",
         "the missing fields are missing values (as in pandas and Spark); a `not_null` rule rejects the row",
         b"id,name,age\n1,Ann,30\n2,Bob\n", recipe=recipe(AGE_RULES),
         reasons=((2, "rule not_null(age) failed"),), kept=1),
    Case("blank-lines", "blank lines between and after rows", "processed",
         "blank lines are skipped, as pandas and Spark skip them (rows_in counts the 2 rows)",
         b"id,name,age\n1,Ann,30\n\n2,Bob,40\n\n\n"),
    # --- bytes and line ends ----------------------------------------------------------------------
    Case("bom", "a UTF-8 byte order mark", "processed", "the BOM is dropped; the first column is `id`",
         b"\xef\xbb\xbfid,name,age\n1,Ann,30\n"),
    Case("latin-1", "Latin-1 text (`Café`)", "refused",
         "names the line, column and byte; the fix: iconv or `encoding: utf8-lossy`",
         "id,name,age\n1,Café,30\n".encode("latin-1"),
         message=("input {input} is not valid UTF-8 text: line 2, column 6: byte 0xe9", "utf8-lossy")),
    Case("invalid-utf8", "bytes that are not UTF-8 at all", "refused", "names the line, column and byte",
         b"id,name,age\n1,Ann,30\n2,B\xff\xfeb,40\n",
         message=("input {input} is not valid UTF-8 text: line 3, column 4: byte 0xff",)),
    Case("crlf", "Windows line ends (CRLF)", "processed", "read like LF; outputs use LF and hold no `\\r`",
         b"id,name,age\r\n1,Ann,30\r\n2,Bob,40\r\n"),
    # --- sizes ------------------------------------------------------------------------------------
    Case("cell-10mb", "a 10 MB cell", "processed", "written through unchanged (10,485,760 characters)",
         big_cell, big=True),
    Case("wide-rows", f"{WIDE:,} columns", "processed",
         "every column is kept; `profile.json` profiles the first 500 and says how many there are (`columns_total`)",
         wide_rows, recipe=recipe(report=True), big=True),
    # --- numbers ----------------------------------------------------------------------------------
    Case("thousands-separators", 'numbers with thousands separators (`"1,000"`)', "refused",
         "names the row, the column and the value; the fix: `on_bad_value` null or reject",
         b'id,name,age\n1,Ann,"1,000"\n',
         message=("input {input} has values that do not match", "row 1, column 'age': 1,000 is not a valid float64",
                  "on_bad_value")),
    Case("nan-inf", "`NaN`, `inf`, `-inf` as ages", "rejected",
         "read as the float values; a `between` rule rejects them with the value", b"id,name,age\n1,Ann,NaN\n2,Bob,inf\n3,Cy,-inf\n4,Di,40\n",
         recipe=recipe(AGE_RULES),
         reasons=((1, "between(age) in [0, 120] failed (value: NaN)"), (2, "(value: inf)"), (3, "(value: -inf)")), kept=1),
    Case("negative-age", "a negative age", "rejected", "a `between` rule rejects the row with the value",
         b"id,name,age\n1,Ann,-5\n2,Bob,40\n", recipe=recipe(AGE_RULES),
         reasons=((1, "between(age) in [0, 120] failed (value: -5.0)"),), kept=1),
    Case("age-as-words", "ages written as words, `on_bad_value: reject`", "rejected",
         "rejected with the column, the text and the type", b"id,name,age\n1,Ann,thirty\n2,Bob,40\n",
         recipe=recipe(extra="  on_bad_value: reject\n"),
         reasons=((1, "column 'age': thirty is not a valid float64"),), kept=1),
    Case("age-as-words-null", "ages written as words, `on_bad_value: null`", "processed",
         "read as missing and counted in the manifest's counters", b"id,name,age\n1,Ann,thirty\n2,Bob,40\n",
         recipe=recipe(extra="  on_bad_value: null\n")),
    # --- spreadsheet formulas ---------------------------------------------------------------------
    Case("formula-injection", "cells starting with `=`, `+`, `-`, `@`", "processed",
         "CSV outputs prefix `'` to those text cells (plain numbers such as `-3` stay) and count them",
         b'id,name,age\n1,"=HYPERLINK(""http://x"")",30\n2,+1+2,40\n3,-3,50\n4,@SUM(A1),60\n5,Eve,70\n'),
    # --- JSON in a column (extract_json, on_invalid: reject) --------------------------------------
    Case("json-array", "a JSON array where an object is expected", "rejected", "rejected: not a JSON object",
         profiles("[1, 2]"), recipe=recipe(PROFILE_JSON, columns=PROFILE_COLUMNS),
         reasons=((1, "column 'profile': not a JSON object"),), kept=1),
    Case("json-number", "a JSON number", "rejected", "rejected: not a JSON object",
         profiles("42"), recipe=recipe(PROFILE_JSON, columns=PROFILE_COLUMNS),
         reasons=((1, "column 'profile': not a JSON object"),), kept=1),
    Case("json-null", "JSON `null`", "processed", "its fields are missing values, like an empty cell",
         profiles("null"), recipe=recipe(PROFILE_JSON, columns=PROFILE_COLUMNS)),
    Case("json-deep", "JSON nested 10,000 levels deep", "rejected",
         "rejected (deeper than the JSON decoder's limit, as Python's json module refuses it too)",
         deep_json, recipe=recipe(PROFILE_JSON, columns=PROFILE_COLUMNS),
         reasons=((1, "column 'profile': not a JSON object"),), kept=1, big=True),
    Case("json-1mb", "a 1 MB JSON value", "processed", "decoded; the 1 MB field is extracted whole",
         megabyte_json, recipe=recipe(PROFILE_JSON, columns=PROFILE_COLUMNS), big=True),
    Case("json-duplicate-keys", "JSON with a duplicated key", "processed",
         "the last value is used, as Python's json.loads and Spark do",
         profiles('{"address": "first", "address": "second", "phone": "0123"}'),
         recipe=recipe(PROFILE_JSON, columns=PROFILE_COLUMNS)),
    Case("json-truncated", "truncated JSON", "rejected", "rejected: not a JSON object",
         profiles('{"address": "1 Main St", "pho'), recipe=recipe(PROFILE_JSON, columns=PROFILE_COLUMNS),
         reasons=((1, "column 'profile': not a JSON object"),), kept=1),
    # --- JSON Lines inputs ------------------------------------------------------------------------
    Case("jsonl-array-line", "a JSON Lines line that is an array", "refused", "names the line and column",
         b'{"id": 1, "name": "Ann", "age": 30}\n[1, 2]\n', name="input.jsonl", recipe=recipe(fmt="jsonl"),
         message=("input {input} is not valid JSON Lines: line 2, column 1: an array where a JSON object was expected",)),
    Case("jsonl-scalar-line", "a JSON Lines line that is `null` or a number", "refused",
         "names the line and column", b'{"id": 1, "name": "Ann", "age": 30}\nnull\n42\n',
         name="input.jsonl", recipe=recipe(fmt="jsonl"),
         message=("input {input} is not valid JSON Lines: line 2, column 1: null where a JSON object was expected",)),
    Case("jsonl-truncated", "a JSON Lines file cut in the middle of a line", "refused",
         "names the line and column; says the file looks truncated",
         b'{"id": 1, "name": "Ann", "age": 30}\n{"id": 2, "na', name="input.jsonl", recipe=recipe(fmt="jsonl"),
         message=("input {input} is not valid JSON Lines: line 2, column 11:", "the file looks truncated")),
    Case("jsonl-whole-array", "a JSON array of objects instead of JSON Lines", "refused",
         "names line 1: an array, not an object", b'[{"id": 1, "name": "Ann", "age": 30}]', name="input.jsonl",
         recipe=recipe(fmt="jsonl"),
         message=("input {input} is not valid JSON Lines: line 1, column 1: an array",)),
    Case("jsonl-mixed-types", "a JSON Lines key holding a number, then text", "refused",
         "names the row, column and value (every value is read as its text, then converted)",
         b'{"id": 1, "name": "Ann", "age": 30}\n{"id": 2, "name": "Bob", "age": "thirty"}\n', name="input.jsonl",
         recipe=recipe(fmt="jsonl"), message=("row 2, column 'age': thirty is not a valid float64",)),
    Case("jsonl-object-in-text-column", "a JSON object where text is declared", "processed",
         "kept as its JSON text, as written in the file (as Spark reads it), ready for `extract_json`",
         b'{"id": 1, "name": {"first": "Ann"}, "age": 30}\n', name="input.jsonl", recipe=recipe(fmt="jsonl")),
    # --- Parquet ----------------------------------------------------------------------------------
    Case("parquet-renamed-column", "Parquet with a column renamed", "refused",
         "names the missing column and the closest one",
         lambda: parquet({"id": [1], "nom": ["Ann"], "age": [30.0]}), name="input.parquet", recipe=recipe(fmt="parquet"),
         message=("input {input} lacks required column(s) 'name' (did you mean 'nom'?)",)),
    Case("parquet-float-for-int", "Parquet with 1.5 where int64 is declared", "refused",
         "names the row, column and value (never truncated to 1); integral floats are accepted",
         lambda: parquet({"id": [2.0, 1.5], "name": ["Ann", "Bob"], "age": [30.0, 40.0]}), name="input.parquet",
         recipe=recipe(fmt="parquet"), message=("row 2, column 'id': 1.5 is not a valid int64",)),
    Case("parquet-nested-for-number", "Parquet with a struct where float64 is declared", "refused",
         "names the column and both types",
         lambda: parquet({"id": [1], "name": ["Ann"], "age": [{"years": 30}]}), name="input.parquet",
         recipe=recipe(fmt="parquet"), message=("input {input}: column 'age' holds Struct", "declares float64")),
    Case("parquet-mixed-schemas", "a folder of Parquet files with different schemas", "refused",
         "names the odd file and how it differs",
         lambda: {"a.parquet": parquet({"id": [1], "name": ["Ann"], "age": [30.0]}),
                  "b.parquet": parquet({"id": [2], "name": ["Bob"], "age": [40.0], "extra": [1]})},
         name="input", recipe=recipe(fmt="parquet"),
         message=("the files do not share one schema: {input}/b.parquet has columns id, name, age, extra",)),
    Case("not-parquet", "a CSV file named .parquet", "refused", "says it cannot be read as Parquet; the fix: input.format or the extension",
         b"id,name,age\n1,Ann,30\n", name="input.parquet", recipe=recipe(fmt="parquet"),
         message=("cannot read input {input} as parquet", "set input.format")),
    Case("csv-mixed-headers", "a folder of CSV files with different headers", "refused",
         "names the odd file and both headers",
         {"a.csv": b"id,name,age\n1,Ann,30\n", "b.csv": b"id,age,name\n2,40,Bob\n"}, name="input",
         message=("the files do not share one schema: {input}/b.csv has columns id, age, name",)),
    # --- recipes ----------------------------------------------------------------------------------
    Case("recipe-typo-step", "a recipe with a typo'd step (`fil`)", "refused",
         "names the recipe's line and step; did you mean 'fill'", b"id,name,age\n1,Ann,30\n",
         recipe=recipe("  - fil: {age: median}\n  - output: out\n"),
         message=("{recipe}:6: step 1: unknown step kind 'fil'; did you mean 'fill'?",)),
    Case("recipe-wrong-type", "a recipe with a value of the wrong type", "refused",
         "names the line, step and key", b"id,name,age\n1,Ann,30\n",
         recipe=recipe("  - bin: {column: age, into: g, edges: 5, labels: [a]}\n  - output: out\n"),
         message=("{recipe}:6: step 1 (bin, edges): Input should be a valid list (got 5)",)),
    Case("recipe-cycle-self", "a recipe deriving a column from itself", "refused",
         "names the line and step: the column does not exist yet", b"id,name,age\n1,Ann,30\n",
         recipe=recipe("  - derive: {x: x + 1}\n  - output: out\n"),
         message=("{recipe}:6: step 1 (derive): derives 'x' from column 'x', which does not exist at this point",)),
    Case("recipe-cycle-later", "a recipe using a column defined later", "refused",
         "names the line and step", b"id,name,age\n1,Ann,30\n",
         recipe=recipe("  - derive: {a: b + 1}\n  - derive: {b: age * 2}\n  - output: out\n"),
         message=("{recipe}:6: step 1 (derive): derives 'a' from column 'b', which does not exist at this point",)),
    Case("recipe-missing-output", "a recipe that writes nothing", "refused", "names the recipe's line: add an `output` step",
         b"id,name,age\n1,Ann,30\n", recipe=recipe("  - derive: {a: age + 1}\n"),
         message=("{recipe}:1: recipe: the recipe writes nothing: add an `output`",)),
    Case("recipe-not-yaml", "a recipe that is not valid YAML (a tab)", "refused",
         "names the line and column", b"id,name,age\n1,Ann,30\n",
         recipe="name: corpus\ninput:\n\tformat: csv\n", message=("{recipe}:3: not valid YAML", "column 1")),
]


def write(case: Case, folder: Path) -> tuple[Path, Path]:
    """Write a case's input and recipe into ``folder``; returns (input path, recipe path)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = case.bytes()
    source = folder / case.name
    if isinstance(data, dict):
        source.mkdir()
        for name, content in data.items():
            (source / name).write_bytes(content)
    else:
        source.write_bytes(data)
    recipe_path = folder / "recipe.yaml"
    recipe_path.write_text(case.recipe, encoding="utf-8")
    return source, recipe_path


if __name__ == "__main__":  # pragma: no cover - a look at the files
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    for case in CASES:
        write(case, target / case.id)
    print(f"{len(CASES)} cases written to {target}/")
