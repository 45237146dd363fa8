"""The process: its ready line, stopping when stdin closes or on SIGTERM, --state-dir, a broken template,
and provisioning from the project's real template when it exists."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest
from helpers import REPO, TESTS, QueueReader, Stack, job_request, start_stack, state_events_of, stop_stack, unique

INFRA_TEMPLATE = (TESTS / "../../infra/template.yaml").resolve()


def test_exits_when_stdin_closes(tmp_path):
    proc, ready = start_stack(["--template", str(TESTS / "template.yaml"), "--state-dir", str(tmp_path)],
                              tmp_path / "log")
    assert ready["ready"] and ready["endpoint"].startswith("http://127.0.0.1:")
    assert ready["pid"] == proc.pid
    assert json.loads((tmp_path / "ready.json").read_text()) == ready
    stack = Stack(proc, ready, tmp_path / "log")
    assert stack.control("GET", "health")[0] == 200
    proc.stdin.close()
    assert proc.wait(timeout=10) == 0
    assert proc.stdout.read() == b""  # exactly one line was printed
    assert not (tmp_path / "ready.json").exists()
    assert "stdin closed" in (tmp_path / "localstack.log").read_text()


def test_stops_on_sigterm(tmp_path):
    proc, ready = start_stack([], tmp_path / "log")  # no template: bucket, bus and observer only
    assert set(ready["queues"]) == {"ObserverQueue"} and ready["rules"] == ["HubtuneObserverRule"]
    assert ready["function_queues"] == {} and ready["schedules"] == {}
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_broken_template_reports_not_ready(tmp_path):
    template = tmp_path / "broken.yaml"
    template.write_text("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
                        "      VisibilityTimeout: !Ref Missing\n")
    proc = subprocess.run([sys.executable, "-m", "hubtune_localstack", "serve", "--template", str(template)],
                          stdin=subprocess.PIPE, capture_output=True, timeout=30, cwd=REPO,
                          env={"PYTHONPATH": str(TESTS.parent), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 1
    line = json.loads(proc.stdout)
    assert line["ready"] is False and "Missing" in line["error"]


@pytest.mark.skipif(not INFRA_TEMPLATE.exists(), reason="infra/template.yaml is not there yet")
def test_provisions_the_project_template(tmp_path):
    proc, ready = start_stack(["--template", str(INFRA_TEMPLATE), "--bucket", "hubtune-infra-test"],
                              tmp_path / "log")
    try:
        assert ready["ready"] is True, ready
        for queue in ("LaunchQueue", "TrainingStateQueue", "PublishQueue", "ObserverQueue"):
            assert queue in ready["queues"], ready["queues"]
        assert ready["function_queues"] == {"launch-finetune": ["LaunchQueue"],
                                            "training-state": ["TrainingStateQueue", "SweepQueue"],
                                            "publish-artifact": ["PublishQueue"]}
        assert ready["schedules"] == {"SweepScheduleRule": {"expression": "rate(5 minutes)", "queues": ["SweepQueue"]}}
        for queue in ("LaunchQueue", "TrainingStateQueue", "PublishQueue", "SweepQueue"):
            assert ready["queues"][queue]["dlq_url"], f"{queue} has no dead-letter queue"
        assert "DatasetObjectCreatedRule" in ready["rules"] and "TrainingJobStateChangeRule" in ready["rules"]
        stack = Stack(proc, ready, tmp_path / "log")
        events = stack.client("events")
        names = {r["Name"] for r in events.list_rules()["Rules"]}
        assert "DatasetObjectCreatedRule" in names

        # The drop -> LaunchQueue and job -> TrainingStateQueue paths through the project's own rules.
        s3, sqs, sm = stack.client("s3"), stack.client("sqs"), stack.client("sagemaker")
        stack.post("config", {"in_progress_seconds": 0.2})
        prefix, suffix = ready["parameters"]["DatasetPrefix"], ready["parameters"]["MarkerSuffix"]
        marker = f"{prefix}route-a/drop-1/{suffix}"
        put = s3.put_object(Bucket="hubtune-infra-test", Key=marker, Body=b"")
        launch = QueueReader(sqs, stack.queue_url("LaunchQueue"))
        event = launch.wait_for(lambda e: e.get("detail", {}).get("object", {}).get("key") == marker)[0]
        if s3.get_bucket_versioning(Bucket="hubtune-infra-test").get("Status") == "Enabled":
            assert event["detail"]["object"]["version-id"] == put["VersionId"]
        name = unique(ready["job_prefix"])
        sm.create_training_job(**job_request(name, output="s3://hubtune-infra-test/out/"))
        state = QueueReader(sqs, stack.queue_url("TrainingStateQueue"))
        state.wait_for(lambda e: state_events_of(name)(e) and e["detail"]["TrainingJobStatus"] == "Completed")
    finally:
        assert stop_stack(proc) == 0
