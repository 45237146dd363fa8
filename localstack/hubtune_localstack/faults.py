"""Faults on request (`POST /_hubtune/faults`): the next N matching requests fail in a chosen way."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import asdict, dataclass
from typing import Any

from .protocol import ApiError, Request

SERVICES = ("sagemaker", "s3", "events", "sqs", "sns")

# kind -> (status, code, message); S3 has its own spelling of some (see s3_error).
_KINDS: dict[str, tuple[int, str, str]] = {
    "throttling": (400, "ThrottlingException", "Rate exceeded"),
    "server": (500, "InternalFailure", "We encountered an internal error. Please try again."),
    "resource-limit": (400, "ResourceLimitExceeded",
                       "The account-level service limit for this resource type is exceeded. "
                       "Please contact AWS support to request an increase."),
    "capacity": (400, "CapacityError", "Insufficient capacity"),
    "s3-409": (409, "ConditionalRequestConflict",
               "A conflicting conditional operation is currently in progress against this resource. "
               "Please try again."),
    "s3-412": (412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"),
    "put-events-partial": (200, "InternalFailure", "Internal failure"),
}
KINDS = tuple(_KINDS)
_S3_SPELLING = {
    # S3 throttles with 503 SlowDown and calls its 500 InternalError.
    "throttling": (503, "SlowDown", "Please reduce your request rate."),
    "server": (500, "InternalError", "We encountered an internal error. Please try again."),
}


def entry_matches(entry: Any, match: str | None) -> bool:
    """A PutEvents entry matches when its JSON, or its Detail as sent, contains `match`."""
    if not match:
        return True
    detail = entry.get("Detail") if isinstance(entry, dict) else None
    return match in json.dumps(entry, ensure_ascii=False) or (isinstance(detail, str) and match in detail)


@dataclass
class Fault:
    id: int
    service: str
    operation: str | None
    error: str
    count: int
    match: str | None = None

    def matches(self, req: Request) -> bool:
        if self.count <= 0 or req.service != self.service:
            return False
        if self.operation and self.operation != req.operation:
            return False
        if self.error == "put-events-partial":
            try:
                entries = req.json().get("Entries") or []
            except ApiError:
                return False
            return any(entry_matches(entry, self.match) for entry in entries)
        return not self.match or self.match in req.haystack()

    def api_error(self, req: Request) -> ApiError:
        status, code, message = (_S3_SPELLING.get(self.error) if req.service == "s3" else None) or _KINDS[self.error]
        extra = {}
        if self.error == "s3-412":
            extra["Condition"] = "If-Match" if req.header("If-Match") else "If-None-Match"
        return ApiError(code, message, status, extra)


class FaultRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: dict[str, Any]) -> Fault:
        service = spec.get("service")
        if service not in SERVICES:
            raise ValueError(f"service must be one of {', '.join(SERVICES)}")
        error = spec.get("error")
        if error not in _KINDS:
            raise ValueError(f"error must be one of {', '.join(KINDS)}")
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        operation = spec.get("operation") or None
        if error == "put-events-partial":
            if service != "events" or operation not in (None, "PutEvents"):
                raise ValueError("put-events-partial applies to service events, operation PutEvents")
            operation = "PutEvents"
            if not spec.get("match"):
                raise ValueError("put-events-partial needs a match (the entries that fail)")
        match = spec.get("match")
        if match is not None and not isinstance(match, str):
            raise ValueError("match must be a string")
        with self._lock:
            fault = Fault(next(self._ids), service, operation, error, count, match or None)
            self._faults.append(fault)
            return fault

    def take(self, req: Request) -> Fault | None:
        """The first fault that matches `req`, with one use of it consumed."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(req):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return Fault(**{**asdict(fault), "count": 1})
        return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(f) for f in self._faults]
