"""Reads a CloudFormation/SAM template into a local deployment plan (what provision.py then creates).

Only what the local stack needs is planned: SQS queues (named by logical id), EventBridge buses, rules with an
EventPattern and their SQS targets, schedule rules' SQS targets (the dispatcher fires them), SNS topics, S3 buckets,
and which queues feed which function (a function may read several: training-state reads its state changes and the
sweep's ticks).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import ACCOUNT_ID, PARTITION, REGION, cfn_yaml
from .intrinsics import Resolver, TemplateError

log = logging.getLogger("hubtune_localstack.template")

# The three functions and the queue that feeds each when the template does not say (the contract's mapping).
DEFAULT_FUNCTION_QUEUES = {
    "launch-finetune": "LaunchQueue",
    "training-state": "TrainingStateQueue",
    "publish-artifact": "PublishQueue",
}
FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


@dataclass
class QueueSpec:
    logical_id: str
    name: str
    attributes: dict[str, str]
    redrive_policy: dict[str, Any] | None = None

    @property
    def arn(self) -> str:
        return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{self.name}"


@dataclass
class RuleSpec:
    logical_id: str
    bus: str
    pattern: str
    state: str = "ENABLED"
    description: str = ""
    targets: list[dict[str, Any]] = field(default_factory=list)
    dropped_targets: list[str] = field(default_factory=list)


@dataclass
class ScheduleSpec:
    """A schedule rule: moto does not fire schedules, so the dispatcher sends its ticks to these queues."""
    logical_id: str
    expression: str
    queues: list[str] = field(default_factory=list)


@dataclass
class BucketSpec:
    logical_id: str
    name: str
    versioned: bool = False
    eventbridge: bool = False


@dataclass
class Plan:
    parameters: dict[str, Any]
    event_bus: str
    queues: dict[str, QueueSpec] = field(default_factory=dict)
    buses: dict[str, str] = field(default_factory=dict)  # logical id -> bus name
    topics: dict[str, str] = field(default_factory=dict)  # logical id -> topic name
    buckets: dict[str, BucketSpec] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # human-readable notes on what was left out
    # function key -> the queues its event source mappings read, in template order
    function_queues: dict[str, list[str]] = field(default_factory=dict)
    schedules: dict[str, ScheduleSpec] = field(default_factory=dict)
    # queue logical id -> the largest batch its event source mapping hands the function (SQS's default: 10)
    batch_sizes: dict[str, int] = field(default_factory=dict)
    model_package_groups: dict[str, str] = field(default_factory=dict)  # logical id -> group name

    def feed(self, function: str, queue: str, batch_size: Any = None) -> None:
        """One more queue that feeds `function` (once), `batch_size` messages at most per invocation."""
        queues = self.function_queues.setdefault(function, [])
        if queue in queues:
            return  # read once, as its first mapping says
        queues.append(queue)
        try:
            self.batch_sizes[queue] = max(1, int(batch_size)) if batch_size is not None else 10
        except (TypeError, ValueError):
            self.batch_sizes[queue] = 10


def kebab(name: str) -> str:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name)
    name = re.sub(r"[^A-Za-z0-9]+", "-", name)
    return name.strip("-").lower()


def function_key(logical_id: str, properties: dict[str, Any], metadata: dict[str, Any],
                 function_name: str | None = None) -> str:
    """The function's short name: its cargo-lambda binary, CodeUri folder, FunctionName or logical id,
    kebab-cased; one of launch-finetune, training-state, publish-artifact when any of them names it."""
    candidates: list[str] = []
    binary = ((metadata or {}).get("BuildProperties") or {}).get("Binary")
    if isinstance(binary, str) and binary:
        candidates.append(binary)
    code_uri = properties.get("CodeUri")
    if isinstance(code_uri, str) and code_uri.strip("./"):
        candidates.append(code_uri.rstrip("/").rsplit("/", 1)[-1])
    if function_name:
        candidates.append(function_name)
    candidates.append(logical_id)
    for candidate in candidates:
        key = kebab(candidate)
        for known in DEFAULT_FUNCTION_QUEUES:
            if key == known or key.startswith(known + "-") or known in key:
                return known
    if binary:
        return kebab(binary)
    key = kebab(logical_id)
    return key[: -len("-function")] if key.endswith("-function") else key


def _bus_name(value: Any) -> str:
    if not value:
        return "default"
    value = str(value)
    if value.startswith("arn:"):
        return value.split("event-bus/", 1)[-1]
    return value


def _bool(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


class TemplatePlanner:
    def __init__(self, template: dict[str, Any], overrides: dict[str, Any], endpoint: str) -> None:
        self.template = template
        self.endpoint = endpoint.rstrip("/")
        self.resources: dict[str, dict[str, Any]] = template.get("Resources") or {}
        self.parameters = self._parameters(overrides)
        self.resolver = Resolver(template, self.parameters, self._ref, self._get_att)
        self._names: dict[str, str] = {}
        self._naming: set[str] = set()

    # ---- parameters ---------------------------------------------------------------------------------------
    def _parameters(self, overrides: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.template.get("Parameters") or {}).items():
            spec = spec or {}
            if name in overrides:
                value = overrides[name]
            elif "Default" in spec:
                value = spec["Default"]
            else:
                log.warning("parameter %s has no Default and no value: using an empty string", name)
                value = ""
            kind = str(spec.get("Type", "String"))
            if (kind == "CommaDelimitedList" or kind.startswith("List<")) and isinstance(value, str):
                value = [v.strip() for v in value.split(",")] if value else []
            values[name] = value
        for name, value in overrides.items():
            values.setdefault(name, value)
        return values

    # ---- resources ----------------------------------------------------------------------------------------
    def active(self, logical_id: str) -> bool:
        condition = (self.resources.get(logical_id) or {}).get("Condition")
        return True if condition is None else self.resolver.condition(str(condition))

    def _props(self, logical_id: str) -> dict[str, Any]:
        return (self.resources[logical_id] or {}).get("Properties") or {}

    def _type(self, logical_id: str) -> str:
        return str((self.resources[logical_id] or {}).get("Type", ""))

    def name_of(self, logical_id: str) -> str:
        """The physical name the local stack gives a resource."""
        if logical_id in self._names:
            return self._names[logical_id]
        if logical_id in self._naming:
            raise TemplateError(f"{logical_id}'s name refers to itself")
        self._naming.add(logical_id)
        try:
            kind, props = self._type(logical_id), self._props(logical_id)

            def prop(key: str) -> str | None:
                value = props.get(key)
                return None if value is None else str(self.resolver.resolve(value))

            if kind == "AWS::SQS::Queue":
                name = logical_id + (".fifo" if _bool(self.resolver.resolve(props.get("FifoQueue"))) else "")
            elif kind == "AWS::Events::EventBus":
                name = prop("Name") or logical_id
            elif kind == "AWS::SNS::Topic":
                name = prop("TopicName") or logical_id
            elif kind == "AWS::S3::Bucket":
                name = prop("BucketName") or f"hubtune-local-{kebab(logical_id)}"
            elif kind in FUNCTION_TYPES:
                name = prop("FunctionName") or logical_id
            elif kind == "AWS::IAM::Role":
                name = prop("RoleName") or logical_id
            elif kind == "AWS::SageMaker::ModelPackageGroup":
                name = prop("ModelPackageGroupName") or logical_id
            else:
                name = logical_id
        finally:
            self._naming.discard(logical_id)
        self._names[logical_id] = name
        return name

    def _ref(self, logical_id: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"Ref to unknown parameter or resource {logical_id!r}")
        kind, name = self._type(logical_id), self.name_of(logical_id)
        if kind == "AWS::SQS::Queue":
            return f"{self.endpoint}/{ACCOUNT_ID}/{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT_ID}:{name}"
        return name

    def _get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id not in self.resources:
            raise TemplateError(f"GetAtt of unknown resource {logical_id!r}")
        kind, name = self._type(logical_id), self.name_of(logical_id)
        arn_prefix = f"arn:{PARTITION}"
        if kind == "AWS::SQS::Queue":
            return {
                "Arn": f"{arn_prefix}:sqs:{REGION}:{ACCOUNT_ID}:{name}",
                "QueueName": name,
                "QueueUrl": f"{self.endpoint}/{ACCOUNT_ID}/{name}",
            }.get(attribute, f"{name}.{attribute}")
        if kind == "AWS::Events::EventBus":
            return {"Arn": f"{arn_prefix}:events:{REGION}:{ACCOUNT_ID}:event-bus/{name}", "Name": name}.get(
                attribute, f"{name}.{attribute}")
        if kind == "AWS::Events::Rule":
            return f"{arn_prefix}:events:{REGION}:{ACCOUNT_ID}:rule/{name}"
        if kind == "AWS::SNS::Topic":
            return {"TopicArn": self._ref(logical_id), "TopicName": name}.get(attribute, self._ref(logical_id))
        if kind == "AWS::S3::Bucket":
            return {
                "Arn": f"{arn_prefix}:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{REGION}.amazonaws.com",
            }.get(attribute, f"{name}.{attribute}")
        if kind in FUNCTION_TYPES:
            return f"{arn_prefix}:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        if kind == "AWS::IAM::Role":
            return {"Arn": f"{arn_prefix}:iam::{ACCOUNT_ID}:role/{name}", "RoleId": f"AROA{kebab(name).upper()}"}.get(
                attribute, name)
        if attribute == "Arn":
            return f"{arn_prefix}:local:{REGION}:{ACCOUNT_ID}:{kind.replace('::', '-').lower()}/{name}"
        return f"{name}.{attribute}"

    # ---- plan ---------------------------------------------------------------------------------------------
    def plan(self) -> Plan:
        bus_param = self.parameters.get("EventBusName")
        plan = Plan(parameters=self.parameters, event_bus=str(bus_param) if bus_param else "")
        active = [lid for lid in self.resources if self.active(lid)]
        for lid in self.resources:
            if lid not in active:
                plan.skipped.append(f"{lid}: condition {self.resources[lid].get('Condition')} is false")

        for lid in active:
            kind = self._type(lid)
            if kind == "AWS::SQS::Queue":
                plan.queues[lid] = self._queue(lid)
            elif kind == "AWS::Events::EventBus":
                plan.buses[lid] = self.name_of(lid)
            elif kind == "AWS::SNS::Topic":
                plan.topics[lid] = self.name_of(lid)
            elif kind == "AWS::S3::Bucket":
                plan.buckets[lid] = self._bucket(lid)
            elif kind == "AWS::SageMaker::ModelPackageGroup":
                plan.model_package_groups[lid] = self.name_of(lid)
        if not plan.event_bus:
            plan.event_bus = next(iter(plan.buses.values()), "hubtune")

        queue_by_arn = {q.arn: lid for lid, q in plan.queues.items()}
        functions: dict[str, str] = {}  # physical function name -> key
        for lid in active:
            kind = self._type(lid)
            if kind == "AWS::Events::Rule":
                self._rule(plan, lid, queue_by_arn)
            elif kind in FUNCTION_TYPES:
                functions[self.name_of(lid)] = self._function(plan, lid, queue_by_arn)
        for lid in active:
            if self._type(lid) == "AWS::Lambda::EventSourceMapping":
                self._event_source_mapping(plan, lid, queue_by_arn, functions)

        for key, queue in DEFAULT_FUNCTION_QUEUES.items():
            if key not in plan.function_queues and queue in plan.queues:
                plan.function_queues[key] = [queue]
        return plan

    def _queue(self, lid: str) -> QueueSpec:
        props = self.resolver.resolve(self._props(lid))
        attributes: dict[str, str] = {}
        for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize",
                    "ReceiveMessageWaitTimeSeconds"):
            if key in props:
                attributes[key] = str(props[key])
        if _bool(props.get("FifoQueue")):
            attributes["FifoQueue"] = "true"
            if _bool(props.get("ContentBasedDeduplication")):
                attributes["ContentBasedDeduplication"] = "true"
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        return QueueSpec(lid, self.name_of(lid), attributes, redrive or None)

    def _bucket(self, lid: str) -> BucketSpec:
        props = self.resolver.resolve(self._props(lid))
        versioned = str((props.get("VersioningConfiguration") or {}).get("Status", "")) == "Enabled"
        eventbridge = _bool(
            ((props.get("NotificationConfiguration") or {}).get("EventBridgeConfiguration") or {})
            .get("EventBridgeEnabled"))
        return BucketSpec(lid, self.name_of(lid), versioned, eventbridge)

    def _add_rule(self, plan: Plan, lid: str, bus: Any, pattern: Any, schedule: Any, state: Any,
                  description: Any, targets: list[dict[str, Any]], queue_by_arn: dict[str, str],
                  implicit_target: str | None = None) -> None:
        if not pattern:
            plan.skipped.append(f"{lid}: no EventPattern" + (" (schedule rules are fired by the dispatcher)"
                                                             if schedule else ""))
            if schedule:
                arns = [str(t.get("Arn", "")) for t in targets]
                queues = [queue_by_arn[arn] for arn in arns if arn in queue_by_arn]
                plan.schedules[lid] = ScheduleSpec(lid, str(schedule), queues)
            return
        rule = RuleSpec(
            logical_id=lid,
            bus=_bus_name(bus),
            pattern=pattern if isinstance(pattern, str) else json.dumps(pattern),
            state=str(state or "ENABLED"),
            description=str(description or ""),
        )
        for target in targets:
            arn = str(target.get("Arn", ""))
            if arn in queue_by_arn:
                local = {"Id": str(target.get("Id") or queue_by_arn[arn]), "Arn": arn}
                for key in ("InputTransformer", "Input", "InputPath"):
                    if key in target:
                        local[key] = target[key]
                group = (target.get("SqsParameters") or {}).get("MessageGroupId")
                if group:
                    local["SqsParameters"] = {"MessageGroupId": group}
                rule.targets.append(local)
            else:
                rule.dropped_targets.append(arn)
        if implicit_target:
            rule.dropped_targets.append(implicit_target)
        plan.rules.append(rule)

    def _rule(self, plan: Plan, lid: str, queue_by_arn: dict[str, str]) -> None:
        props = self.resolver.resolve(self._props(lid))
        self._add_rule(plan, lid, props.get("EventBusName"), props.get("EventPattern"),
                       props.get("ScheduleExpression"), props.get("State"), props.get("Description"),
                       list(props.get("Targets") or []), queue_by_arn)

    def _function(self, plan: Plan, lid: str, queue_by_arn: dict[str, str]) -> str:
        resource = self.resources[lid] or {}
        raw_props = resource.get("Properties") or {}
        key = function_key(lid, raw_props, resource.get("Metadata") or {}, self.name_of(lid))
        for event_id, event in (raw_props.get("Events") or {}).items():
            event = event or {}
            kind = event.get("Type")
            props = self.resolver.resolve(event.get("Properties") or {})
            if kind == "SQS":
                queue = queue_by_arn.get(str(props.get("Queue")))
                if queue:
                    plan.feed(key, queue, props.get("BatchSize"))
                else:
                    plan.skipped.append(f"{lid}.{event_id}: SQS event on a queue not in the template")
            elif kind in ("EventBridgeRule", "CloudWatchEvent"):
                self._add_rule(plan, f"{lid}{event_id}", props.get("EventBusName"), props.get("Pattern"), None,
                               props.get("State"), None, [], queue_by_arn,
                               implicit_target=f"function {self.name_of(lid)}")
            elif kind in ("Schedule", "ScheduleV2"):
                plan.skipped.append(f"{lid}.{event_id}: schedule (fired by the dispatcher)")
        return key

    def _event_source_mapping(self, plan: Plan, lid: str, queue_by_arn: dict[str, str],
                              functions: dict[str, str]) -> None:
        props = self.resolver.resolve(self._props(lid))
        queue = queue_by_arn.get(str(props.get("EventSourceArn")))
        function = str(props.get("FunctionName", "")).rsplit(":", 1)[-1]
        if queue and function in functions:
            plan.feed(functions[function], queue, props.get("BatchSize"))


def plan_from_file(path: str | Path | None, overrides: dict[str, Any], endpoint: str) -> Plan:
    template = cfn_yaml.load(path) if path else {"Resources": {}}
    return TemplatePlanner(template, overrides, endpoint).plan()
