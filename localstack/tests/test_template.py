"""The template reader: YAML tags, intrinsic functions, conditions, and the plan drawn from a template."""

from __future__ import annotations

import json

import pytest
from helpers import TESTS

from hubtune_localstack import cfn_yaml
from hubtune_localstack.intrinsics import NO_VALUE, Resolver, TemplateError
from hubtune_localstack.template import TemplatePlanner, function_key, plan_from_file

ENDPOINT = "http://127.0.0.1:4566"


def test_yaml_tags_become_long_form():
    doc = cfn_yaml.loads("""
A: !Ref X
B: !GetAtt Res.Arn
C: !GetAtt [Res, Arn]
D: !Sub '${X}-y'
E: !Sub ['${a}', {a: !Ref X}]
F: !If [Cond, 1, 2]
G: !Not [!Equals [!Ref X, '']]
H: !And [!Condition C1, !Or [!Condition C2, !Condition C3]]
I: !Join [',', [a, b]]
J: !Select [0, !Split [',', 'a,b']]
K: !FindInMap [M, k1, k2]
L: !ImportValue exported
N: !GetAZs ''
O: !Base64 text
P: 2010-09-09
Q: !GetAtt Res.Endpoint.Address
""")
    assert doc["A"] == {"Ref": "X"}
    assert doc["B"] == doc["C"] == {"Fn::GetAtt": ["Res", "Arn"]}
    assert doc["D"] == {"Fn::Sub": "${X}-y"}
    assert doc["E"] == {"Fn::Sub": ["${a}", {"a": {"Ref": "X"}}]}
    assert doc["F"] == {"Fn::If": ["Cond", 1, 2]}
    assert doc["G"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "X"}, ""]}]}
    assert doc["H"] == {"Fn::And": [{"Condition": "C1"}, {"Fn::Or": [{"Condition": "C2"}, {"Condition": "C3"}]}]}
    assert doc["I"] == {"Fn::Join": [",", ["a", "b"]]}
    assert doc["J"] == {"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]}
    assert doc["K"] == {"Fn::FindInMap": ["M", "k1", "k2"]}
    assert doc["L"] == {"Fn::ImportValue": "exported"}
    assert doc["N"] == {"Fn::GetAZs": ""}
    assert doc["O"] == {"Fn::Base64": "text"}
    assert doc["P"] == "2010-09-09"
    assert doc["Q"] == {"Fn::GetAtt": ["Res", "Endpoint.Address"]}


def resolver(template: dict, **params) -> Resolver:
    return Resolver(template, params, lambda name: f"ref:{name}", lambda res, att: f"att:{res}.{att}")


def test_intrinsics_resolve():
    template = {
        "Conditions": {
            "Yes": {"Fn::Equals": ["a", {"Ref": "P"}]},
            "No": {"Fn::Not": [{"Condition": "Yes"}]},
            "Both": {"Fn::And": [{"Condition": "Yes"}, {"Fn::Or": [{"Condition": "No"}, True]}]},
        },
        "Mappings": {"M": {"k": {"v": 42}}},
    }
    r = resolver(template, P="a", L=["x", "y"])
    assert r.resolve({"Fn::Sub": "${P}-${AWS::Region}-${Res.Arn}-${Other}-${!Literal}"}) == \
        "a-us-east-1-att:Res.Arn-ref:Other-${Literal}"
    assert r.resolve({"Fn::Sub": ["${v}/${P}", {"v": {"Ref": "AWS::AccountId"}}]}) == "123456789012/a"
    assert r.resolve({"Fn::If": ["Both", "then", "else"]}) == "then"
    assert r.resolve({"Fn::If": ["No", "then", {"Ref": "AWS::NoValue"}]}) is NO_VALUE
    assert r.resolve({"k": {"Fn::If": ["No", 1, {"Ref": "AWS::NoValue"}]}, "j": 2}) == {"j": 2}
    assert r.resolve({"Fn::Join": ["-", [{"Ref": "P"}, "b", {"Fn::Select": [1, {"Ref": "L"}]}]]}) == "a-b-y"
    assert r.resolve({"Fn::Split": ["/", "a/b/"]}) == ["a", "b", ""]
    assert r.resolve({"Fn::FindInMap": ["M", "k", "v"]}) == 42
    assert r.resolve({"Fn::FindInMap": ["M", "k", "w", {"DefaultValue": 7}]}) == 7
    assert r.resolve({"Fn::ImportValue": {"Fn::Sub": "${P}-vpc"}}) == "imported:a-vpc"
    assert r.resolve({"Fn::Select": [0, {"Fn::GetAZs": ""}]}) == "us-east-1a"
    assert r.resolve({"Fn::Base64": "hello"}) == "aGVsbG8="
    assert r.resolve({"Fn::GetAtt": "Res.Arn"}) == "att:Res.Arn"
    assert r.resolve({"Fn::ToJsonString": {"a": [1]}}) == '{"a":[1]}'
    assert r.condition("Yes") and not r.condition("No") and r.condition("Both")
    with pytest.raises(TemplateError):
        r.condition("Missing")
    with pytest.raises(TemplateError):
        r.resolve({"Fn::FindInMap": ["M", "k", "w"]})


def test_fixture_template_plan():
    plan = plan_from_file(TESTS / "template.yaml", {"DatasetBucketName": "b", "JobPrefix": "jp"}, ENDPOINT)
    assert set(plan.queues) == {"LaunchQueue", "LaunchDeadLetterQueue", "TrainingStateQueue",
                                "TrainingStateDeadLetterQueue", "PublishQueue", "PublishDeadLetterQueue",
                                "RuleTargetDeadLetterQueue"}
    launch = plan.queues["LaunchQueue"]
    assert launch.attributes == {"VisibilityTimeout": "120"}
    assert launch.redrive_policy == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:LaunchDeadLetterQueue", "maxReceiveCount": 5}
    assert plan.event_bus == "hubtune" and plan.buses == {"HubtuneEventBus": "hubtune"}
    assert plan.buckets == {}  # the bucket's condition is false
    rules = {r.logical_id: r for r in plan.rules}
    assert set(rules) == {"DatasetObjectCreatedRule", "RouteSlotFreedRule", "TrainingJobStateChangeRule",
                          "TrainingRunFinishedRule", "PublishArtifactFunctionFailures"}  # NotifyAndMarker is false
    drop = rules["DatasetObjectCreatedRule"]
    assert drop.bus == "default"
    assert json.loads(drop.pattern)["detail"] == {"bucket": {"name": ["b"]},
                                                  "object": {"key": [{"wildcard": "datasets/*_SUCCESS"}]}}
    assert drop.targets == [{"Id": "launch", "Arn": "arn:aws:sqs:us-east-1:123456789012:LaunchQueue"}]
    assert json.loads(rules["TrainingJobStateChangeRule"].pattern)["detail"] == {
        "TrainingJobName": [{"prefix": "jp-"}]}
    assert rules["RouteSlotFreedRule"].bus == "hubtune"
    assert rules["TrainingRunFinishedRule"].bus == "hubtune"
    assert rules["PublishArtifactFunctionFailures"].targets == []  # a function target: no local target
    default = {r.logical_id: r for r in plan_from_file(TESTS / "template.yaml", {}, ENDPOINT).rules}
    notify = default["NotificationRule"]  # JobPrefix hubtune makes NotifyAndMarker true
    assert notify.bus == "hubtune" and notify.targets == []
    assert notify.dropped_targets == ["arn:aws:sns:us-east-1:123456789012:hubtune-notifications"]
    assert plan.function_queues == {"launch-finetune": ["LaunchQueue"], "training-state": ["TrainingStateQueue"],
                                    "publish-artifact": ["PublishQueue"]}
    assert any("SweepScheduleRule" in note for note in plan.skipped)
    # The dispatcher fires a schedule rule itself: to the queues the template's rule targets.
    sweep = plan.schedules["SweepScheduleRule"]
    assert sweep.expression == "rate(5 minutes)" and sweep.queues == ["LaunchQueue"]


def test_conditions_change_the_plan():
    plan = plan_from_file(TESTS / "template.yaml", {"DatasetBucketName": "b", "MarkerSuffix": "",
                                                   "CreateDatasetBucket": "true", "JobPrefix": "other"}, ENDPOINT)
    rules = {r.logical_id: r for r in plan.rules}
    assert json.loads(rules["DatasetObjectCreatedRule"].pattern)["detail"]["object"] == {
        "key": [{"prefix": "datasets/"}]}
    assert "NotificationRule" not in rules  # NotifyAndMarker needs a marker suffix
    assert plan.buckets["DatasetBucket"].name == "b" and plan.buckets["DatasetBucket"].eventbridge


def test_function_environment_resolves():
    template = cfn_yaml.load(TESTS / "template.yaml")
    planner = TemplatePlanner(template, {"DatasetBucketName": "b"}, ENDPOINT)
    env = planner.resolver.resolve(template["Resources"]["LaunchFinetuneFunction"]["Properties"]["Environment"])
    assert env["Variables"] == {
        "JOB_PREFIX": "hubtune", "EVENT_BUS": "hubtune", "STATE_URI": "s3://b/hubtune/state/", "AZ": "us-east-1a",
        "PARTS": "hubtune-output-", "IMPORTED": "imported:shared-vpc-id", "ENCODED": "aGVsbG8=",
    }
    assert planner.resolver.resolve({"Ref": "LaunchQueue"}) == f"{ENDPOINT}/123456789012/LaunchQueue"
    assert planner.resolver.resolve({"Ref": "NotificationTopic"}) == \
        "arn:aws:sns:us-east-1:123456789012:hubtune-notifications"


@pytest.mark.parametrize("logical_id, props, metadata, key", [
    ("LaunchFinetuneFunction", {}, {}, "launch-finetune"),
    ("Fn1", {}, {"BuildProperties": {"Binary": "training-state"}}, "training-state"),
    ("Fn2", {"CodeUri": "target/lambda/publish-artifact/"}, {}, "publish-artifact"),
    ("Fn3", {"CodeUri": "../functions/publish_artifact"}, {}, "publish-artifact"),
    ("SweepFunction", {"CodeUri": "."}, {}, "sweep"),
])
def test_function_key(logical_id, props, metadata, key):
    assert function_key(logical_id, props, metadata) == key


def test_event_source_mappings_and_fallback():
    template = {
        "Resources": {
            "LaunchQueue": {"Type": "AWS::SQS::Queue"},
            "TrainingStateQueue": {"Type": "AWS::SQS::Queue"},
            "StateFn": {"Type": "AWS::Lambda::Function", "Properties": {"FunctionName": "hubtune-training-state"}},
            "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["TrainingStateQueue", "Arn"]},
                "FunctionName": {"Ref": "StateFn"}}},
        }
    }
    plan = TemplatePlanner(template, {}, ENDPOINT).plan()
    assert plan.function_queues == {"training-state": ["TrainingStateQueue"], "launch-finetune": ["LaunchQueue"]}


def test_a_function_fed_by_several_queues_reads_each_once():
    """training-state reads its state changes and the sweep's ticks: two event sources, two queues, in order."""
    template = {
        "Resources": {
            "StateQueue": {"Type": "AWS::SQS::Queue"},
            "TickQueue": {"Type": "AWS::SQS::Queue"},
            "TrainingStateFunction": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
                "State": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["StateQueue", "Arn"]}}},
                "Tick": {"Type": "SQS", "Properties": {"Queue": {"Fn::GetAtt": ["TickQueue", "Arn"]},
                                                       "BatchSize": 1}},
            }}},
            "Again": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
                "EventSourceArn": {"Fn::GetAtt": ["TickQueue", "Arn"]},
                "FunctionName": {"Ref": "TrainingStateFunction"}}},
            "Tick": {"Type": "AWS::Events::Rule", "Properties": {
                "ScheduleExpression": "rate(1 minute)",
                "Targets": [{"Id": "t", "Arn": {"Fn::GetAtt": ["TickQueue", "Arn"]}}]}},
        }
    }
    plan = TemplatePlanner(template, {}, ENDPOINT).plan()
    assert plan.function_queues == {"training-state": ["StateQueue", "TickQueue"]}
    # The dispatcher hands a function no more messages at once than its mapping's BatchSize (SQS's default 10).
    assert plan.batch_sizes == {"StateQueue": 10, "TickQueue": 1}
    assert plan.schedules["Tick"].queues == ["TickQueue"]
    assert plan.event_bus == "hubtune"
