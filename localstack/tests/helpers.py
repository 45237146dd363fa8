"""Helpers shared by the tests: the stack process, boto3 clients, a queue reader, job requests."""

from __future__ import annotations

import copy
import json
import os
import select
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

TESTS = Path(__file__).resolve().parent
LOCALSTACK = TESTS.parent
REPO = LOCALSTACK.parent
FIXTURES = TESTS / "fixtures"
HUB_FIXTURE = FIXTURES / "describe-hub-content.model-reference.json"
JOB_FIXTURE = FIXTURES / "create_training_job.accept_eula.json"


class Stack:
    def __init__(self, proc: subprocess.Popen, ready: dict[str, Any], log: Path) -> None:
        self.proc = proc
        self.ready = ready
        self.log = log
        self.endpoint: str = ready["endpoint"]

    def queue_url(self, logical_id: str) -> str:
        return self.ready["queues"][logical_id]["url"]

    def client(self, service: str, **config: Any):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"},
                          **config),
        )

    def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.endpoint}/_hubtune/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def post(self, path: str, body: Any) -> Any:
        status, payload = self.control("POST", path, body)
        assert status == 200, payload
        return payload


def start_stack(args: list[str], log: Path, timeout: float = 30.0) -> tuple[subprocess.Popen, dict[str, Any]]:
    """Starts `python -m hubtune_localstack serve ARGS` and reads its ready line."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(LOCALSTACK),
                                                                      os.environ.get("PYTHONPATH")]))}
    stderr = open(log, "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen([sys.executable, "-m", "hubtune_localstack", "serve", *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=REPO)
    stderr.close()
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None and not select.select([proc.stdout], [], [], 0)[0]:
            proc.kill()
            raise RuntimeError(f"the local stack did not get ready; its log:\n{log.read_text()}")
        if select.select([proc.stdout], [], [], min(remaining, 0.5))[0]:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                continue
            line += chunk
    return proc, json.loads(line)


def stop_stack(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.stdin.close()
        try:
            return proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
    return proc.returncode


class QueueReader:
    """Reads (and deletes) every message of a queue, keeping them, so a test can wait for the ones it wants.
    Tests run one at a time, so what another test left behind is only ever skipped."""

    def __init__(self, sqs, url: str) -> None:
        self.sqs, self.url = sqs, url
        self.seen: list[dict[str, Any]] = []

    def poll(self, wait: int = 1) -> None:
        resp = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                        AttributeNames=["All"])
        for m in resp.get("Messages", []):
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
            self.seen.append(json.loads(m["Body"]))

    def matching(self, predicate: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [b for b in self.seen if predicate(b)]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], count: int = 1,
                 timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.matching(predicate)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout}s for {count} message(s); saw {json.dumps(self.seen)[:3000]}")
            self.poll()
        return self.matching(predicate)

    def drain(self, seconds: float = 0.5) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll(wait=0)
            time.sleep(0.05)


def unique(prefix: str = "hubtune") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def job_request(name: str, *, output: str = "s3://hubtune-local/hubtune/output/",
                training_uri: str = "s3://hubtune-local/datasets/t/", tags: dict[str, str] | None = None
                ) -> dict[str, Any]:
    """The SageMaker SDK's CreateTrainingJob request of the fixture, with another name, paths and tags."""
    req = copy.deepcopy(json.loads(JOB_FIXTURE.read_text()))
    req["TrainingJobName"] = name
    req["OutputDataConfig"]["S3OutputPath"] = output
    req["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = training_uri
    for key, value in (tags or {}).items():
        req["Tags"].append({"Key": key, "Value": value})
    return req


def state_events_of(name: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("detail-type") == "SageMaker Training Job State Change" and \
        e["detail"].get("TrainingJobName") == name


def wait_status(sm, name: str, status: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        desc = sm.describe_training_job(TrainingJobName=name)
        if desc["TrainingJobStatus"] == status:
            return desc
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} is {desc['TrainingJobStatus']}, not {status}")
        time.sleep(0.1)
