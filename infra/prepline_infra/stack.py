"""The prepline stack: one construct per concern, wired together, and its outputs.

The output ids are a contract with ``prepline infra outputs``
(``src/prepline/cloud/stack_outputs.py``): rename one and the CLI loses it.
"""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
from constructs import Construct

from prepline_infra.ci_access import CiAccess
from prepline_infra.config import InfraConfig
from prepline_infra.feature_store import FeatureStore
from prepline_infra.image import ProcessingImage
from prepline_infra.notifications import Notifications
from prepline_infra.processing_role import ProcessingRole
from prepline_infra.schedule import ScheduledRun
from prepline_infra.storage import Storage


class PreplineStack(cdk.Stack):
    def __init__(self, scope: Construct, *, config: InfraConfig, image_context: Path) -> None:
        super().__init__(
            scope,
            config.stack_name,
            description=f"prepline ({config.env}): storage, roles, CI access, image, notifications and schedules for {config.job_name_prefix}* processing jobs",
        )
        cdk.Tags.of(self).add("project", config.prefix)
        cdk.Tags.of(self).add("environment", config.env)

        self.storage = Storage(self, "Storage", config=config)
        self.image = ProcessingImage(self, "Image", context_dir=image_context)
        self.processing = ProcessingRole(
            self, "Processing", config=config, storage=self.storage, image=self.image
        )
        self.ci = None
        if config.github is not None:
            self.ci = CiAccess(
                self, "CiAccess", config=config, storage=self.storage, processing=self.processing
            )
        else:
            cdk.Annotations.of(self).add_info(
                "No CI role: GitHub Actions access is created only for a named repository. "
                "Set -c github_repo=OWNER/NAME (and -c github_branch=...) to create it."
            )
        self.notifications = Notifications(self, "Notifications", config=config)
        self.scheduled = None
        if config.schedule is not None:
            self.scheduled = ScheduledRun(
                self,
                "ScheduledRun",
                config=config,
                storage=self.storage,
                processing=self.processing,
                image=self.image,
            )
        self.feature_store = None
        if config.feature_group is not None:
            self.feature_store = FeatureStore(
                self,
                "FeatureStore",
                config=config,
                storage=self.storage,
                processing=self.processing,
            )
        self._outputs(config)

    def _outputs(self, config: InfraConfig) -> None:
        storage = self.storage
        outputs = {
            "RawBucketName": (storage.raw.bucket_name, "Raw data bucket"),
            "ProcessedBucketName": (storage.processed.bucket_name, "Processed data bucket"),
            "ArtifactsBucketName": (storage.artifacts.bucket_name, "Recipes and code bucket"),
            "LogsBucketName": (storage.logs.bucket_name, "Server access logs bucket"),
            "RawInputUri": (
                storage.raw.s3_url_for_object(config.raw_prefix),
                "Where processing jobs read input",
            ),
            "ProcessedOutputUri": (
                storage.processed.s3_url_for_object(config.processed_prefix),
                "Where processing jobs write output",
            ),
            "CodeUri": (
                storage.artifacts.s3_url_for_object(config.code_prefix),
                "Where recipes and code are uploaded",
            ),
            "JobNamePrefix": (config.job_name_prefix, "Processing job names must start with this"),
            "ProcessingRoleArn": (
                self.processing.role_arn,
                "Role for CreateProcessingJob's RoleArn",
            ),
            "NotificationTopicArn": (
                self.notifications.topic_arn,
                "SNS topic told when a job ends",
            ),
            "ImageUri": (self.image.image_uri, "Processing image (built and pushed by cdk deploy)"),
        }
        if self.ci is not None:
            outputs["CiRoleArn"] = (
                self.ci.role_arn,
                "Role for aws-actions/configure-aws-credentials role-to-assume",
            )
        if self.scheduled is not None:
            outputs["StateMachineArn"] = (
                self.scheduled.state_machine.state_machine_arn,
                "Scheduled run state machine",
            )
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)
