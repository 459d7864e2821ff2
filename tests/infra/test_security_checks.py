"""cdk-nag (AwsSolutionsChecks) and cfn-lint on the synthesized templates."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.infra.cfn import INFRA, all_statements, as_list, render_any

pytestmark = pytest.mark.infra

GENERIC_REASONS = {"", "n/a", "ok", "needed", "required", "false positive", "suppressed", "todo"}


def acknowledgments(template: dict) -> list[tuple[str, str, str]]:
    """(logical id, finding id, reason) of every acknowledgment written into the template."""
    return [
        (logical_id, rule["id"], rule["reason"])
        for logical_id, resource in template["Resources"].items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


def test_no_unacknowledged_cdk_nag_findings(synth):
    found = [
        f"{v['ruleName']} at {', '.join(c['constructPath'] for c in v['violatingConstructs'])}: {v['description']}"
        for v in synth.violations
    ]
    assert found == [], "cdk-nag findings:\n" + "\n".join(found)


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_every_acknowledgment_names_one_finding_and_says_why(synth, variant):
    acks = acknowledgments(synth.templates[variant])
    assert acks, "expected the IAM5 acknowledgments in the template metadata"
    for logical_id, finding, reason in acks:
        # cdk-nag 3 acknowledges findings one by one: "AwsSolutions-IAM5[Resource::...]".
        assert finding.startswith("AwsSolutions-IAM5[Resource::") and finding.endswith("]"), finding
        assert reason.strip().lower() not in GENERIC_REASONS and len(reason) >= 60, (
            logical_id,
            reason,
        )
    per_resource = [(logical_id, finding) for logical_id, finding, _ in acks]
    assert len(per_resource) == len(set(per_resource))


@pytest.mark.parametrize("variant", ["prod", "dev"])
def test_every_acknowledged_wildcard_is_in_that_policy(synth, variant):
    # An acknowledgment must match a wildcard that is really there: no stale acknowledgments.
    template = synth.templates[variant]
    for logical_id, finding, _ in acknowledgments(template):
        resource = finding[len("AwsSolutions-IAM5[Resource::") : -1]
        present = {
            render_any(r)
            for s in all_statements(template["Resources"][logical_id])
            for r in as_list(s.get("Resource", []))
        }
        assert resource in present, (logical_id, resource)


def test_acknowledgments_are_the_expected_fourteen(synth):
    def count(variant: str, role: str) -> int:
        policy_prefix = {
            "processing": "ProcessingRoleDefaultPolicy",
            "ci": "CiAccessRoleDefaultPolicy",
            "schedule": "ScheduledRunStateMachineRoleDefaultPolicy",
            "feature_store": "FeatureStoreOfflineStoreRoleDefaultPolicy",
        }[role]
        return sum(
            1
            for logical_id, _, _ in acknowledgments(synth.templates[variant])
            if logical_id.startswith(policy_prefix)
        )

    # raw, code, processed, log group, log streams, ecr:GetAuthorizationToken
    assert count("prod", "processing") == 6
    # jobs, code, log group, log streams, sagemaker:ListProcessingJobs
    assert count("prod", "ci") == 5
    # jobs, logs delivery + X-Ray
    assert count("dev", "schedule") == 2
    # the offline store's feature-store/ prefix (dev declares a feature group)
    assert count("dev", "feature_store") == 1
    assert len(acknowledgments(synth.templates["dev"])) == 14


def test_cfn_lint_finds_nothing(synth):
    config = INFRA / ".cfnlintrc.yaml"
    files = [str(path) for path in synth.template_files.values()]
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            "--config-file",
            str(config),
            "--format",
            "json",
            *files,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    matches = json.loads(result.stdout or "[]")
    errors = [m for m in matches if m["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=2)
    assert matches == [], json.dumps(matches, indent=2)  # warnings too, except those ignored below
    assert result.returncode == 0, result.stderr


def test_cfn_lint_ignores_no_errors_and_explains_each_ignored_warning():
    import yaml

    text = (INFRA / ".cfnlintrc.yaml").read_text()
    ignored = yaml.safe_load(text).get("ignore_checks", [])
    assert ignored == ["W3005"]
    assert not any(rule.startswith("E") for rule in ignored)
    for rule in ignored:
        assert f"# {rule} " in text, f"{rule} is ignored without a reason"
