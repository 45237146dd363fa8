"""Hub APIs from seeded documents: DescribeHubContent and ListHubContentVersions."""

from __future__ import annotations

import copy
import json

import pytest
from botocore.exceptions import ClientError
from helpers import HUB_FIXTURE

MODEL_ID = "meta-textgeneration-llama-3-2-1b"
HUB = "my-private-hub"


def seed_version(stack, version: str, kind: str = "ModelReference", name: str = MODEL_ID, hub: str = HUB) -> dict:
    doc = copy.deepcopy(json.loads(HUB_FIXTURE.read_text()))
    doc.update(HubContentVersion=version, HubContentType=kind, HubContentName=name, HubName=hub,
               HubContentArn=f"arn:aws:sagemaker:us-east-1:111122223333:hub-content/{hub}/{kind}/{name}/{version}")
    stack.post("hub-content", doc)
    return doc


def test_describe_seeded_model_reference(sm):
    resp = sm.describe_hub_content(HubName=HUB, HubContentType="ModelReference", HubContentName=MODEL_ID,
                                   HubContentVersion="1.2.0")
    expected = json.loads(HUB_FIXTURE.read_text())
    assert resp["HubContentArn"] == expected["HubContentArn"]
    assert resp["HubContentDocument"] == expected["HubContentDocument"]
    assert json.loads(resp["HubContentDocument"])["TrainingSupported"] is True
    assert resp["SageMakerPublicHubContentArn"] == expected["SageMakerPublicHubContentArn"]
    assert resp["ReferenceMinVersion"] == "1.0.0"
    assert resp["HubContentStatus"] == "Available"
    # The seed's ISO time goes over the wire as epoch seconds, which boto3 reads as a datetime.
    assert resp["CreationTime"].year == 2025


def test_hub_name_may_be_an_arn(sm):
    resp = sm.describe_hub_content(HubName=f"arn:aws:sagemaker:us-east-1:111122223333:hub/{HUB}",
                                   HubContentType="ModelReference", HubContentName=MODEL_ID)
    assert resp["HubContentName"] == MODEL_ID


def test_latest_version_is_the_highest_semver(stack, sm):
    name = "hubtune-test-versions"
    for version in ("1.9.0", "1.10.0", "1.2.3"):
        seed_version(stack, version, name=name)
    resp = sm.describe_hub_content(HubName=HUB, HubContentType="ModelReference", HubContentName=name)
    assert resp["HubContentVersion"] == "1.10.0"
    pinned = sm.describe_hub_content(HubName=HUB, HubContentType="ModelReference", HubContentName=name,
                                     HubContentVersion="1.9.0")
    assert pinned["HubContentVersion"] == "1.9.0"

    listed = sm.list_hub_content_versions(HubName=HUB, HubContentType="ModelReference", HubContentName=name)
    versions = [s["HubContentVersion"] for s in listed["HubContentSummaries"]]
    assert versions == ["1.2.3", "1.9.0", "1.10.0"]
    summary = listed["HubContentSummaries"][0]
    assert summary["HubContentType"] == "ModelReference"
    assert summary["HubContentArn"].endswith(f"/{name}/1.2.3")
    assert "HubContentDocument" not in summary

    floor = sm.list_hub_content_versions(HubName=HUB, HubContentType="ModelReference", HubContentName=name,
                                         MinVersion="1.9.0", SortOrder="Descending")
    assert [s["HubContentVersion"] for s in floor["HubContentSummaries"]] == ["1.10.0", "1.9.0"]

    page1 = sm.list_hub_content_versions(HubName=HUB, HubContentType="ModelReference", HubContentName=name,
                                         MaxResults=2)
    assert len(page1["HubContentSummaries"]) == 2 and page1["NextToken"]
    page2 = sm.list_hub_content_versions(HubName=HUB, HubContentType="ModelReference", HubContentName=name,
                                         MaxResults=2, NextToken=page1["NextToken"])
    assert [s["HubContentVersion"] for s in page2["HubContentSummaries"]] == ["1.10.0"]
    assert "NextToken" not in page2


def test_model_type_is_separate_from_model_reference(stack, sm):
    name = "hubtune-test-imported-model"
    seed_version(stack, "2.0.0", kind="Model", name=name)
    resp = sm.describe_hub_content(HubName=HUB, HubContentType="Model", HubContentName=name)
    assert resp["HubContentType"] == "Model"
    assert resp["HubContentVersion"] == "2.0.0"
    with pytest.raises(ClientError) as err:
        sm.describe_hub_content(HubName=HUB, HubContentType="ModelReference", HubContentName=name)
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"


@pytest.mark.parametrize("call", [
    lambda sm: sm.describe_hub_content(HubName=HUB, HubContentType="ModelReference", HubContentName="nope"),
    lambda sm: sm.describe_hub_content(HubName="no-such-hub", HubContentType="ModelReference",
                                       HubContentName=MODEL_ID),
    lambda sm: sm.describe_hub_content(HubName=HUB, HubContentType="ModelReference", HubContentName=MODEL_ID,
                                       HubContentVersion="9.9.9"),
    lambda sm: sm.list_hub_content_versions(HubName=HUB, HubContentType="ModelReference", HubContentName="nope"),
    lambda sm: sm.list_hub_content_versions(HubName="no-such-hub", HubContentType="Model",
                                            HubContentName=MODEL_ID),
])
def test_unknown_content_is_resource_not_found(sm, call):
    with pytest.raises(ClientError) as err:
        call(sm)
    assert err.value.response["Error"]["Code"] == "ResourceNotFound"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_bad_seed_is_refused(stack):
    status, payload = stack.control("POST", "hub-content", {"HubName": HUB})
    assert status == 400 and "lacks" in payload["error"]


def test_seed_file_may_hold_a_list(tmp_path):
    from hubtune_localstack.hub import HubStore

    first = json.loads(HUB_FIXTURE.read_text())
    second = {**first, "HubName": "other-hub", "HubContentVersion": "1.3.0"}
    path = tmp_path / "seed.json"
    path.write_text(json.dumps([first, second]))
    store = HubStore()
    assert store.seed_file(path) == [f"{HUB}/ModelReference/{MODEL_ID}/1.2.0",
                                     f"other-hub/ModelReference/{MODEL_ID}/1.3.0"]
    assert store.describe({"HubName": "other-hub", "HubContentType": "ModelReference",
                           "HubContentName": MODEL_ID})["HubContentVersion"] == "1.3.0"
