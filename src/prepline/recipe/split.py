"""The split step's row assignment, defined once here and computed identically by every engine.

A row goes to a part by a hash of its key's text, so the assignment is the same on every run,
on every engine, and when rows are appended to the input (a row never moves: its part depends
on its key alone). Library hashes do not fit: Polars' ``hash()`` changes between versions, and
Spark's ``hash``/``xxhash64`` have no Polars equivalent. So the hash is plain arithmetic on the
key's UTF-8 bytes, modulo the Mersenne prime ``M = 2**31 - 1`` (every product of two residues
fits in a signed 64-bit integer, so no engine can overflow, ANSI mode or not):

1. ``text``: the key's value as text (``123``, ``-5``, ``2024-01-31``, text as it is); with
   several key columns, their texts joined by U+001F; a missing value is the empty text.
2. ``chunks``: the text's ``n`` UTF-8 bytes, zero-padded to a multiple of four, in groups of
   four, each read as a big-endian unsigned integer: ``c_0 .. c_{k-1}``.
3. ``s = (n * 0x5BD1E995 + sum(((c_i + (i + 1) * P) mod M)**5 for i)) mod M`` with
   ``P = 0x9E3779B1 mod M``: ``x -> x**5`` is a permutation of the residues (5 is prime to
   ``M - 1``), the position term makes the sum depend on the order of the chunks, and ``n``
   tells ``"a"`` from ``"a\\0"``.
4. ``h = ((s + 0x2545F491)**5 * 0x27D4EB2D + 0x165667B1)**5 mod M``: two more rounds, so keys
   that differ in one byte land far apart.

``h`` is close to uniform on ``[0, M)`` (tests check it on sequential numbers, codes and UUIDs).
Parts are cut at integer thresholds: with fractions ``f_1 .. f_p`` in the recipe's order, part
``j`` takes the rows with ``T_{j-1} <= h < T_j``, ``T_j = round(M * (f_1 + ... + f_j))``, and
the last part ends at ``M``. Changing the fractions moves only the rows between an old and a new
threshold; adding rows never moves a row.
"""

from __future__ import annotations

from collections.abc import Sequence

HASH_NAME = "prepline-split-v1"
MODULUS = 2**31 - 1
CHUNK_BYTES = 4
POSITION = 0x9E3779B1 % MODULUS  # (i + 1) * POSITION tags chunk i
LENGTH_FACTOR = 0x5BD1E995
ROUND_ADD = 0x2545F491
ROUND_MUL = 0x27D4EB2D
FINAL_ADD = 0x165667B1
KEY_SEPARATOR = "\x1f"
FRACTION_TOLERANCE = 1e-6  # the parts' fractions must add up to 1 within this


def pow5(x: int) -> int:
    """``x**5 mod M`` in three products, as the engines compute it."""
    x2 = x * x % MODULUS
    x4 = x2 * x2 % MODULUS
    return x4 * x % MODULUS


def split_hash(text: str | None) -> int:
    """The hash of a key's text, in ``[0, MODULUS)``: the reference the engines are tested against."""
    data = (text or "").encode("utf-8")
    total = len(data) * LENGTH_FACTOR % MODULUS
    padded = data + b"\0" * (-len(data) % CHUNK_BYTES)
    for i in range(0, len(padded), CHUNK_BYTES):
        chunk = int.from_bytes(padded[i:i + CHUNK_BYTES], "big")
        total += pow5((chunk + (i // CHUNK_BYTES + 1) * POSITION) % MODULUS)
    return finish(total % MODULUS)


def finish(s: int) -> int:
    """Step 4: the last two rounds."""
    inner = pow5((s + ROUND_ADD) % MODULUS)
    return pow5((inner * ROUND_MUL + FINAL_ADD) % MODULUS)


def thresholds(fractions: Sequence[float]) -> list[int]:
    """Each part's exclusive upper bound on the hash; the last is ``MODULUS``."""
    bounds, total = [], 0.0
    for fraction in fractions[:-1]:
        total += fraction
        bounds.append(min(MODULUS, round(MODULUS * total)))
    return [*bounds, MODULUS]


def part_index(h: int, bounds: Sequence[int]) -> int:
    return next(i for i, bound in enumerate(bounds) if h < bound)


def key_text(values: Sequence[object]) -> str:
    """The text a row's key values are hashed as (missing values as empty text)."""
    return KEY_SEPARATOR.join("" if v is None else str(v) for v in values)
