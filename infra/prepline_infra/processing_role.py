"""The role SageMaker assumes to run a processing job.

It may read the raw input prefix and the code prefix, write the processed prefix,
write the job's log streams and pull the processing image — nothing else. Only
SageMaker acting for this account (``aws:SourceAccount``) can assume it.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from constructs import Construct

from prepline_infra.checks import acknowledge, wildcard_resource
from prepline_infra.config import InfraConfig
from prepline_infra.image import ProcessingImage
from prepline_infra.storage import Storage

# SageMaker writes every processing job's logs to this group, in streams named
# "<job-name>/algo-<n>-<epoch>".
PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def log_group_arn(suffix: str = "") -> str:
    return (
        f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        f":log-group:{PROCESSING_LOG_GROUP}{suffix}"
    )


def log_group_arns() -> list[str]:
    """The processing log group, in both spellings IAM matches log-group actions against."""
    return [log_group_arn(), log_group_arn(":*")]


def job_log_streams_arn(config: InfraConfig) -> str:
    """The log streams of this project's jobs (and no other job's)."""
    return log_group_arn(f":log-stream:{config.job_name_prefix}*")


class ProcessingRole(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        storage: Storage,
        image: ProcessingImage,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        self.role = iam.Role(
            self,
            "Role",
            description=f"{config.prefix}: assumed by SageMaker to run {config.job_name_prefix}* processing jobs",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
        )

        storage.grant_read(self.role, storage.raw, config.raw_prefix)
        storage.grant_read(self.role, storage.artifacts, config.code_prefix)
        storage.grant_write(self.role, storage.processed, config.processed_prefix)

        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="CreateTheProcessingLogGroup",
                actions=["logs:CreateLogGroup", "logs:DescribeLogStreams"],
                resources=log_group_arns(),
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteThisProjectsJobLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[job_log_streams_arn(config)],
            )
        )
        image.grant_pull(self.role)

        # One acknowledgment per wildcard resource cdk-nag reports (AwsSolutions-IAM5).
        policy = self.role.node.find_child("DefaultPolicy")
        wildcards = [
            (
                storage.raw.arn_for_objects(f"{config.raw_prefix}*"),
                "Jobs read every object under the raw input prefix; the objects are not known "
                "when the role is created.",
            ),
            (
                storage.artifacts.arn_for_objects(f"{config.code_prefix}*"),
                "Jobs read the recipes and code uploaded under the code prefix; object names are "
                "chosen per job.",
            ),
            (
                storage.processed.arn_for_objects(f"{config.processed_prefix}*"),
                "Jobs write their outputs under the processed prefix, in a folder named per run.",
            ),
            (
                log_group_arn(":*"),
                "SageMaker creates the shared /aws/sagemaker/ProcessingJobs group on first use and "
                "lists its streams; ':*' is how IAM names a log group, not a wider scope.",
            ),
            (
                job_log_streams_arn(config),
                "Log streams are named after the job; the wildcard is limited to this project's "
                "job-name prefix.",
            ),
            (
                "*",
                "ecr:GetAuthorizationToken has no resource-level permissions (IAM requires '*'); "
                "the pull actions themselves are limited to the image repository.",
            ),
        ]
        for resource, reason in wildcards:
            acknowledge(policy, wildcard_resource(stack, resource), reason)

    @property
    def role_arn(self) -> str:
        return self.role.role_arn
