"""Stack outputs: stable ids, the contract with `prepline infra outputs`."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra


def test_output_ids_are_the_ones_the_cli_reads(synth):
    from prepline.cloud.stack_outputs import OPTIONAL_KEYS, OUTPUT_KEYS

    assert set(synth.templates["dev"]["Outputs"]) == set(OUTPUT_KEYS)
    assert set(synth.templates["prod"]["Outputs"]) == set(OUTPUT_KEYS) - {"StateMachineArn"}
    assert set(OUTPUT_KEYS) >= OPTIONAL_KEYS


def test_outputs_point_at_the_stacks_resources(synth, templates):
    ids = synth.ids["prod"]
    template = templates["prod"]
    template.has_output("RawBucketName", {"Value": {"Ref": ids["raw"]}})
    template.has_output("ProcessedBucketName", {"Value": {"Ref": ids["processed"]}})
    template.has_output("ArtifactsBucketName", {"Value": {"Ref": ids["artifacts"]}})
    template.has_output("LogsBucketName", {"Value": {"Ref": ids["logs"]}})
    template.has_output(
        "ProcessingRoleArn", {"Value": {"Fn::GetAtt": [ids["processing_role"], "Arn"]}}
    )
    template.has_output("CiRoleArn", {"Value": {"Fn::GetAtt": [ids["ci_role"], "Arn"]}})
    template.has_output("NotificationTopicArn", {"Value": {"Ref": ids["topic"]}})
    template.has_output("JobNamePrefix", {"Value": "prepline-"})
    template.has_output(
        "RawInputUri", {"Value": {"Fn::Join": ["", ["s3://", {"Ref": ids["raw"]}, "/input/"]]}}
    )
    image = synth.templates["prod"]["Outputs"]["ImageUri"]["Value"]["Fn::Sub"]
    assert image.startswith(
        "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/cdk-hnb659fds-container-assets-"
    )
    templates["dev"].has_output(
        "StateMachineArn", {"Value": {"Ref": synth.ids["dev"]["state_machine"]}}
    )
