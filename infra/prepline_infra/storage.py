"""The four buckets: raw data, processed data, artifacts (recipes and code), and access logs.

Every bucket blocks public access, refuses plain HTTP and TLS < 1.2, disables ACLs
(object ownership enforced) and is encrypted: S3-managed keys by default, a customer
managed KMS key with ``-c kms=true``. The logs bucket always uses S3-managed keys,
the only encryption S3 server access logging can deliver into.

Buckets are kept when the stack is destroyed (RETAIN), except with ``-c env=dev``,
where they are emptied and deleted with it.

Access is granted per key prefix: ``grant_read`` / ``grant_write`` give the exact
object actions on ``<bucket>/<prefix>*`` and a ``ListBucket`` limited to that
prefix; ``grant_upload`` (CI's recipe uploads) adds a bucket-wide ``ListBucket``,
for the reason in its docstring.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from prepline_infra.config import InfraConfig


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._removal = cdk.RemovalPolicy.DESTROY if config.is_dev else cdk.RemovalPolicy.RETAIN
        self.key: kms.Key | None = None
        if config.kms:
            self.key = kms.Key(
                self,
                "Key",
                description=f"{config.prefix}: encrypts the raw, processed and artifacts buckets",
                enable_key_rotation=True,
                removal_policy=self._removal,
            )

        self.logs = self._bucket(
            "Logs",
            versioned=False,
            encryption=s3.BucketEncryption.S3_MANAGED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs", expiration=cdk.Duration.days(config.access_log_days)
                ),
                self._abort_multipart_rule(),
            ],
        )

        versioned_rules = [
            s3.LifecycleRule(
                id="expire-noncurrent-versions",
                noncurrent_version_expiration=cdk.Duration.days(config.noncurrent_version_days),
            ),
            self._abort_multipart_rule(),
        ]
        self.raw = self._bucket(
            "Raw", versioned=True, lifecycle_rules=versioned_rules, log_prefix="raw/"
        )
        self.artifacts = self._bucket(
            "Artifacts", versioned=True, lifecycle_rules=versioned_rules, log_prefix="artifacts/"
        )
        processed_rules = [self._abort_multipart_rule()]
        if config.processed_transition_days is not None:
            processed_rules.append(
                s3.LifecycleRule(
                    id="processed-to-infrequent-access",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                            transition_after=cdk.Duration.days(config.processed_transition_days),
                        )
                    ],
                )
            )
        self.processed = self._bucket(
            "Processed", versioned=False, lifecycle_rules=processed_rules, log_prefix="processed/"
        )

    def grant_read(self, grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str) -> None:
        """GetObject under ``prefix`` and ListBucket limited to it (plus KMS decrypt)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{prefix}*")]
            )
        )
        self._grant_list(grantee, bucket, prefix)
        self._grant_key(grantee, ["kms:Decrypt"])

    def grant_write(self, grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str) -> None:
        """PutObject (and multipart abort) under ``prefix``, ListBucket limited to it (plus KMS)."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
            )
        )
        self._grant_list(grantee, bucket, prefix)
        # Decrypt too: S3 reads the parts back to complete a multipart upload.
        self._grant_key(grantee, ["kms:GenerateDataKey", "kms:Decrypt"])

    def grant_upload(self, grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str) -> None:
        """Content-addressed uploads under ``prefix``: look first (HeadObject), then put.

        HeadObject needs GetObject, and tells "missing" (404) from "forbidden" (403)
        only to a caller with ListBucket on the whole bucket: HeadObject carries no
        ``s3:prefix`` for a prefix condition to match. Hence an unconditioned
        ListBucket here (it reveals key names, not contents).
        """
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[bucket.arn_for_objects(f"{prefix}*")],
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn])
        )
        self._grant_key(grantee, ["kms:GenerateDataKey", "kms:Decrypt"])

    def _grant_list(self, grantee: iam.IGrantable, bucket: s3.IBucket, prefix: str) -> None:
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            )
        )

    def _grant_key(self, grantee: iam.IGrantable, actions: list[str]) -> None:
        if self.key is not None:
            grantee.grant_principal.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=[self.key.key_arn])
            )

    def _bucket(
        self,
        construct_id: str,
        *,
        versioned: bool,
        lifecycle_rules: list[s3.LifecycleRule],
        encryption: s3.BucketEncryption | None = None,
        log_prefix: str | None = None,
    ) -> s3.Bucket:
        if encryption is None:
            encryption = s3.BucketEncryption.KMS if self.key else s3.BucketEncryption.S3_MANAGED
        return s3.Bucket(
            self,
            construct_id,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            encryption=encryption,
            encryption_key=self.key if encryption == s3.BucketEncryption.KMS else None,
            bucket_key_enabled=True if encryption == s3.BucketEncryption.KMS else None,
            versioned=versioned,
            lifecycle_rules=lifecycle_rules,
            server_access_logs_bucket=self.logs if log_prefix else None,
            server_access_logs_prefix=log_prefix,
            removal_policy=self._removal,
            auto_delete_objects=self._config.is_dev,
        )

    def _abort_multipart_rule(self) -> s3.LifecycleRule:
        return s3.LifecycleRule(
            id="abort-incomplete-multipart-uploads",
            abort_incomplete_multipart_upload_after=cdk.Duration.days(
                self._config.abort_multipart_days
            ),
        )
