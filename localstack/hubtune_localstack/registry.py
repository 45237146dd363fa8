"""The SageMaker model registry, as much of it as hubtune uses: CreateModelPackageGroup, CreateModelPackage (with
its ClientToken: the same token answers the version it made and makes no other, as SageMaker's idempotency
token does), DescribeModelPackage and ListModelPackages, so a test can count the versions of a group.

Requests are first judged against botocore's model by validation.py (CreateModelPackage is in its CHECKED set).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

from . import ACCOUNT_ID, PARTITION, REGION
from .protocol import ApiError
from .timeutil import now, to_epoch


def group_name(value: str) -> str:
    """A group name, or the name at the end of a group ARN (arn:aws:sagemaker:…:model-package-group/NAME)."""
    return value.rsplit("/", 1)[1] if value.startswith("arn:") and "/" in value else value


class ModelRegistry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: dict[str, dict[str, Any]] = {}
        self._packages: dict[str, dict[str, Any]] = {}  # ARN -> description
        self._tokens: dict[str, str] = {}  # ClientToken -> ARN

    def create_group(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("ModelPackageGroupName", ""))
        arn = f"arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT_ID}:model-package-group/{name.lower()}"
        with self._lock:
            if name.lower() in self._groups:
                raise ApiError("ValidationException", f"Model Package Group already exists: {arn}")
            self._groups[name.lower()] = {"ModelPackageGroupName": name, "ModelPackageGroupArn": arn,
                                          "CreationTime": now(), "ModelPackageGroupStatus": "Completed"}
        return {"ModelPackageGroupArn": arn}

    def create_package(self, params: dict[str, Any]) -> dict[str, Any]:
        group = group_name(str(params.get("ModelPackageGroupName") or ""))
        if not group:
            raise ApiError("ValidationException", "an unversioned model package is not supported by the stand-in: "
                                                  "name a ModelPackageGroupName")
        token = params.get("ClientToken")
        with self._lock:
            if token and token in self._tokens:
                return {"ModelPackageArn": self._tokens[token]}
            if group.lower() not in self._groups:
                raise ApiError("ValidationException", f"Model Package Group {group} does not exist.")
            version = 1 + sum(1 for p in self._packages.values() if p["ModelPackageGroupName"] == group.lower())
            arn = f"arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/{group.lower()}/{version}"
            described = {k: copy.deepcopy(v) for k, v in params.items() if k != "ClientToken"}
            described.update({
                "ModelPackageGroupName": group.lower(), "ModelPackageVersion": version, "ModelPackageArn": arn,
                "ModelPackageName": group.lower(), "ModelPackageStatus": "Completed", "CreationTime": now(),
                "ModelApprovalStatus": params.get("ModelApprovalStatus") or "PendingManualApproval",
            })
            self._packages[arn] = described
            if token:
                self._tokens[token] = arn
        return {"ModelPackageArn": arn}

    def describe_package(self, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params.get("ModelPackageName", ""))
        with self._lock:
            found = self._packages.get(name)
        if found is None:
            raise ApiError("ValidationException", f"Model Package {name} does not exist.")
        out = copy.deepcopy(found)
        out["CreationTime"] = to_epoch(out["CreationTime"])
        return out

    def list_packages(self, params: dict[str, Any]) -> dict[str, Any]:
        group = group_name(str(params.get("ModelPackageGroupName") or "")).lower()
        with self._lock:
            found = [p for p in self._packages.values() if not group or p["ModelPackageGroupName"] == group]
        summaries = [{k: p[k] for k in ("ModelPackageGroupName", "ModelPackageVersion", "ModelPackageArn",
                                         "ModelPackageStatus", "ModelApprovalStatus")}
                     | {"CreationTime": to_epoch(p["CreationTime"])} for p in found]
        return {"ModelPackageSummaryList": summaries}
