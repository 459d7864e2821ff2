"""The split step in a recipe (validation) and the hash that assigns rows to parts (no engine here)."""

from __future__ import annotations

import math
import uuid

import pytest

from prepline.errors import RecipeError
from prepline.recipe import parse_recipe
from prepline.recipe.split import MODULUS, part_index, split_hash, thresholds

RECIPE = """\
name: t
input:
  format: csv
  columns: {{id: int64, code: string, x: float64, day: date}}
steps:
  - split: {split}
  - output: everything
"""


def _recipe(split: str):
    return parse_recipe(RECIPE.format(split=split), source="r.yaml")


def _error(split: str) -> RecipeError:
    with pytest.raises(RecipeError) as info:
        _recipe(split)
    return info.value


# --- the recipe ----------------------------------------------------------------------------------


def test_a_split_names_its_parts_as_outputs():
    recipe = _recipe("{by: id, parts: {train: 0.8, validation: 0.1, test: 0.1}}")
    assert recipe.output_names() == ["train", "validation", "test", "everything"]
    assert recipe.write_spec("train", "csv").format == "csv"  # the run's format by default


def test_fractions_that_do_not_add_up_to_one_are_refused_with_the_sum_and_line():
    err = _error("{by: id, parts: {train: 0.8, test: 0.1}}")
    assert "r.yaml:6: step 1 (split, parts): the fractions add up to 0.9; they must add up to 1" in err.message


def test_fractions_add_up_within_a_tolerance():
    _recipe("{by: id, parts: {a: 0.3333333, b: 0.3333333, c: 0.3333334}}")
    assert "add up to 0.9999" in _error("{by: id, parts: {a: 0.3333, b: 0.3333, c: 0.3333}}").message


@pytest.mark.parametrize(("parts", "says"), [
    ("{train: 1.0}", "at least two parts"),
    ("{train: 0, test: 1}", "a fraction is a number in (0, 1], got 0"),
    ("{train: 1.5, test: -0.5}", "a fraction is a number in (0, 1]"),
    ("{'bad name': 0.5, test: 0.5}", "not a valid output name"),
    ("{train: 0.5, rejected: 0.5}", "reserved for rows the recipe rejects"),
    ("{train: 0.5, everything: 0.5}", "two outputs are named 'everything'"),
])
def test_bad_parts_are_refused(parts, says):
    assert says in _error(f"{{by: id, parts: {parts}}}").message


def test_the_key_must_exist_with_a_hint():
    err = _error("{by: idd, parts: {a: 0.5, b: 0.5}}")
    assert "step 1 (split): splits by column 'idd', which does not exist" in err.message
    assert "did you mean 'id'?" in (err.hint or "")


def test_a_float_key_is_refused_because_its_text_differs_between_engines():
    err = _error("{by: x, parts: {a: 0.5, b: 0.5}}")
    assert "the split key 'x' is float64" in err.message
    assert "cast 'x' to string or int64" in (err.hint or "")


def test_keys_may_be_several_columns_and_dates():
    recipe = _recipe("{by: [code, day], parts: {a: 0.5, b: 0.5}, stratify: code}")
    assert recipe.steps[0].split.key_columns() == ["code", "day"]
    assert "one key column, or a list of distinct" in _error("{by: [id, id], parts: {a: 0.5, b: 0.5}}").message


def test_the_stratum_column_must_exist_and_not_be_a_float():
    assert "stratifies by column 'cod'" in _error("{by: id, parts: {a: 0.5, b: 0.5}, stratify: cod}").message
    assert "cannot stratify by 'x': it is float64" in _error(
        "{by: id, parts: {a: 0.5, b: 0.5}, stratify: x}").message


def test_written_columns_must_exist():
    assert "writes column 'nope'" in _error("{by: id, parts: {a: 0.5, b: 0.5}, columns: [id, nope]}").message


# --- the hash ------------------------------------------------------------------------------------


def test_the_hash_is_pinned_so_assignments_survive_upgrades():
    # Changing any of these moves rows between train and test sets people already trained on:
    # a new hash needs a new name (HASH_NAME) and an opt-in, never a silent change.
    assert [split_hash(k) for k in ["", "a", "1", "12345", "héllo", "x" * 100]] == [
        574496517, 1149503953, 1084352540, 403157710, 782575024, 125114434,
    ]


def test_a_missing_key_hashes_as_empty_text():
    assert split_hash(None) == split_hash("")


def test_the_hash_depends_on_every_byte_its_position_and_the_length():
    assert split_hash("a") != split_hash("a\0")  # the same zero-padded chunk, another length
    assert split_hash("abcdefgh") != split_hash("efghabcd")  # the same chunks, swapped
    assert len({split_hash(f"key-{i}") for i in range(1000)}) == 1000


def test_the_fifth_power_is_a_permutation_of_the_residues():
    assert math.gcd(5, MODULUS - 1) == 1  # so x -> x**5 mod M loses nothing
    assert all(0 <= split_hash(str(i)) < MODULUS for i in range(1000))


@pytest.mark.parametrize("keys", [
    [str(i) for i in range(1, 100_001)],  # sequential ids
    [f"user-{i:07d}@example.com" for i in range(100_000)],  # codes that differ in a few bytes
    [str(uuid.UUID(int=i * 7919 + 1)) for i in range(50_000)],
], ids=["sequential", "emails", "uuids"])
def test_the_hash_is_close_to_uniform(keys):
    buckets = 100
    counts = [0] * buckets
    for key in keys:
        counts[split_hash(key) * buckets // MODULUS] += 1
    expected = len(keys) / buckets
    chi2 = sum((c - expected) ** 2 / expected for c in counts)
    assert chi2 < 150  # 99 degrees of freedom: P(chi2 > 150) ~ 0.0007 for a uniform hash


def test_thresholds_cut_the_range_by_the_cumulative_fractions():
    bounds = thresholds([0.8, 0.1, 0.1])
    assert bounds == [round(MODULUS * 0.8), round(MODULUS * 0.9), MODULUS]
    assert [part_index(h, bounds) for h in (0, bounds[0] - 1, bounds[0], bounds[1], MODULUS - 1)] == [0, 0, 1, 2, 2]
