"""Creates the planned deployment in the running server (through its own endpoint, with boto3)."""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3
from botocore.config import Config

from . import ACCOUNT_ID, REGION
from .template import Plan

log = logging.getLogger("hubtune_localstack.provision")

OBSERVER_QUEUE = "ObserverQueue"
OBSERVER_RULE = "HubtuneObserverRule"


def clients(endpoint: str) -> dict[str, Any]:
    session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                    region_name=REGION)
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, s3={"addressing_style": "path"})
    return {name: session.client(name, endpoint_url=endpoint, config=config)
            for name in ("sqs", "events", "s3", "sns", "sagemaker")}


def _error_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))


def provision(endpoint: str, plan: Plan, bucket: str, job_prefix: str) -> dict[str, Any]:
    c = clients(endpoint)
    sqs, events, s3, sns = c["sqs"], c["events"], c["s3"], c["sns"]

    # Queues first (under their logical ids), then their redrive policies, once every dead-letter queue exists.
    urls: dict[str, str] = {}
    for lid, queue in plan.queues.items():
        urls[lid] = sqs.create_queue(QueueName=queue.name, Attributes=queue.attributes)["QueueUrl"]
    by_arn = {queue.arn: lid for lid, queue in plan.queues.items()}
    dlq: dict[str, str | None] = {lid: None for lid in plan.queues}
    for lid, queue in plan.queues.items():
        if queue.redrive_policy:
            policy = dict(queue.redrive_policy)
            target = str(policy.get("deadLetterTargetArn", ""))
            if target not in by_arn:
                log.warning("%s: dead-letter queue %s is not in the template; no redrive locally", lid, target)
                continue
            policy["maxReceiveCount"] = int(policy.get("maxReceiveCount", 10))
            sqs.set_queue_attributes(QueueUrl=urls[lid], Attributes={"RedrivePolicy": json.dumps(policy)})
            dlq[lid] = urls[by_arn[target]]
    queues = {lid: {"url": urls[lid], "arn": plan.queues[lid].arn, "dlq_url": dlq[lid]} for lid in plan.queues}

    observer_url = sqs.create_queue(QueueName=OBSERVER_QUEUE)["QueueUrl"]
    observer_arn = sqs.get_queue_attributes(QueueUrl=observer_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    queues[OBSERVER_QUEUE] = {"url": observer_url, "arn": observer_arn, "dlq_url": None}

    # Buses and topics.
    for name in {*plan.buses.values(), plan.event_bus} - {"default"}:
        try:
            events.create_event_bus(Name=name)
        except Exception as err:  # noqa: BLE001 - botocore's modeled errors are per client
            if _error_code(err) != "ResourceAlreadyExistsException":
                raise
    for name in plan.topics.values():
        sns.create_topic(Name=name)
    # Model package groups, in the stand-in's registry (registry.py).
    for name in plan.model_package_groups.values():
        c["sagemaker"].create_model_package_group(ModelPackageGroupName=name)

    # Buckets: the dataset bucket always sends its events to EventBridge.
    wanted = {bucket: (False, True)}
    for spec in plan.buckets.values():
        versioned, eventbridge = wanted.get(spec.name, (False, False))
        wanted[spec.name] = (versioned or spec.versioned, eventbridge or spec.eventbridge)
    for name, (versioned, eventbridge) in wanted.items():
        try:
            s3.create_bucket(Bucket=name)
        except Exception as err:  # noqa: BLE001
            if _error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        if versioned:
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if eventbridge:
            s3.put_bucket_notification_configuration(
                Bucket=name, NotificationConfiguration={"EventBridgeConfiguration": {}})

    # Rules, with their SQS targets.
    rules: list[str] = []
    for rule in plan.rules:
        state = rule.state if rule.state in ("ENABLED", "DISABLED") else "ENABLED"
        kwargs: dict[str, Any] = {"Name": rule.logical_id, "EventPattern": rule.pattern, "State": state}
        if rule.bus != "default":
            kwargs["EventBusName"] = rule.bus
        if rule.description:
            kwargs["Description"] = rule.description
        events.put_rule(**kwargs)
        if rule.targets:
            events.put_targets(Rule=rule.logical_id, EventBusName=rule.bus, Targets=rule.targets)
        for dropped in rule.dropped_targets:
            log.info("rule %s: target %s is not an SQS queue of the template; created without it",
                     rule.logical_id, dropped)
        rules.append(rule.logical_id)
    events.put_rule(Name=OBSERVER_RULE, EventBusName=plan.event_bus, State="ENABLED",
                    EventPattern=json.dumps({"source": ["hubtune"]}),
                    Description="local only: every hubtune event, for tests and the demo")
    events.put_targets(Rule=OBSERVER_RULE, EventBusName=plan.event_bus,
                       Targets=[{"Id": "observer", "Arn": observer_arn}])
    rules.append(OBSERVER_RULE)
    for note in plan.skipped:
        log.info("skipped %s", note)

    return {
        "ready": True,
        "endpoint": endpoint,
        "region": REGION,
        "account": ACCOUNT_ID,
        "bucket": bucket,
        "event_bus": plan.event_bus,
        "job_prefix": job_prefix,
        "queues": queues,
        "function_queues": {key: list(queues) for key, queues in plan.function_queues.items()},
        "batch_sizes": dict(plan.batch_sizes),
        "schedules": {lid: {"expression": spec.expression, "queues": list(spec.queues)}
                      for lid, spec in plan.schedules.items()},
        "rules": rules,
        "model_package_groups": list(plan.model_package_groups.values()),
        "parameters": plan.parameters,
    }
