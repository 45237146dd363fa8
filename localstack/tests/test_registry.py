"""The model registry: groups from the template, CreateModelPackage's ClientToken, validation against the model."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from helpers import unique

GROUP = "standin-models"  # tests/template.yaml's ModelPackageGroup


def package(group: str, token: str | None = None, **extra):
    request = {
        "ModelPackageGroupName": group,
        "ModelPackageDescription": "fine-tuned",
        "InferenceSpecification": {"Containers": [{"Image": "123.dkr.ecr.us-east-1.amazonaws.com/tgi:2",
                                                   "ModelDataUrl": "s3://b/out/job/output/model.tar.gz"}]},
        "ModelApprovalStatus": "PendingManualApproval",
        "CustomerMetadataProperties": {"hubtune:job": "hubtune-a-0123456789abcdef"},
        **extra,
    }
    if token is not None:
        request["ClientToken"] = token
    return request


def versions(sm, group: str) -> list[dict]:
    return sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]


def test_the_templates_group_exists_and_versions_count_from_one(sm, stack):
    assert GROUP in stack.ready["model_package_groups"]
    group = unique()
    sm.create_model_package_group(ModelPackageGroupName=group)
    first = sm.create_model_package(**package(group))["ModelPackageArn"]
    second = sm.create_model_package(**package(group))["ModelPackageArn"]
    assert first == f"arn:aws:sagemaker:us-east-1:123456789012:model-package/{group.lower()}/1"
    assert second.endswith("/2")
    described = sm.describe_model_package(ModelPackageName=first)
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["CustomerMetadataProperties"] == {"hubtune:job": "hubtune-a-0123456789abcdef"}
    assert described["InferenceSpecification"]["Containers"][0]["ModelDataUrl"].endswith("model.tar.gz")


def test_the_same_client_token_answers_the_same_version_and_makes_no_other(sm):
    group = unique()
    sm.create_model_package_group(ModelPackageGroupName=group)
    token = "0123abcd-0000-4000-8000-000000000001"
    a = sm.create_model_package(**package(group, token))["ModelPackageArn"]
    b = sm.create_model_package(**package(group, token))["ModelPackageArn"]
    assert a == b
    assert len(versions(sm, group)) == 1
    c = sm.create_model_package(**package(group, "0123abcd-0000-4000-8000-000000000002"))["ModelPackageArn"]
    assert c != a and len(versions(sm, group)) == 2


def test_a_missing_group_is_refused(sm):
    with pytest.raises(ClientError) as err:
        sm.create_model_package(**package("no-such-group-" + unique()))
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "does not exist" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize("change", [
    {"ClientToken": "has_underscore"},
    {"ModelApprovalStatus": "Maybe"},
    {"CustomerMetadataProperties": {"k": "x" * 257}},
    {"CustomerMetadataProperties": {"k": "{json}"}},
    {"ModelPackageGroupName": "ends-with-dash-"},
])
def test_what_the_model_refuses_is_refused(stack, change):
    sm = stack.client("sagemaker", parameter_validation=False)
    with pytest.raises(ClientError) as err:
        sm.create_model_package(**{**package(GROUP), **change})
    assert err.value.response["Error"]["Code"] == "ValidationException"
