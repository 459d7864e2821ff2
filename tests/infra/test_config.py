"""Context parsing: defaults, validation and the messages a user sees (no CDK needed)."""

from __future__ import annotations

import sys

import pytest

from tests.infra.cfn import INFRA

if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

from prepline_infra.config import ConfigError, InfraConfig


def test_defaults_synthesize_a_production_stack_without_ci_or_schedule():
    config = InfraConfig.from_context({})
    assert (
        config.prefix == "prepline"
        and config.env == "prod"
        and config.stack_name == "prepline-prod"
    )
    assert config.job_name_prefix == "prepline-"
    assert (config.raw_prefix, config.processed_prefix, config.code_prefix) == (
        "input/",
        "output/",
        "code/",
    )
    assert config.recipe_key == "code/recipe.yaml"
    assert config.github is None and config.schedule is None and config.notification_email is None
    assert config.kms is False and config.is_dev is False


def test_cdk_keys_and_feature_flags_are_ignored():
    config = InfraConfig.from_context(
        {"@aws-cdk/core:target-partitions": ["aws"], "aws:cdk:enable-path-metadata": True}
    )
    assert config.env == "prod"


def test_github_subject_is_the_branch_or_the_environment():
    branch = InfraConfig.from_context(
        {"github_repo": "acme/prepline", "github_branch": "release"}
    ).github
    assert branch is not None and branch.subject == "repo:acme/prepline:ref:refs/heads/release"
    environment = InfraConfig.from_context(
        {"github_repo": "acme/prepline", "github_environment": "production"}
    ).github
    assert (
        environment is not None
        and environment.subject == "repo:acme/prepline:environment:production"
    )
    split = InfraConfig.from_context({"github_owner": "acme", "github_repo": "prepline"}).github
    assert split is not None and split.repository == "acme/prepline"


def test_context_strings_from_the_command_line_are_converted():
    config = InfraConfig.from_context(
        {
            "kms": "true",
            "instance_count": "2",
            "processed_transition_days": "45",
            "raw_prefix": "/landing",
        }
    )
    assert (
        config.kms is True and config.instance_count == 2 and config.processed_transition_days == 45
    )
    assert config.raw_prefix == "landing/"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"env": "staging"}, "context 'env' must be one of dev, prod, got 'staging'"),
        ({"evn": "dev"}, "unknown context key 'evn'. Did you mean 'env'?"),
        ({"prefix": "Prepline"}, "context 'prefix' is 'Prepline'; expected 2-20 lowercase"),
        ({"prefix": "a-very-long-project-prefix"}, "context 'prefix'"),
        ({"github_repo": "prepline"}, "context 'github_repo' is 'prepline'; expected OWNER/NAME"),
        (
            {"github_repo": "acme/prepline", "github_branch": "release/*"},
            "must be one exact branch",
        ),
        ({"github_owner": "acme"}, "'github_repo' is not"),
        (
            {
                "github_repo": "acme/prepline",
                "github_oidc_provider_arn": "arn:aws:iam::1:oidc-provider/x",
            },
            "github_oidc_provider_arn",
        ),
        ({"schedule": "every night"}, "is not an EventBridge Scheduler expression"),
        ({"notification_email": "ops"}, "is not an e-mail address"),
        (
            {"recipe_key": "scripts/recipe.yaml"},
            "must name a .yaml file under the code prefix 'code/'",
        ),
        ({"recipe_key": "code/recipe.json"}, "must name a .yaml file"),
        ({"kms": "maybe"}, "expected true or false"),
        ({"instance_count": "0"}, "must be at least 1"),
        ({"processed_transition_days": "7"}, "must be at least 30"),
        ({"max_runtime_seconds": "soon"}, "expected a whole number"),
        ({"instance_type": "m5.large"}, "expected a SageMaker instance type"),
        ({"schedule_timezone": "Mars/Olympus"}, "expected an IANA time zone"),
    ],
)
def test_invalid_context_is_refused_with_a_precise_message(context, message):
    with pytest.raises(ConfigError) as caught:
        InfraConfig.from_context(context)
    assert message in str(caught.value)
