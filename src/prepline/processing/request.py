"""A CreateProcessingJob request: load it and check it against the SageMaker service model
that botocore ships, plus the processing contract's own rules. Every problem is listed."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from prepline.errors import JobRequestError

PROCESSING_ROOT = "/opt/ml/processing/"


def load_request(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JobRequestError(f"job request {str(file)!r} does not exist",
                              hint="write one with `prepline job create` or `prepline job render`") from None
    if "{{" in text:
        from prepline.processing.template import PLACEHOLDER

        keys = sorted(set(PLACEHOLDER.findall(text)))
        raise JobRequestError(
            f"{file} is a template: it still has placeholders {', '.join('{{' + k + '}}' for k in keys)}",
            hint=f"render it first: prepline job render {file} " + " ".join(f"--set {k}=..." for k in keys),
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobRequestError(f"{file}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise JobRequestError(f"{file}: a CreateProcessingJob request is a JSON object")
    return data


@lru_cache(maxsize=1)
def _operation_shape() -> Any:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("CreateProcessingJob").input_shape


def validate_request(request: dict[str, Any], *, local: bool, source: str = "request") -> None:
    """Raise JobRequestError listing every problem; ``local`` also allows ``file://`` URIs."""
    problems: list[str] = []
    _check_shape(request, _operation_shape(), "", problems, local)
    problems.extend(_contract_problems(request, local))
    if problems:
        raise JobRequestError(
            f"{source}: the CreateProcessingJob request has {len(problems)} problem(s)",
            problems=problems,
            hint="fields and limits are those of the SageMaker API (aws sagemaker create-processing-job help)",
        )


_TYPES = {
    "string": (str,),
    "integer": (int,),
    "long": (int,),
    "boolean": (bool,),
    "double": (int, float),
    "float": (int, float),
    "timestamp": (str, int, float),
}


def _check_shape(value: Any, shape: Any, where: str, problems: list[str], local: bool) -> None:
    kind = shape.type_name
    label = where or "request"
    if kind == "structure":
        if not isinstance(value, dict):
            problems.append(f"{label}: expected an object, got {type(value).__name__}")
            return
        for name in shape.required_members:
            if name not in value:
                problems.append(f"{_join(where, name)}: required field is missing")
        for name, item in value.items():
            if name not in shape.members:
                from prepline.errors import closest

                guess = closest(name, list(shape.members))
                tip = f" (did you mean {guess!r}?)" if guess else ""
                problems.append(f"{_join(where, name)}: unknown field{tip}")
                continue
            _check_shape(item, shape.members[name], _join(where, name), problems, local)
        return
    if kind == "list":
        if not isinstance(value, list):
            problems.append(f"{label}: expected a list, got {type(value).__name__}")
            return
        _check_length(value, shape, label, problems, "items")
        for i, item in enumerate(value):
            _check_shape(item, shape.member, f"{label}[{i}]", problems, local)
        return
    if kind == "map":
        if not isinstance(value, dict):
            problems.append(f"{label}: expected an object, got {type(value).__name__}")
            return
        _check_length(value, shape, label, problems, "entries")
        for key, item in value.items():
            _check_shape(key, shape.key, f"{label} key {key!r}", problems, local)
            _check_shape(item, shape.value, f"{label}[{key!r}]", problems, local)
        return
    expected = _TYPES.get(kind)
    if expected and (not isinstance(value, expected) or (kind != "boolean" and isinstance(value, bool))):
        problems.append(f"{label}: expected {kind}, got {type(value).__name__} {value!r}")
        return
    if kind == "string":
        if shape.enum and value not in shape.enum:
            problems.append(f"{label}: {value!r} is not one of {', '.join(shape.enum)}")
        _check_length(value, shape, label, problems, "characters")
        pattern = shape.metadata.get("pattern")
        if pattern and not _matches(pattern, value) and not (local and where.endswith("S3Uri") and value.startswith("file://")):
            problems.append(f"{label}: {value!r} does not match the pattern {pattern}")
    elif kind in ("integer", "long", "double", "float"):
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and value < low:
            problems.append(f"{label}: {value} is below the minimum {low}")
        if high is not None and value > high:
            problems.append(f"{label}: {value} is above the maximum {high}")


def _check_length(value: Any, shape: Any, label: str, problems: list[str], unit: str) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and len(value) < low:
        problems.append(f"{label}: has {len(value)} {unit}, at least {low} needed")
    if high is not None and len(value) > high:
        problems.append(f"{label}: has {len(value)} {unit}, at most {high} allowed")


def _matches(pattern: str, value: str) -> bool:
    try:
        return re.fullmatch(pattern, value) is not None
    except re.error:  # a pattern Python's re cannot compile: don't guess
        return True


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _contract_problems(request: dict[str, Any], local: bool) -> list[str]:
    problems: list[str] = []
    inputs = request.get("ProcessingInputs") or []
    outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    names = [i.get("InputName") for i in inputs if isinstance(i, dict)] + [
        o.get("OutputName") for o in outputs if isinstance(o, dict)
    ]
    for name in sorted({n for n in names if n is not None and names.count(n) > 1}):
        problems.append(f"input/output name {name!r} is used more than once; names must be unique")
    paths: list[tuple[str, str]] = []
    for i, item in enumerate(inputs):
        s3 = item.get("S3Input") if isinstance(item, dict) else None
        if isinstance(s3, dict):
            paths.append((f"ProcessingInputs[{i}].S3Input.LocalPath", s3.get("LocalPath", "")))
            uri = s3.get("S3Uri", "")
            if not local and isinstance(uri, str) and uri.startswith("file://"):
                problems.append(f"ProcessingInputs[{i}].S3Input.S3Uri: file:// URIs run only locally (prepline job run)")
        if isinstance(item, dict) and "S3Input" not in item and "DatasetDefinition" not in item:
            problems.append(f"ProcessingInputs[{i}]: give S3Input (or DatasetDefinition)")
    for i, item in enumerate(outputs):
        s3 = item.get("S3Output") if isinstance(item, dict) else None
        if isinstance(s3, dict):
            paths.append((f"ProcessingOutputConfig.Outputs[{i}].S3Output.LocalPath", s3.get("LocalPath", "")))
    for label, path in paths:
        if not isinstance(path, str):
            continue
        normalized = str(Path(path)) + "/"
        if not normalized.startswith(PROCESSING_ROOT) or ".." in Path(path).parts:
            problems.append(f"{label}: {path!r} must be a path under {PROCESSING_ROOT}")
    return problems


def job_name(request: dict[str, Any]) -> str:
    return str(request["ProcessingJobName"])


def instance_count(request: dict[str, Any]) -> int:
    return int(request["ProcessingResources"]["ClusterConfig"]["InstanceCount"])
