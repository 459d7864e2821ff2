"""Build and synthesize the app: context in, a checked cloud assembly out.

``build_app`` is what ``infra/app.py`` (and ``cdk synth``) runs and what the tests
import. The feature flags in ``infra/cdk.json`` are applied here too, so
``python infra/app.py`` and ``cdk synth`` produce the same template.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from prepline_infra.checks import add_security_checks
from prepline_infra.config import ConfigError, InfraConfig
from prepline_infra.stack import PreplineStack

INFRA_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = INFRA_DIR.parent
DEFAULT_OUTDIR = INFRA_DIR / "cdk.out"


def cdk_json_context() -> dict[str, Any]:
    """The ``context`` block of ``infra/cdk.json`` (feature flags and defaults)."""
    with open(INFRA_DIR / "cdk.json", encoding="utf-8") as handle:
        return dict(json.load(handle).get("context", {}))


def new_app(
    context: Mapping[str, Any] | None = None, outdir: str | os.PathLike[str] | None = None
) -> cdk.App:
    """An App with cdk.json's context under ``context``; ``-c`` values (CDK_CONTEXT_JSON) win over both.

    The cloud assembly goes to ``outdir``, else ``$CDK_OUTDIR`` (set by the cdk CLI),
    else ``infra/cdk.out``.
    """
    merged = {**cdk_json_context(), **(context or {})}
    target = outdir or os.environ.get("CDK_OUTDIR") or DEFAULT_OUTDIR
    return cdk.App(context=merged, outdir=str(target))


def add_stack(
    app: cdk.App, config: InfraConfig, *, image_context: Path = REPO_ROOT
) -> PreplineStack:
    return PreplineStack(app, config=config, image_context=image_context)


def build_app(
    context: Mapping[str, Any] | None = None, outdir: str | os.PathLike[str] | None = None
) -> cdk.App:
    """The app with one stack configured by its context, checked by cdk-nag at synth."""
    app = new_app(context, outdir)
    add_stack(app, InfraConfig.from_context(app.node.get_all_context()))
    add_security_checks(app)
    return app


def main() -> int:
    try:
        app = build_app()
        assembly = app.synth()
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except RuntimeError as err:  # jsii: the cdk-nag report was printed above
        if "ValidationFailed" not in str(err):
            raise
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(
        f"Synthesized {', '.join(s.stack_name for s in assembly.stacks)} into {assembly.directory}",
        file=sys.stderr,
    )
    return 0
