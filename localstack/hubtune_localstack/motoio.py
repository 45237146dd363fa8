"""In-process access to moto's backends for what the stand-in does by itself (no HTTP, no faults, no counts):
writing the model artifact to S3 and putting state-change events on the default bus."""

from __future__ import annotations

import json
from typing import Any

from . import ACCOUNT_ID, PARTITION, REGION


def put_object(bucket: str, key: str, data: bytes) -> None:
    """Writes an object as a PUT would (so S3 notifications fire). Raises LookupError for a missing bucket."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends

    backend = s3_backends[ACCOUNT_ID][PARTITION]
    try:
        backend.get_bucket(bucket)
    except MissingBucket:
        raise LookupError(f"bucket {bucket} does not exist") from None
    backend.put_object(bucket, key, data)


def put_event(source: str, detail_type: str, detail: dict[str, Any], resources: list[str],
              bus: str = "default") -> list[dict[str, Any]]:
    from moto.events.models import events_backends

    entry = {"Source": source, "DetailType": detail_type, "Detail": json.dumps(detail), "Resources": resources,
             "EventBusName": bus}
    return events_backends[ACCOUNT_ID][REGION].put_events([entry])
