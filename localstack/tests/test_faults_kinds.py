"""The deployment's fault kinds (`access-denied`, `kms`, `kms-disabled`, `kms-pending-deletion`,
`role-not-assumable`) as AWS answers them, scoped by `match` to one prefix."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from helpers import job_request, unique

BUCKET = "hubtune-local"


def error_of(call) -> dict:
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response


def pending(stack) -> list[dict]:
    return stack.control("GET", "faults")[1]["faults"]


def test_s3_access_denied_hits_one_prefix_only(stack, s3):
    data = f"datasets/support-bot/{unique('denied')}/"
    state = f"hubtune/state/{unique('state')}.json"
    s3.put_object(Bucket=BUCKET, Key=f"{data}train.jsonl", Body=b"{}\n")
    s3.put_object(Bucket=BUCKET, Key=state, Body=b"{}")
    stack.post("faults", {"service": "s3", "error": "access-denied", "count": 3, "match": data})
    resp = error_of(lambda: s3.get_object(Bucket=BUCKET, Key=f"{data}train.jsonl"))
    assert (resp["Error"]["Code"], resp["Error"]["Message"]) == ("AccessDenied", "Access Denied")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    # ListObjectsV2 sends the prefix percent-encoded in its query: the match still finds it.
    resp = error_of(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=data))
    assert resp["Error"]["Code"] == "AccessDenied"
    # HEAD has no body: only the status says it.
    resp = error_of(lambda: s3.head_object(Bucket=BUCKET, Key=f"{data}train.jsonl"))
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert pending(stack) == []
    # Another prefix was never touched, and the used-up fault lets the data through again.
    assert s3.get_object(Bucket=BUCKET, Key=state)["Body"].read() == b"{}"
    assert s3.get_object(Bucket=BUCKET, Key=f"{data}train.jsonl")["Body"].read() == b"{}\n"


def test_s3_access_denied_on_writes_stores_nothing(stack, s3):
    key = f"hubtune/state/runs/{unique('run')}.json"
    stack.post("faults", {"service": "s3", "operation": "PutObject", "error": "access-denied", "count": 1,
                          "match": "hubtune/state/"})
    resp = error_of(lambda: s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}", IfNoneMatch="*"))
    assert resp["Error"]["Code"] == "AccessDenied"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error_of(lambda: s3.head_object(Bucket=BUCKET, Key=key))["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_sagemaker_access_denied_is_the_json_exception(stack, sm):
    name = unique("denied")
    stack.post("faults", {"service": "sagemaker", "operation": "CreateTrainingJob", "error": "access-denied",
                          "count": 1})
    resp = error_of(lambda: sm.create_training_job(**job_request(name)))
    assert resp["Error"]["Code"] == "AccessDeniedException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "is not authorized to perform: sagemaker:CreateTrainingJob" in resp["Error"]["Message"]
    assert error_of(lambda: sm.describe_training_job(TrainingJobName=name))["Error"]["Code"] == \
        "ValidationException"


def test_a_role_sagemaker_cannot_assume_is_a_validation_exception(stack, sm):
    name = unique("untrusted")
    request = job_request(name)
    stack.post("faults", {"service": "sagemaker", "operation": "CreateTrainingJob", "error": "role-not-assumable",
                          "count": 1})
    resp = error_of(lambda: sm.create_training_job(**request))
    assert resp["Error"]["Code"] == "ValidationException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert resp["Error"]["Message"].startswith(f"Could not assume role {request['RoleArn']}.")
    assert error_of(lambda: sm.describe_training_job(TrainingJobName=name))["Error"]["Code"] == \
        "ValidationException"


def test_put_events_access_denied_on_one_bus(stack, events):
    stack.post("faults", {"service": "events", "operation": "PutEvents", "error": "access-denied", "count": 1,
                          "match": '"EventBusName": "hubtune"'})
    entry = {"Source": "hubtune.test", "DetailType": "t", "Detail": "{}"}
    # Another bus (the default one) is not refused and does not use the fault up.
    assert events.put_events(Entries=[{**entry, "EventBusName": "default"}])["FailedEntryCount"] == 0
    assert len(pending(stack)) == 1
    resp = error_of(lambda: events.put_events(Entries=[{**entry, "EventBusName": "hubtune"}]))
    assert resp["Error"]["Code"] == "AccessDeniedException"
    assert pending(stack) == []


def test_put_events_access_denied_names_the_action(stack, events):
    stack.post("faults", {"service": "events", "operation": "PutEvents", "error": "access-denied", "count": 1})
    entry = {"EventBusName": "hubtune", "Source": "hubtune.test", "DetailType": "t", "Detail": "{}"}
    resp = error_of(lambda: events.put_events(Entries=[entry]))
    assert resp["Error"]["Code"] == "AccessDeniedException"
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "events:PutEvents" in resp["Error"]["Message"]
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0


def test_kms_denies_the_calls_that_use_the_key_and_names_the_kms_action(stack, s3):
    prefix = f"hubtune/state/{unique('kms')}/"
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}a.json", Body=b"{}")
    stack.post("faults", {"service": "s3", "error": "kms", "count": 2, "match": prefix})
    # Listing and HEAD answer without the key: untouched, and they do not use the fault up.
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["KeyCount"] == 1
    s3.head_object(Bucket=BUCKET, Key=f"{prefix}a.json")
    assert pending(stack)[0]["count"] == 2
    resp = error_of(lambda: s3.get_object(Bucket=BUCKET, Key=f"{prefix}a.json"))
    assert (resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert "kms:Decrypt" in resp["Error"]["Message"] and "arn:aws:kms:" in resp["Error"]["Message"]
    resp = error_of(lambda: s3.put_object(Bucket=BUCKET, Key=f"{prefix}b.json", Body=b"{}"))
    assert "kms:GenerateDataKey" in resp["Error"]["Message"]
    assert error_of(lambda: s3.head_object(Bucket=BUCKET, Key=f"{prefix}b.json"))[
        "ResponseMetadata"]["HTTPStatusCode"] == 404
    assert pending(stack) == []


@pytest.mark.parametrize("kind, code, says", [
    ("kms-disabled", "KMS.DisabledException", "is disabled."),
    ("kms-pending-deletion", "KMS.KMSInvalidStateException", "is pending deletion."),
])
def test_a_key_nobody_can_use(stack, s3, kind, code, says):
    key = f"datasets/support-bot/{unique(kind)}/train.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    stack.post("faults", {"service": "s3", "operation": "GetObject", "error": kind, "count": 1, "match": key})
    resp = error_of(lambda: s3.get_object(Bucket=BUCKET, Key=key))
    assert resp["Error"]["Code"] == code
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert resp["Error"]["Message"].endswith(says)
    s3.get_object(Bucket=BUCKET, Key=key)


@pytest.mark.parametrize("bad", [
    {"service": "sqs", "error": "access-denied"},
    {"service": "s3", "error": "role-not-assumable"},
    {"service": "sagemaker", "error": "kms"},
    {"service": "events", "error": "kms-disabled"},
    {"service": "s3", "operation": "HeadObject", "error": "kms"},
    {"service": "s3", "operation": "ListObjectsV2", "error": "kms-pending-deletion"},
])
def test_deployment_kinds_only_where_aws_answers_them(stack, bad):
    status, payload = stack.control("POST", "faults", bad)
    assert status == 400, payload
    assert pending(stack) == []
