"""The SageMaker operations the stand-in answers itself (X-Amz-Target: SageMaker.<Op>); moto gets the rest."""

from __future__ import annotations

from typing import Any

from .hub import HubStore
from .protocol import Request
from .registry import ModelRegistry
from .training import TrainingJobs

_TAG_OPS = ("ListTags", "AddTags", "DeleteTags")


class SageMakerStandIn:
    def __init__(self, hub: HubStore, jobs: TrainingJobs, registry: ModelRegistry | None = None) -> None:
        self.hub = hub
        self.jobs = jobs
        self.registry = registry = registry or ModelRegistry()
        self._ops = {
            "DescribeHubContent": hub.describe,
            "ListHubContentVersions": hub.list_versions,
            "CreateTrainingJob": jobs.create,
            "DescribeTrainingJob": jobs.describe,
            "ListTrainingJobs": jobs.list,
            "StopTrainingJob": jobs.stop,
            "DeleteTrainingJob": jobs.delete,
            "ListTags": jobs.list_tags,
            "AddTags": jobs.add_tags,
            "DeleteTags": jobs.delete_tags,
            "CreateModelPackageGroup": registry.create_group,
            "CreateModelPackage": registry.create_package,
            "DescribeModelPackage": registry.describe_package,
            "ListModelPackages": registry.list_packages,
        }

    def handles(self, req: Request) -> bool:
        if req.service != "sagemaker" or req.protocol != "json" or req.operation not in self._ops:
            return False
        if req.operation in _TAG_OPS:  # tags of anything but a training job are moto's
            return ":training-job/" in str(req.json().get("ResourceArn", ""))
        return True

    def handle(self, req: Request) -> dict[str, Any]:
        return self._ops[req.operation](req.json())
