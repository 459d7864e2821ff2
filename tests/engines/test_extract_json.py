"""extract_json: paths, null and missing values, typed fields, and invalid values under each policy."""

from __future__ import annotations

import csv
import io

import pytest

from prepline.errors import DataError
from tests.engines.recipe_runner import column, run_small

COLUMNS = "id: int64\nname: string\nprofile: string"
RAN_AGAIN = "ran again"


def ran_again(engine: str, manifest: dict) -> bool:
    """Polars decodes JSON in one pass and re-runs with row-level checks after an invalid value
    (and says so in a note); Spark checks every row in its one pass and has nothing to re-run."""
    notes = any(RAN_AGAIN in note for note in manifest["notes"])
    return notes if engine == "polars" else not notes


def _csv(profiles: list[str | None]) -> str:
    """A CSV with one row per profile text (None: an empty cell), quoted the way csv quotes it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["id", "name", "profile"])
    for i, profile in enumerate(profiles, start=1):
        writer.writerow([i, f"n{i}", "" if profile is None else profile])
    return buffer.getvalue()


def extract(tmp_path, engine, profiles, fields: str, on_invalid: str = "fail", drop_source: bool = False):
    steps = (
        "- extract_json:\n    column: profile\n    fields:\n"
        + "".join(f"      {line}\n" for line in fields.strip().splitlines())
        + f"    on_invalid: {on_invalid}\n    drop_source: {str(drop_source).lower()}\n- output: out\n"
    )
    return run_small(tmp_path, engine, columns=COLUMNS, data=_csv(profiles), steps=steps)


def _folder(tmp_path, name):
    (tmp_path / name).mkdir()
    return tmp_path / name


def test_fields_nested_paths_and_quoted_keys(tmp_path, engine):
    profiles = ['{"address": "1 Main St", "a": {"b": "deep"}, "a b": "spaced", "phone": "007"}']
    outputs, manifest = extract(tmp_path, engine, profiles, """
address: $.address
deep: $.a.b
spaced: "$['a b']"
phone: $.phone
""")
    [row] = outputs["out"]
    assert row == {"id": "1", "name": "n1", "profile": profiles[0], "address": "1 Main St",
                   "deep": "deep", "spaced": "spaced", "phone": "007"}
    assert not any(RAN_AGAIN in note for note in manifest["notes"])  # one parse per value


def test_missing_keys_json_null_and_empty_cells_give_null_fields(tmp_path, engine):
    profiles = [
        '{"address": "x"}',  # no a.b
        '{"a": {}}',  # a without b
        '{"address": null, "a": {"b": null}}',  # JSON null members
        "null",  # a JSON null document
        None,  # an empty cell
        "{}",
    ]
    outputs, manifest = extract(tmp_path, engine, profiles, "address: $.address\ndeep: $.a.b")
    rows = outputs["out"]
    assert column(rows, "address") == ["x", "", "", "", "", ""]
    assert column(rows, "deep") == ["", "", "", "", "", ""]
    assert len(rows) == 6
    assert not any(RAN_AGAIN in note for note in manifest["notes"])


def test_typed_fields(tmp_path, engine):
    profiles = ['{"n": 42, "f": 2.5, "ok": true, "d": "2024-02-29"}', '{"n": -7, "f": 1, "ok": false}']
    outputs, _ = extract(tmp_path, engine, profiles, """
n: {path: $.n, type: int64}
f: {path: $.f, type: float64}
ok: {path: $.ok, type: bool}
d: {path: $.d, type: date}
""")
    rows = outputs["out"]
    assert column(rows, "n") == ["42", "-7"]
    assert column(rows, "f") == ["2.5", "1.0"]
    assert column(rows, "ok") == ["true", "false"]
    assert column(rows, "d") == ["2024-02-29", ""]


def test_numbers_and_booleans_read_as_text_fields(tmp_path, engine):
    outputs, _ = extract(tmp_path, engine, ['{"s": 12}', '{"s": true}', '{"s": "t"}'], "s: $.s")
    assert column(outputs["out"], "s") == ["12", "true", "t"]


def test_drop_source(tmp_path, engine):
    outputs, _ = extract(tmp_path, engine, ['{"address": "x"}'], "address: $.address", drop_source=True)
    assert outputs["out"] == [{"id": "1", "name": "n1", "address": "x"}]


# --- invalid values ------------------------------------------------------------------------------

# (profile text, why it is invalid for fields {address: $.address (text), n: $.n (int64)})
INVALID = [
    ("[1, 2]", "not a JSON object"),
    ("42", "not a JSON object"),
    ('"just text"', "not a JSON object"),
    ('{"address":', "not a JSON object"),  # truncated
    ("{not json}", "not a JSON object"),
    ('{"address": {"street": "Main"}}', "field $.address is an object or array, not text"),
    ('{"address": ["a"]}', "field $.address is an object or array, not text"),
    ('{"n": 7.5}', "field $.n is 7.5, not a valid int64"),
    ('{"n": "seven"}', "field $.n is seven, not a valid int64"),
]
VALID = ['{"address": "1 Main St", "n": 3}', '{"n": null}', None, "null", '{"address": "{braces}"}']
FIELDS = "address: $.address\nn: {path: $.n, type: int64}"


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_fail_names_the_row_and_the_column_and_writes_nothing(tmp_path, engine, text, reason):
    with pytest.raises(DataError) as info:
        extract(tmp_path, engine, [*VALID, text], FIELDS, on_invalid="fail")
    message = str(info.value)
    assert "step 1 (extract_json)" in message
    assert "column 'profile'" in message
    assert f"row {len(VALID) + 1}: {reason}" in message
    assert "on_invalid: reject" in message  # the fix
    assert not (tmp_path / f"out-{engine}").exists()
    assert [p.name for p in tmp_path.iterdir() if "staging" in p.name] == []


def test_fail_names_several_rows(tmp_path, engine):
    with pytest.raises(DataError, match=r"row 2: not a JSON object \('\[1\]'\); row 4: not a JSON object"):
        extract(tmp_path, engine, ['{"address": "a"}', "[1]", '{"address": "b"}', "7"], FIELDS)


def test_null_policy_nulls_the_fields_and_counts_the_values(tmp_path, engine):
    profiles = [*VALID, *(text for text, _ in INVALID)]
    outputs, manifest = extract(tmp_path, engine, profiles, FIELDS, on_invalid="null")
    rows = outputs["out"]
    assert len(rows) == len(profiles)
    assert column(rows, "address") == ["1 Main St", "", "", "", "{braces}"] + [""] * len(INVALID)
    assert column(rows, "n") == ["3", "", "", "", ""] + [""] * len(INVALID)
    assert column(rows, "profile")[len(VALID):] == [text for text, _ in INVALID]  # the source is kept
    [counter] = manifest["counters"]
    assert counter["step"] == "1:extract_json"
    assert counter["count"] == len(INVALID)
    assert ran_again(engine, manifest)


def test_reject_policy_sends_rows_to_rejected_with_their_values(tmp_path, engine):
    profiles = [*VALID, *(text for text, _ in INVALID)]
    outputs, manifest = extract(tmp_path, engine, profiles, FIELDS, on_invalid="reject")
    assert column(outputs["out"], "id") == ["1", "2", "3", "4", "5"]
    assert column(outputs["out"], "address") == ["1 Main St", "", "", "", "{braces}"]
    rejected = outputs["rejected"]
    assert list(rejected[0]) == ["_row", "_step", "_reason", "id", "name", "profile"]
    assert rejected == [
        {"_row": str(len(VALID) + i), "_step": "1:extract_json", "_reason": f"column 'profile': {reason}",
         "id": str(len(VALID) + i), "name": f"n{len(VALID) + i}", "profile": text}
        for i, (text, reason) in enumerate(INVALID, start=1)
    ]
    assert manifest["outputs"]["rejected"]["rows"] == len(INVALID)
    assert manifest["outputs"]["out"]["rows"] == len(VALID)
    assert ran_again(engine, manifest)


def test_rejected_csv_holds_the_original_text_byte_for_byte(tmp_path, engine):
    bad = '{"address": "unterminated, "with" quotes'
    outputs, _ = extract(tmp_path, engine, ['{"address": "ok"}', bad], FIELDS, on_invalid="reject")
    written = (tmp_path / f"out-{engine}" / "rejected.csv").read_text(encoding="utf-8")
    assert written.splitlines()[1].endswith(',"{""address"": ""unterminated, ""with"" quotes"')
    assert outputs["rejected"][0]["profile"] == bad


def test_valid_only_input_is_parsed_once_even_under_reject(tmp_path, engine):
    outputs, manifest = extract(tmp_path, engine, VALID, FIELDS, on_invalid="reject")
    assert outputs["rejected"] == []
    assert manifest["outputs"]["rejected"]["columns"] == ["_row", "_step", "_reason", "id", "name", "profile"]
    assert manifest["notes"] == []


@pytest.mark.parametrize(
    ("text", "n"),
    [('{"n": 3}', "3"), ('{"n": 3.0}', "3"), ('{"n": 1e3}', "1000"), ('{"n": "12"}', "12"),
     ('{"n": 7.5}', ""), ('{"n": true}', ""), ('{"n": 99999999999999999999}', "")],
)
def test_a_typed_field_reads_the_same_with_or_without_other_invalid_rows(tmp_path, engine, text, n):
    # On its own the value goes through the one-parse path; next to an invalid row, through the
    # row-level re-run. Either way the row gets the same value (or is counted invalid the same way).
    fields = "n: {path: $.n, type: int64}"
    alone, _ = extract(_folder(tmp_path, "alone"), engine, [text], fields, on_invalid="null")
    beside, manifest = extract(_folder(tmp_path, "beside"), engine, [text, "[]"], fields, on_invalid="null")
    assert column(alone["out"], "n") == [n]
    assert column(beside["out"], "n") == [n, ""]
    assert ran_again(engine, manifest)


def test_invalid_values_in_a_reject_step_do_not_fail_a_strict_step_on_another_column(tmp_path, engine):
    data = 'id,name,profile\n1,"{""k"": ""a""}","{""address"": ""x""}"\n2,"{""k"": ""b""}","[1]"\n'
    outputs, _ = run_small(tmp_path, engine, columns=COLUMNS, data=data, steps="""\
- extract_json: {column: name, fields: {k: $.k}, on_invalid: fail}
- extract_json: {column: profile, fields: {address: $.address}, on_invalid: reject}
- output: out
""")
    assert [(r["k"], r["address"]) for r in outputs["out"]] == [("a", "x")]
    assert column(outputs["rejected"], "_row") == ["2"]


def test_a_repeated_key_keeps_its_last_value_as_json_loads_does(tmp_path, engine):
    profiles = ['{"address": "first", "n": 1, "address": "second"}', '{"address": "only", "n": 2}']
    outputs, _ = extract(tmp_path, engine, profiles, FIELDS)
    assert column(outputs["out"], "address") == ["second", "only"]
    assert column(outputs["out"], "n") == ["1", "2"]
