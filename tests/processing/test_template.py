from __future__ import annotations

import json

import pytest

from prepline.errors import JobRequestError
from prepline.processing.template import parse_assignments, render
from tests.conftest import SHARED

UPSTREAM = SHARED / "seed" / "job-config.template.json"


def test_placeholders_are_filled_and_numbers_stay_numbers():
    text = '{"Name": "{{NAME}}", "Count": {{COUNT}}}'
    assert json.loads(render(text, {"NAME": "a-b", "COUNT": "2"})) == {"Name": "a-b", "Count": 2}


def test_every_missing_placeholder_is_listed_with_its_line():
    text = '{\n "A": "{{ONE}}",\n "B": "{{TWO}}",\n "C": "{{ONE}}"\n}'
    with pytest.raises(JobRequestError) as err:
        render(text, {}, source="t.json")
    message = str(err.value)
    assert "2 placeholder(s)" in message
    assert "{{ONE}} (line 2, 4)" in message and "{{TWO}} (line 3)" in message
    assert "--set ONE=... --set TWO=..." in message


def test_values_cannot_break_the_json():
    rendered = render('{"Path": "{{P}}"}', {"P": 'a"b\\c'})
    assert json.loads(rendered) == {"Path": 'a"b\\c'}


def test_a_value_that_makes_invalid_json_is_reported():
    with pytest.raises(JobRequestError, match="not valid JSON"):
        render('{"Count": {{COUNT}}}', {"COUNT": "two"})


def test_assignments_need_key_and_value():
    assert parse_assignments(["A=1", "B=x=y"]) == {"A": "1", "B": "x=y"}
    with pytest.raises(JobRequestError, match="KEY=VALUE"):
        parse_assignments(["A"])


def test_the_upstream_template_renders_only_with_every_value():
    if not UPSTREAM.is_file():
        pytest.skip("../shared is not available")
    text = UPSTREAM.read_text()
    with pytest.raises(JobRequestError) as err:
        render(text, {"JOB_NAME": "x"})
    for key in ("INPUT_PATH", "SCRIPT_PATH", "OUTPUT_PATH", "INSTANCE_COUNT", "INSTANCE_TYPE", "IMAGE_URI", "ROLE_ARN"):
        assert "{{" + key + "}}" in str(err.value)
