"""What a request is (service, operation, protocol) and how each AWS protocol spells an error.

Services are told apart as moto does: the `X-Amz-Target` header (JSON protocols: SageMaker, EventBridge,
SQS since 2023), the SigV4 credential scope (Authorization header or presigned `X-Amz-Credential`), the
query protocol's `Action`, and S3 (path-style REST) for the rest. S3 operations are named from the method,
path, sub-resource and headers.
"""

from __future__ import annotations

import io
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

CONTROL_PREFIX = "/_hubtune/"

TARGET_PREFIXES = {
    "SageMaker": "sagemaker",
    "AWSEvents": "events",
    "AmazonSQS": "sqs",
}
JSON_CONTENT_TYPES = {"sqs": "application/x-amz-json-1.0"}


class ApiError(Exception):
    """An error answered in the protocol of the request."""

    def __init__(self, code: str, message: str, status: int = 400, extra: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.extra = extra or {}


@dataclass
class Request:
    environ: dict[str, Any]
    method: str
    path: str  # URL-decoded, utf-8
    query_string: str
    query: dict[str, list[str]]
    body: bytes
    service: str
    operation: str
    protocol: str  # "json" | "query" | "rest-xml" | "control" | "rest"
    _json: Any = field(default=None, repr=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"), default)

    def json(self) -> dict[str, Any]:
        if self._json is None:
            try:
                self._json = json.loads(self.body or b"{}")
            except ValueError as err:
                raise ApiError("SerializationException", f"the body is not JSON: {err}") from None
            if not isinstance(self._json, dict):
                raise ApiError("SerializationException", "the body must be a JSON object")
        return self._json

    @property
    def key(self) -> str:
        return f"{self.service}.{self.operation}"

    def haystack(self) -> str:
        """What a fault's `match` is looked for in: the path, the query string and the body."""
        return f"{self.path}?{self.query_string}\n{self.body.decode('utf-8', 'replace')}"


def read_body(environ: dict[str, Any]) -> bytes:
    """Reads the whole body and puts it back so the next application can read it again."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = stream.read(length) if length > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def _credential_service(environ: dict[str, Any], query: dict[str, list[str]]) -> str | None:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    credential = None
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0].strip()
    elif query.get("X-Amz-Credential"):
        credential = query["X-Amz-Credential"][0]
    if credential:
        parts = credential.split("/")
        if len(parts) >= 5:
            service = parts[-2].lower()
            return {"eventbridge": "events"}.get(service, service)
    return None


def parse_request(environ: dict[str, Any]) -> Request:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    raw_path = environ.get("PATH_INFO", "") or "/"
    try:
        path = raw_path.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        path = raw_path
    query_string = environ.get("QUERY_STRING", "")
    query = parse_qs(query_string, keep_blank_values=True)
    body = read_body(environ)
    base = dict(environ=environ, method=method, path=path, query_string=query_string, query=query, body=body)

    if path.startswith(CONTROL_PREFIX) or path.rstrip("/") == CONTROL_PREFIX.rstrip("/"):
        return Request(**base, service="hubtune", operation=f"{method} {path}", protocol="control")

    target = environ.get("HTTP_X_AMZ_TARGET")
    signed_service = _credential_service(environ, query)
    if target and "." in target:
        prefix, operation = target.split(".", 1)
        service = TARGET_PREFIXES.get(prefix) or signed_service or prefix.lower()
        return Request(**base, service=service, operation=operation, protocol="json")

    action = None
    content_type = environ.get("CONTENT_TYPE", "")
    if content_type.startswith("application/x-www-form-urlencoded") and body:
        action = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [None])[0]
    if not action:
        action = (query.get("Action") or [None])[0]

    service = signed_service or ("s3" if not action else None)
    if service == "s3" or (service is None and not action):
        return Request(**base, service="s3", operation=s3_operation(method, path, query, environ),
                       protocol="rest-xml")
    if action:
        return Request(**base, service=service or "unknown", operation=action, protocol="query")
    return Request(**base, service=service or "unknown", operation=f"{method} {path}", protocol="rest")


# ---- S3 operation names ------------------------------------------------------------------------------------
_BUCKET_SUBRESOURCES = {
    # sub-resource: (GET, PUT, DELETE)
    "versioning": ("GetBucketVersioning", "PutBucketVersioning", None),
    "notification": ("GetBucketNotificationConfiguration", "PutBucketNotificationConfiguration", None),
    "tagging": ("GetBucketTagging", "PutBucketTagging", "DeleteBucketTagging"),
    "policy": ("GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"),
    "cors": ("GetBucketCors", "PutBucketCors", "DeleteBucketCors"),
    "lifecycle": ("GetBucketLifecycleConfiguration", "PutBucketLifecycleConfiguration", "DeleteBucketLifecycle"),
    "encryption": ("GetBucketEncryption", "PutBucketEncryption", "DeleteBucketEncryption"),
    "acl": ("GetBucketAcl", "PutBucketAcl", None),
    "location": ("GetBucketLocation", None, None),
    "uploads": ("ListMultipartUploads", None, None),
    "versions": ("ListObjectVersions", None, None),
    "object-lock": ("GetObjectLockConfiguration", "PutObjectLockConfiguration", None),
    "ownershipControls": ("GetBucketOwnershipControls", "PutBucketOwnershipControls",
                          "DeleteBucketOwnershipControls"),
    "publicAccessBlock": ("GetPublicAccessBlock", "PutPublicAccessBlock", "DeletePublicAccessBlock"),
    "website": ("GetBucketWebsite", "PutBucketWebsite", "DeleteBucketWebsite"),
    "logging": ("GetBucketLogging", "PutBucketLogging", None),
    "replication": ("GetBucketReplication", "PutBucketReplication", "DeleteBucketReplication"),
    "accelerate": ("GetBucketAccelerateConfiguration", "PutBucketAccelerateConfiguration", None),
    "requestPayment": ("GetBucketRequestPayment", "PutBucketRequestPayment", None),
}
_OBJECT_SUBRESOURCES = {
    "tagging": ("GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging"),
    "acl": ("GetObjectAcl", "PutObjectAcl", None),
    "retention": ("GetObjectRetention", "PutObjectRetention", None),
    "legal-hold": ("GetObjectLegalHold", "PutObjectLegalHold", None),
    "attributes": ("GetObjectAttributes", None, None),
}
_METHOD_INDEX = {"GET": 0, "PUT": 1, "DELETE": 2}


def s3_operation(method: str, path: str, query: dict[str, list[str]], environ: dict[str, Any]) -> str:
    x_id = (query.get("x-id") or [""])[0]  # the Rust and Go SDKs name the operation in the query string
    if x_id.isalnum():
        return x_id
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket:
        return "ListBuckets" if method == "GET" else f"{method.title()}Root"
    if not key:
        if method == "HEAD":
            return "HeadBucket"
        if method == "POST":
            return "DeleteObjects" if "delete" in query else "PostObject"
        for sub, names in _BUCKET_SUBRESOURCES.items():
            if sub in query and method in _METHOD_INDEX and names[_METHOD_INDEX[method]]:
                return names[_METHOD_INDEX[method]]
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, f"{method.title()}Bucket")
    copy_source = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if method == "HEAD":
        return "HeadObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        if "restore" in query:
            return "RestoreObject"
        if "select" in query:
            return "SelectObjectContent"
        return "PostObject"
    if "uploadId" in query:
        if method == "PUT":
            return "UploadPartCopy" if copy_source else "UploadPart"
        return {"GET": "ListParts", "DELETE": "AbortMultipartUpload"}.get(method, f"{method.title()}Upload")
    for sub, names in _OBJECT_SUBRESOURCES.items():
        if sub in query and method in _METHOD_INDEX and names[_METHOD_INDEX[method]]:
            return names[_METHOD_INDEX[method]]
    if method == "PUT":
        return "CopyObject" if copy_source else "PutObject"
    return {"GET": "GetObject", "DELETE": "DeleteObject"}.get(method, f"{method.title()}Object")


# ---- responses ---------------------------------------------------------------------------------------------
Response = tuple[int, list[tuple[str, str]], bytes]

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict",
            412: "Precondition Failed", 500: "Internal Server Error", 503: "Service Unavailable"}


def status_line(status: int) -> str:
    return f"{status} {_REASONS.get(status, 'Status')}"


def request_id() -> str:
    return str(uuid.uuid4())


def json_response(service: str, payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = [
        ("Content-Type", JSON_CONTENT_TYPES.get(service, "application/x-amz-json-1.1")),
        ("x-amzn-RequestId", request_id()),
        ("Content-Length", str(len(body))),
    ]
    return status, headers, body


def error_response(req: Request, err: ApiError) -> Response:
    rid = request_id()
    if req.protocol == "json":
        payload = {"__type": err.code, "message": err.message}
        body = json.dumps(payload).encode()
        headers = [
            ("Content-Type", JSON_CONTENT_TYPES.get(req.service, "application/x-amz-json-1.1")),
            ("x-amzn-RequestId", rid),
            ("x-amzn-ErrorType", err.code),
        ]
        if req.service == "sqs":
            fault = "Receiver" if err.status >= 500 else "Sender"
            headers.append(("x-amzn-query-error", f"{err.code};{fault}"))
    elif req.protocol == "rest-xml":
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in err.extra.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(err.code)}</Code><Message>{escape(err.message)}</Message>{extra}"
            f"<RequestId>{rid}</RequestId><HostId>{rid}</HostId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid), ("x-amz-id-2", rid)]
        if req.method == "HEAD":
            body = b""
    elif req.protocol == "query":
        fault = "Receiver" if err.status >= 500 else "Sender"
        body = (
            '<?xml version="1.0"?>\n'
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{escape(err.code)}</Code>"
            f"<Message>{escape(err.message)}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    else:
        body = json.dumps({"error": err.code, "message": err.message}).encode()
        headers = [("Content-Type", "application/json")]
    headers.append(("Content-Length", str(len(body))))
    return err.status, headers, body


