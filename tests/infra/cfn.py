"""Small readers for synthesized CloudFormation templates (plain dicts)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements_of_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of every AWS::IAM::Policy attached to the role (and its inline policies)."""
    found: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            found.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    for inline in template["Resources"][role_id]["Properties"].get("Policies", []):
        found.extend(inline["PolicyDocument"]["Statement"])
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    return {action for s in statements if s["Effect"] == "Allow" for action in as_list(s["Action"])}


def statements_with(statements: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [s for s in statements if action in as_list(s["Action"])]


def render(value: Any) -> str:
    """An intrinsic as readable text: {"Fn::GetAtt": ["X", "Arn"]} -> "<X.Arn>", Ref -> "<X>"."""
    from prepline_infra.checks import render_resource

    return render_resource(value)


def render_any(value: Any) -> str:
    """Like ``render``, and an ``Fn::Sub`` becomes its template string."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render_any(part) for part in parts)
    return render(value)


def state_machine_definition(template: dict[str, Any], state_machine_id: str) -> dict[str, Any]:
    """The Amazon States Language document, intrinsics rendered as "<Id.Attr>" text."""
    definition = template["Resources"][state_machine_id]["Properties"]["DefinitionString"]
    return json.loads(render_any(definition))


def all_statements(node: Any) -> list[dict[str, Any]]:
    """Every policy statement anywhere in ``node`` (identity, bucket, topic and key policies)."""
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Statement" and isinstance(value, list):
                found.extend(value)
            else:
                found.extend(all_statements(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(all_statements(item))
    return found
