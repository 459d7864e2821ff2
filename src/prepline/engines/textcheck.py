"""Where a text input goes wrong: the line and column of a byte that is not UTF-8, of a quote that
never closes, of a row with more or fewer fields than the header, of a JSON Lines line that is not
an object.

Engines read fast and fail in their library's words ("CSV malformed: expected 0 rows, actual 1
rows, in chunk starting at row_offset 0"). The functions here read the file again with the
standard library, after a read failed (Spark: before it reads, since it would replace bad bytes
silently), and say where, so that the message names the file, the line and the column. They
stop at the first few problems and never load a file whole. No dataframe library is imported.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

from prepline.errors import InputError

CHUNK = 1 << 24
SHOWN = 40  # characters of a value quoted in a message


@dataclass(frozen=True)
class Spot:
    """A problem at a place in a file: ``line`` and ``column`` are 1-based (columns in characters)."""

    file: str
    line: int
    column: int
    problem: str

    def __str__(self) -> str:
        return f"{self.file}, line {self.line}, column {self.column}: {self.problem}"


Opener = Callable[[], Any]  # a context manager yielding a binary file object


# --- the errors every engine raises for them ----------------------------------------------------

UTF8_HINT = "convert it (e.g. iconv -f latin1 -t utf-8) or set input.csv.encoding: utf8-lossy"


def utf8_error(spot: Spot) -> InputError:
    return InputError(f"input {spot.file} is not valid UTF-8 text: line {spot.line}, column {spot.column}: "
                      f"{spot.problem}", hint=UTF8_HINT)


def csv_error(spots: list[Spot]) -> InputError:
    first, *more = spots
    also = "".join(f"; line {s.line}, column {s.column}: {s.problem}" for s in more)
    return InputError(
        f"input {first.file} is not valid CSV: line {first.line}, column {first.column}: {first.problem}{also}",
        hint="fix those lines (quote values that hold the delimiter, double quotes inside quoted values), "
        "or check input.csv.delimiter and input.csv.quote in the recipe",
    )


def jsonl_error(spot: Spot) -> InputError:
    return InputError(f"input {spot.file} is not valid JSON Lines: line {spot.line}, column {spot.column}: "
                      f"{spot.problem}", hint="fix that line; each line must be one JSON object")


def opener(uri: str) -> Opener:
    """How to open ``uri`` (a local path or ``s3://bucket/key``) as a binary stream, lazily."""
    if uri.startswith("s3://"):
        return lambda: _s3_stream(uri)
    return lambda: open(uri, "rb")


@contextmanager
def _s3_stream(uri: str) -> Iterator[IO[bytes]]:
    from prepline.storage import parse_uri, s3_client

    loc = parse_uri(uri)
    body = s3_client().get_object(Bucket=loc.bucket, Key=loc.path)["Body"]
    try:
        yield io.BufferedReader(_Raw(body), CHUNK)  # type: ignore[arg-type]
    finally:
        body.close()


class _Raw(io.RawIOBase):
    """A botocore streaming body as a raw stream, so it can be read line by line."""

    def __init__(self, body: Any):
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# --- encoding ---------------------------------------------------------------------------------------


def invalid_utf8(open_: Opener, name: str) -> Spot | None:
    """The first byte that is not UTF-8, or None. ASCII chunks are skipped without decoding."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    with open_() as handle:
        while chunk := handle.read(CHUNK):
            if not (chunk.isascii() and not decoder.getstate()[0]):
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    return _utf8_spot(open_, name, offset + exc.start)
            offset += len(chunk)
        pending = decoder.getstate()[0]
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return _utf8_spot(open_, name, offset - len(pending), truncated=True)
    return None


def _utf8_spot(open_: Opener, name: str, offset: int, truncated: bool = False) -> Spot:
    line, start, text = 1, 0, b""
    with open_() as handle:
        for raw in handle:
            if start + len(raw) > offset:
                text = raw
                break
            start += len(raw)
            line += 1
    before = text[: offset - start]
    column = len(before.decode("utf-8", errors="replace")) + 1
    if truncated or offset - start >= len(text):
        return Spot(name, line, column, "the file ends in the middle of a UTF-8 character")
    byte = text[offset - start]
    return Spot(name, line, column, f"byte 0x{byte:02x} is not UTF-8 (the file may be Latin-1 or Windows-1252)")


# --- CSV --------------------------------------------------------------------------------------------


def csv_problems(open_: Opener, name: str, *, delimiter: str = ",", quote: str = '"', has_header: bool = True,
                 fields: int | None = None, short_rows: bool = True, limit: int = 3) -> list[Spot]:
    """Quotes that never close or are followed by text, and rows with more fields than the header
    (``fields`` when there is no header; else the first row's), or fewer with ``short_rows``.
    Blank lines are skipped."""
    found: list[tuple[int, int | None, str, str]] = []  # (line, field count or None, kind, detail)
    expected = None if has_header else fields
    limit_before = csv.field_size_limit(1 << 31)  # a 10 MB cell is a value, not a problem
    try:
        expected = _read_rows(open_, delimiter, quote, has_header, expected, short_rows, limit, found)
    finally:
        csv.field_size_limit(limit_before)
    if not found:
        return []
    lines = _lines(open_, {line for line, *_ in found})
    spots = []
    for line, count, kind, detail in found:
        text_ = lines.get(line, "")
        if kind == "unclosed":
            column = _Walk(text_, delimiter, quote).open_quote or 1
            spots.append(Spot(name, line, column, f"the quote ({quote}) that opens this field is never closed, "
                              "so the rest of the file would be read as one value"))
        elif kind == "quote":
            column = _Walk(text_, delimiter, quote).after_quote or 1
            spots.append(Spot(name, line, column, f"a quoted field is followed by text before the next delimiter "
                              f"({detail}); inside quotes, write a quote as two quotes"))
        else:
            starts = _Walk(text_, delimiter, quote).starts
            assert count is not None and expected is not None
            if count > expected:
                column = starts[expected] if len(starts) > expected else 1
                spots.append(Spot(name, line, column, f"the row has {count} fields, the header has {expected} "
                                  f"(an unquoted {delimiter!r} inside a value, or a missing column name?)"))
            else:
                column = len(text_.rstrip("\r\n")) + 1
                spots.append(Spot(name, line, column, f"the row has {count} fields, the header has {expected}"))
    return spots


def _read_rows(open_: Opener, delimiter: str, quote: str, has_header: bool, expected: int | None, short_rows: bool,
               limit: int, found: list[tuple[int, int | None, str, str]]) -> int | None:
    """Append the problems to ``found``; returns the number of fields a row should have."""
    with open_() as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="replace", newline="")
        reader = csv.reader(text, delimiter=delimiter, quotechar=quote, doublequote=True, strict=True)
        while len(found) < limit:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                if "end of data" in str(exc) or "EOF" in str(exc):
                    found.append((start, None, "unclosed", ""))
                else:
                    found.append((reader.line_num, None, "quote", str(exc)))
                break
            if not row:
                continue  # a blank line
            if expected is None:
                expected = len(row)
                if has_header:
                    continue
            if len(row) > expected or (short_rows and len(row) < expected):
                found.append((start, len(row), "fields", ""))
    return expected


def _lines(open_: Opener, wanted: set[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    last = max(wanted)
    with open_() as handle:
        for number, raw in enumerate(handle, 1):
            if number in wanted:
                found[number] = raw.decode("utf-8", errors="replace")
            if number >= last:
                break
    return found


class _Walk:
    """One physical line read as CSV: where its fields start (1-based columns), where a quote that
    is still open at the end of the line opened, and where text follows a closing quote."""

    def __init__(self, line: str, delimiter: str, quote: str):
        self.starts = [1]
        self.open_quote: int | None = None
        self.after_quote: int | None = None
        i, quoted, at_start = 0, False, True
        line = line.rstrip("\r\n")
        while i < len(line):
            char = line[i]
            if quoted:
                if char == quote and line[i + 1:i + 2] == quote:
                    i += 1  # an escaped quote
                elif char == quote:
                    quoted = False
                    following = line[i + 1:i + 2]
                    if following and following != delimiter and self.after_quote is None:
                        self.after_quote = i + 2
            elif char == delimiter:
                self.starts.append(i + 2)
                at_start = True
                i += 1
                continue
            elif char == quote and at_start:
                quoted, self.open_quote = True, i + 1
            at_start = False
            i += 1
        if not quoted:
            self.open_quote = None


def header_fix(present: list[str], declared: list[str], delimiter: str, has_header: bool) -> str | None:
    """The likely fix when a CSV header lacks the declared columns: another delimiter, or no header."""
    other = guess_delimiter(delimiter.join(present), delimiter)
    if len(present) == 1 and other:
        return (f"the header seems to be separated by {other!r}, not {delimiter!r}: "
                f"set input.csv.delimiter: {other!r} in the recipe")
    if has_header and not set(present) & set(declared) and looks_like_data(present):
        return ("the first line looks like data, not a header: set input.csv.has_header: false "
                "(columns are then matched by position, in the order of input.columns)")
    return None


def guess_delimiter(header: str, delimiter: str) -> str | None:
    """The delimiter a one-column header line seems to use instead of ``delimiter``, if any."""
    counts = {d: header.count(d) for d in (";", "\t", "|", ",") if d != delimiter}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else None


def looks_like_data(names: list[str]) -> bool:
    """Whether a header line looks like a data row (numbers or empty names): a file without a header."""
    def numeric(text: str) -> bool:
        try:
            float(text.strip())
        except ValueError:
            return False
        return True

    return any(numeric(n) or not n.strip() for n in names)


# --- JSON Lines -------------------------------------------------------------------------------------


HEAD_BYTES = 1 << 20
HEAD_LINES = 1000


def jsonl_keys(open_: Opener) -> list[str]:
    """The keys of the JSON objects in the first lines (1,000 lines or 1 MiB, whole lines), in order."""
    keys: dict[str, None] = {}
    for _, line in _head_lines(open_):
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue  # a bad line is reported by the read
        if isinstance(record, dict):
            keys.update(dict.fromkeys(record))
    return list(keys)


def _head_lines(open_: Opener, head: bool = True) -> Iterator[tuple[int, bytes]]:
    """(number, line) of the lines that are not blank; with ``head``, only the first ones."""
    total = 0
    with open_() as handle:
        for number, raw in enumerate(handle, 1):
            if raw.strip():
                yield number, raw
            total += len(raw)
            if head and (number >= HEAD_LINES or total >= HEAD_BYTES):
                return


def jsonl_problem(open_: Opener, name: str, head: bool = False) -> Spot | None:
    """The first line that is not one JSON object (an array, a number, null, truncated JSON ...);
    ``head``: look at the first lines only (as :func:`jsonl_keys` does)."""
    for number, raw in _head_lines(open_, head):
        line = raw.decode("utf-8", errors="replace")
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            cut = exc.pos >= len(line.rstrip()) or exc.msg.startswith("Unterminated string")
            truncated = " (the file looks truncated)" if not raw.endswith(b"\n") else ""
            what = f"the line ends in the middle of a JSON value{truncated}" if cut else f"not valid JSON: {exc.msg}"
            return Spot(name, number, exc.colno, what)
        except RecursionError:
            return Spot(name, number, 1, "the JSON value is nested too deeply to read")
        if not isinstance(value, dict):
            return Spot(name, number, 1, f"{_kind(value)} where a JSON object was expected: each line of a "
                        "JSON Lines file is one object ({\"column\": value, ...})")
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array" if value else "an empty array"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    return f"a string ({_clip(str(value))!r})"


def _clip(text: str) -> str:
    return text if len(text) <= SHOWN else text[:SHOWN] + "..."
