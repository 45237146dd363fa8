"""Training jobs as SageMaker runs them, in miniature.

CreateTrainingJob starts a job InProgress (SecondaryStatus Starting, then Training); after
`in_progress_seconds` it ends Completed (a small real model.tar.gz is written under S3OutputPath), Failed or
Stopped, as /_hubtune/outcomes says; StopTrainingJob moves it to Stopping, then Stopped; DeleteTrainingJob (a job
that has ended) moves it to Deleting, and after `stopping_seconds` SageMaker no longer knows it. Every change of
TrainingJobStatus (and, with the setting secondary_status_events, of SecondaryStatus too) puts a
`SageMaker Training Job State Change` event on the default bus, unless a /_hubtune/drop-events rule swallows it.
"""

from __future__ import annotations

import base64
import copy
import heapq
import io
import itertools
import json
import logging
import math
import re
import tarfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ACCOUNT_ID, PARTITION, REGION, motoio
from .protocol import ApiError
from .timeutil import millis, now, to_epoch

log = logging.getLogger("hubtune_localstack.training")

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
STATUSES = ("InProgress", "Completed", "Failed", "Stopping", "Stopped", "Deleting")
TERMINAL = ("Completed", "Failed", "Stopped")
OUTCOMES = ("Completed", "Failed", "Stopped")
DEFAULT_FAILURE = "AlgorithmError: simulated failure (hubtune local stack)"
_STATUS_MESSAGES = {
    "Starting": "Preparing the instances for training",
    "Training": "Training image download completed. Training in progress.",
    "Completed": "Training job completed",
    "Failed": "Training job failed",
    "Stopping": "Stopping the training job",
    "Stopped": "Training job stopped",
}


@dataclass
class Settings:
    in_progress_seconds: float = 1.0
    stopping_seconds: float = 0.3
    # SageMaker also sends an event when only the secondary status changes (Starting -> Training); off by default,
    # so a job's events are one per TrainingJobStatus change.
    secondary_status_events: bool = False


_SETTING_KEYS = ("in_progress_seconds", "stopping_seconds", "secondary_status_events")


def _seconds(name: str, value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be a number >= 0")
    return float(value)


@dataclass
class OutcomeRule:
    match: str
    status: str
    failure_reason: str | None = None
    in_progress_seconds: float | None = None  # this job's own time InProgress


@dataclass
class DropRule:
    match: str
    status: str | None
    count: int


@dataclass
class Job:
    name: str
    arn: str
    request: dict[str, Any]
    tags: list[dict[str, str]]
    creation: float
    status: str = "InProgress"
    secondary: str = "Starting"
    start: float | None = None
    end: float | None = None
    last_modified: float = 0.0
    failure_reason: str | None = None
    transitions: list[dict[str, Any]] = field(default_factory=list)
    artifacts: str | None = None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    generation: int = 0

    def haystacks(self) -> list[str]:
        uris = [
            str(((c.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri", ""))
            for c in self.request.get("InputDataConfig") or []
        ]
        # The instance type too: an outcome rule can fail every job of one type (capacity at start).
        instance_type = str((self.request.get("ResourceConfig") or {}).get("InstanceType", ""))
        return [self.name, *(str(t.get("Value", "")) for t in self.tags), *uris, instance_type]

    def matches(self, needle: str) -> bool:
        return any(needle in hay for hay in self.haystacks())

    def view(self, as_time: Callable[[float | None], Any]) -> dict[str, Any]:
        """DescribeTrainingJob's shape; `as_time` renders a timestamp (seconds for the API, ms for events)."""
        out = {k: copy.deepcopy(v) for k, v in self.request.items() if k not in ("Tags", "TrainingJobName")}
        out = {"TrainingJobName": self.name, "TrainingJobArn": self.arn, **out}
        output = out.setdefault("OutputDataConfig", {})
        output.setdefault("CompressionType", "GZIP")
        for flag in ("EnableNetworkIsolation", "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining"):
            out.setdefault(flag, False)
        out["TrainingJobStatus"] = self.status
        out["SecondaryStatus"] = self.secondary
        if self.failure_reason:
            out["FailureReason"] = self.failure_reason
        if self.artifacts:
            out["ModelArtifacts"] = {"S3ModelArtifacts": self.artifacts}
        out["CreationTime"] = as_time(self.creation)
        if self.start is not None:
            out["TrainingStartTime"] = as_time(self.start)
        if self.end is not None:
            out["TrainingEndTime"] = as_time(self.end)
            if self.start is not None:
                seconds = max(1, int(round(self.end - self.start)))
                out["TrainingTimeInSeconds"] = seconds
                out["BillableTimeInSeconds"] = billable_seconds(seconds, bool(self.request.get(
                    "EnableManagedSpotTraining")))
        out["LastModifiedTime"] = as_time(self.last_modified)
        out["SecondaryStatusTransitions"] = [
            {k: (as_time(v) if k in ("StartTime", "EndTime") else v) for k, v in t.items()}
            for t in self.transitions
        ]
        if self.metrics:
            out["FinalMetricDataList"] = [{**m, "Timestamp": as_time(m["Timestamp"])} for m in self.metrics]
        return out

    def summary(self) -> dict[str, Any]:
        out = {
            "TrainingJobName": self.name,
            "TrainingJobArn": self.arn,
            "CreationTime": self.creation,
            "LastModifiedTime": self.last_modified,
            "TrainingJobStatus": self.status,
            "SecondaryStatus": self.secondary,
        }
        if self.end is not None:
            out["TrainingEndTime"] = self.end
        return out


SPOT_BILLED_SHARE = 0.3


def billable_seconds(training: int, spot: bool) -> int:
    """SageMaker bills a managed spot job less than it trained (its "savings" are 1 - billable / training); the
    stand-in bills 30% of the training time, at least 1 s (the API's minimum). On demand: all of it."""
    return max(1, math.ceil(training * SPOT_BILLED_SHARE)) if spot else training


def model_tarball(job: Job) -> bytes:
    """A small real gzip tarball standing in for the fine-tuned weights."""
    manifest = json.dumps({
        "hubtune_local_stack": True,
        "training_job": job.name,
        "hyperparameters": job.request.get("HyperParameters") or {},
        "channels": [c.get("ChannelName") for c in job.request.get("InputDataConfig") or []],
    }, indent=2).encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("hubtune-local-model.json", manifest),
                           ("README.txt", b"Not a model: written by hubtune's local SageMaker stand-in.\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(job.creation)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"not an s3:// URI: {uri}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, prefix


def _page(items: list[Any], params: dict[str, Any], default_max: int) -> tuple[list[Any], str | None]:
    start = 0
    if params.get("NextToken"):
        try:
            start = int(base64.urlsafe_b64decode(str(params["NextToken"]).encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise ApiError("ValidationException", "Invalid pagination token") from None
    limit = int(params.get("MaxResults") or default_max)
    more = start + limit < len(items)
    return items[start:start + limit], (base64.urlsafe_b64encode(str(start + limit).encode()).decode()
                                        if more else None)


class TrainingJobs:
    def __init__(self, put_event: Callable[..., Any] = motoio.put_event,
                 put_object: Callable[[str, str, bytes], None] = motoio.put_object) -> None:
        self._put_event = put_event
        self._put_object = put_object
        self._lock = threading.RLock()
        self._jobs: dict[str, Job] = {}  # lower-case name -> job (names are unique regardless of case)
        self.settings = Settings()
        self._outcomes: list[OutcomeRule] = []
        self._drops: list[DropRule] = []
        self._timer = threading.Condition(self._lock)
        self._queue: list[tuple[float, int, str, int, str]] = []
        self._seq = itertools.count()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="training-progression", daemon=True)
        self._thread.start()

    # ---- control ------------------------------------------------------------------------------------------
    def configure(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = set(values) - set(_SETTING_KEYS)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        with self._lock:
            for key in ("in_progress_seconds", "stopping_seconds"):
                if key in values:
                    setattr(self.settings, key, _seconds(key, values[key]))
            if "secondary_status_events" in values:
                if not isinstance(values["secondary_status_events"], bool):
                    raise ValueError("secondary_status_events must be true or false")
                self.settings.secondary_status_events = values["secondary_status_events"]
            return {key: getattr(self.settings, key) for key in _SETTING_KEYS}

    def add_outcome(self, spec: dict[str, Any]) -> None:
        match, status = spec.get("match"), spec.get("status")
        if not isinstance(match, str) or not match:
            raise ValueError("match must be a non-empty string")
        if status not in OUTCOMES:
            raise ValueError(f"status must be one of {', '.join(OUTCOMES)}")
        seconds = spec.get("in_progress_seconds")
        rule = OutcomeRule(match, status, spec.get("failure_reason"),
                           None if seconds is None else _seconds("in_progress_seconds", seconds))
        with self._lock:
            self._outcomes.append(rule)

    def _outcome_of(self, job: Job) -> OutcomeRule | None:
        """The newest outcome rule that matches the job."""
        return next((r for r in reversed(self._outcomes) if job.matches(r.match)), None)

    def clear_outcomes(self) -> None:
        with self._lock:
            self._outcomes.clear()

    def add_drop(self, spec: dict[str, Any]) -> None:
        match, status, count = spec.get("match"), spec.get("status"), spec.get("count", 1)
        if not isinstance(match, str) or not match:
            raise ValueError("match must be a non-empty string")
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be a positive integer")
        with self._lock:
            self._drops.append(DropRule(match, status, count))

    def clear_drops(self) -> None:
        with self._lock:
            self._drops.clear()

    def close(self) -> None:
        with self._lock:
            self._stopped = True
            self._timer.notify_all()

    # ---- API ----------------------------------------------------------------------------------------------
    def create(self, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("TrainingJobName")
        if not isinstance(name, str) or not JOB_NAME.match(name):
            raise ApiError("ValidationException",
                           f"1 validation error detected: Value '{name}' at 'trainingJobName' failed to satisfy "
                           "constraint: Member must satisfy regular expression pattern: "
                           "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
        for required in ("AlgorithmSpecification", "RoleArn", "OutputDataConfig", "ResourceConfig",
                         "StoppingCondition"):
            if not params.get(required):
                raise ApiError("ValidationException", f"1 validation error detected: {required} is required")
        output = str((params.get("OutputDataConfig") or {}).get("S3OutputPath", ""))
        if not output.startswith("s3://") or len(output) <= 5:
            raise ApiError("ValidationException", "OutputDataConfig.S3OutputPath must be an s3:// URI")
        tags = params.get("Tags") or []
        if len(tags) > 50 or any(not isinstance(t, dict) or "Key" not in t for t in tags):
            raise ApiError("ValidationException", "Tags must be at most 50 {Key, Value} pairs")
        arn = f"arn:{PARTITION}:sagemaker:{REGION}:{ACCOUNT_ID}:training-job/{name}"
        with self._lock:
            if name.lower() in self._jobs:
                raise ApiError("ResourceInUse",
                               "Training job names must be unique within an AWS account and region, and a "
                               f"training job with this name already exists ({self._jobs[name.lower()].arn})")
            t = now()
            job = Job(name=name, arn=arn, request=copy.deepcopy(params), tags=copy.deepcopy(tags), creation=t,
                      last_modified=t)
            job.transitions.append({"Status": "Starting", "StartTime": t,
                                    "StatusMessage": _STATUS_MESSAGES["Starting"]})
            self._jobs[name.lower()] = job
            self._emit(job)
            rule = self._outcome_of(job)
            total = (rule.in_progress_seconds if rule and rule.in_progress_seconds is not None
                     else self.settings.in_progress_seconds)
            self._schedule(job, t + total / 2, "training")
            self._schedule(job, t + total, "finish")
        return {"TrainingJobArn": arn}

    def _get(self, name: Any) -> Job:
        job = self._jobs.get(str(name or "").lower())
        if job is None:
            raise ApiError("ValidationException", "Requested resource not found.")
        return job

    def describe(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return self._get(params.get("TrainingJobName")).view(lambda s: s)

    def stop(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = self._get(params.get("TrainingJobName"))
            if job.status == "InProgress":
                self._begin_stop(job)
            elif job.status != "Stopping":
                raise ApiError("ValidationException",
                               f"The request was rejected because the training job is in status {job.status}.")
        return {}

    def delete(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteTrainingJob: only a job that has ended; its metadata is gone once the deletion finishes.

        Whether SageMaker sends a state-change event for `Deleting` is not documented; the stand-in sends one
        (unless a drop rule swallows it), and hubtune's sweep covers the case where none comes.
        """
        with self._lock:
            job = self._get(params.get("TrainingJobName"))
            if job.status == "Deleting":
                return {}
            if job.status not in TERMINAL:
                raise ApiError("ValidationException",
                               f"The training job {job.name} is in status {job.status}: only a job in a terminal "
                               "state (Completed, Failed or Stopped) can be deleted.")
            job.generation += 1
            job.status, job.last_modified = "Deleting", now()
            self._emit(job)
            self._schedule(job, now() + self.settings.stopping_seconds, "deleted")
        return {}

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            jobs = list(self._jobs.values())
        contains = str(params.get("NameContains") or "").lower()
        if contains:
            jobs = [j for j in jobs if contains in j.name.lower()]
        if params.get("StatusEquals"):
            jobs = [j for j in jobs if j.status == params["StatusEquals"]]
        for key, attr, keep in (
            ("CreationTimeAfter", "creation", lambda v, x: v > x),
            ("CreationTimeBefore", "creation", lambda v, x: v < x),
            ("LastModifiedTimeAfter", "last_modified", lambda v, x: v > x),
            ("LastModifiedTimeBefore", "last_modified", lambda v, x: v < x),
        ):
            if params.get(key) is not None:
                limit = float(to_epoch(params[key]))
                jobs = [j for j in jobs if keep(getattr(j, attr), limit)]
        sort_by = params.get("SortBy") or "CreationTime"
        sort_key = {"Name": lambda j: j.name, "Status": lambda j: (j.status, j.creation)}.get(
            sort_by, lambda j: j.creation)
        jobs.sort(key=sort_key, reverse=(params.get("SortOrder") or "Descending") == "Descending")
        page, token = _page([j.summary() for j in jobs], params, 10)
        out: dict[str, Any] = {"TrainingJobSummaries": page}
        if token:
            out["NextToken"] = token
        return out

    def _by_arn(self, arn: Any) -> Job:
        name = str(arn or "").rsplit("training-job/", 1)[-1]
        job = self._jobs.get(name.lower())
        if job is None or job.arn.lower() != str(arn).lower():
            raise ApiError("ValidationException", f"Resource {arn} not found.")
        return job

    def list_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            tags = copy.deepcopy(self._by_arn(params.get("ResourceArn")).tags)
        page, token = _page(tags, params, 50)
        out: dict[str, Any] = {"Tags": page}
        if token:
            out["NextToken"] = token
        return out

    def add_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = self._by_arn(params.get("ResourceArn"))
            for tag in params.get("Tags") or []:
                job.tags = [t for t in job.tags if t.get("Key") != tag.get("Key")] + [dict(tag)]
            return {"Tags": copy.deepcopy(job.tags)}

    def delete_tags(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            job = self._by_arn(params.get("ResourceArn"))
            keys = set(params.get("TagKeys") or [])
            job.tags = [t for t in job.tags if t.get("Key") not in keys]
        return {}

    # ---- progression --------------------------------------------------------------------------------------
    def _schedule(self, job: Job, when: float, step: str) -> None:
        heapq.heappush(self._queue, (when, next(self._seq), job.name.lower(), job.generation, step))
        self._timer.notify_all()

    def _run(self) -> None:
        with self._lock:
            while not self._stopped:
                if not self._queue:
                    self._timer.wait()
                    continue
                when, _, key, generation, step = self._queue[0]
                delay = when - now()
                if delay > 0:
                    self._timer.wait(delay)
                    continue
                heapq.heappop(self._queue)
                job = self._jobs.get(key)
                if job is None or job.generation != generation:
                    continue
                try:
                    self._step(job, step)
                except Exception:  # never let one job stop the others
                    log.exception("progression step %s of %s failed", step, job.name)

    def _transition(self, job: Job, status: str, secondary: str, message: str | None = None,
                    emit: bool = True) -> None:
        t = now()
        if job.transitions and "EndTime" not in job.transitions[-1]:
            job.transitions[-1]["EndTime"] = t
        entry = {"Status": secondary, "StartTime": t, "StatusMessage": message or _STATUS_MESSAGES[secondary]}
        if status in TERMINAL:
            entry["EndTime"] = t
        job.transitions.append(entry)
        job.status, job.secondary, job.last_modified = status, secondary, t
        if status in TERMINAL:
            job.end = t
        if emit:
            self._emit(job)

    def _step(self, job: Job, step: str) -> None:
        if step == "training" and job.status == "InProgress":
            job.start = now()
            self._transition(job, "InProgress", "Training", emit=self.settings.secondary_status_events)
        elif step == "finish" and job.status == "InProgress":
            rule = self._outcome_of(job)
            outcome = rule.status if rule else "Completed"
            if job.start is None:
                job.start = now()
            if outcome == "Completed":
                self._complete(job)
            elif outcome == "Failed":
                job.failure_reason = (rule.failure_reason if rule else None) or DEFAULT_FAILURE
                self._transition(job, "Failed", "Failed", job.failure_reason)
            else:
                self._begin_stop(job)
        elif step == "stopped" and job.status == "Stopping":
            self._transition(job, "Stopped", "Stopped")
        elif step == "deleted" and job.status == "Deleting":
            del self._jobs[job.name.lower()]

    def _complete(self, job: Job) -> None:
        output = job.request["OutputDataConfig"]
        bucket, prefix = split_s3_uri(str(output["S3OutputPath"]))
        base = f"{prefix.rstrip('/')}/{job.name}/output" if prefix.strip("/") else f"{job.name}/output"
        try:
            if str(output.get("CompressionType", "GZIP")).upper() == "NONE":
                tarball = model_tarball(job)
                with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
                    for member in tar.getmembers():
                        data = tar.extractfile(member).read()  # type: ignore[union-attr]
                        self._put_object(bucket, f"{base}/model/{member.name}", data)
                job.artifacts = f"s3://{bucket}/{base}/model/"
            else:
                self._put_object(bucket, f"{base}/model.tar.gz", model_tarball(job))
                job.artifacts = f"s3://{bucket}/{base}/model.tar.gz"
        except LookupError as err:
            job.failure_reason = f"ClientError: Failed to upload the model artifacts to {output['S3OutputPath']}: {err}"
            self._transition(job, "Failed", "Failed", job.failure_reason)
            return
        t = now()
        names = [m.get("Name") for m in (job.request.get("AlgorithmSpecification") or {}).get("MetricDefinitions")
                 or [] if m.get("Name")] or ["train:loss"]
        job.metrics = [{"MetricName": n, "Value": round(0.5 / (i + 1), 4), "Timestamp": t}
                       for i, n in enumerate(names)]
        self._transition(job, "Completed", "Completed")

    def _begin_stop(self, job: Job) -> None:
        job.generation += 1  # cancels the pending steps
        self._transition(job, "Stopping", "Stopping")
        self._schedule(job, now() + self.settings.stopping_seconds, "stopped")

    # ---- events -------------------------------------------------------------------------------------------
    def _emit(self, job: Job) -> None:
        for rule in self._drops:
            if rule.count > 0 and (rule.status is None or rule.status == job.status) and job.matches(rule.match):
                rule.count -= 1
                if rule.count == 0:
                    self._drops.remove(rule)
                log.info("dropped the %s/%s event of %s", job.status, job.secondary, job.name)
                return
        detail = job.view(millis)
        detail["Tags"] = {t["Key"]: t.get("Value", "") for t in job.tags}
        try:
            self._put_event("aws.sagemaker", "SageMaker Training Job State Change", detail, [job.arn])
        except Exception:
            log.exception("could not put the state-change event of %s", job.name)
