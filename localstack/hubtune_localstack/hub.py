"""Private-hub content from seeded DescribeHubContent documents: DescribeHubContent, ListHubContentVersions."""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from pathlib import Path
from typing import Any

from .protocol import ApiError
from .timeutil import to_epoch

CONTENT_TYPES = ("Model", "Notebook", "ModelReference", "DataSet", "JsonDoc")
_TIME_FIELDS = ("CreationTime", "LastModifiedTime", "OriginalCreationTime")
_SUMMARY_FIELDS = (
    "HubContentName", "HubContentArn", "SageMakerPublicHubContentArn", "HubContentVersion", "HubContentType",
    "DocumentSchemaVersion", "HubContentDisplayName", "HubContentDescription", "SupportStatus",
    "HubContentSearchKeywords", "HubContentStatus", "CreationTime", "OriginalCreationTime",
)


def hub_name(value: str) -> str:
    """A hub name, or the name inside a hub ARN (arn:aws:sagemaker:region:account:hub/NAME)."""
    if value.startswith("arn:") and ":hub/" in value:
        return value.split(":hub/", 1)[1].split("/", 1)[0]
    return value


def version_key(version: str) -> tuple[Any, ...]:
    """Semantic-version order: 1.10.0 > 1.9.2; non-numeric parts sort after numeric ones, as text."""
    parts = re.split(r"[.\-+]", version)
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)


def _wire(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for name in _TIME_FIELDS:
        if name in out:
            out[name] = to_epoch(out[name])
    return out


def _page(items: list[Any], params: dict[str, Any], default_max: int = 100) -> tuple[list[Any], str | None]:
    start = 0
    token = params.get("NextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ApiError("ValidationException", "Invalid pagination token") from None
    limit = int(params.get("MaxResults") or default_max)
    chunk = items[start:start + limit]
    more = start + limit < len(items)
    return chunk, base64.urlsafe_b64encode(str(start + limit).encode()).decode() if more else None


class HubStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # (hub, content type, content name) -> {version: document}
        self._content: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {}

    # ---- seeding ------------------------------------------------------------------------------------------
    def seed(self, doc: Any) -> list[str]:
        """Stores one DescribeHubContent response (or a list of them); returns what was stored."""
        docs = doc if isinstance(doc, list) else [doc]
        stored = []
        for item in docs:
            if not isinstance(item, dict):
                raise ValueError("a hub content seed is a DescribeHubContent response (a JSON object)")
            missing = [k for k in ("HubName", "HubContentType", "HubContentName", "HubContentVersion")
                       if not item.get(k)]
            if missing:
                raise ValueError(f"the hub content document lacks {', '.join(missing)}")
            if item["HubContentType"] not in CONTENT_TYPES:
                raise ValueError(f"HubContentType must be one of {', '.join(CONTENT_TYPES)}")
            hub = hub_name(str(item["HubName"]))
            key = (hub, str(item["HubContentType"]), str(item["HubContentName"]))
            with self._lock:
                self._content.setdefault(key, {})[str(item["HubContentVersion"])] = copy.deepcopy(item)
            stored.append(f"{hub}/{key[1]}/{key[2]}/{item['HubContentVersion']}")
        return stored

    def seed_file(self, path: str | Path) -> list[str]:
        return self.seed(json.loads(Path(path).read_text(encoding="utf-8")))

    # ---- API ----------------------------------------------------------------------------------------------
    def _versions(self, params: dict[str, Any]) -> tuple[str, str, str, dict[str, dict[str, Any]]]:
        for required in ("HubName", "HubContentType", "HubContentName"):
            if not params.get(required):
                raise ApiError("ValidationException", f"1 validation error detected: {required} is required")
        hub = hub_name(str(params["HubName"]))
        kind, name = str(params["HubContentType"]), str(params["HubContentName"])
        if kind not in CONTENT_TYPES:
            raise ApiError("ValidationException",
                           f"1 validation error detected: Value '{kind}' at 'hubContentType' failed to satisfy "
                           f"constraint: Member must satisfy enum value set: [{', '.join(CONTENT_TYPES)}]")
        with self._lock:
            if not any(k[0] == hub for k in self._content):
                raise ApiError("ResourceNotFound", f"Hub {hub} does not exist.")
            versions = dict(self._content.get((hub, kind, name), {}))
        if not versions:
            raise ApiError("ResourceNotFound", f"HubContent {name} of type {kind} does not exist in hub {hub}.")
        return hub, kind, name, versions

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        hub, kind, name, versions = self._versions(params)
        version = params.get("HubContentVersion")
        if version:
            if version not in versions:
                raise ApiError("ResourceNotFound",
                               f"HubContent {name} of type {kind} version {version} does not exist in hub {hub}.")
        else:
            version = max(versions, key=version_key)
        return _wire(versions[version])

    def list_versions(self, params: dict[str, Any]) -> dict[str, Any]:
        _, _, _, versions = self._versions(params)
        docs = [_wire(d) for d in versions.values()]
        if params.get("MinVersion"):
            floor = version_key(str(params["MinVersion"]))
            docs = [d for d in docs if version_key(str(d["HubContentVersion"])) >= floor]
        if params.get("MaxSchemaVersion"):
            ceiling = version_key(str(params["MaxSchemaVersion"]))
            docs = [d for d in docs if version_key(str(d.get("DocumentSchemaVersion", "0"))) <= ceiling]
        for name, keep in (("CreationTimeBefore", lambda t, x: t < x), ("CreationTimeAfter", lambda t, x: t > x)):
            if params.get(name) is not None:
                limit = float(to_epoch(params[name]))
                docs = [d for d in docs if isinstance(d.get("CreationTime"), (int, float))
                        and keep(d["CreationTime"], limit)]
        sort_by = params.get("SortBy") or "HubContentVersion"
        if sort_by == "HubContentVersion":
            docs.sort(key=lambda d: version_key(str(d["HubContentVersion"])))
        else:
            docs.sort(key=lambda d: (str(d.get(sort_by, "")), version_key(str(d["HubContentVersion"]))))
        if params.get("SortOrder") == "Descending":
            docs.reverse()
        page, token = _page(docs, params)
        out: dict[str, Any] = {
            "HubContentSummaries": [{k: d[k] for k in _SUMMARY_FIELDS if k in d} for d in page]
        }
        if token:
            out["NextToken"] = token
        return out
