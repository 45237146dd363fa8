"""The small patches hubtune needs on moto 5.2.5, each documented with what moto does and what AWS does.

1. S3 -> EventBridge events (moto.s3.notifications._send_event_bridge_message). moto sends every event with the
   same fixed `id` and `sequencer` ("617f08299329d189"), names the etag `eTag` (AWS: `etag`), sets
   `version-id: "null"` on unversioned buckets (AWS leaves it out), gives `reason: "ObjectCreated"` (AWS:
   "PutObject", "CopyObject", "CompleteMultipartUpload", "POST Object"), hands the event to the rules of EVERY bus
   (AWS: only the default bus), emits "Object Tags Added" on each plain PutObject (AWS: only on
   PutObjectTagging), and emits CompleteMultipartUpload's Object Created twice (once as a Put). The replacement
   builds the event as AWS does, with a fresh id and a sequencer that increases with every PUT and is shared by
   every delivery of that PUT, and sends it to the default bus only.
2. Event delivery without an InputTransformer (moto.events.utils.EventTemplateParser.parse). moto rebuilds the
   event from a string template that has no `account` field (and substitutes `<source>`-like text inside
   `detail`). AWS delivers the event as it is: the replacement returns a copy in AWS's field order.

3. GetBucketNotificationConfiguration (moto.s3.responses.S3Response.get_bucket_notification) leaves out the
   `EventBridgeConfiguration` that PutBucketNotificationConfiguration stored, so a client cannot tell whether a
   bucket sends its events to EventBridge (`hubtune doctor` and `hubtune enable-eventbridge` ask exactly that).
   The replacement adds it, as AWS does.

moto's pattern matcher (prefix, suffix, wildcard, anything-but, exists, numeric, $or) matches as AWS does for
what hubtune uses; tests/test_events.py::test_moto_pattern_matching checks it against a live server, so it is
not patched.
"""

from __future__ import annotations

import copy
import itertools
import logging
import threading
import time
import uuid
from typing import Any

from . import context

log = logging.getLogger("hubtune_localstack.moto_patches")

_EVENT_FIELD_ORDER = ("version", "id", "detail-type", "source", "account", "time", "region", "resources",
                      "detail")

_sequencer_lock = threading.Lock()
_sequencer = itertools.count(time.time_ns() // 1000)


def next_sequencer() -> str:
    """An 18-digit upper-case hex string, larger for every call (S3's sequencers compare as strings)."""
    with _sequencer_lock:
        return f"{next(_sequencer):018X}"


_REASON_BY_OPERATION = {
    "PutObject": "PutObject",
    "CopyObject": "CopyObject",
    "CompleteMultipartUpload": "CompleteMultipartUpload",
    "DeleteObject": "DeleteObject",
    "DeleteObjects": "DeleteObjects",
}
_REASON_BY_EVENT = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "POST Object",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}
# The one Object Created event AWS emits for these operations; moto also emits an ObjectCreated:Put for the
# put_object it does inside CompleteMultipartUpload, so that upload arrived twice.
_CREATED_EVENT_OF_OPERATION = {
    "CompleteMultipartUpload": "s3:ObjectCreated:CompleteMultipartUpload",
    "CopyObject": "s3:ObjectCreated:Copy",
}
# Events AWS emits only for one operation; moto emits them as side effects of others.
_ONLY_FOR_OPERATION = {
    "Object Tags Added": ("PutObjectTagging",),
    "Object Tags Deleted": ("DeleteObjectTagging",),
    "Object ACL Updated": ("PutObjectAcl",),
}


def build_s3_event(account_id: str, bucket: Any, event_name: str, key: Any) -> dict[str, Any] | None:
    from moto.core.utils import unix_time
    from moto.s3.notifications import _detail_type

    event_name = str(getattr(event_name, "value", event_name))  # an S3NotificationEvent (a str Enum) or a str
    detail_type = _detail_type(event_name)
    _, operation = context.current_operation()
    only_for = _ONLY_FOR_OPERATION.get(detail_type)
    if only_for and operation not in only_for:
        return None
    expected = _CREATED_EVENT_OF_OPERATION.get(operation or "")
    if detail_type == "Object Created" and expected and event_name != expected:
        return None
    obj: dict[str, Any] = {"key": key.name}
    if detail_type != "Object Deleted":
        obj["size"] = key.size
    etag = getattr(key, "etag", None)
    if etag:
        obj["etag"] = etag.replace('"', "")
    if getattr(bucket, "versioning_status", None) in ("Enabled", "Suspended"):
        obj["version-id"] = getattr(key, "version_id", None) or "null"
    obj["sequencer"] = next_sequencer()
    detail: dict[str, Any] = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": _REASON_BY_OPERATION.get(operation or "")
        or _REASON_BY_EVENT.get(event_name)
        or event_name.split(":")[1],
    }
    if detail_type == "Object Deleted":
        detail["deletion-type"] = (
            "Delete Marker Created" if event_name.endswith("DeleteMarkerCreated") else "Permanently Deleted"
        )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": "aws.s3",
        "account": account_id,
        "time": unix_time(),  # moto turns this into ISO-8601 when it delivers to SQS
        "region": bucket.region_name,
        "resources": [bucket.arn],
        "detail": detail,
        "ingestion-time": unix_time(),
    }


def _send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    try:
        from moto.events.models import events_backends

        event = build_s3_event(account_id, bucket, event_name, key)
        if event is None:
            return
        backend = events_backends[account_id][bucket.region_name]
        default_bus = backend.event_buses.get("default")
        if default_bus is None:
            return
        for rule in list(default_bus.rules.values()):
            if rule.state == "ENABLED":
                rule.send_to_targets(copy.deepcopy(event))
    except Exception:  # AWS sends these asynchronously: a failure never fails the PUT
        log.exception("S3 -> EventBridge notification failed")


def _parse_without_transformer(original):
    def parse(input_template: Any, input_paths_map: Any, event: Any) -> dict[str, Any]:
        if not input_template and not input_paths_map:
            out = {k: copy.deepcopy(event[k]) for k in _EVENT_FIELD_ORDER if k in event}
            for k, v in event.items():
                if k not in out and k != "ingestion-time":
                    out[k] = copy.deepcopy(v)
            return out
        return original(input_template, input_paths_map, event)

    parse.__wrapped__ = original  # type: ignore[attr-defined]
    return staticmethod(parse)


_applied = False


def _get_bucket_notification(original):
    def get_bucket_notification(self: Any) -> Any:
        config = self.backend.get_bucket_notification_configuration(self.bucket_name)
        if not config or getattr(config, "event_bridge", None) is None:
            return original(self)
        from moto.core.responses import ActionResult

        def build(item: Any, arn_key: str) -> dict[str, Any]:
            out: dict[str, Any] = {"Id": item.id, arn_key: item.arn, "Events": item.events}
            if item.filters:
                out["Filter"] = {"Key": {"FilterRules": item.filters["S3Key"]["FilterRule"]}}
            return out

        result = {
            "TopicConfigurations": [build(t, "TopicArn") for t in config.topic],
            "QueueConfigurations": [build(q, "QueueArn") for q in config.queue],
            "LambdaFunctionConfigurations": [build(f, "LambdaFunctionArn") for f in config.cloud_function],
            "EventBridgeConfiguration": {},
        }
        self.data["Action"] = "GetBucketNotificationConfiguration"
        return self.serialized(ActionResult(result))

    return get_bucket_notification


def apply() -> None:
    global _applied
    if _applied:
        return
    import moto

    if moto.__version__ != "5.2.5":
        log.warning("hubtune_localstack's patches were written for moto 5.2.5, found %s", moto.__version__)
    from moto.events.utils import EventTemplateParser
    from moto.s3 import notifications

    notifications._send_event_bridge_message = _send_event_bridge_message
    from moto.s3.responses import S3Response

    S3Response.get_bucket_notification = _get_bucket_notification(S3Response.get_bucket_notification)
    EventTemplateParser.parse = _parse_without_transformer(EventTemplateParser.parse)
    _applied = True
