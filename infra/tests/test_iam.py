"""Least privilege of infra/template.yaml, statement by statement.

Three layers:
1. every role's statements, resolved for a parameter set, equal the expected ones exactly: same Sids, and per Sid
   the same actions, resources and conditions (nothing more, nothing missing);
2. cases through a small IAM evaluator (cfn.Policy): what each function may and may not do;
3. an audit of the raw template over both sides of every Fn::If: no wildcard action anywhere, and a "*" resource
   only in the statements the services require, each with a comment saying so right above it.
"""

import re

import pytest

import cfn

A = cfn.ACCOUNT
R = cfn.REGION
BUCKET = cfn.REQUIRED_PARAMS["DatasetBucketName"]
B = f"arn:aws:s3:::{BUCKET}"
ROUTES = "arn:aws:s3:::cfg-bkt/conf/hubtune.toml"
JOBS = f"arn:aws:sagemaker:{R}:{A}:training-job/hubtune-*"
BUS = f"arn:aws:events:{R}:{A}:event-bus/hubtune"
CREATED_TRAINING_ROLE = f"arn:aws:iam::{A}:role/{cfn.STACK}-TrainingRole-ABC123"
GIVEN_TRAINING_ROLE = f"arn:aws:iam::{A}:role/team/MySageMakerRole"
KMS_KEY = f"arn:aws:kms:{R}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_ACCOUNT = "210987654321"
VPC = "vpc-0abc1234def567890"


def log_group(function: str) -> str:
    return f"arn:aws:logs:{R}:{A}:log-group:/aws/lambda/{cfn.STACK}-{function}:*"


def queue(name: str) -> str:
    return f"arn:aws:sqs:{R}:{A}:{name}"


# Lambda's active tracing (Globals Tracing: Active) sends the invocation's segments with the function's role.
XRAY_WRITE = (["xray:PutTelemetryRecords", "xray:PutTraceSegments"], ["*"], None)
SQS_CONSUME = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
KMS_VIA_S3 = {"StringEquals": {"kms:ViaService": f"s3.{R}.amazonaws.com"}}


HUBTUNE_TAG_KEYS = [
    "hubtune:dataset", "hubtune:deployment", "hubtune:route", "sagemaker-sdk:hub-content-arn",
    "sagemaker-sdk:jumpstart-model-id", "sagemaker-sdk:jumpstart-model-version",
]
DEFAULT_INSTANCE_TYPES = ["ml.g5.12xlarge", "ml.g5.2xlarge", "ml.g5.4xlarge"]


def guarded_create_condition(instance_types=DEFAULT_INSTANCE_TYPES, runtime="86400", deployment="hubtune",
                             tag_keys=HUBTUNE_TAG_KEYS, subnets=None, isolation=False):
    condition = {
        "ForAllValues:StringEquals": {"sagemaker:InstanceTypes": instance_types, "aws:TagKeys": tag_keys},
        "Null": {"sagemaker:InstanceTypes": "false"},
        "NumericLessThanEquals": {"sagemaker:MaxRuntimeInSeconds": runtime},
        "StringEquals": {"aws:RequestTag/hubtune:deployment": deployment},
    }
    if subnets:
        condition["ForAllValues:StringEquals"]["sagemaker:VpcSubnets"] = subnets
        condition["Null"]["sagemaker:VpcSubnets"] = "false"
    if isolation:
        condition["Bool"] = {"sagemaker:NetworkIsolation": "true"}
    return condition


def expected_launch(training_role=CREATED_TRAINING_ROLE, hub_account=A, kms=False, guardrails=None):
    guardrails = guardrails or {}
    tag_keys = guardrails.get("tag_keys", HUBTUNE_TAG_KEYS)
    out = {
        "WriteOwnLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], [log_group("launch-finetune")], None),
        "WriteTraces": XRAY_WRITE,
        "ConsumeLaunchQueue": (SQS_CONSUME, [queue("LaunchQueue")], None),
        "CreateGuardedTrainingJobs": (
            ["sagemaker:CreateTrainingJob"], [JOBS], guarded_create_condition(**guardrails),
        ),
        "TagTrainingJobsOnCreate": (
            ["sagemaker:AddTags"],
            [JOBS],
            {"StringEquals": {"sagemaker:TaggingAction": "CreateTrainingJob"},
             "ForAllValues:StringEquals": {"aws:TagKeys": tag_keys}},
        ),
        "ReadTrainingJobs": (["sagemaker:DescribeTrainingJob", "sagemaker:ListTags"], [JOBS], None),
        "ReadAndTrainHubContent": (
            ["sagemaker:DescribeHubContent", "sagemaker:TrainHubModel"],
            [f"arn:aws:sagemaker:{R}:{hub_account}:hub/my-hub",
             f"arn:aws:sagemaker:{R}:{hub_account}:hub-content/my-hub/*"],
            None,
        ),
        "PassTrainingRoleToSageMaker": (
            ["iam:PassRole"],
            [training_role],
            {"StringEquals": {"iam:PassedToService": ["sagemaker.amazonaws.com"]}},
        ),
        "ReadDatasetsAndRoutes": (["s3:GetObject"], [f"{B}/datasets/*", ROUTES], None),
        "ListDatasetsAndState": (
            ["s3:ListBucket"],
            [B],
            {"StringLike": {"s3:prefix": ["datasets/*", "hubtune/state/*"]}},
        ),
        "ReadWriteState": (["s3:GetObject", "s3:PutObject"], [f"{B}/hubtune/state/*"], None),
        "RemoveClaimedQueueEntries": (["s3:DeleteObject"], [f"{B}/hubtune/state/queue/*"], None),
        "PutHubtuneEvents": (["events:PutEvents"], [BUS], None),
    }
    if kms:
        out["UseBucketKey"] = (["kms:Decrypt", "kms:GenerateDataKey"], [KMS_KEY], _norm_condition(KMS_VIA_S3))
    return out


def expected_training_state(kms=False):
    out = {
        "WriteOwnLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], [log_group("training-state")], None),
        "WriteTraces": XRAY_WRITE,
        "ConsumeTrainingStateQueue": (SQS_CONSUME, [queue("TrainingStateQueue")], None),
        "ConsumeSweepQueue": (SQS_CONSUME, [queue("SweepQueue")], None),
        "DescribeTrainingJobs": (["sagemaker:DescribeTrainingJob", "sagemaker:ListTags"], [JOBS], None),
        "ReadWriteState": (["s3:GetObject", "s3:PutObject"], [f"{B}/hubtune/state/*"], None),
        "CloseOpenRuns": (["s3:DeleteObject"], [f"{B}/hubtune/state/open/*"], None),
        "ListState": (["s3:ListBucket"], [B], {"StringLike": {"s3:prefix": ["hubtune/state/*"]}}),
        "ReadRoutes": (["s3:GetObject"], [ROUTES], None),
        "PutHubtuneEvents": (["events:PutEvents"], [BUS], None),
    }
    if kms:
        out["UseBucketKey"] = (["kms:Decrypt", "kms:GenerateDataKey"], [KMS_KEY], _norm_condition(KMS_VIA_S3))
    return out


def expected_publish(kms=False, group=None, hub_account=A):
    out = {
        "WriteOwnLogs": (["logs:CreateLogStream", "logs:PutLogEvents"], [log_group("publish-artifact")], None),
        "WriteTraces": XRAY_WRITE,
        "ConsumePublishQueue": (SQS_CONSUME, [queue("PublishQueue")], None),
        "DescribeTrainingJobs": (["sagemaker:DescribeTrainingJob"], [JOBS], None),
        "ReadWriteOutputs": (["s3:GetObject", "s3:PutObject"], [f"{B}/hubtune/output/*"], None),
        "ListOutputsAndState": (
            ["s3:ListBucket"],
            [B],
            {"StringLike": {"s3:prefix": ["hubtune/output/*", "hubtune/state/*"]}},
        ),
        "ReadWriteState": (["s3:GetObject", "s3:PutObject"], [f"{B}/hubtune/state/*"], None),
        "CloseOpenRuns": (["s3:DeleteObject"], [f"{B}/hubtune/state/open/*"], None),
        "ReadRoutes": (["s3:GetObject"], [ROUTES], None),
        "PutHubtuneEvents": (["events:PutEvents"], [BUS], None),
    }
    if kms:
        out["UseBucketKey"] = (["kms:Decrypt", "kms:GenerateDataKey"], [KMS_KEY], _norm_condition(KMS_VIA_S3))
    if group:
        out["RegisterModelPackages"] = (
            ["sagemaker:CreateModelPackage"],
            [f"arn:aws:sagemaker:{R}:{A}:model-package-group/{group}",
             f"arn:aws:sagemaker:{R}:{A}:model-package/{group}/*"],
            None,
        )
        out["ReadHubContentForRegistration"] = (
            ["sagemaker:DescribeHubContent"],
            [f"arn:aws:sagemaker:{R}:{hub_account}:hub/my-hub",
             f"arn:aws:sagemaker:{R}:{hub_account}:hub-content/my-hub/*"],
            None,
        )
    return out


def expected_training_role(kms=False, vpc=False):
    ec2 = f"arn:aws:ec2:{R}:{A}"
    logs = f"arn:aws:logs:{R}:{A}:log-group:/aws/sagemaker/TrainingJobs"
    out = {
        "ReadDatasetsAndManifests": (["s3:GetObject"], [f"{B}/datasets/*", f"{B}/hubtune/state/manifests/*"], None),
        "ListDatasetsAndManifests": (
            ["s3:ListBucket"],
            [B],
            {"StringLike": {"s3:prefix": ["datasets/*", "hubtune/state/manifests/*"]}},
        ),
        "WriteOutputs": (["s3:PutObject"], [f"{B}/hubtune/output/*"], None),
        "ReadWriteCheckpoints": (["s3:GetObject", "s3:PutObject"], [f"{B}/hubtune/checkpoints/*"], None),
        "ListCheckpoints": (["s3:ListBucket"], [B], {"StringLike": {"s3:prefix": ["hubtune/checkpoints/*"]}}),
        "ReadJumpStartTrainingScripts": (
            ["s3:GetObject"],
            [f"arn:aws:s3:::jumpstart-cache-prod-{R}/source-directory-tarballs/*"],
            None,
        ),
        "ListJumpStartTrainingScripts": (
            ["s3:ListBucket"],
            [f"arn:aws:s3:::jumpstart-cache-prod-{R}"],
            {"StringLike": {"s3:prefix": ["source-directory-tarballs/*"]}},
        ),
        "WriteTrainingLogs": (
            ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
            [logs, f"{logs}:*"],
            None,
        ),
        "PutTrainingMetrics": (
            ["cloudwatch:PutMetricData"],
            ["*"],
            {"StringEquals": {"cloudwatch:namespace": ["/aws/sagemaker/TrainingJobs"]}},
        ),
        "PullTrainingImages": (
            ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            [f"arn:aws:ecr:{R}:763104351884:repository/*"],
            None,
        ),
        "GetEcrAuthorizationToken": (["ecr:GetAuthorizationToken"], ["*"], None),
    }
    if kms:
        out["UseKmsKey"] = (["kms:Decrypt", "kms:GenerateDataKey"], [KMS_KEY], KMS_VIA_S3)
    if vpc:
        out["ManageTrainingNetworkInterfaces"] = (
            ["ec2:CreateNetworkInterface", "ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
             "ec2:DeleteNetworkInterfacePermission"],
            [f"{ec2}:network-interface/*", f"{ec2}:security-group/*", f"{ec2}:subnet/*"],
            {"ArnEquals": {"ec2:Vpc": [f"{ec2}:vpc/{VPC}"]}},
        )
        out["DescribeTrainingNetwork"] = (
            ["ec2:DescribeDhcpOptions", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups",
             "ec2:DescribeSubnets", "ec2:DescribeVpcs"],
            ["*"],
            None,
        )
    return out


def _norm_condition(condition):
    if not condition:
        return None
    return {
        op: {key: sorted(str(v) for v in cfn.as_list(values)) for key, values in entries.items()}
        for op, entries in condition.items()
    }


def _actual(resolver, role):
    out = {}
    for st in cfn.role_statements(resolver, role):
        assert st["Effect"] == "Allow", st
        assert "Sid" in st, f"{role}: every statement has a Sid so reviews and tests can name it: {st}"
        assert st["Sid"] not in out, f"{role}: duplicate Sid {st['Sid']}"
        assert set(st) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, st
        out[st["Sid"]] = (
            sorted(cfn.as_list(st["Action"])),
            sorted(cfn.as_list(st["Resource"])),
            _norm_condition(st.get("Condition")),
        )
    return out


def _compare(actual, expected):
    assert sorted(actual) == sorted(expected), "statement ids differ"
    for sid, (actions, resources, condition) in expected.items():
        got_actions, got_resources, got_condition = actual[sid]
        assert got_actions == sorted(actions), f"{sid}: actions"
        assert got_resources == sorted(resources), f"{sid}: resources"
        assert got_condition == _norm_condition(condition), f"{sid}: condition"


PARAMETER_SETS = {
    "defaults": {},
    "kms-vpc-own-role-shared-hub": {
        "KmsKeyArn": KMS_KEY,
        "TrainingVpcId": VPC,
        "TrainingRoleArn": GIVEN_TRAINING_ROLE,
        "HubAccountId": OTHER_ACCOUNT,
    },
    "kms-vpc-created-role": {"KmsKeyArn": KMS_KEY, "TrainingVpcId": VPC},
    "guardrails-set": {
        "TrainingInstanceTypes": "ml.p4d.24xlarge,ml.g5.2xlarge",
        "MaxTrainingRuntimeSeconds": "3600",
        "DeploymentName": "team2",
        "RequireNetworkIsolation": "true",
        "TrainingSubnetIds": "subnet-0aaa,subnet-0bbb",
        "RouteTagKeys": "team,cost-center",
    },
    "model-registry": {"ModelPackageGroupName": "support-bot-models"},
    "model-registry-shared-hub": {"ModelPackageGroupName": "support-bot-models", "HubAccountId": OTHER_ACCOUNT},
}
# What each parameter set asks of CreateTrainingJob (the arguments of guarded_create_condition).
GUARDRAILS = {
    "guardrails-set": {
        "instance_types": ["ml.g5.2xlarge", "ml.p4d.24xlarge"],
        "runtime": "3600",
        "deployment": "team2",
        "tag_keys": sorted(HUBTUNE_TAG_KEYS + ["cost-center", "team"]),
        "subnets": ["subnet-0aaa", "subnet-0bbb"],
        "isolation": True,
    },
}


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_launch_finetune_statements(template, name):
    params = PARAMETER_SETS[name]
    resolver = cfn.Resolver(template, params)
    expected = expected_launch(
        training_role=params.get("TrainingRoleArn", CREATED_TRAINING_ROLE),
        hub_account=params.get("HubAccountId", A),
        kms="KmsKeyArn" in params,
        guardrails=GUARDRAILS.get(name),
    )
    _compare(_actual(resolver, "LaunchFinetuneRole"), expected)


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_training_state_statements(template, name):
    params = PARAMETER_SETS[name]
    resolver = cfn.Resolver(template, params)
    _compare(_actual(resolver, "TrainingStateRole"), expected_training_state(kms="KmsKeyArn" in params))


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_publish_artifact_statements(template, name):
    params = PARAMETER_SETS[name]
    resolver = cfn.Resolver(template, params)
    expected = expected_publish(kms="KmsKeyArn" in params, group=params.get("ModelPackageGroupName"),
                                hub_account=params.get("HubAccountId", A))
    _compare(_actual(resolver, "PublishArtifactRole"), expected)


@pytest.mark.parametrize("name", sorted(PARAMETER_SETS))
def test_training_role_statements(template, name):
    params = PARAMETER_SETS[name]
    resolver = cfn.Resolver(template, params)
    if "TrainingRoleArn" in params:
        assert not resolver.exists("TrainingRole"), "a given TrainingRoleArn must not create a role"
        return
    expected = expected_training_role(kms="KmsKeyArn" in params, vpc="TrainingVpcId" in params)
    _compare(_actual(resolver, "TrainingRole"), expected)


def test_the_roles_are_exactly_these(template):
    roles = {lid for lid, res in template["Resources"].items() if res["Type"] == "AWS::IAM::Role"}
    assert roles == {"LaunchFinetuneRole", "TrainingStateRole", "PublishArtifactRole", "TrainingRole"}
    for lid, res in template["Resources"].items():
        assert res["Type"] not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User"), lid
        if res["Type"] == "AWS::IAM::Role":
            props = res["Properties"]
            assert "ManagedPolicyArns" not in props, f"{lid}: no managed policies, only explicit statements"
            assert "PermissionsBoundary" not in props
            assert "RoleName" not in props, f"{lid}: generated names keep CAPABILITY_IAM enough"


def test_functions_use_their_own_role_and_no_sam_policies(template):
    expected = {
        "LaunchFinetuneFunction": "LaunchFinetuneRole",
        "TrainingStateFunction": "TrainingStateRole",
        "PublishArtifactFunction": "PublishArtifactRole",
    }
    functions = {lid: res for lid, res in template["Resources"].items() if res["Type"] == "AWS::Serverless::Function"}
    assert set(functions) == set(expected)
    for lid, res in functions.items():
        props = res["Properties"]
        # SAM would otherwise add AWSLambdaBasicExecutionRole (logs on "*") and its own policy templates.
        assert "Policies" not in props, lid
        assert props["Role"] == {"Fn::GetAtt": [expected[lid], "Arn"]}, lid
    assert "Policies" not in template.get("Globals", {}).get("Function", {})
    assert "Role" not in template.get("Globals", {}).get("Function", {})


def test_trust_policies(resolver):
    for role in ("LaunchFinetuneRole", "TrainingStateRole", "PublishArtifactRole"):
        trust = resolver.props(role)["AssumeRolePolicyDocument"]["Statement"]
        assert trust == [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ], role
    trust = resolver.props("TrainingRole")["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "sagemaker.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": A}},
        }
    ]


def test_training_role_exists_only_when_not_given(template):
    assert template["Resources"]["TrainingRole"]["Condition"] == "CreateTrainingRole"
    assert cfn.Resolver(template).exists("TrainingRole")
    given = cfn.Resolver(template, {"TrainingRoleArn": GIVEN_TRAINING_ROLE})
    assert not given.exists("TrainingRole")
    assert given.resolve(template["Outputs"]["TrainingRoleArn"]["Value"]) == GIVEN_TRAINING_ROLE
    env = given.resolve(template["Globals"]["Function"]["Environment"]["Variables"])
    assert env["HUBTUNE_TRAINING_ROLE_ARN"] == GIVEN_TRAINING_ROLE


# ---------------------------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------------------------
def _policy(resolver, role):
    return cfn.Policy(cfn.role_statements(resolver, role))


def test_launch_finetune_cases(resolver):
    p = _policy(resolver, "LaunchFinetuneRole")
    job = f"arn:aws:sagemaker:{R}:{A}:training-job/hubtune-chat-0123456789abcdef"
    create = {  # what launch-finetune's request puts in the context (see test_guardrails.py for each condition)
        "sagemaker:InstanceTypes": ["ml.g5.2xlarge"], "sagemaker:MaxRuntimeInSeconds": "86400",
        "aws:RequestTag/hubtune:deployment": "hubtune", "aws:TagKeys": ["hubtune:route", "hubtune:deployment"],
    }
    tag_on_create = {"sagemaker:TaggingAction": "CreateTrainingJob", "aws:TagKeys": ["hubtune:route"]}
    assert p.allows("sagemaker:CreateTrainingJob", job, create)
    assert p.allows("sagemaker:AddTags", job, tag_on_create)
    assert not p.allows("sagemaker:AddTags", job), "never tags an existing job"
    assert not p.allows("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:{R}:{A}:training-job/someone-else", create)
    assert not p.allows("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:{R}:{A}:training-job/hubtuned-x", create)
    assert not p.allows("sagemaker:StopTrainingJob", job)
    assert not p.allows("sagemaker:DeleteHub", f"arn:aws:sagemaker:{R}:{A}:hub/my-hub")
    ref = f"arn:aws:sagemaker:{R}:{A}:hub-content/my-hub/ModelReference/meta-textgeneration-llama-3-2-1b"
    assert p.allows("sagemaker:DescribeHubContent", ref)
    assert p.allows("sagemaker:TrainHubModel", f"arn:aws:sagemaker:{R}:{A}:hub/my-hub")
    assert not p.allows("sagemaker:DescribeHubContent", ref.replace("my-hub", "other-hub"))
    assert not p.allows("sagemaker:ListHubContentVersions", ref), "unused by hubtune: not granted"
    assert p.allows("iam:PassRole", CREATED_TRAINING_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert not p.allows("iam:PassRole", CREATED_TRAINING_ROLE, {"iam:PassedToService": "ec2.amazonaws.com"})
    assert not p.allows("iam:PassRole", GIVEN_TRAINING_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert p.allows("s3:GetObject", f"{B}/datasets/chat/2025-06-01/_SUCCESS")
    assert p.allows("s3:GetObject", ROUTES)
    assert not p.allows("s3:GetObject", "arn:aws:s3:::cfg-bkt/conf/other.toml")
    assert not p.allows("s3:PutObject", f"{B}/datasets/chat/x.jsonl"), "never writes where it listens"
    assert not p.allows("s3:DeleteObject", f"{B}/datasets/chat/x.jsonl")
    assert not p.allows("s3:GetObject", f"{B}/hubtune/output/chat/latest.json")
    assert p.allows("s3:PutObject", f"{B}/hubtune/state/runs/hubtune-chat-0123.json")
    assert p.allows("s3:PutObject", f"{B}/hubtune/state/manifests/hubtune-chat-0123.manifest")
    assert p.allows("s3:DeleteObject", f"{B}/hubtune/state/queue/chat/20250601T120000-abc.json")
    assert not p.allows("s3:DeleteObject", f"{B}/hubtune/state/runs/hubtune-chat-0123.json")
    assert not p.allows("s3:DeleteObject", f"{B}/hubtune/state/slots/chat.json")
    assert p.allows("s3:ListBucket", B, {"s3:prefix": "datasets/chat/2025-06-01/"})
    assert p.allows("s3:ListBucket", B, {"s3:prefix": "hubtune/state/queue/chat/"})
    assert not p.allows("s3:ListBucket", B, {"s3:prefix": ""})
    assert not p.allows("s3:ListBucket", B), "listing the whole bucket (no prefix) is denied"
    assert not p.allows("s3:ListBucket", B, {"s3:prefix": "hubtune/output/"})
    assert p.allows("events:PutEvents", BUS)
    assert not p.allows("events:PutEvents", f"arn:aws:events:{R}:{A}:event-bus/default")
    assert not p.allows("events:PutEvents", f"arn:aws:events:{R}:{A}:event-bus/hubtune-other")
    assert p.allows("sqs:ReceiveMessage", queue("LaunchQueue"))
    assert not p.allows("sqs:ReceiveMessage", queue("TrainingStateQueue"))
    assert not p.allows("sqs:SendMessage", queue("LaunchQueue"))


def test_training_state_cases(resolver):
    p = _policy(resolver, "TrainingStateRole")
    job = f"arn:aws:sagemaker:{R}:{A}:training-job/hubtune-chat-0123456789abcdef"
    assert p.allows("sagemaker:DescribeTrainingJob", job)
    assert p.allows("sagemaker:ListTags", job)
    assert not p.allows("sagemaker:CreateTrainingJob", job), "only launch-finetune launches"
    assert not p.allows("iam:PassRole", CREATED_TRAINING_ROLE, {"iam:PassedToService": "sagemaker.amazonaws.com"})
    assert p.allows("s3:GetObject", f"{B}/hubtune/state/runs/hubtune-chat-0123.json")
    assert p.allows("s3:PutObject", f"{B}/hubtune/state/slots/chat.json")
    assert not p.allows("s3:DeleteObject", f"{B}/hubtune/state/queue/chat/x.json")
    assert not p.allows("s3:GetObject", f"{B}/datasets/chat/x.jsonl")
    assert p.allows("s3:ListBucket", B, {"s3:prefix": "hubtune/state/runs/"})
    assert not p.allows("s3:ListBucket", B, {"s3:prefix": "datasets/"})
    assert p.allows("s3:GetObject", ROUTES)
    assert p.allows("events:PutEvents", BUS)


def test_publish_artifact_cases(resolver):
    p = _policy(resolver, "PublishArtifactRole")
    job = f"arn:aws:sagemaker:{R}:{A}:training-job/hubtune-chat-0123456789abcdef"
    assert p.allows("sagemaker:DescribeTrainingJob", job)
    assert not p.allows("sagemaker:ListTags", job)
    assert p.allows("s3:GetObject", f"{B}/hubtune/output/chat/hubtune-chat-0123/output/model.tar.gz")
    assert p.allows("s3:PutObject", f"{B}/hubtune/output/chat/latest.json")
    assert p.allows("s3:PutObject", f"{B}/hubtune/output/chat/hubtune-chat-0123/manifest.json")
    assert not p.allows("s3:DeleteObject", f"{B}/hubtune/output/chat/latest.json")
    assert p.allows("s3:PutObject", f"{B}/hubtune/state/runs/hubtune-chat-0123.json")
    assert not p.allows("s3:GetObject", f"{B}/datasets/chat/x.jsonl")
    assert not p.allows("s3:PutObject", f"{B}/datasets/chat/x.jsonl")
    assert p.allows("s3:ListBucket", B, {"s3:prefix": "hubtune/output/chat/"})
    assert not p.allows("s3:ListBucket", B, {"s3:prefix": "datasets/"})
    assert p.allows("events:PutEvents", BUS)
    # No group asked for: nothing of the registry.
    assert not p.allows("sagemaker:CreateModelPackage", f"arn:aws:sagemaker:{R}:{A}:model-package/any/1")
    assert not resolver.exists("ModelPackageGroup")


def test_publish_artifact_registers_in_the_stacks_group_only(template):
    resolver = cfn.Resolver(template, {"ModelPackageGroupName": "support-bot-models"})
    assert resolver.exists("ModelPackageGroup")
    p = _policy(resolver, "PublishArtifactRole")
    group = f"arn:aws:sagemaker:{R}:{A}:model-package-group/support-bot-models"
    assert p.allows("sagemaker:CreateModelPackage", group)
    assert p.allows("sagemaker:CreateModelPackage", f"arn:aws:sagemaker:{R}:{A}:model-package/support-bot-models/3")
    assert not p.allows("sagemaker:CreateModelPackage", f"arn:aws:sagemaker:{R}:{A}:model-package/other/1")
    assert not p.allows("sagemaker:UpdateModelPackage", f"arn:aws:sagemaker:{R}:{A}:model-package/support-bot-models/3")
    assert not p.allows("sagemaker:DeleteModelPackageGroup", group)
    assert p.allows("sagemaker:DescribeHubContent", f"arn:aws:sagemaker:{R}:{A}:hub-content/my-hub/ModelReference/m/1")
    assert not p.allows("sagemaker:TrainHubModel", f"arn:aws:sagemaker:{R}:{A}:hub/my-hub")


def test_training_role_cases(resolver):
    p = _policy(resolver, "TrainingRole")
    assert p.allows("s3:GetObject", f"{B}/datasets/chat/2025-06-01/train.jsonl")
    assert p.allows("s3:GetObject", f"{B}/hubtune/state/manifests/hubtune-chat-0123.manifest")
    assert not p.allows("s3:GetObject", f"{B}/hubtune/state/runs/hubtune-chat-0123.json")
    assert not p.allows("s3:PutObject", f"{B}/hubtune/state/manifests/x")
    assert not p.allows("s3:PutObject", f"{B}/datasets/chat/x")
    assert p.allows("s3:PutObject", f"{B}/hubtune/output/chat/hubtune-chat-0123/output/model.tar.gz")
    assert not p.allows("s3:GetObject", f"{B}/hubtune/output/chat/latest.json")
    # A spot job restarted after an interruption reads back what it checkpointed.
    assert p.allows("s3:PutObject", f"{B}/hubtune/checkpoints/chat/hubtune-chat-0123/checkpoint-100.pt")
    assert p.allows("s3:GetObject", f"{B}/hubtune/checkpoints/chat/hubtune-chat-0123/checkpoint-100.pt")
    assert p.allows("s3:ListBucket", B, {"s3:prefix": "hubtune/checkpoints/chat/hubtune-chat-0123/"})
    assert not p.allows("s3:ListBucket", B, {"s3:prefix": "hubtune/state/"})
    assert not p.allows("s3:DeleteObject", f"{B}/hubtune/checkpoints/chat/x")
    assert not p.allows("s3:GetObject", "arn:aws:s3:::some-other-bucket/x")
    assert p.allows("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"})
    assert not p.allows("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Custom/Anything"})
    assert p.allows("ecr:BatchGetImage", "arn:aws:ecr:us-east-1:763104351884:repository/huggingface-pytorch-training")
    assert not p.allows("ecr:BatchGetImage", f"arn:aws:ecr:us-east-1:{A}:repository/private")
    assert not p.allows("ec2:CreateNetworkInterface", f"arn:aws:ec2:{R}:{A}:network-interface/*"), "no VPC given"
    logs = f"arn:aws:logs:{R}:{A}:log-group:/aws/sagemaker/TrainingJobs"
    assert p.allows("logs:PutLogEvents", f"{logs}:log-stream:hubtune-chat-0123/algo-1")
    assert not p.allows("logs:PutLogEvents", f"arn:aws:logs:{R}:{A}:log-group:/aws/lambda/x:log-stream:y")


def test_vpc_permissions_are_scoped_to_the_vpc(template):
    p = _policy(cfn.Resolver(template, {"TrainingVpcId": VPC}), "TrainingRole")
    eni = f"arn:aws:ec2:{R}:{A}:network-interface/*"
    assert p.allows("ec2:CreateNetworkInterface", eni, {"ec2:Vpc": f"arn:aws:ec2:{R}:{A}:vpc/{VPC}"})
    assert not p.allows("ec2:CreateNetworkInterface", eni, {"ec2:Vpc": f"arn:aws:ec2:{R}:{A}:vpc/vpc-other"})


# ---------------------------------------------------------------------------------------------------------------
# The "*" audit, over the raw template and both sides of every Fn::If
# ---------------------------------------------------------------------------------------------------------------
# Sid -> the only actions that statement may hold. Each needs Resource "*" because the service offers no
# resource-level permission for it, and the template says so in a comment right above the statement.
STAR_RESOURCE_ALLOWED = {
    "GetEcrAuthorizationToken": {"ecr:GetAuthorizationToken"},
    "PutTrainingMetrics": {"cloudwatch:PutMetricData"},
    "WriteTraces": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
    # Only present when TrainingVpcId is given (EC2 Describe* has no resource-level permissions).
    "DescribeTrainingNetwork": {
        "ec2:DescribeNetworkInterfaces", "ec2:DescribeVpcs", "ec2:DescribeDhcpOptions", "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    },
}


def _raw_identity_statements(template):
    for lid, res in template["Resources"].items():
        if res["Type"] != "AWS::IAM::Role":
            continue
        for policy in res["Properties"].get("Policies", []):
            for st in cfn.all_branches(policy["PolicyDocument"]["Statement"]):
                yield lid, st


def test_no_wildcard_actions_anywhere(template):
    count = 0
    for lid, st in _raw_identity_statements(template):
        count += 1
        assert "NotAction" not in st and "NotResource" not in st, (lid, st)
        for action in cfn.as_list(st["Action"]):
            assert isinstance(action, str) and "*" not in action and "?" not in action, (lid, st.get("Sid"), action)
    assert count >= 30


def test_star_resources_only_where_the_service_requires_it(template, template_text):
    seen = set()
    lines = template_text.splitlines()
    for lid, st in _raw_identity_statements(template):
        resources = cfn.as_list(st["Resource"])
        if "*" not in resources:
            for r in resources:
                assert r != "*", (lid, st)
            continue
        sid = st.get("Sid")
        assert sid in STAR_RESOURCE_ALLOWED, f"{lid}: statement {sid} has Resource '*'"
        assert resources == ["*"], (lid, sid)
        assert set(cfn.as_list(st["Action"])) == STAR_RESOURCE_ALLOWED[sid], (lid, sid)
        seen.add(sid)
        # The justifying comment: within the 6 lines above the statement's Sid.
        index = next(i for i, line in enumerate(lines) if re.search(rf"Sid: {sid}\s*$", line))
        above = "\n".join(line.strip() for line in lines[max(0, index - 6):index])
        assert "# Resource \"*\" required by the service" in above, f"{sid}: no justifying comment above it"
    assert seen == set(STAR_RESOURCE_ALLOWED)


def test_cloudwatch_metrics_statement_is_namespace_bound(resolver):
    st = next(s for s in cfn.role_statements(resolver, "TrainingRole") if s["Sid"] == "PutTrainingMetrics")
    assert st["Condition"] == {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/TrainingJobs"}}


def test_star_resources_absent_without_optional_features(resolver):
    """With defaults, the only '*' resources are the two the training role and the functions' traces need."""
    stars = set()
    for role in ("LaunchFinetuneRole", "TrainingStateRole", "PublishArtifactRole", "TrainingRole"):
        for st in cfn.role_statements(resolver, role):
            if "*" in cfn.as_list(st["Resource"]):
                stars.add((role, st["Sid"]))
    assert stars == {
        ("TrainingRole", "GetEcrAuthorizationToken"),
        ("TrainingRole", "PutTrainingMetrics"),
        ("LaunchFinetuneRole", "WriteTraces"),
        ("TrainingStateRole", "WriteTraces"),
        ("PublishArtifactRole", "WriteTraces"),
    }


# ---------------------------------------------------------------------------------------------------------------
# Resource policies: services only, each bound to this stack's rules or alarms
# ---------------------------------------------------------------------------------------------------------------
def test_queue_policies_allow_only_their_rules(resolver):
    rule_arn = lambda lid: resolver.resolve({"Fn::GetAtt": [lid, "Arn"]})  # noqa: E731
    expected = {
        "LaunchQueuePolicy": ("LaunchQueue", ["DatasetObjectCreatedRule", "RouteSlotFreedRule"]),
        "TrainingStateQueuePolicy": ("TrainingStateQueue", ["TrainingJobStateChangeRule"]),
        "SweepQueuePolicy": ("SweepQueue", ["SweepScheduleRule"]),
        "PublishQueuePolicy": ("PublishQueue", ["TrainingRunFinishedRule"]),
        "RuleTargetDeadLetterQueuePolicy": (
            "RuleTargetDeadLetterQueue",
            ["DatasetObjectCreatedRule", "RouteSlotFreedRule", "TrainingJobStateChangeRule", "SweepScheduleRule",
             "TrainingRunFinishedRule", "NotificationRule"],
        ),
    }
    policies = resolver.resources("AWS::SQS::QueuePolicy")
    assert set(policies) == set(expected)
    for lid, (queue_id, rules) in expected.items():
        props = resolver.props(lid)
        assert props["Queues"] == [resolver.resolve({"Ref": queue_id})]
        by_sid = {st["Sid"]: st for st in props["PolicyDocument"]["Statement"]}
        allow = "AllowHubtuneRuleDeadLetters" if queue_id == "RuleTargetDeadLetterQueue" else "AllowHubtuneRules"
        assert set(by_sid) == {allow, "DenyOtherSenders"}, "one Allow for the rules, one Deny for the rest"
        st = by_sid[allow]
        assert st["Effect"] == "Allow"
        assert st["Principal"] == {"Service": "events.amazonaws.com"}
        assert st["Action"] == "sqs:SendMessage"
        assert st["Resource"] == queue(queue_id)
        assert st["Condition"] == {"ArnEquals": {"aws:SourceArn": [rule_arn(r) for r in rules]}}


def test_topic_policy(resolver):
    (lid,) = resolver.resources("AWS::SNS::TopicPolicy")
    statements = resolver.props(lid)["PolicyDocument"]["Statement"]
    topic = resolver.resolve({"Ref": "NotificationTopic"})
    by_sid = {s["Sid"]: s for s in statements}
    assert set(by_sid) == {"AllowNotificationRule", "AllowStackAlarms"}
    rule = by_sid["AllowNotificationRule"]
    assert rule["Principal"] == {"Service": "events.amazonaws.com"}
    assert rule["Action"] == "sns:Publish" and rule["Resource"] == topic
    assert rule["Condition"] == {"ArnEquals": {"aws:SourceArn": f"arn:aws:events:{R}:{A}:rule/hubtune/NotificationRule"}}
    alarms = by_sid["AllowStackAlarms"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert alarms["Action"] == "sns:Publish" and alarms["Resource"] == topic
    assert alarms["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{R}:{A}:alarm:{cfn.STACK}-*"},
        "StringEquals": {"aws:SourceAccount": A},
    }
    # ... and every alarm's name is covered by that pattern.
    for alarm in resolver.resources("AWS::CloudWatch::Alarm"):
        assert resolver.props(alarm)["AlarmName"].startswith(f"{cfn.STACK}-"), alarm


def test_bucket_policy_denies_insecure_transport(resolver):
    props = resolver.props("DatasetBucketPolicy")
    st = next(s for s in props["PolicyDocument"]["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert st == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [B, f"{B}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
