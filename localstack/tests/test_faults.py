"""Faults on request, call counts, and error responses as the SDKs parse them."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from helpers import job_request, unique


def error_of(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


@pytest.mark.parametrize("kind, status, code", [
    ("throttling", 400, "ThrottlingException"),
    ("server", 500, "InternalFailure"),
    ("resource-limit", 400, "ResourceLimitExceeded"),
    ("capacity", 400, "CapacityError"),
])
def test_sagemaker_faults(stack, sm, kind, status, code):
    stack.post("faults", {"service": "sagemaker", "operation": "CreateTrainingJob", "error": kind, "count": 2})
    for _ in range(2):
        name = unique()
        resp = error_of(lambda: sm.create_training_job(**job_request(name)))
        assert resp["Error"]["Code"] == code
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == status
        # the failed call created nothing
        assert error_of(lambda: sm.describe_training_job(TrainingJobName=name))["Error"]["Code"] == \
            "ValidationException"
    if kind == "capacity":
        assert resp["Error"]["Message"] == "Insufficient capacity"
    sm.create_training_job(**job_request(unique()))  # the third call goes through


def test_fault_match_and_operation_scope(stack, sm):
    target = unique("target")
    stack.post("faults", {"service": "sagemaker", "operation": "CreateTrainingJob", "error": "throttling",
                          "count": 1, "match": target})
    sm.describe_hub_content(HubName="my-private-hub", HubContentType="ModelReference",
                            HubContentName="meta-textgeneration-llama-3-2-1b")  # other operation: untouched
    sm.create_training_job(**job_request(unique()))  # no match: untouched
    assert error_of(lambda: sm.create_training_job(**job_request(target)))["Error"]["Code"] == "ThrottlingException"
    sm.create_training_job(**job_request(target))  # used up
    assert stack.control("GET", "faults")[1] == {"faults": []}


def test_a_capacity_fault_for_one_instance_type_lets_the_others_through(stack, sm):
    stack.post("faults", {"service": "sagemaker", "operation": "CreateTrainingJob", "error": "capacity",
                          "count": 5, "instance_type": "ml.g5.2xlarge"})
    refused = job_request(unique())
    refused["ResourceConfig"]["InstanceType"] = "ml.g5.2xlarge"
    assert error_of(lambda: sm.create_training_job(**refused))["Error"]["Code"] == "CapacityError"
    other = job_request(unique())
    other["ResourceConfig"]["InstanceType"] = "ml.g5.4xlarge"
    sm.create_training_job(**other)
    assert sm.describe_training_job(TrainingJobName=other["TrainingJobName"])["ResourceConfig"]["InstanceType"] == \
        "ml.g5.4xlarge"
    assert stack.control("GET", "faults")[1]["faults"][0]["count"] == 4
    status, body = stack.control("POST", "faults", {"service": "s3", "error": "capacity",
                                                   "instance_type": "ml.g5.2xlarge"})
    assert status == 400, body


@pytest.mark.parametrize("kind, status, code", [
    ("throttling", 503, "SlowDown"),
    ("server", 500, "InternalError"),
    ("s3-409", 409, "ConditionalRequestConflict"),
    ("s3-412", 412, "PreconditionFailed"),
])
def test_s3_faults(stack, s3, kind, status, code):
    key = f"hubtune/state/{unique('state')}.json"
    stack.post("faults", {"service": "s3", "operation": "PutObject", "error": kind, "count": 1,
                          "match": key})
    resp = error_of(lambda: s3.put_object(Bucket="hubtune-local", Key=key, Body=b"{}", IfNoneMatch="*"))
    assert resp["Error"]["Code"] == code
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error_of(lambda: s3.head_object(Bucket="hubtune-local", Key=key))["Error"]["Code"] == "404"
    s3.put_object(Bucket="hubtune-local", Key=key, Body=b"{}", IfNoneMatch="*")
    # moto itself answers a real conditional conflict with 412.
    resp = error_of(lambda: s3.put_object(Bucket="hubtune-local", Key=key, Body=b"{}", IfNoneMatch="*"))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_s3_fault_on_head_has_no_body(stack, s3):
    key = f"hubtune/state/{unique('head')}.json"
    s3.put_object(Bucket="hubtune-local", Key=key, Body=b"{}")
    stack.post("faults", {"service": "s3", "operation": "HeadObject", "error": "server", "count": 1})
    resp = error_of(lambda: s3.head_object(Bucket="hubtune-local", Key=key))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 500
    s3.head_object(Bucket="hubtune-local", Key=key)


def test_sqs_and_events_faults(stack, sqs, events):
    url = stack.queue_url("PublishQueue")
    stack.post("faults", [
        {"service": "sqs", "operation": "SendMessage", "error": "throttling", "count": 1},
        {"service": "events", "operation": "PutEvents", "error": "server", "count": 1},
    ])
    resp = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="x"))
    assert resp["Error"]["Code"] == "ThrottlingException"
    entry = {"EventBusName": "hubtune", "Source": "hubtune.test", "DetailType": "t", "Detail": "{}"}
    resp = error_of(lambda: events.put_events(Entries=[entry]))
    assert resp["Error"]["Code"] == "InternalFailure"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_put_events_partial(stack, events, reader):
    observer = reader("ObserverQueue")
    run = unique("partial")
    bad = f"{run}-bad"
    stack.post("faults", {"service": "events", "error": "put-events-partial", "count": 1, "match": bad})
    entries = [{"EventBusName": "hubtune", "Source": "hubtune", "DetailType": "Training Run Finished",
                "Detail": json.dumps({"run_id": rid})} for rid in (f"{run}-ok1", bad, f"{run}-ok2")]
    resp = events.put_events(Entries=entries)
    assert resp["FailedEntryCount"] == 1
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "EventId" in resp["Entries"][0] and "EventId" in resp["Entries"][2]
    assert resp["Entries"][1]["ErrorCode"] == "InternalFailure"
    got = observer.wait_for(lambda e: str(e.get("detail", {}).get("run_id", "")).startswith(run), count=2)
    observer.drain(0.3)
    assert sorted(e["detail"]["run_id"] for e in observer.matching(
        lambda e: str(e.get("detail", {}).get("run_id", "")).startswith(run))) == [f"{run}-ok1", f"{run}-ok2"]
    assert got
    # Used up: the same entries now all go through.
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0


def test_fault_validation_and_clear(stack):
    for bad in ({"service": "dynamodb", "error": "server"}, {"service": "s3", "error": "boom"},
                {"service": "s3", "error": "server", "count": 0},
                {"service": "s3", "error": "put-events-partial", "match": "x"}):
        assert stack.control("POST", "faults", bad)[0] == 400
    stack.post("faults", {"service": "s3", "error": "server", "count": 5, "match": "never-matches"})
    assert len(stack.control("GET", "faults")[1]["faults"]) == 1
    assert stack.control("DELETE", "faults")[0] == 200
    assert stack.control("GET", "faults")[1] == {"faults": []}


def test_call_counts(stack, sm, s3, sqs):
    assert stack.control("DELETE", "calls")[0] == 200
    stack.post("faults", {"service": "sagemaker", "operation": "CreateTrainingJob", "error": "server"})
    error_of(lambda: sm.create_training_job(**job_request(unique())))
    sm.create_training_job(**job_request(unique()))
    key = f"hubtune/state/{unique('count')}"
    s3.put_object(Bucket="hubtune-local", Key=key, Body=b"1")
    s3.get_object(Bucket="hubtune-local", Key=key)
    s3.list_objects_v2(Bucket="hubtune-local", Prefix="hubtune/state/")
    sqs.get_queue_attributes(QueueUrl=stack.queue_url("LaunchQueue"), AttributeNames=["All"])
    calls = stack.control("GET", "calls")[1]
    assert calls["sagemaker.CreateTrainingJob"] == 2  # a faulted call counts too
    assert calls["s3.PutObject"] == 1 and calls["s3.GetObject"] == 1 and calls["s3.ListObjectsV2"] == 1
    assert calls["sqs.GetQueueAttributes"] == 1
    stack.control("DELETE", "calls")
    assert stack.control("GET", "calls")[1] == {}


def test_s3_operation_names():
    from hubtune_localstack.protocol import s3_operation

    def op(method, path, query="", **headers):
        from urllib.parse import parse_qs
        environ = {"HTTP_" + k.upper(): v for k, v in headers.items()}
        return s3_operation(method, path, parse_qs(query, keep_blank_values=True), environ)

    assert op("GET", "/") == "ListBuckets"
    assert op("PUT", "/b") == "CreateBucket"
    assert op("HEAD", "/b") == "HeadBucket"
    assert op("GET", "/b", "list-type=2&prefix=x") == "ListObjectsV2"
    assert op("GET", "/b", "versions") == "ListObjectVersions"
    assert op("PUT", "/b", "notification") == "PutBucketNotificationConfiguration"
    assert op("POST", "/b", "delete") == "DeleteObjects"
    assert op("PUT", "/b/k/x") == "PutObject"
    assert op("PUT", "/b/k", "x-id=PutObject") == "PutObject"
    assert op("PUT", "/b/k", X_AMZ_COPY_SOURCE="/b/j") == "CopyObject"
    assert op("PUT", "/b/k", "partNumber=1&uploadId=u") == "UploadPart"
    assert op("POST", "/b/k", "uploads") == "CreateMultipartUpload"
    assert op("POST", "/b/k", "uploadId=u") == "CompleteMultipartUpload"
    assert op("DELETE", "/b/k", "uploadId=u") == "AbortMultipartUpload"
    assert op("GET", "/b/k", "tagging") == "GetObjectTagging"
    assert op("PUT", "/b/k", "tagging") == "PutObjectTagging"
    assert op("HEAD", "/b/k") == "HeadObject"
    assert op("GET", "/b/k") == "GetObject"
    assert op("DELETE", "/b/k") == "DeleteObject"
