"""Fixtures: one real local stack (a subprocess on 127.0.0.1, port 0) for the whole session, boto3 clients
pointed at it, and a reader that waits for messages on a queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from helpers import HUB_FIXTURE, TESTS, QueueReader, Stack, start_stack, stop_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log = tmp_path_factory.mktemp("stack") / "localstack.log"
    proc, ready = start_stack(["--template", str(TESTS / "template.yaml"), "--seed-hub", str(HUB_FIXTURE),
                               "--in-progress-seconds", "0.4"], log)
    assert ready["ready"] is True, ready
    yield Stack(proc, ready, log)
    assert stop_stack(proc) == 0


@pytest.fixture(autouse=True)
def _clean_controls(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with no faults, outcomes or drops, and the test timing."""
    yield
    if "stack" in request.fixturenames:
        s: Stack = request.getfixturevalue("stack")
        for path in ("faults", "outcomes", "drop-events"):
            s.control("DELETE", path)
        s.post("config", {"in_progress_seconds": 0.4, "stopping_seconds": 0.2, "secondary_status_events": False})


@pytest.fixture
def sm(stack: Stack):
    return stack.client("sagemaker")


@pytest.fixture
def s3(stack: Stack):
    return stack.client("s3")


@pytest.fixture
def sqs(stack: Stack):
    return stack.client("sqs")


@pytest.fixture
def events(stack: Stack):
    return stack.client("events")


@pytest.fixture
def reader(stack: Stack, sqs) -> Callable[[str], QueueReader]:
    return lambda logical_id: QueueReader(sqs, stack.queue_url(logical_id))
