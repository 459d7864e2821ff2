"""Job notifications: an EventBridge rule on this project's processing jobs ending, to SNS.

The rule matches "SageMaker Processing Job State Change" events whose status is
Completed, Failed or Stopped and whose job name starts with ``<prefix>-``; the
whole event is published, so subscribers get the job name, status and failure
reason. The topic is encrypted with a customer managed key: EventBridge cannot
publish to a topic encrypted with the AWS managed ``alias/aws/sns`` key.

EventBridge publishes through the topic's resource policy (AWS advises against a
target role for encrypted SNS topics), and that policy admits only this rule
(``aws:SourceArn``) — CDK's ``SnsTopic`` target would admit any rule, hence the
small target class below.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from prepline_infra.config import InfraConfig

FINAL_STATUSES = ["Completed", "Failed", "Stopped"]


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{config.prefix}: encrypts the processing job notifications topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY if config.is_dev else cdk.RemovalPolicy.RETAIN,
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"{config.prefix} processing jobs",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.rule = events.Rule(
            self,
            "JobEnded",
            description=f"{config.prefix}: a {config.job_name_prefix}* processing job ended",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=["SageMaker Processing Job State Change"],
                detail={
                    "ProcessingJobStatus": FINAL_STATUSES,
                    "ProcessingJobName": events.Match.prefix(config.job_name_prefix),
                },
            ),
            targets=[_PublishToTopic(self.topic)],
        )
        events_service = iam.ServicePrincipal("events.amazonaws.com")
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheJobEndedRulePublishes",
                principals=[events_service],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"ArnEquals": {"aws:SourceArn": self.rule.rule_arn}},
            )
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="EventBridgeEncryptsWhatItPublishes",
                principals=[events_service],
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=["*"],  # in a key policy, "*" means this key
            )
        )

        if config.notification_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.notification_email))

    @property
    def topic_arn(self) -> str:
        return self.topic.topic_arn


@jsii.implements(events.IRuleTarget)
class _PublishToTopic:
    """An SNS target that grants nothing: the topic policy above admits the rule."""

    def __init__(self, topic: sns.ITopic) -> None:
        self._topic = topic

    def bind(self, _rule: events.IRule, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self._topic.topic_arn)
