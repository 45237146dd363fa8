"""The guardrails on spend (issue 13, item 2), case by case through cfn.Policy.

launch-finetune's role may start a training job only on the allowed instance types, within the runtime cap, with
this deployment's `hubtune:deployment` tag and no tag key but hubtune's (plus RouteTagKeys), network-isolated and
in the allowed subnets when the parameters ask for it; it may add tags only while creating a job. Each condition
is shown refusing a request that breaks it alone, next to the request that passes.
"""

import json
import re

import pytest

import cfn

A = cfn.ACCOUNT
R = cfn.REGION
JOB = f"arn:aws:sagemaker:{R}:{A}:training-job/hubtune-chat-0123456789abcdef"
HUBTUNE_KEYS = [
    "sagemaker-sdk:jumpstart-model-id", "sagemaker-sdk:jumpstart-model-version", "sagemaker-sdk:hub-content-arn",
    "hubtune:route", "hubtune:dataset", "hubtune:deployment",
]


def launcher(template, **params):
    resolver = cfn.Resolver(template, params)
    return cfn.Policy(cfn.role_statements(resolver, "LaunchFinetuneRole"))


def request(changes=None, **more):
    """The authorization context of the CreateTrainingJob request hubtune sends for the example route, with
    `changes` (condition key -> value, None = absent) applied."""
    ctx = {
        "sagemaker:InstanceTypes": ["ml.g5.2xlarge"],
        "sagemaker:MaxRuntimeInSeconds": "86400",
        "sagemaker:NetworkIsolation": "false",
        "aws:RequestTag/hubtune:deployment": "hubtune",
        "aws:TagKeys": list(HUBTUNE_KEYS),
    }
    for key, value in {**(changes or {}), **more}.items():
        if value is None:
            ctx.pop(key, None)
        else:
            ctx[key] = value
    return ctx


def creates(policy, ctx) -> bool:
    return policy.allows("sagemaker:CreateTrainingJob", JOB, ctx)


def test_the_request_hubtune_sends_is_allowed(template):
    assert creates(launcher(template), request())


@pytest.mark.parametrize(
    "why, changes",
    [
        ("an instance type outside the list", {"sagemaker:InstanceTypes": ["ml.p5.48xlarge"]}),
        ("one of several instance types outside the list",
         {"sagemaker:InstanceTypes": ["ml.g5.2xlarge", "ml.p4d.24xlarge"]}),
        ("no instance type at all (ForAllValues alone would pass it)", {"sagemaker:InstanceTypes": None}),
        ("a runtime above the cap", {"sagemaker:MaxRuntimeInSeconds": "86401"}),
        ("no runtime", {"sagemaker:MaxRuntimeInSeconds": None}),
        ("no deployment tag", {"aws:RequestTag/hubtune:deployment": None}),
        ("another deployment's tag", {"aws:RequestTag/hubtune:deployment": "other"}),
        ("a tag key that is not hubtune's", {"aws:TagKeys": HUBTUNE_KEYS + ["team"]}),
    ],
)
def test_each_guardrail_refuses_alone(template, why, changes):
    assert not creates(launcher(template), request(changes)), why


def test_the_limits_follow_the_parameters(template):
    p = launcher(template, TrainingInstanceTypes="ml.p4d.24xlarge", MaxTrainingRuntimeSeconds="3600",
                 DeploymentName="team2", RouteTagKeys="team,cost-center")
    ok = {"sagemaker:InstanceTypes": ["ml.p4d.24xlarge"], "sagemaker:MaxRuntimeInSeconds": "3600",
          "aws:RequestTag/hubtune:deployment": "team2"}
    assert creates(p, request(ok))
    assert not creates(p, request({**ok, "sagemaker:InstanceTypes": ["ml.g5.2xlarge"]})), "g5 is no longer listed"
    assert not creates(p, request({**ok, "sagemaker:MaxRuntimeInSeconds": "3601"}))
    assert not creates(p, request({**ok, "aws:RequestTag/hubtune:deployment": "hubtune"}))
    keys = HUBTUNE_KEYS + ["team", "cost-center"]
    assert creates(p, request({**ok, "aws:TagKeys": keys}))
    assert not creates(p, request({**ok, "aws:TagKeys": keys + ["owner"]}))


def test_network_isolation_is_required_only_when_asked(template):
    assert creates(launcher(template), request({"sagemaker:NetworkIsolation": "false"}))
    isolated = launcher(template, RequireNetworkIsolation="true")
    assert creates(isolated, request({"sagemaker:NetworkIsolation": "true"}))
    assert not creates(isolated, request({"sagemaker:NetworkIsolation": "false"}))
    assert not creates(isolated, request({"sagemaker:NetworkIsolation": None}))


def test_subnets_are_required_only_when_given(template):
    assert creates(launcher(template), request()), "no TrainingSubnetIds: no VPC required"
    p = launcher(template, TrainingSubnetIds="subnet-0aaa,subnet-0bbb")
    assert creates(p, request({"sagemaker:VpcSubnets": ["subnet-0aaa"]}))
    assert creates(p, request({"sagemaker:VpcSubnets": ["subnet-0aaa", "subnet-0bbb"]}))
    assert not creates(p, request({"sagemaker:VpcSubnets": ["subnet-0aaa", "subnet-0ccc"]}))
    assert not creates(p, request()), "a job outside any VPC"


def test_add_tags_only_while_creating_with_hubtune_keys(template):
    p = launcher(template)
    on_create = {"sagemaker:TaggingAction": "CreateTrainingJob", "aws:TagKeys": HUBTUNE_KEYS}
    assert p.allows("sagemaker:AddTags", JOB, on_create)
    assert not p.allows("sagemaker:AddTags", JOB, {"aws:TagKeys": HUBTUNE_KEYS}), "retagging an existing job"
    assert not p.allows("sagemaker:AddTags", JOB, {**on_create, "sagemaker:TaggingAction": "CreateModel"})
    assert not p.allows("sagemaker:AddTags", JOB, {**on_create, "aws:TagKeys": ["hubtune:deployment", "owner"]})
    assert not p.allows("sagemaker:AddTags", f"arn:aws:sagemaker:{R}:{A}:training-job/other-x", on_create)
    with_team = launcher(template, RouteTagKeys="team")
    assert with_team.allows("sagemaker:AddTags", JOB, {**on_create, "aws:TagKeys": HUBTUNE_KEYS + ["team"]})


def test_the_default_instance_types_are_what_the_example_hub_document_supports(template):
    doc_path = cfn.INFRA.parent / "examples" / "hub" / "describe-hub-content.model-reference.json"
    described = json.loads(doc_path.read_text(encoding="utf-8"))
    document = described["HubContentDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    default = template["Parameters"]["TrainingInstanceTypes"]["Default"].split(",")
    assert sorted(default) == sorted(document["SupportedTrainingInstanceTypes"])
    assert document["DefaultTrainingInstanceType"] in default


def test_the_runtime_cap_defaults_to_hubtunes_default_runtime(template):
    plan = (cfn.INFRA.parent / "shared" / "src" / "domain" / "plan.rs").read_text(encoding="utf-8")
    default = re.search(r"DEFAULT_MAX_RUNTIME_SECONDS: u32 = ([0-9_]+);", plan)
    spec = template["Parameters"]["MaxTrainingRuntimeSeconds"]
    assert default and spec["Default"] == int(default.group(1).replace("_", "")), "a route's default runtime passes"
    assert spec["MaxValue"] == 28 * 24 * 3600, "SageMaker's own limit"


def _tag_keys_hubtune_sends() -> set[str]:
    plan = (cfn.INFRA.parent / "shared" / "src" / "domain" / "plan.rs").read_text(encoding="utf-8")
    return set(re.findall(r'pub const TAG_[A-Z_]+: &str = "([^"]+)";', plan))


def test_every_tag_key_the_launcher_sends_is_allowed(template):
    sent = _tag_keys_hubtune_sends()
    assert {"hubtune:route", "hubtune:dataset", "sagemaker-sdk:jumpstart-model-id"} <= sent, sent
    on_create = {"sagemaker:TaggingAction": "CreateTrainingJob", "aws:TagKeys": sorted(sent)}
    assert launcher(template).allows("sagemaker:AddTags", JOB, on_create)


def test_the_launcher_sends_the_deployment_tag_the_guardrail_requires():
    assert "hubtune:deployment" in _tag_keys_hubtune_sends()


def test_the_functions_get_the_guardrails_they_check_routes_against(template):
    """Item 2: the routes file is refused at read time by the same values the IAM conditions hold."""
    resolver = cfn.Resolver(template, {"TrainingInstanceTypes": "ml.g5.2xlarge,ml.p4d.24xlarge",
                                       "MaxTrainingRuntimeSeconds": "3600", "RouteTagKeys": "team",
                                       "RequireNetworkIsolation": "true", "TrainingSubnetIds": "subnet-1,subnet-2"})
    env = {k: resolver.resolve(v) for k, v in template["Globals"]["Function"]["Environment"]["Variables"].items()}
    assert env["HUBTUNE_ALLOWED_INSTANCE_TYPES"] == "ml.g5.2xlarge,ml.p4d.24xlarge"
    assert env["HUBTUNE_MAX_RUNTIME_CAP_SECONDS"] == "3600"
    assert env["HUBTUNE_ALLOWED_TAG_KEYS"].split(",") == ["hubtune:route", "hubtune:dataset", "hubtune:deployment", "team"]
    assert env["HUBTUNE_REQUIRE_NETWORK_ISOLATION"] == "true"
    assert env["HUBTUNE_REQUIRED_SUBNETS"] == "subnet-1,subnet-2"
    defaults = cfn.Resolver(template)
    tags = defaults.resolve(template["Globals"]["Function"]["Environment"]["Variables"]["HUBTUNE_ALLOWED_TAG_KEYS"])
    # Empty RouteTagKeys: the value is still set (an unset one would mean "any key" to hubtune).
    assert [k for k in tags.split(",") if k] == ["hubtune:route", "hubtune:dataset", "hubtune:deployment"]
    assert defaults.resolve(template["Globals"]["Function"]["Environment"]["Variables"]["HUBTUNE_REQUIRED_SUBNETS"]) == ""
