"""An optional SageMaker Feature Store feature group, declared with ``-c feature_group=NAME``.

The group has an online store, and an offline store under the processed bucket's
``feature-store/`` prefix. Its features come from ``-c feature_group_features``
(default: the employees recipe's ``transformed_data`` plus ``event_time``).

Feature Store writes the offline store with a role of its own (``RoleArn``): only
SageMaker acting for this account can assume it, and it may put objects under the
prefix and read the bucket's ACL (what AWS's AmazonSageMakerFeatureStoreAccess
policy grants, on one prefix instead of every "*sagemaker*" bucket), plus
``kms:GenerateDataKey`` on the data key with ``-c kms=true``.

The processing role gets exactly what ``prepline features ingest`` does to this one
group: ``DescribeFeatureGroup`` (its schema check) and ``PutRecord``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from prepline_infra.checks import acknowledge, wildcard_resource
from prepline_infra.config import InfraConfig
from prepline_infra.processing_role import ProcessingRole
from prepline_infra.storage import Storage

OFFLINE_PREFIX = "feature-store/"
INGEST_ACTIONS = ["sagemaker:DescribeFeatureGroup", "sagemaker:PutRecord"]


def feature_group_arn(name: str) -> str:
    """SageMaker ARNs carry the feature group's name in lower case."""
    return (
        f"arn:{cdk.Aws.PARTITION}:sagemaker:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}"
        f":feature-group/{name.lower()}"
    )


class FeatureStore(Construct):
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
        spec = config.feature_group
        if spec is None:
            raise ValueError("FeatureStore needs config.feature_group")
        stack = cdk.Stack.of(self)
        processed = storage.processed

        self.offline_role = iam.Role(
            self,
            "OfflineStoreRole",
            description=f"{config.prefix}: assumed by Feature Store to write feature group {spec.name}'s offline store",
            assumed_by=iam.ServicePrincipal(
                "sagemaker.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}},
            ),
        )
        offline_objects = processed.arn_for_objects(f"{OFFLINE_PREFIX}*")
        self.offline_role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteTheOfflineStore",
                actions=["s3:PutObject", "s3:PutObjectAcl"],
                resources=[offline_objects],
            )
        )
        self.offline_role.add_to_policy(
            iam.PolicyStatement(
                sid="CheckTheOfflineStoreBucket",
                actions=["s3:GetBucketAcl"],
                resources=[processed.bucket_arn],
            )
        )
        s3_storage: dict[str, str] = {
            # no trailing '/': Feature Store appends "/<account>/sagemaker/<region>/offline-store/..."
            "S3Uri": f"s3://{processed.bucket_name}/{OFFLINE_PREFIX.rstrip('/')}"
        }
        if storage.key is not None:
            s3_storage["KmsKeyId"] = storage.key.key_arn
            self.offline_role.add_to_policy(
                iam.PolicyStatement(
                    sid="EncryptTheOfflineStore",
                    actions=["kms:GenerateDataKey"],
                    resources=[storage.key.key_arn],
                )
            )

        self.group = sagemaker.CfnFeatureGroup(
            self,
            "FeatureGroup",
            feature_group_name=spec.name,
            record_identifier_feature_name=spec.record_id,
            event_time_feature_name=spec.event_time,
            feature_definitions=[
                sagemaker.CfnFeatureGroup.FeatureDefinitionProperty(feature_name=name, feature_type=kind)
                for name, kind in spec.features
            ],
            online_store_config={"EnableOnlineStore": True},
            offline_store_config={"S3StorageConfig": s3_storage},
            role_arn=self.offline_role.role_arn,
            description=f"{config.prefix}: features written by `prepline features ingest`",
        )
        # Feature Store checks the role when the group is created: its policy must exist first.
        self.group.node.add_dependency(self.offline_role)
        self.group.apply_removal_policy(
            cdk.RemovalPolicy.DESTROY if config.is_dev else cdk.RemovalPolicy.RETAIN
        )

        self.arn = feature_group_arn(spec.name)
        processing.role.add_to_policy(
            iam.PolicyStatement(
                sid="IngestIntoTheFeatureGroup",
                actions=INGEST_ACTIONS,
                resources=[self.arn],
            )
        )

        # One acknowledgment per wildcard resource cdk-nag reports (AwsSolutions-IAM5).
        acknowledge(
            self.offline_role.node.find_child("DefaultPolicy"),
            wildcard_resource(stack, offline_objects),
            "Feature Store names the offline store's objects itself (account, region, group, "
            "time partitions); the wildcard is limited to the feature-store/ prefix.",
        )
