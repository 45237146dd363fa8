"""Faults on request (`POST /_hubtune/faults`): the next N matching requests fail in a chosen way."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import unquote

from . import ACCOUNT_ID, REGION
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
# Faults of the deployment (permissions, keys): what AWS answers when the caller's role may not do the call.
# The principal and key named in the messages are the local stack's own (no real account is named).
_PRINCIPAL = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/hubtune-function/hubtune"
_KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
# The S3 operations that use the object's KMS key (HEAD and List do not: they answer without the key).
_KMS_OPERATIONS = frozenset({"GetObject", "PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart",
                             "UploadPartCopy"})
# The KMS action S3 performs for an operation: reads decrypt, writes ask for a new data key.
_KMS_ACTION = {"PutObject": "kms:GenerateDataKey", "CopyObject": "kms:GenerateDataKey",
               "CreateMultipartUpload": "kms:GenerateDataKey"}
# kind -> the services that answer it. `access-denied`: S3 says 403 AccessDenied, the JSON services 400
# AccessDeniedException. `kms`: the role may not use the object's key (S3 answers 403 AccessDenied, the message
# names the KMS action); `kms-disabled` / `kms-pending-deletion`: the key cannot be used by anyone (S3 passes on
# KMS's code with its `KMS.` prefix, 400).
_DEPLOYMENT_KINDS: dict[str, tuple[str, ...]] = {
    "access-denied": ("s3", "sagemaker", "events"),
    "kms": ("s3",),
    "kms-disabled": ("s3",),
    "kms-pending-deletion": ("s3",),
    # The training role does not trust sagemaker.amazonaws.com (or is gone): SageMaker answers a plain
    # ValidationException, the code it also gives a malformed request.
    "role-not-assumable": ("sagemaker",),
}
KINDS = (*_KINDS, *_DEPLOYMENT_KINDS)
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
    # CreateTrainingJob only: the fault answers requests for this instance type and lets the others through (a type
    # SageMaker has no quota or capacity for, as capacity fallback meets it).
    instance_type: str | None = None

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
        if self.error.startswith("kms") and req.operation not in _KMS_OPERATIONS:
            return False
        if self.instance_type is not None:
            try:
                asked = (req.json().get("ResourceConfig") or {}).get("InstanceType")
            except ApiError:
                return False
            if asked != self.instance_type:
                return False
        # The SDKs percent-encode query values (ListObjectsV2's `prefix=datasets%2F...`): a prefix given as `match`
        # is looked for in the decoded query string too.
        return not self.match or self.match in req.haystack() or self.match in unquote(req.query_string)

    def api_error(self, req: Request) -> ApiError:
        if self.error in _DEPLOYMENT_KINDS:
            return deployment_error(self.error, req)
        status, code, message = (_S3_SPELLING.get(self.error) if req.service == "s3" else None) or _KINDS[self.error]
        extra = {}
        if self.error == "s3-412":
            extra["Condition"] = "If-Match" if req.header("If-Match") else "If-None-Match"
        return ApiError(code, message, status, extra)


def deployment_error(kind: str, req: Request) -> ApiError:
    """A permission or key refusal as the service spells it."""
    if kind == "access-denied":
        if req.service == "s3":
            return ApiError("AccessDenied", "Access Denied", 403)
        action = f"{req.service}:{req.operation}"
        return ApiError("AccessDeniedException",
                        f"User: {_PRINCIPAL} is not authorized to perform: {action} because no identity-based "
                        f"policy allows the {action} action", 400)
    if kind == "kms":
        action = _KMS_ACTION.get(req.operation, "kms:Decrypt")
        return ApiError("AccessDenied",
                        f"User: {_PRINCIPAL} is not authorized to perform: {action} on resource: {_KEY_ARN} "
                        f"because no identity-based policy allows the {action} action", 403)
    if kind == "role-not-assumable":
        try:
            role = req.json().get("RoleArn") or "the role"
        except ApiError:
            role = "the role"
        return ApiError("ValidationException",
                        f"Could not assume role {role}. Please ensure that the role exists and allows principal "
                        "'sagemaker.amazonaws.com' to assume the role.", 400)
    if kind == "kms-disabled":
        return ApiError("KMS.DisabledException", f"{_KEY_ARN} is disabled.", 400)
    return ApiError("KMS.KMSInvalidStateException", f"{_KEY_ARN} is pending deletion.", 400)


def _check_deployment_kind(error: str, service: str, operation: str | None) -> None:
    services = _DEPLOYMENT_KINDS[error]
    if service not in services:
        raise ValueError(f"{error} applies to service {' or '.join(services)}")
    if error.startswith("kms") and operation is not None and operation not in _KMS_OPERATIONS:
        raise ValueError(f"{error} applies to the S3 operations that use the key: {', '.join(sorted(_KMS_OPERATIONS))}")


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
        if error not in KINDS:
            raise ValueError(f"error must be one of {', '.join(KINDS)}")
        count = spec.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        operation = spec.get("operation") or None
        if error in _DEPLOYMENT_KINDS:
            _check_deployment_kind(error, service, operation)
        if error == "put-events-partial":
            if service != "events" or operation not in (None, "PutEvents"):
                raise ValueError("put-events-partial applies to service events, operation PutEvents")
            operation = "PutEvents"
            if not spec.get("match"):
                raise ValueError("put-events-partial needs a match (the entries that fail)")
        match = spec.get("match")
        if match is not None and not isinstance(match, str):
            raise ValueError("match must be a string")
        instance_type = spec.get("instance_type")
        if instance_type is not None and (service, operation) != ("sagemaker", "CreateTrainingJob"):
            raise ValueError("instance_type applies to service sagemaker, operation CreateTrainingJob")
        if instance_type is not None and not isinstance(instance_type, str):
            raise ValueError("instance_type must be a string")
        with self._lock:
            fault = Fault(next(self._ids), service, operation, error, count, match or None, instance_type)
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
