"""Scheduled runs: Scheduler -> Step Functions -> createProcessingJob.sync, failing with the job."""

from __future__ import annotations

import pytest

from tests.infra.cfn import (
    actions_of,
    as_list,
    render,
    resources,
    state_machine_definition,
    statements_of_role,
    statements_with,
)

pytestmark = pytest.mark.infra


def definition(synth) -> dict:
    return state_machine_definition(synth.templates["dev"], synth.ids["dev"]["state_machine"])


def test_no_schedule_no_state_machine(templates):
    templates["prod"].resource_count_is("AWS::Scheduler::Schedule", 0)
    templates["prod"].resource_count_is("AWS::StepFunctions::StateMachine", 0)


def test_scheduler_starts_the_state_machine_on_the_configured_cron(synth, templates):
    state_machine = synth.ids["dev"]["state_machine"]
    templates["dev"].has_resource_properties(
        "AWS::Scheduler::Schedule",
        {
            "ScheduleExpression": "cron(0 3 * * ? *)",
            "ScheduleExpressionTimezone": "Europe/Paris",
            "State": "ENABLED",
            "Target": {"Arn": {"Ref": state_machine}},
        },
    )
    template = synth.templates["dev"]
    (schedule,) = resources(template, "AWS::Scheduler::Schedule").values()
    scheduler_role = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    assert statements_of_role(template, scheduler_role) == [
        {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": state_machine}}
    ]


def test_each_run_creates_a_uniquely_named_job_and_waits_for_it(synth):
    states = definition(synth)["States"]
    assert definition(synth)["StartAt"] == "NameTheJob"
    assert states["NameTheJob"]["Parameters"] == {
        "JobName.$": "States.Format('prepline-{}', States.UUID())"
    }
    run = states["RunTheJob"]
    assert run["Type"] == "Task"
    assert run["Resource"] == "arn:<AWS::Partition>:states:::sagemaker:createProcessingJob.sync"
    assert run["Parameters"]["ProcessingJobName.$"] == "$.JobName"
    assert run["Next"] == "JobCompleted" and states["JobCompleted"] == {"Type": "Succeed"}


def test_the_execution_fails_when_the_job_fails(synth):
    states = definition(synth)["States"]
    assert states["RunTheJob"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.Error", "Next": "JobFailed"}
    ]
    assert states["JobFailed"] == {
        "Type": "Fail",
        "Error": "ProcessingJobFailed",
        "CausePath": "$.Error.Cause",
    }
    assert "Retry" not in states["RunTheJob"]  # a retry would reuse the job name


def test_the_job_request_uses_the_stacks_image_role_and_prefixes(synth):
    ids = synth.ids["dev"]
    request = definition(synth)["States"]["RunTheJob"]["Parameters"]
    assert request["RoleArn"] == f"<{ids['processing_role']}.Arn>"
    assert "cdk-hnb659fds-container-assets-" in request["AppSpecification"]["ImageUri"]
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "-m",
        "prepline.processing",
    ]
    inputs = {i["InputName"]: i["S3Input"] for i in request["ProcessingInputs"]}
    assert inputs["input-data"]["S3Uri"] == f"s3://<{ids['raw']}>/input/"
    assert inputs["code"]["S3Uri"] == f"s3://<{ids['artifacts']}>/code/recipe.yaml"
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
    (output,) = request["ProcessingOutputConfig"]["Outputs"]
    assert (
        output["S3Output"]["S3Uri.$"]
        == f"States.Format('s3://<{ids['processed']}>/output/{{}}/', $.JobName)"
    )
    assert output["OutputName"] == "output-data"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}
    assert {"Key": "project", "Value": "prepline"} in request["Tags"]


def test_executions_are_logged_and_traced(synth, templates):
    templates["dev"].has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "LoggingConfiguration": {"Level": "ALL", "IncludeExecutionData": True},
            "TracingConfiguration": {"Enabled": True},
        },
    )
    templates["dev"].has_resource_properties(
        "AWS::Logs::LogGroup",
        {
            "LogGroupName": "/aws/vendedlogs/states/prepline-dev-scheduled-run",
            "RetentionInDays": 90,
        },
    )


def test_the_state_machine_may_only_run_this_projects_jobs(synth):
    statements = statements_of_role(synth.templates["dev"], synth.ids["dev"]["state_machine_role"])
    (jobs,) = statements_with(statements, "sagemaker:CreateProcessingJob")
    assert set(as_list(jobs["Action"])) == {
        "sagemaker:CreateProcessingJob",
        "sagemaker:DescribeProcessingJob",
        "sagemaker:StopProcessingJob",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
    }
    assert render(jobs["Resource"]).endswith(":processing-job/prepline-*")
    (rule,) = statements_with(statements, "events:PutRule")
    assert set(as_list(rule["Action"])) == {
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
    }
    assert render(rule["Resource"]).endswith(
        ":rule/StepFunctionsGetEventsForSageMakerProcessingJobsRule"
    )
    (passing,) = statements_with(statements, "iam:PassRole")
    assert passing["Resource"] == {"Fn::GetAtt": [synth.ids["dev"]["processing_role"], "Arn"]}
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    unscoped = actions_of([s for s in statements if s["Resource"] == "*"])
    assert all(a.startswith(("logs:", "xray:")) for a in unscoped)


def test_the_job_request_passes_preplines_own_request_validation(synth):
    # The same checks `prepline job submit` applies: botocore's model and the processing contract.
    import json
    import re

    from prepline.processing.request import validate_request

    parameters = json.dumps(definition(synth)["States"]["RunTheJob"]["Parameters"])
    concrete = (
        parameters.replace("${AWS::AccountId}", "123456789012")
        .replace("${AWS::Region}", "eu-west-1")
        .replace("${AWS::URLSuffix}", "amazonaws.com")
    )
    concrete = re.sub(r"<[A-Za-z0-9]+\.Arn>", "arn:aws:iam::123456789012:role/processing", concrete)
    concrete = re.sub(r"<[A-Za-z0-9]+>", "bucket-name", concrete)
    request = json.loads(concrete)
    request["ProcessingJobName"] = "prepline-" + "0" * 36  # what States.UUID() makes room for
    del request["ProcessingJobName.$"]
    output = request["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]
    output["S3Uri"] = "s3://bucket-name/output/prepline-run/"
    del output["S3Uri.$"]
    validate_request(request, local=False, source="the scheduled run's request")
