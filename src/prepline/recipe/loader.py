"""Read a recipe file: YAML with line numbers, then validation, then a flow check.

Every problem is reported with the file, the line, the step and a fix; all the
problems pydantic finds are listed at once, not just the first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from prepline.errors import RecipeError, closest
from prepline.recipe.model import STEP_MODELS, Recipe, StepProblem

Path_ = tuple[Any, ...]


def load_recipe(path: str | Path) -> Recipe:
    """Load, validate and flow-check the recipe at ``path`` (a local file)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(
            f"recipe file {str(file)!r} does not exist",
            hint="check the path; `prepline recipe schema` prints the format and examples/employees/recipe.yaml is a full example",
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe file {str(file)!r}: {exc}") from None
    return parse_recipe(text, source=str(file))


def parse_recipe(text: str, source: str = "<recipe>") -> Recipe:
    """Validate recipe ``text``; ``source`` names it in messages."""
    data, lines = _load_yaml(text, source)
    if not isinstance(data, dict):
        raise RecipeError(
            f"{source}: a recipe is a YAML mapping with keys name, input and steps, got {type(data).__name__}",
            hint="start from examples/employees/recipe.yaml",
        )
    # Steps of unknown kinds are reported once, here; every other problem pydantic finds is
    # listed with them, so one edit-and-retry fixes them all.
    kinds = _check_step_kinds(data, lines, source)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        described = _describe_errors(exc, data, lines, source, skip_steps=set(kinds))
        problems = sorted([*kinds.values(), *described], key=lambda problem: problem[0])  # in file order
        hint = "; ".join(h for h, show in ((_KIND_HINT, kinds), (_SCHEMA_HINT, described)) if show)
        raise RecipeError(_join(source, [text for _, text in problems]), hint=hint) from None
    if kinds:  # pragma: no cover - a step of an unknown kind always fails validation too
        raise RecipeError(_join(source, [text for _, text in kinds.values()]), hint=_KIND_HINT)
    recipe._source = source
    recipe._lines = lines
    from prepline.recipe.flow import trace_flow

    trace_flow(recipe)  # raises RecipeError naming the step
    return recipe


_KIND_HINT = "each step is a mapping with one key naming its kind: " + ", ".join(STEP_MODELS)
_SCHEMA_HINT = (
    "fix the values named above; `prepline recipe schema` lists every key and its type, "
    "and examples/employees/recipe.yaml is a complete recipe"
)


def _join(source: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"invalid recipe: {problems[0]}"
    return f"invalid recipe {source} ({len(problems)} problems):\n" + "\n".join(f"  - {p}" for p in problems)


def _load_yaml(text: str, source: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        problem = getattr(exc, "problem", None) or str(exc)
        column = f" (column {mark.column + 1})" if mark else ""
        raise RecipeError(
            f"{where}: not valid YAML: {problem}{column}",
            hint="check indentation and quoting on that line (quote values that contain ': ' or start with '{')",
        ) from None
    lines: dict[Path_, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return data, lines


def _index_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = yaml.safe_load(yaml.serialize(key_node)) if not isinstance(key_node, yaml.ScalarNode) else _scalar(key_node)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _index_lines(value_node, (*path, key), lines)
            lines[(*path, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*path, i), lines)


def _scalar(node: yaml.ScalarNode) -> Any:
    return yaml.safe_load(yaml.serialize(node))


def _line(lines: dict[Path_, int], path: Path_) -> int:
    key = tuple(path)
    while key and key not in lines:
        key = key[:-1]
    return lines.get(key, 0)


def _where(source: str, lines: dict[Path_, int], path: Path_) -> str:
    line = _line(lines, path)
    return f"{source}:{line}" if line else source


Problem = tuple[int, str]  # (line, message)


def _check_step_kinds(data: dict[str, Any], lines: dict[Path_, int], source: str) -> dict[int, Problem]:
    """Steps that are not one-key mappings naming a known kind, by index."""
    steps = data.get("steps")
    if not isinstance(steps, list):
        return {}  # pydantic reports a missing or mistyped `steps`
    problems: dict[int, Problem] = {}
    for i, step in enumerate(steps):
        line = _line(lines, ("steps", i))
        where = _where(source, lines, ("steps", i))
        if not isinstance(step, dict) or len(step) != 1:
            keys = list(step) if isinstance(step, dict) else None
            extra = (
                f" (it has keys {', '.join(map(str, keys))}; options of a step go inside it, indented)"
                if keys
                else ""
            )
            problems[i] = (line, f"{where}: step {i + 1} must be a mapping with exactly one key{extra}")
            continue
        kind = next(iter(step))
        if kind not in STEP_MODELS:
            guess = closest(str(kind), list(STEP_MODELS))
            tip = f"; did you mean {guess!r}?" if guess else ""
            problems[i] = (line, f"{where}: step {i + 1}: unknown step kind {kind!r}{tip}")
    return problems


def _describe_errors(
    exc: ValidationError, data: Any, lines: dict[Path_, int], source: str, skip_steps: set[int]
) -> list[Problem]:
    grouped: dict[Path_, list[dict[str, Any]]] = {}
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        if len(loc) >= 2 and loc[0] == "steps" and loc[1] in skip_steps:
            continue  # already reported as a step of an unknown kind
        problem = err.get("ctx", {}).get("error")
        if isinstance(problem, StepProblem):  # a recipe-level check about one step: report it there
            path: Path_ = ("steps", problem.index)
        else:
            path = _data_path(err["loc"], data)
        grouped.setdefault(path, []).append(err)
    # A value that fails every branch of a union (a type name, or a mapping) gives one error per
    # branch; when one branch reached deeper into the value, that one says what is wrong.
    deeper = {p for p in grouped if any(len(q) > len(p) and q[: len(p)] == p for q in grouped)}
    problems = []
    for path, errors in grouped.items():
        if path in deeper:
            continue
        problems.append((_line(lines, path), f"{_where(source, lines, path)}: {_label(path, data)}: {_message(errors, path, data)}"))
    return problems


def _data_path(loc: tuple[Any, ...], data: Any) -> Path_:
    """Drop the parts of pydantic's location that are not in the YAML (union and tag names)."""
    path: list[Any] = []
    current = data
    for i, part in enumerate(loc):
        if (isinstance(current, dict) and part in current) or (isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)):
            current = current[part]
            path.append(part)
        elif i == len(loc) - 1 and isinstance(current, dict) and isinstance(part, str) and not _is_tag(part):
            path.append(part)  # a missing or unknown key: name it
    return tuple(path)


def _is_tag(part: str) -> bool:
    return part in STEP_MODELS or part[:1].isupper() or part.startswith(
        ("literal[", "str", "int", "float", "bool", "dict[", "list[", "constrained-")
    )


def _label(path: Path_, data: Any) -> str:
    if len(path) >= 2 and path[0] == "steps" and isinstance(path[1], int):
        step = data["steps"][path[1]]
        kind = next(iter(step)) if isinstance(step, dict) and step else "?"
        rest = [str(p) for p in path[3:]]
        inner = f", {'.'.join(rest)}" if rest else ""
        return f"step {path[1] + 1} ({kind}{inner})"
    return ".".join(str(p) for p in path) or "recipe"


def _message(errors: list[dict[str, Any]], path: Path_, data: Any) -> str:
    kinds = {e["type"] for e in errors}
    if "extra_forbidden" in kinds:
        name = path[-1] if path else "?"
        known = _known_keys(path, data)
        guess = closest(str(name), known) if known else None
        tip = f"; did you mean {guess!r}?" if guess else (f"; known keys: {', '.join(known)}" if known else "")
        return f"unknown key {name!r}{tip}"
    if "missing" in kinds:
        return f"required key {path[-1]!r} is missing" if path else "a required key is missing"
    messages: list[str] = []
    for err in errors:
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "literal_error":
            msg = msg.replace("Input should be", "expected")
        elif err["type"] in ("model_type", "model_attributes_type", "dict_type"):
            msg = ("or a mapping" if messages else "expected a mapping") + _fields_hint(err)
        if msg not in messages:
            messages.append(msg)
    got = _value_at(path, data)
    shown = f" (got {got!r})" if got is not None and not isinstance(got, (dict, list)) else ""
    return " ".join(messages) + shown


def _fields_hint(err: dict[str, Any]) -> str:
    loc = [p for p in err["loc"] if isinstance(p, str) and p[:1].isupper()]
    if not loc:
        return ""
    from prepline.recipe import model

    cls = getattr(model, loc[-1], None)
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return " with keys " + ", ".join(cls.model_fields)
    return ""


def _value_at(path: Path_, data: Any) -> Any:
    current = data
    for part in path:
        try:
            current = current[part]
        except (KeyError, IndexError, TypeError):
            return None
    return current


def _known_keys(path: Path_, data: Any) -> list[str]:
    """The keys the model at ``path[:-1]`` accepts."""
    from prepline.recipe import model

    if len(path) >= 3 and path[0] == "steps":
        kind = next(iter(data["steps"][path[1]]))
        cls: Any = STEP_MODELS[kind]
        field_type = cls.model_fields[kind].annotation
        if len(path) >= 5 and path[3] in ("csv", "parquet"):  # an output's file options
            return list((model.CsvWrite if path[3] == "csv" else model.ParquetWrite).model_fields)
        for candidate in (model.ExtractJson, model.Bin, model.Filter, model.Dedupe, model.Output, model.Aggregate, model.Split, model.CastSpec, model.FillConstant, model.JsonField):
            if candidate.__name__ in str(field_type):
                return list(candidate.model_fields)
        return []
    if len(path) == 1:
        return list(Recipe.model_fields)
    if len(path) >= 2 and path[0] == "outputs":
        if len(path) == 2:
            return list(model.OutputDefaults.model_fields)
        return list((model.CsvWrite if path[1] == "csv" else model.ParquetWrite).model_fields)
    if len(path) >= 2 and path[0] == "input":
        if len(path) == 2:
            return list(model.InputSpec.model_fields)
        if path[1] == "csv":
            return list(model.CsvOptions.model_fields)
        if path[1] == "columns":
            return list(model.ColumnSpec.model_fields)
    return []
