"""Scheduled runs: EventBridge Scheduler starts a state machine that runs one processing job.

The state machine names the job ``<prefix>-<uuid>``, creates it with the
``createProcessingJob.sync`` integration (Step Functions waits for the job to end),
and fails when the job fails or is stopped. Each run writes to its own folder,
``s3://<processed>/<processed_prefix><job-name>/``. Executions are logged (ALL
events) to a CloudWatch log group and traced with X-Ray.

The request has the shape ``prepline job create`` writes: the stack's image with
``python3 -m prepline.processing``, the input ``input-data`` (the raw prefix), the
input ``code`` holding the one recipe ``s3://<artifacts>/<recipe_key>`` (the
entrypoint runs the YAML file it finds there), and the output ``output-data``.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from prepline_infra.checks import acknowledge, wildcard_resource
from prepline_infra.ci_access import processing_jobs_arn
from prepline_infra.config import InfraConfig
from prepline_infra.image import ProcessingImage
from prepline_infra.processing_role import ProcessingRole
from prepline_infra.storage import Storage

ENTRYPOINT = ["python3", "-m", "prepline.processing"]
DATA_DIR = "/opt/ml/processing/input/data"
CODE_DIR = "/opt/ml/processing/input/code"
OUTPUT_DIR = "/opt/ml/processing/output"
# The rule Step Functions manages to learn when a .sync processing job ends.
SYNC_RULE = "StepFunctionsGetEventsForSageMakerProcessingJobsRule"


class ScheduledRun(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: InfraConfig,
        storage: Storage,
        processing: ProcessingRole,
        image: ProcessingImage,
    ) -> None:
        super().__init__(scope, construct_id)
        if config.schedule is None:
            raise ValueError("ScheduledRun needs config.schedule")
        stack = cdk.Stack.of(self)
        removal = cdk.RemovalPolicy.DESTROY if config.is_dev else cdk.RemovalPolicy.RETAIN

        name_the_job = sfn.Pass(
            self,
            "NameTheJob",
            parameters={
                "JobName.$": f"States.Format('{config.job_name_prefix}{{}}', States.UUID())"
            },
        )
        run_the_job = sfn.CustomState(
            self, "RunTheJob", state_json=self._run_job_state(config, storage, processing, image)
        )
        job_failed = sfn.Fail(
            self,
            "JobFailed",
            error="ProcessingJobFailed",
            cause_path="$.Error.Cause",
        )
        run_the_job.add_catch(job_failed, errors=["States.ALL"], result_path="$.Error")
        definition = name_the_job.next(run_the_job).next(sfn.Succeed(self, "JobCompleted"))

        self.log_group = logs.LogGroup(
            self,
            "Executions",
            log_group_name=f"/aws/vendedlogs/states/{config.stack_name}-scheduled-run",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=removal,
        )
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment=f"{config.prefix}: run one processing job and wait for it to end",
            definition_body=sfn.DefinitionBody.from_chainable(definition),
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
            # The job's own limit, plus time for SageMaker to provision and upload.
            timeout=cdk.Duration.seconds(config.max_runtime_seconds + 3600),
        )
        self._grant_sync_integration(config, processing)

        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=f"{config.prefix}: scheduled preprocessing run",
            schedule=scheduler.ScheduleExpression.expression(
                config.schedule, cdk.TimeZone.of(config.schedule_timezone)
            ),
            target=scheduler_targets.StepFunctionsStartExecution(self.state_machine),
        )

        policy = self.state_machine.role.node.find_child("DefaultPolicy")
        acknowledge(
            policy,
            wildcard_resource(stack, processing_jobs_arn(config)),
            "Each run creates a job with a new name (prefix + UUID); the wildcard is limited to "
            "this project's job-name prefix.",
        )
        acknowledge(
            policy,
            wildcard_resource(stack, "*"),
            "X-Ray tracing (xray:PutTraceSegments, ...) and CloudWatch Logs delivery "
            "(logs:CreateLogDelivery, ...) have no resource-level permissions; CDK adds them "
            "for tracing_enabled and logs.",
        )

    def _run_job_state(
        self,
        config: InfraConfig,
        storage: Storage,
        processing: ProcessingRole,
        image: ProcessingImage,
    ) -> dict[str, object]:
        output_uri = f"States.Format('s3://{storage.processed.bucket_name}/{config.processed_prefix}{{}}/', $.JobName)"
        return {
            "Type": "Task",
            "Resource": f"arn:{cdk.Aws.PARTITION}:states:::sagemaker:createProcessingJob.sync",
            "Parameters": {
                "ProcessingJobName.$": "$.JobName",
                "RoleArn": processing.role_arn,
                "AppSpecification": {
                    "ImageUri": image.image_uri,
                    "ContainerEntrypoint": ENTRYPOINT,
                },
                "ProcessingInputs": [
                    _s3_input(
                        "input-data",
                        f"s3://{storage.raw.bucket_name}/{config.raw_prefix}",
                        DATA_DIR,
                    ),
                    _s3_input(
                        "code",
                        f"s3://{storage.artifacts.bucket_name}/{config.recipe_key}",
                        CODE_DIR,
                    ),
                ],
                "ProcessingOutputConfig": {
                    "Outputs": [
                        {
                            "OutputName": "output-data",
                            "S3Output": {
                                "S3Uri.$": output_uri,
                                "LocalPath": OUTPUT_DIR,
                                "S3UploadMode": "EndOfJob",
                            },
                        }
                    ]
                },
                "ProcessingResources": {
                    "ClusterConfig": {
                        "InstanceCount": config.instance_count,
                        "InstanceType": config.instance_type,
                        "VolumeSizeInGB": config.volume_size_gb,
                    }
                },
                "StoppingCondition": {"MaxRuntimeInSeconds": config.max_runtime_seconds},
                "Tags": [
                    {"Key": "project", "Value": config.prefix},
                    {"Key": "trigger", "Value": "schedule"},
                ],
            },
            "ResultSelector": {
                "ProcessingJobName.$": "$.ProcessingJobName",
                "ProcessingJobArn.$": "$.ProcessingJobArn",
                "ProcessingJobStatus.$": "$.ProcessingJobStatus",
            },
            "ResultPath": "$.Job",
        }

    def _grant_sync_integration(self, config: InfraConfig, processing: ProcessingRole) -> None:
        """Exactly what createProcessingJob.sync needs, on this project's jobs only."""
        role = self.state_machine.role
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="RunThisProjectsProcessingJobs",
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                    "sagemaker:ListTags",
                ],
                resources=[processing_jobs_arn(config)],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="WatchTheJobThroughEventBridge",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    f"arn:{cdk.Aws.PARTITION}:events:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:rule/{SYNC_RULE}"
                ],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                sid="PassTheProcessingRoleToSageMaker",
                actions=["iam:PassRole"],
                resources=[processing.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )


def _s3_input(name: str, uri: str, local_path: str) -> dict[str, object]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }
