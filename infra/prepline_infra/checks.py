"""cdk-nag's AWS Solutions checks, and the one way this app acknowledges a finding.

A finding is acknowledged on the construct that causes it, next to the code that
causes it, with a reason a reviewer can check. cdk-nag 3 wants one acknowledgment
per finding: an IAM5 wildcard finding is named ``AwsSolutions-IAM5[Resource::...]``
or ``AwsSolutions-IAM5[Action::...]``, never the bare rule.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct


def add_security_checks(app: cdk.App) -> None:
    """Run AwsSolutionsChecks at synth; an unacknowledged finding fails the synth.

    Acknowledgments are also written into each resource's ``Metadata.cdk_nag`` so the
    template itself carries the audit trail.
    """
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one finding of ``rule`` on ``construct`` (and its children)."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def wildcard_resource(stack: cdk.Stack, resource: str) -> str:
    """The IAM5 finding id of a wildcard resource, as cdk-nag spells it.

    cdk-nag renders ``{"Fn::GetAtt": [id, "Arn"]}`` as ``<id.Arn>`` and pseudo
    parameters as ``<AWS::Region>``; ``resource`` is the ARN with tokens, resolved here.
    """
    if resource == "*":
        return "AwsSolutions-IAM5[Resource::*]"
    return f"AwsSolutions-IAM5[Resource::{render_resource(stack.resolve(resource))}]"


def render_resource(value: object) -> str:
    """A resolved IAM resource (string or intrinsic) in cdk-nag's notation."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((fn, arg),) = value.items()
        if fn == "Fn::Join":
            separator, parts = arg
            return separator.join(render_resource(part) for part in parts)
        if fn == "Fn::GetAtt":
            return f"<{arg[0]}.{arg[1]}>"
        if fn == "Ref":
            return f"<{arg}>"
    raise ValueError(f"cannot render {value!r} as a cdk-nag finding id")
