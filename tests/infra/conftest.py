"""One synthesis for the whole session: two stacks in one CDK app, checked by cdk-nag.

Starting jsii (the Node process behind aws_cdk) and synthesizing costs ~10 s, so the
``synth`` fixture builds both variants at once and every test reads the result:

- ``prod``: the defaults (RETAIN, S3-managed keys, no schedule, no e-mail) plus a
  GitHub repository, so the CI role and a new OIDC provider exist;
- ``dev``: env=dev (DESTROY + auto-delete), KMS, a schedule, an e-mail subscription,
  a GitHub environment, an imported OIDC provider and a Feature Store feature group.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.infra.cfn import INFRA

# Node 20 is end-of-life for jsii; its banner on every start is noise in test output.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

PROD_CONTEXT: dict[str, Any] = {"github_repo": "acme/prepline"}
DEV_CONTEXT: dict[str, Any] = {
    "env": "dev",
    "github_repo": "acme/prepline",
    "github_environment": "dev",
    "github_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
    "schedule": "cron(0 3 * * ? *)",
    "schedule_timezone": "Europe/Paris",
    "notification_email": "data-team@example.com",
    "kms": "true",
    "processed_transition_days": "60",
    "feature_group": "employees",  # the default features: the employees recipe's transformed_data
}
VARIANTS = {"prod": PROD_CONTEXT, "dev": DEV_CONTEXT}


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]  # variant -> CloudFormation template
    template_files: dict[str, Path]
    ids: dict[str, dict[str, str]]  # variant -> {"raw": logical id, ...}
    report: dict[str, Any]  # cdk's validation-report.json
    configs: dict[str, Any]  # variant -> InfraConfig

    @property
    def violations(self) -> list[dict[str, Any]]:
        return [
            v
            for plugin in self.report.get("pluginReports", [])
            for v in plugin.get("violations", [])
        ]


def _import_infra() -> None:
    pytest.importorskip(
        "aws_cdk", reason="the infra extra is not installed: pip install -e '.[infra]'"
    )
    pytest.importorskip(
        "cdk_nag", reason="the infra extra is not installed: pip install -e '.[infra]'"
    )
    if str(INFRA) not in sys.path:
        sys.path.insert(0, str(INFRA))


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    _import_infra()
    from prepline_infra.app import add_stack, new_app
    from prepline_infra.checks import add_security_checks
    from prepline_infra.config import InfraConfig

    outdir = tmp_path_factory.mktemp("cdk.out")
    app = new_app({}, outdir)
    configs = {name: InfraConfig.from_context(context) for name, context in VARIANTS.items()}
    stacks = {name: add_stack(app, config) for name, config in configs.items()}
    add_security_checks(app)
    try:
        app.synth()
    except RuntimeError as err:  # unacknowledged cdk-nag findings: the tests report them
        if "ValidationFailed" not in str(err):
            raise

    ids = {}
    for name, stack in stacks.items():
        constructs = {
            "raw": stack.storage.raw,
            "processed": stack.storage.processed,
            "artifacts": stack.storage.artifacts,
            "logs": stack.storage.logs,
            "processing_role": stack.processing.role,
            "notifications_key": stack.notifications.key,
            "topic": stack.notifications.topic,
            "rule": stack.notifications.rule,
        }
        if stack.ci is not None:
            constructs["ci_role"] = stack.ci.role
        if stack.storage.key is not None:
            constructs["data_key"] = stack.storage.key
        if stack.scheduled is not None:
            constructs["state_machine"] = stack.scheduled.state_machine
            constructs["state_machine_role"] = stack.scheduled.state_machine.role
        ids[name] = {
            key: stack.get_logical_id(c.node.default_child) for key, c in constructs.items()
        }
        if stack.feature_store is not None:
            ids[name]["feature_group"] = stack.get_logical_id(stack.feature_store.group)
            ids[name]["feature_store_role"] = stack.get_logical_id(
                stack.feature_store.offline_role.node.default_child
            )

    files = {
        name: outdir / f"{config.stack_name}.template.json" for name, config in configs.items()
    }
    return Synthesized(
        outdir=outdir,
        templates={name: json.loads(path.read_text()) for name, path in files.items()},
        template_files=files,
        ids=ids,
        report=json.loads((outdir / "validation-report.json").read_text()),
        configs=configs,
    )


@pytest.fixture(scope="session")
def templates(synth: Synthesized) -> dict[str, Any]:
    """aws_cdk.assertions.Template per variant."""
    from aws_cdk.assertions import Template

    return {name: Template.from_json(template) for name, template in synth.templates.items()}
