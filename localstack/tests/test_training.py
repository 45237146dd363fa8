"""Training jobs: names, progression, the artifact, state-change events through the template's rule, stop."""

from __future__ import annotations

import io
import json
import tarfile
import time

import pytest
from botocore.exceptions import ClientError
from helpers import FIXTURES, job_request, state_events_of, unique, wait_status


def test_create_twice_is_resource_in_use(sm):
    name = unique()
    arn = sm.create_training_job(**job_request(name))["TrainingJobArn"]
    assert arn == f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**job_request(name))
    error = err.value.response
    assert error["Error"]["Code"] == "ResourceInUse"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "ResourceInUse"
    assert arn in error["Error"]["Message"]
    # Names are taken regardless of case (the stricter reading), and stay taken once the job ended.
    wait_status(sm, name, "Completed")
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**job_request(name.upper()))
    assert err.value.response["Error"]["Code"] == "ResourceInUse"


@pytest.mark.parametrize("name", ["-starts-with-dash", "has_underscore", "x" * 64, "ends-with-dash-", ""])
def test_invalid_name_is_a_validation_error(stack, name):
    sm = stack.client("sagemaker", parameter_validation=False)  # let the server judge, not botocore
    request = job_request("placeholder")
    request["TrainingJobName"] = name
    with pytest.raises(ClientError) as err:
        sm.create_training_job(**request)
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_completed_job_has_artifact_and_events(stack, sm, s3, reader):
    state = reader("TrainingStateQueue")
    name = unique()
    outsider = unique("other")  # not under the template's JobPrefix: the rule must not route it
    request = job_request(name, tags={"hubtune:run": "run-1"})
    sm.create_training_job(**request)
    sm.create_training_job(**job_request(outsider))

    inprogress = sm.describe_training_job(TrainingJobName=name)
    assert inprogress["TrainingJobStatus"] == "InProgress"
    assert inprogress["SecondaryStatus"] in ("Starting", "Training")
    assert "ModelArtifacts" not in inprogress
    assert inprogress["HyperParameters"] == request["HyperParameters"]
    assert inprogress["InputDataConfig"] == request["InputDataConfig"]

    events = state.wait_for(lambda e: state_events_of(name)(e) and e["detail"]["TrainingJobStatus"] == "Completed")
    desc = wait_status(sm, name, "Completed")
    artifact = f"s3://hubtune-local/hubtune/output/{name}/output/model.tar.gz"
    assert desc["ModelArtifacts"]["S3ModelArtifacts"] == artifact
    assert desc["SecondaryStatus"] == "Completed"
    assert desc["BillableTimeInSeconds"] >= 1
    assert [m["MetricName"] for m in desc["FinalMetricDataList"]][0] == "huggingface-textgeneration:eval-loss"
    assert desc["TrainingEndTime"] >= desc["TrainingStartTime"] >= desc["CreationTime"]
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]] == ["Starting", "Training", "Completed"]

    body = s3.get_object(Bucket="hubtune-local", Key=f"hubtune/output/{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        manifest = json.load(tar.extractfile("hubtune-local-model.json"))
    assert manifest["training_job"] == name

    # The state-change events, as the template's rule delivers them: one per TrainingJobStatus change.
    all_events = state.wait_for(state_events_of(name), count=2)
    state.drain(0.3)
    statuses = [(e["detail"]["TrainingJobStatus"], e["detail"]["SecondaryStatus"])
                for e in state.matching(state_events_of(name))]
    assert statuses == [("InProgress", "Starting"), ("Completed", "Completed")]
    assert all_events
    done = events[0]
    assert done["source"] == "aws.sagemaker"
    assert done["account"] == "123456789012" and done["region"] == "us-east-1"
    assert done["resources"] == [f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}"]
    assert done["time"].endswith("Z")
    detail = done["detail"]
    assert detail["ModelArtifacts"]["S3ModelArtifacts"] == artifact
    assert detail["Tags"]["hubtune:run"] == "run-1"  # a map, as SageMaker sends it
    assert detail["Tags"]["sagemaker-sdk:jumpstart-model-id"] == "meta-textgeneration-llama-3-2-1b"
    assert isinstance(detail["CreationTime"], int) and detail["CreationTime"] > 1_600_000_000_000  # epoch ms
    assert isinstance(detail["TrainingEndTime"], int)
    assert detail["HyperParameters"]["epoch"] == '"2"'
    # Every field of a real Completed event (the shared fixture) is there, with the same kind of value.
    real = json.loads((FIXTURES / "sagemaker-training-state-change.completed.json").read_text())
    assert set(real) == set(done)
    for key, value in real["detail"].items():
        assert type(detail[key]) is type(value), key

    # The outsider completed too, but no event of it reached the queue.
    wait_status(sm, outsider, "Completed")
    state.drain(0.5)
    assert not state.matching(state_events_of(outsider))


def test_outcome_failed(stack, sm, reader):
    state = reader("TrainingStateQueue")
    marker = unique("bad-data")
    stack.post("outcomes", {"match": marker, "status": "Failed", "failure_reason": "ClientError: bad dataset"})
    name = unique()
    sm.create_training_job(**job_request(name, training_uri=f"s3://hubtune-local/datasets/{marker}/"))
    failed = state.wait_for(lambda e: state_events_of(name)(e) and e["detail"]["TrainingJobStatus"] == "Failed")
    assert failed[0]["detail"]["FailureReason"] == "ClientError: bad dataset"
    desc = sm.describe_training_job(TrainingJobName=name)
    assert desc["TrainingJobStatus"] == "Failed" and desc["FailureReason"] == "ClientError: bad dataset"
    assert "ModelArtifacts" not in desc
    # What a failure report needs: the stage it failed in (before the terminal entry), and the time it trained.
    assert [t["Status"] for t in desc["SecondaryStatusTransitions"]][-2:] == ["Training", "Failed"]
    assert desc["TrainingTimeInSeconds"] == desc["BillableTimeInSeconds"] >= 1
    assert desc["ResourceConfig"] == job_request(name)["ResourceConfig"]
    assert "FinalMetricDataList" not in desc

    # Matching by tag value, with the default reason.
    tag = unique("tagged")
    stack.post("outcomes", {"match": tag, "status": "Failed"})
    other = unique()
    sm.create_training_job(**job_request(other, tags={"hubtune:run": tag}))
    assert wait_status(sm, other, "Failed")["FailureReason"].startswith("AlgorithmError")


def test_spot_job_is_billed_less_than_it_trained(stack, sm):
    name = unique("spot")
    stack.post("outcomes", {"match": name, "status": "Completed", "in_progress_seconds": 4})
    request = job_request(name)
    request["EnableManagedSpotTraining"] = True
    request["StoppingCondition"]["MaxWaitTimeInSeconds"] = request["StoppingCondition"]["MaxRuntimeInSeconds"]
    sm.create_training_job(**request)
    desc = wait_status(sm, name, "Completed", timeout=10)
    assert desc["EnableManagedSpotTraining"] is True
    assert desc["TrainingTimeInSeconds"] >= 2
    assert 1 <= desc["BillableTimeInSeconds"] < desc["TrainingTimeInSeconds"]
    names = [m["Name"] for m in request["AlgorithmSpecification"]["MetricDefinitions"]]
    assert [m["MetricName"] for m in desc["FinalMetricDataList"]] == names


def test_billable_seconds():
    from hubtune_localstack.training import billable_seconds
    assert billable_seconds(3600, False) == 3600
    assert billable_seconds(3600, True) == 1080
    assert billable_seconds(1, True) == 1


def test_secondary_status_events_on_request(stack, sm, reader):
    state = reader("TrainingStateQueue")
    assert stack.post("config", {"secondary_status_events": True})["secondary_status_events"] is True
    name = unique()
    sm.create_training_job(**job_request(name))
    events = state.wait_for(state_events_of(name), count=3)
    assert [(e["detail"]["TrainingJobStatus"], e["detail"]["SecondaryStatus"]) for e in events] == [
        ("InProgress", "Starting"), ("InProgress", "Training"), ("Completed", "Completed")]


def test_outcome_sets_its_own_duration(stack, sm):
    slow, fast = unique("slow"), unique()
    stack.post("outcomes", {"match": slow, "status": "Completed", "in_progress_seconds": 1.5})
    sm.create_training_job(**job_request(slow))
    sm.create_training_job(**job_request(fast))
    wait_status(sm, fast, "Completed")
    assert sm.describe_training_job(TrainingJobName=slow)["TrainingJobStatus"] == "InProgress"
    wait_status(sm, slow, "Completed", timeout=5)


def test_outcome_stopped(stack, sm, reader):
    state = reader("TrainingStateQueue")
    name = unique()
    stack.post("outcomes", {"match": name, "status": "Stopped"})
    sm.create_training_job(**job_request(name))
    state.wait_for(lambda e: state_events_of(name)(e) and e["detail"]["TrainingJobStatus"] == "Stopped")
    statuses = [e["detail"]["TrainingJobStatus"] for e in state.matching(state_events_of(name))]
    assert statuses[-2:] == ["Stopping", "Stopped"]


def test_stop_training_job(stack, sm, reader):
    state = reader("TrainingStateQueue")
    stack.post("config", {"in_progress_seconds": 5})
    name = unique()
    sm.create_training_job(**job_request(name))
    sm.stop_training_job(TrainingJobName=name)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
    desc = wait_status(sm, name, "Stopped", timeout=3)
    assert desc["SecondaryStatus"] == "Stopped" and "ModelArtifacts" not in desc
    events = state.wait_for(state_events_of(name), count=3)
    assert [e["detail"]["TrainingJobStatus"] for e in events] == ["InProgress", "Stopping", "Stopped"]
    # A stopped job cannot be stopped again; an unknown one is not found.
    with pytest.raises(ClientError) as err:
        sm.stop_training_job(TrainingJobName=name)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as err:
        sm.describe_training_job(TrainingJobName=unique("missing"))
    assert err.value.response["Error"]["Code"] == "ValidationException"


def test_delete_training_job(stack, sm, reader):
    state = reader("TrainingStateQueue")
    stack.post("config", {"in_progress_seconds": 5, "stopping_seconds": 0.5})
    name = unique()
    sm.create_training_job(**job_request(name))
    # A running job cannot be deleted.
    with pytest.raises(ClientError) as err:
        sm.delete_training_job(TrainingJobName=name)
    assert err.value.response["Error"]["Code"] == "ValidationException"
    assert "InProgress" in err.value.response["Error"]["Message"]
    sm.stop_training_job(TrainingJobName=name)
    wait_status(sm, name, "Stopped", timeout=3)
    sm.delete_training_job(TrainingJobName=name)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Deleting"
    sm.delete_training_job(TrainingJobName=name)  # again while deleting: accepted
    events = state.wait_for(state_events_of(name), count=4)
    assert [e["detail"]["TrainingJobStatus"] for e in events] == ["InProgress", "Stopping", "Stopped", "Deleting"]
    # Then SageMaker no longer knows it.
    deadline = time.monotonic() + 3
    while True:
        try:
            sm.describe_training_job(TrainingJobName=name)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ValidationException"
            break
        assert time.monotonic() < deadline, "the deleted job is still described"
        time.sleep(0.05)
    assert name not in [j["TrainingJobName"] for j in sm.list_training_jobs(NameContains=name)["TrainingJobSummaries"]]


def test_missing_output_bucket_fails_the_job(sm):
    name = unique()
    sm.create_training_job(**job_request(name, output="s3://no-such-bucket-here/out/"))
    desc = wait_status(sm, name, "Failed")
    assert "no-such-bucket-here" in desc["FailureReason"]


def test_list_training_jobs_and_tags(sm):
    stem = unique("listing")
    names = [f"{stem}-{i}" for i in range(3)]
    for name in names:
        sm.create_training_job(**job_request(name, tags={"k": name}))
        time.sleep(0.01)
    listed = sm.list_training_jobs(NameContains=stem, SortBy="CreationTime", SortOrder="Ascending")
    assert [j["TrainingJobName"] for j in listed["TrainingJobSummaries"]] == names
    page = sm.list_training_jobs(NameContains=stem, MaxResults=2)
    assert [j["TrainingJobName"] for j in page["TrainingJobSummaries"]] == names[::-1][:2]
    rest = sm.list_training_jobs(NameContains=stem, MaxResults=2, NextToken=page["NextToken"])
    assert [j["TrainingJobName"] for j in rest["TrainingJobSummaries"]] == names[:1]
    in_progress = sm.list_training_jobs(NameContains=stem, StatusEquals="InProgress")["TrainingJobSummaries"]
    assert {j["TrainingJobName"] for j in in_progress} <= set(names)

    arn = sm.describe_training_job(TrainingJobName=names[0])["TrainingJobArn"]
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["k"] == names[0] and "sagemaker-sdk:hub-content-arn" in tags
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "changed"}, {"Key": "new", "Value": "v"}])
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags["k"] == "changed" and tags["new"] == "v"
    sm.delete_tags(ResourceArn=arn, TagKeys=["new"])
    assert "new" not in {t["Key"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}


def test_drop_events_swallows_the_next_matching_events(stack, sm, reader):
    state = reader("TrainingStateQueue")
    first, second = unique(), unique()
    stack.post("drop-events", {"match": first, "status": "Completed", "count": 1})
    sm.create_training_job(**job_request(first))
    sm.create_training_job(**job_request(second))
    wait_status(sm, first, "Completed")
    state.wait_for(lambda e: state_events_of(second)(e) and e["detail"]["TrainingJobStatus"] == "Completed")
    state.wait_for(lambda e: state_events_of(first)(e) and e["detail"]["TrainingJobStatus"] == "InProgress")
    state.drain(0.5)
    statuses = [e["detail"]["TrainingJobStatus"] for e in state.matching(state_events_of(first))]
    assert statuses == ["InProgress"]  # the Completed event was swallowed

    # The rule was used up: the next job of the same match gets all its events.
    third = f"{first}-again"
    sm.create_training_job(**job_request(third))
    state.wait_for(lambda e: state_events_of(third)(e) and e["detail"]["TrainingJobStatus"] == "Completed")


def test_config_validation(stack):
    status, payload = stack.control("POST", "config", {"in_progress_seconds": -1})
    assert status == 400
    status, payload = stack.control("POST", "outcomes", {"match": "x", "status": "Exploded"})
    assert status == 400
    status, payload = stack.control("POST", "drop-events", {"match": "x", "count": 0})
    assert status == 400
    assert stack.control("GET", "health")[0] == 200
    assert stack.control("GET", "nope")[0] == 404


def test_concurrent_creates(stack):
    """The server is threaded: concurrent calls are served together, and a name is still taken only once."""
    from concurrent.futures import ThreadPoolExecutor

    name = unique()
    clients = [stack.client("sagemaker") for _ in range(8)]

    def create(i: int, job: str) -> str:
        try:
            clients[i % len(clients)].create_training_job(**job_request(job))
            return "ok"
        except ClientError as err:
            return err.response["Error"]["Code"]

    with ThreadPoolExecutor(8) as pool:
        same = list(pool.map(lambda i: create(i, name), range(8)))
        distinct = list(pool.map(lambda i: create(i, f"{name}-{i}"), range(16)))
    assert sorted(same) == ["ResourceInUse"] * 7 + ["ok"]
    assert distinct == ["ok"] * 16
