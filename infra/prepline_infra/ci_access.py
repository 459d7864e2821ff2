"""The role GitHub Actions assumes through OIDC to run this project's processing jobs.

Trust: only tokens whose audience is ``sts.amazonaws.com`` and whose subject is the
configured repository on the configured branch (or GitHub environment), both with
``StringEquals`` — no wildcard subject, no ``ForAllValues``.

Permissions: create, describe, list, stop and tag processing jobs named
``<prefix>-*``; pass the processing role (to SageMaker only); upload recipes and
code under the artifacts bucket's code prefix; read the jobs' logs; read this
stack's outputs (``prepline infra outputs``).

GitHub allows one OIDC provider per account: the stack creates it, or imports the
existing one with ``-c github_oidc_provider_arn=arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from prepline_infra.checks import acknowledge, wildcard_resource
from prepline_infra.config import InfraConfig
from prepline_infra.processing_role import (
    ProcessingRole,
    job_log_streams_arn,
    log_group_arn,
    log_group_arns,
)
from prepline_infra.storage import Storage

GITHUB_ISSUER = "token.actions.githubusercontent.com"
AUDIENCE = "sts.amazonaws.com"


def processing_jobs_arn(config: InfraConfig) -> str:
    """This project's processing jobs (SageMaker ARNs carry the job name in lower case)."""
    return (
        f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        f":processing-job/{config.job_name_prefix}*"
    )


class CiAccess(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        storage: Storage,
        processing: ProcessingRole,
    ) -> None:
        super().__init__(scope, construct_id)
        github = config.github
        if github is None:
            raise ValueError("CiAccess needs config.github")
        stack = cdk.Stack.of(self)

        if github.oidc_provider_arn:
            provider = iam.OidcProviderNative.from_oidc_provider_arn(
                self, "GitHubProvider", github.oidc_provider_arn
            )
        else:
            provider = iam.OidcProviderNative(
                self, "GitHubProvider", url=f"https://{GITHUB_ISSUER}", client_ids=[AUDIENCE]
            )

        self.role = iam.Role(
            self,
            "Role",
            description=f"{config.prefix}: GitHub Actions in {github.subject}",
            max_session_duration=cdk.Duration.hours(1),
            assumed_by=iam.WebIdentityPrincipal(
                provider.oidc_provider_arn,
                conditions={
                    "StringEquals": {
                        f"{GITHUB_ISSUER}:aud": AUDIENCE,
                        f"{GITHUB_ISSUER}:sub": github.subject,
                    }
                },
            ),
        )

        jobs = processing_jobs_arn(config)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="RunThisProjectsProcessingJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[jobs],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ListProcessingJobs",
                actions=["sagemaker:ListProcessingJobs"],
                resources=["*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="PassTheProcessingRoleToSageMaker",
                actions=["iam:PassRole"],
                resources=[processing.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        storage.grant_upload(self.role, storage.artifacts, config.code_prefix)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadTheJobLogs",
                actions=["logs:DescribeLogStreams", "logs:FilterLogEvents"],
                resources=log_group_arns(),
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadThisProjectsJobLogStreams",
                actions=["logs:GetLogEvents"],
                resources=[job_log_streams_arn(config)],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadThisStacksOutputs",
                actions=["cloudformation:DescribeStacks"],
                resources=[stack.stack_id],
            )
        )

        # One acknowledgment per wildcard resource cdk-nag reports (AwsSolutions-IAM5).
        policy = self.role.node.find_child("DefaultPolicy")
        wildcards = [
            (
                jobs,
                "Job names are unique per run (prefix + timestamp or UUID); the wildcard is "
                "limited to this project's job-name prefix.",
            ),
            (
                storage.artifacts.arn_for_objects(f"{config.code_prefix}*"),
                "CI checks for and uploads each recipe and its code under the code prefix "
                "(content-addressed names, chosen per recipe).",
            ),
            (
                log_group_arn(":*"),
                "Listing and filtering the job log streams needs the log group ARN, which IAM "
                "spells with ':*'; it names this one group.",
            ),
            (
                job_log_streams_arn(config),
                "Log streams are named after the job; the wildcard is limited to this project's "
                "job-name prefix.",
            ),
            (
                "*",
                "sagemaker:ListProcessingJobs has no resource-level permissions (IAM requires "
                "'*'); it only lists job names and statuses.",
            ),
        ]
        for resource, reason in wildcards:
            acknowledge(policy, wildcard_resource(stack, resource), reason)

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
