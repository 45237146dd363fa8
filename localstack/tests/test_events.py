"""EventBridge on the local stack: S3 drops into LaunchQueue, the hubtune bus, and moto's pattern matcher."""

from __future__ import annotations

import json
import uuid

import pytest
from helpers import QueueReader, unique


def object_created(key: str):
    return lambda e: e.get("detail-type") == "Object Created" and e["detail"]["object"]["key"] == key


def test_marker_upload_reaches_launch_queue_with_a_sequencer(s3, reader):
    launch = reader("LaunchQueue")
    run = unique("drop")
    marker = f"datasets/support-bot/{run} release#1/_SUCCESS"
    data = f"datasets/support-bot/{run} release#1/train.jsonl"
    s3.put_object(Bucket="hubtune-local", Key=data, Body=b'{"text": "hi"}\n')
    put = s3.put_object(Bucket="hubtune-local", Key=marker, Body=b"")
    event = launch.wait_for(object_created(marker))[0]
    assert event["source"] == "aws.s3"
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:s3:::hubtune-local"]
    assert event["time"].endswith("Z")
    detail = event["detail"]
    assert detail["bucket"]["name"] == "hubtune-local"
    assert detail["object"]["key"] == marker  # as is, not URL-encoded
    assert detail["object"]["size"] == 0
    assert detail["object"]["etag"] == put["ETag"].strip('"')
    assert len(detail["object"]["sequencer"]) == 18
    int(detail["object"]["sequencer"], 16)
    assert "version-id" not in detail["object"]  # the bucket is not versioned
    assert detail["reason"] == "PutObject"
    # The data file does not end with the marker suffix: the rule does not route it.
    launch.drain(0.5)
    assert not launch.matching(object_created(data))


def test_multipart_upload_is_one_event(s3, reader):
    launch = reader("LaunchQueue")
    key = f"datasets/{unique('multipart')}/_SUCCESS"
    upload = s3.create_multipart_upload(Bucket="hubtune-local", Key=key)["UploadId"]
    parts = []
    for number, size in ((1, 5 * 1024 * 1024), (2, 1024)):
        etag = s3.upload_part(Bucket="hubtune-local", Key=key, UploadId=upload, PartNumber=number,
                              Body=b"x" * size)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    done = s3.complete_multipart_upload(Bucket="hubtune-local", Key=key, UploadId=upload,
                                        MultipartUpload={"Parts": parts})
    event = launch.wait_for(object_created(key))[0]
    launch.drain(0.5)
    assert len(launch.matching(object_created(key))) == 1
    assert event["detail"]["reason"] == "CompleteMultipartUpload"
    assert event["detail"]["object"]["etag"] == done["ETag"].strip('"')
    assert event["detail"]["object"]["etag"].endswith("-2")
    assert event["detail"]["object"]["size"] == 5 * 1024 * 1024 + 1024


def test_sequencer_increases_per_put_and_is_shared_by_deliveries(stack, s3, sqs, events, reader):
    launch = reader("LaunchQueue")
    # A second rule on the default bus for the same objects: both deliveries of a PUT share its sequencer.
    queue = sqs.create_queue(QueueName=unique("SecondCopy"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("SecondCopyRule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.s3"],
                                                        "detail": {"bucket": {"name": ["hubtune-local"]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "copy", "Arn": arn}])
    try:
        key = f"datasets/{unique('seq')}/_SUCCESS"
        s3.put_object(Bucket="hubtune-local", Key=key, Body=b"1")
        s3.put_object(Bucket="hubtune-local", Key=key, Body=b"2")
        first, second = launch.wait_for(object_created(key), count=2)
        copy_reader = QueueReader(sqs, queue)
        copies = copy_reader.wait_for(object_created(key), count=2)
        copy_reader.drain(0.3)
        # Exactly the two Object Created events: moto's "Object Tags Added" on every PUT is gone.
        assert [e["detail-type"] for e in copy_reader.seen if e["detail"]["object"]["key"] == key] == \
            ["Object Created", "Object Created"]
        sequencers = [e["detail"]["object"]["sequencer"] for e in (first, second)]
        assert sequencers[0] < sequencers[1]
        assert sorted(sequencers) == sorted(e["detail"]["object"]["sequencer"] for e in copies)
        assert first["id"] != second["id"]
    finally:
        events.remove_targets(Rule=rule, Ids=["copy"])
        events.delete_rule(Name=rule)


def test_versioned_bucket_events_carry_the_version_id(s3, sqs, events):
    bucket = f"hubtune-versioned-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(Bucket=bucket,
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    queue = sqs.create_queue(QueueName=unique("Versioned"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("VersionedRule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["aws.s3"], "detail": {
        "bucket": {"name": [bucket]}, "object": {"version-id": [{"exists": True}]}}}))
    events.put_targets(Rule=rule, Targets=[{"Id": "v", "Arn": arn}])
    try:
        put = s3.put_object(Bucket=bucket, Key="datasets/a/_SUCCESS", Body=b"x")
        event = QueueReader(sqs, queue).wait_for(object_created("datasets/a/_SUCCESS"))[0]
        assert event["detail"]["object"]["version-id"] == put["VersionId"]
    finally:
        events.remove_targets(Rule=rule, Ids=["v"])
        events.delete_rule(Name=rule)


def test_hubtune_bus_events_reach_the_observer_and_the_template_rules(stack, events, reader):
    observer, launch, publish = reader("ObserverQueue"), reader("LaunchQueue"), reader("PublishQueue")
    run = unique("run")
    resp = events.put_events(Entries=[
        {"EventBusName": "hubtune", "Source": "hubtune", "DetailType": "Route Slot Freed",
         "Detail": json.dumps({"run_id": run, "route": "r1"})},
        {"EventBusName": "hubtune", "Source": "hubtune", "DetailType": "Training Run Finished",
         "Detail": json.dumps({"run_id": run})},
        {"EventBusName": "hubtune", "Source": "somebody-else", "DetailType": "Route Slot Freed",
         "Detail": json.dumps({"run_id": run})},
    ])
    assert resp["FailedEntryCount"] == 0
    of_run = lambda e: e.get("detail", {}).get("run_id") == run  # noqa: E731
    seen = observer.wait_for(of_run, count=2)
    assert {e["detail-type"] for e in seen} == {"Route Slot Freed", "Training Run Finished"}
    assert all(e["account"] == "123456789012" and e["source"] == "hubtune" for e in seen)
    slot = launch.wait_for(of_run)
    assert [e["detail-type"] for e in slot] == ["Route Slot Freed"]
    assert [e["detail-type"] for e in publish.wait_for(of_run)] == ["Training Run Finished"]
    observer.drain(0.3)
    assert len(observer.matching(of_run)) == 2  # the other source is not "hubtune"


# moto's matcher, checked against what AWS documents for each filter kind.
PATTERN_CASES = {
    "prefix": ({"detail": {"key": [{"prefix": "datasets/"}]}},
               ["datasets/a"], ["other/datasets/a"]),
    "suffix": ({"detail": {"key": [{"suffix": "_SUCCESS"}]}},
               ["datasets/a/_SUCCESS"], ["datasets/a/_SUCCESS.tmp"]),
    "wildcard": ({"detail": {"key": [{"wildcard": "datasets/*_SUCCESS"}]}},
                 ["datasets/a/b/_SUCCESS", "datasets/_SUCCESS"], ["other/_SUCCESS", "datasets/a/_SUCCESS/x"]),
    "anything-but": ({"detail": {"key": [{"anything-but": ["skip", "ignore"]}]}},
                     ["keep"], ["skip", "ignore", None]),
    "anything-but-prefix": ({"detail": {"key": [{"anything-but": {"prefix": "tmp/"}}]}},
                            ["datasets/a"], ["tmp/a"]),
    "exists": ({"detail": {"flag": [{"exists": True}]}},
               ["with-flag"], ["without-flag"]),
    "not-exists": ({"detail": {"flag": [{"exists": False}]}},
                   ["without-flag"], ["with-flag"]),
    "numeric": ({"detail": {"n": [{"numeric": [">", 0, "<=", 5]}]}},
                ["n=3"], ["n=0", "n=6"]),
}


def _detail(key: str | None) -> dict:
    if key == "with-flag":
        return {"key": key, "flag": "x"}
    if key == "without-flag":
        return {"key": key}
    if key and key.startswith("n="):
        return {"key": key, "n": int(key[2:])}
    return {"other": "no key"} if key is None else {"key": key}


@pytest.mark.parametrize("case", sorted(PATTERN_CASES))
def test_moto_pattern_matching(case, sqs, events):
    pattern, matching, other = PATTERN_CASES[case]
    bus = unique("patterns")
    events.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=unique("Pattern"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="r", EventBusName=bus, EventPattern=json.dumps({"source": ["t"], **pattern}))
    events.put_targets(Rule="r", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    try:
        entries = [{"EventBusName": bus, "Source": "t", "DetailType": "d", "Detail": json.dumps(_detail(k))}
                   for k in [*matching, *other]]
        assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
        r = QueueReader(sqs, queue)
        r.wait_for(lambda e: True, count=len(matching))
        r.drain(0.3)
        got = sorted(e["detail"].get("key", "") for e in r.seen)
        assert got == sorted(matching), f"{case}: {pattern} delivered {got}"
    finally:
        events.remove_targets(Rule="r", EventBusName=bus, Ids=["q"])
        events.delete_rule(Name="r", EventBusName=bus)
        events.delete_event_bus(Name=bus)


def test_bucket_notification_configuration_shows_eventbridge(stack, s3):
    # The provisioned dataset bucket sends its events to EventBridge, and says so (moto alone leaves it out).
    conf = s3.get_bucket_notification_configuration(Bucket=stack.ready["bucket"])
    assert conf.get("EventBridgeConfiguration") == {}
    s3.create_bucket(Bucket="no-eventbridge-here")
    assert "EventBridgeConfiguration" not in s3.get_bucket_notification_configuration(Bucket="no-eventbridge-here")
