"""The optional feature group (dev declares one): its stores, the offline store's role, the ingest grant."""

from __future__ import annotations

import sys

import pytest

from tests.infra.cfn import INFRA, actions_of, as_list, render, resources, statements_of_role

if str(INFRA) not in sys.path:  # the config tests need no synth (and no CDK)
    sys.path.insert(0, str(INFRA))

pytestmark = pytest.mark.infra

ARN = "arn:<AWS::Partition>:sagemaker:<AWS::Region>:<AWS::AccountId>:feature-group/employees"


def group(synth) -> dict:
    return synth.templates["dev"]["Resources"][synth.ids["dev"]["feature_group"]]


def test_only_a_stack_with_feature_group_context_declares_one(synth):
    assert "feature_group" not in synth.ids["prod"]
    assert not resources(synth.templates["prod"], "AWS::SageMaker::FeatureGroup")
    assert list(resources(synth.templates["dev"], "AWS::SageMaker::FeatureGroup")) == [
        synth.ids["dev"]["feature_group"]
    ]


def test_the_default_features_are_the_employees_transformed_data_and_an_event_time(synth):
    props = group(synth)["Properties"]
    assert props["FeatureGroupName"] == "employees"
    assert (props["RecordIdentifierFeatureName"], props["EventTimeFeatureName"]) == ("id", "event_time")
    assert props["FeatureDefinitions"] == [
        {"FeatureName": name, "FeatureType": kind}
        for name, kind in [
            ("id", "Integral"), ("name", "String"), ("age", "Fractional"), ("salary", "Fractional"),
            ("hire_date", "String"), ("department", "String"), ("bonus", "Fractional"),
            ("address", "String"), ("phone", "String"), ("email", "String"),
            ("address_length", "Integral"), ("salary_category", "String"), ("age_group", "String"),
            ("event_time", "String"),
        ]
    ]


def test_the_declared_group_is_what_prepline_features_ingest_derives_from_the_recipe(synth, tmp_path):
    # So `prepline features ingest OUT --add-event-time` finds the group and no conflict.
    from prepline.features import add_event_time, derive_definitions, read_output
    from prepline.pipeline import run_recipe
    from prepline.sample.employees import employees_frame
    from tests.conftest import REPO

    employees_frame(50, seed=1).write_csv(tmp_path / "employees.csv")
    run_recipe(REPO / "examples/employees/recipe.yaml", str(tmp_path / "employees.csv"), str(tmp_path / "out"),
               output_format="parquet")
    frame, _ = read_output(tmp_path / "out")
    schema = derive_definitions(add_event_time(frame, "event_time").schema, "id", "event_time")
    assert schema.api_definitions() == group(synth)["Properties"]["FeatureDefinitions"]


def test_online_store_and_an_encrypted_offline_store_in_the_processed_bucket(synth):
    ids = synth.ids["dev"]
    resource = group(synth)
    props = resource["Properties"]
    assert props["OnlineStoreConfig"] == {"EnableOnlineStore": True}
    s3 = props["OfflineStoreConfig"]["S3StorageConfig"]
    assert render(s3["S3Uri"]) == f"s3://<{ids['processed']}>/feature-store"
    assert s3["KmsKeyId"] == {"Fn::GetAtt": [ids["data_key"], "Arn"]}
    assert props["RoleArn"] == {"Fn::GetAtt": [ids["feature_store_role"], "Arn"]}
    assert resource["DeletionPolicy"] == "Delete"  # env=dev; RETAIN otherwise, like the buckets
    # the role's policy exists before Feature Store checks the role
    assert any(d.startswith("FeatureStoreOfflineStoreRoleDefaultPolicy") for d in resource["DependsOn"])


def test_the_offline_store_role_is_for_sagemaker_in_this_account_and_writes_one_prefix(synth):
    ids = synth.ids["dev"]
    template = synth.templates["dev"]
    role = template["Resources"][ids["feature_store_role"]]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [{
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        "Effect": "Allow",
        "Principal": {"Service": "sagemaker.amazonaws.com"},
    }]
    assert "ManagedPolicyArns" not in role
    granted = {
        (tuple(sorted(as_list(s["Action"]))), render(s["Resource"]))
        for s in statements_of_role(template, ids["feature_store_role"])
    }
    assert granted == {
        (("s3:PutObject", "s3:PutObjectAcl"), f"<{ids['processed']}.Arn>/feature-store/*"),
        (("s3:GetBucketAcl",), f"<{ids['processed']}.Arn>"),
        (("kms:GenerateDataKey",), f"<{ids['data_key']}.Arn>"),
    }


def test_the_processing_role_may_describe_and_put_records_into_that_group_only(synth):
    template = synth.templates["dev"]
    statements = statements_of_role(template, synth.ids["dev"]["processing_role"])
    (ingest,) = [s for s in statements if any(a.startswith("sagemaker:") for a in as_list(s["Action"]))]
    assert ingest["Sid"] == "IngestIntoTheFeatureGroup"
    assert sorted(as_list(ingest["Action"])) == ["sagemaker:DescribeFeatureGroup", "sagemaker:PutRecord"]
    assert render(ingest["Resource"]) == ARN
    prod = statements_of_role(synth.templates["prod"], synth.ids["prod"]["processing_role"])
    assert not {a for a in actions_of(prod) if a.startswith("sagemaker:")}


def test_the_offline_store_wildcard_is_acknowledged_with_a_reason(synth):
    template = synth.templates["dev"]
    (policy_id,) = [
        logical_id for logical_id in resources(template, "AWS::IAM::Policy")
        if logical_id.startswith("FeatureStoreOfflineStoreRoleDefaultPolicy")
    ]
    rules = template["Resources"][policy_id]["Metadata"]["cdk_nag"]["rules_to_suppress"]
    assert [r["id"] for r in rules] == [
        f"AwsSolutions-IAM5[Resource::<{synth.ids['dev']['processed']}.Arn>/feature-store/*]"
    ]
    assert "feature-store/ prefix" in rules[0]["reason"]


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"feature_group": "bad name"}, "context 'feature_group' is 'bad name'"),
        ({"feature_group": "g", "feature_group_features": "id:Integral,ts:Date"}, "has 'ts:Date'; expected name:Type"),
        ({"feature_group": "g", "feature_group_features": "id:Integral,write_time:String"}, "'write_time' is reserved"),
        ({"feature_group": "g", "feature_group_features": "id:Integral,ts:String", "feature_group_record_id": "key"},
         "context 'feature_group_record_id' is 'key', which is not among the features (id, ts)"),
        ({"feature_group": "g", "feature_group_features": "id:Integral,ts:Integral", "feature_group_event_time": "ts"},
         "'ts' must be String (ISO-8601) or Fractional (epoch seconds), not Integral"),
    ],
)
def test_feature_group_context_is_validated(context, message):
    from prepline_infra.config import ConfigError, InfraConfig

    with pytest.raises(ConfigError) as caught:
        InfraConfig.from_context(context)
    assert message in str(caught.value)


def test_feature_group_context_with_its_own_features():
    from prepline_infra.config import InfraConfig

    spec = InfraConfig.from_context({
        "feature_group": "customers", "feature_group_record_id": "customer_id", "feature_group_event_time": "ts",
        "feature_group_features": "customer_id:String, spend:Fractional, ts:Fractional",
    }).feature_group
    assert spec is not None
    assert (spec.name, spec.record_id, spec.event_time) == ("customers", "customer_id", "ts")
    assert spec.features == (("customer_id", "String"), ("spend", "Fractional"), ("ts", "Fractional"))
    assert InfraConfig.from_context({}).feature_group is None
