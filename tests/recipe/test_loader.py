"""Recipe errors: each names the file, the line and the step, and says how to fix it.

Also `prepline recipe validate` and `prepline recipe schema`.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from prepline.cli.app import app, main
from prepline.errors import RecipeError
from prepline.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
EMPLOYEES = REPO / "examples" / "employees" / "recipe.yaml"

HEAD = """\
name: t
input:
  columns: {id: int64, name: string, age: float64, profile: string}
steps:
"""  # steps start on line 5


def _file(tmp_path: Path, steps: str, head: str = HEAD) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(head + textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ") + "\n", encoding="utf-8")
    return path


def _error(tmp_path: Path, steps: str, head: str = HEAD) -> RecipeError:
    path = _file(tmp_path, steps, head)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    return info.value


def test_unknown_step_kind_suggests_the_closest(tmp_path):
    err = _error(tmp_path, "- output: o\n- fil: {age: median}")
    assert err.message == f"invalid recipe: {tmp_path / 'bad.yaml'}:6: step 2: unknown step kind 'fil'; did you mean 'fill'?"
    assert "fill, extract_json, derive" in (err.hint or "")


def test_unknown_key_inside_a_step_suggests_the_closest(tmp_path):
    err = _error(tmp_path, """
        - bin:
            column: age
            edgs: [0, 1]
        - output: o
    """)
    assert f"{tmp_path / 'bad.yaml'}:7: step 1 (bin, edgs): unknown key 'edgs'; did you mean 'edges'?" in err.message
    assert "prepline recipe schema" in (err.hint or "")


def test_unknown_key_in_the_input_section(tmp_path):
    err = _error(tmp_path, "- output: o", head=HEAD.replace("steps:", "  on_bad_values: null\nsteps:"))
    assert err.message.endswith(":4: input.on_bad_values: unknown key 'on_bad_values'; did you mean 'on_bad_value'?")


def test_missing_required_key(tmp_path):
    err = _error(tmp_path, "- extract_json:\n    fields: {a: $.a}\n- output: o")
    assert err.message.endswith(":5: step 1 (extract_json, column): required key 'column' is missing")
    assert err.hint


def test_wrong_type(tmp_path):
    err = _error(tmp_path, "- bin: {column: age, edges: [0, 10], right: sometimes}\n- output: o")
    assert ":5: step 1 (bin, right): Input should be a valid boolean" in err.message
    assert "(got 'sometimes')" in err.message


def test_wrong_type_of_a_whole_step(tmp_path):
    err = _error(tmp_path, "- fill: [age]\n- output: o")
    assert err.message.endswith(":5: step 1 (fill): expected a mapping")


def test_a_value_of_a_mapping_or_name_union_reports_the_inner_problem_only(tmp_path):
    err = _error(tmp_path, "- cast: {age: {to: int65}}\n- output: o")
    assert err.message.endswith(
        ":5: step 1 (cast, age.to): expected 'string', 'int64', 'int32', 'float64', 'float32', 'bool', "
        "'date' or 'datetime' (got 'int65')"
    )


def test_bad_json_path(tmp_path):
    err = _error(tmp_path, """
        - extract_json:
            column: profile
            fields:
              first: "$.phones[0]"
        - output: o
    """)
    assert ":7: step 1 (extract_json, fields): field 'first': JSON path '$.phones[0]': cannot read '[0]'" in err.message
    assert "only object members are supported" in err.message


def test_bad_expression_syntax(tmp_path):
    err = _error(tmp_path, "- derive:\n    older: age +* 2\n- output: o")
    assert ":6: step 1 (derive, older): cannot parse expression 'age +* 2' at character 6: invalid syntax" in err.message


def test_a_column_that_does_not_exist_at_that_point(tmp_path):
    err = _error(tmp_path, """
        - drop: [profile]
        - derive:
            name_length: len(nmae)
        - output: o
    """)
    assert err.message == (
        f"{tmp_path / 'bad.yaml'}:7: step 2 (derive): derives 'name_length' from column 'nmae', "
        "which does not exist at this point of the recipe"
    )
    assert err.hint == "did you mean 'name'? columns here: id, name, age"


def test_a_column_removed_by_an_earlier_step(tmp_path):
    err = _error(tmp_path, "- drop: [age]\n- fill: {age: median}\n- output: o")
    assert err.message.endswith(":6: step 2 (fill): uses column 'age', which does not exist at this point of the recipe")
    assert err.hint is not None and err.hint.endswith("columns here: id, name, profile")


def test_duplicate_output_names(tmp_path):
    err = _error(tmp_path, "- output: o\n- drop: [age]\n- output: o")
    assert err.message == (
        f"invalid recipe: {tmp_path / 'bad.yaml'}:7: step 3 (output): two outputs are named 'o'; "
        "output names must be unique, rename this one"
    )


def test_the_reserved_output_name(tmp_path):
    err = _error(tmp_path, "- output: o\n- aggregate: {name: rejected, by: [name], values: {n: {count: '*'}}}")
    assert err.message == (
        f"invalid recipe: {tmp_path / 'bad.yaml'}:6: step 2 (aggregate): output name 'rejected' is reserved "
        "for rows the recipe rejects; choose another"
    )


def test_invalid_yaml_names_the_line(tmp_path):
    err = _error(tmp_path, "- output: o\n- derive: {a: [1, 2}")
    assert err.message.startswith(f"{tmp_path / 'bad.yaml'}:6: not valid YAML:")
    assert "indentation and quoting" in (err.hint or "")


def test_a_step_with_two_keys(tmp_path):
    err = _error(tmp_path, "- fill: {age: median}\n  output: o")
    assert err.message == (
        f"invalid recipe: {tmp_path / 'bad.yaml'}:5: step 1 must be a mapping with exactly one key "
        "(it has keys fill, output; options of a step go inside it, indented)"
    )


def test_several_problems_are_all_listed_in_file_order(tmp_path):
    err = _error(tmp_path, """
        - bin: {column: age, edges: [zero, 10]}
        - fil: {age: median}
        - dedupe: {keep: middle}
        - output: {name: 'bad name'}
    """, head=HEAD.replace("steps:", "  on_bad_value: sometimes\nsteps:"))
    source = tmp_path / "bad.yaml"
    assert err.message.splitlines() == [
        f"invalid recipe {source} (5 problems):",
        f"  - {source}:4: input.on_bad_value: expected 'fail', 'null' or 'reject' (got 'sometimes')",
        f"  - {source}:6: step 1 (bin, edges.0): Input should be a valid number, unable to parse string as a number (got 'zero')",
        f"  - {source}:7: step 2: unknown step kind 'fil'; did you mean 'fill'?",
        f"  - {source}:8: step 3 (dedupe, keep): expected 'first' or 'last' (got 'middle')",
        f"  - {source}:9: step 4 (output, name): String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.\\-]*$' (got 'bad name')",
    ]


def test_a_recipe_that_writes_nothing(tmp_path):
    err = _error(tmp_path, "- drop: [age]")
    assert "the recipe writes nothing: add an `output`, `aggregate` or `split` step" in err.message


def test_a_missing_recipe_file(tmp_path):
    with pytest.raises(RecipeError, match="does not exist"):
        load_recipe(tmp_path / "nope.yaml")


def test_the_unquoted_yaml_null_is_the_null_policy(tmp_path):
    recipe = load_recipe(_file(tmp_path, "- cast: {age: {to: int64, on_error: null}}\n- output: o"))
    assert recipe.steps[0].cast["age"].on_error == "null"


# --- prepline recipe validate / schema -----------------------------------------------------------


def test_validate_prints_the_columns_after_each_step():
    result = CliRunner().invoke(app, ["recipe", "validate", str(EMPLOYEES)])
    assert result.exit_code == 0, result.output
    assert f"{EMPLOYEES}: valid" in result.output
    assert "extract_json" in result.output and "aggregate" in result.output
    assert "outputs: cleaned_data, transformed_data, train, validation, test, department_statistics, rejected" in result.output


def test_validate_json():
    result = CliRunner().invoke(app, ["recipe", "validate", str(EMPLOYEES), "--json"])
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["valid"] is True
    assert report["steps"] == ["check", "extract_json", "fill", "output", "derive", "bin", "bin", "output", "split", "aggregate"]
    assert report["outputs"] == ["cleaned_data", "transformed_data", "train", "validation", "test", "department_statistics", "rejected"]
    assert list(report["final_columns"])[-3:] == ["address_length", "salary_category", "age_group"]


def test_validate_a_bad_recipe_exits_2_with_the_message(tmp_path, capsys):
    path = _file(tmp_path, "- output: o\n- fil: {age: median}")
    assert main(["recipe", "validate", str(path)]) == 2
    captured = capsys.readouterr()
    assert f"{path}:6: step 2: unknown step kind 'fil'; did you mean 'fill'?" in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_schema_is_a_json_schema_the_employees_recipe_satisfies():
    jsonschema = pytest.importorskip("jsonschema")
    result = CliRunner().invoke(app, ["recipe", "schema"])
    assert result.exit_code == 0
    document = json.loads(result.output)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(document)
    validator = jsonschema.Draft202012Validator(document)
    recipe = yaml.safe_load(EMPLOYEES.read_text())
    assert list(validator.iter_errors(recipe)) == []
    steps = json.dumps(document["$defs"])
    for kind in ("fill", "extract_json", "derive", "bin", "drop", "rename", "cast", "filter", "dedupe", "output", "aggregate"):
        assert f'"{kind}"' in steps
    broken = dict(recipe, steps=[{"fil": {"age": "median"}}])
    assert list(validator.iter_errors(broken)) != []


def test_schema_to_a_file(tmp_path):
    target = tmp_path / "recipe.schema.json"
    result = CliRunner().invoke(app, ["recipe", "schema", "--output", str(target)])
    assert result.exit_code == 0
    assert json.loads(target.read_text())["title"] == "prepline recipe"


@pytest.mark.parametrize(
    ("steps", "line", "step"),
    [
        ("- output: o\n- fil: {age: median}", 6, "step 2"),
        ("- bin: {column: age, edgs: [0, 1]}\n- output: o", 5, "step 1 (bin"),
        ("- extract_json: {fields: {a: $.a}}\n- output: o", 5, "step 1 (extract_json"),
        ("- bin: {column: age, edges: [0, 1], right: maybe}\n- output: o", 5, "step 1 (bin"),
        ("- extract_json: {column: profile, fields: {a: '$.a[0]'}}\n- output: o", 5, "step 1 (extract_json"),
        ("- output: o\n- derive:\n    b: 'age +'", 7, "step 2 (derive"),
        ("- output: o\n- derive:\n    b: len(age)", 7, "step 2 (derive)"),
        ("- output: o\n- filter: nmae == 'x'", 6, "step 2 (filter)"),
        ("- extract_json: {column: age, fields: {a: $.a}}\n- output: o", 5, "step 1 (extract_json)"),
        ("- aggregate: {name: s, by: [name], values: {m: {mean: name}}}", 5, "step 1 (aggregate)"),
        ("- output: o\n- output: o", 6, "step 2 (output)"),
        ("- output: rejected", 5, "step 1 (output)"),
        ("- fill: {age: median}\n  output: o", 5, "step 1"),
        ("- fill: {name: median}\n- output: o", 5, "step 1 (fill)"),
        ("- rename: {age: name}\n- output: o", 5, "step 1 (rename)"),
    ],
)
def test_every_error_names_the_file_line_and_step_and_gives_a_fix(tmp_path, steps, line, step):
    err = _error(tmp_path, steps)
    assert f"{tmp_path / 'bad.yaml'}:{line}: {step}" in err.message
    assert err.hint, err.message
