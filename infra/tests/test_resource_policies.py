"""Resource policies (issue 13, items 1, 3 and 7): every Deny, case by case through cfn.Policy.

- The bucket: writes to the state, output and checkpoint prefixes and to the routes file only by hubtune's roles
  (and AdminRoleArn); the training role writes outputs and checkpoints only; nothing without TLS.
- The hubtune bus: events with source "hubtune" only from hubtune's function roles.
- The queues: SendMessage only from each queue's own rules, hubtune's roles and AdminRoleArn.
- The notification topic: encrypted with a customer managed key that EventBridge and CloudWatch may use.

A principal is its role ARN in aws:PrincipalArn (what IAM puts there for any session of the role); a service
delivering for a rule has no aws:PrincipalArn and carries the rule's ARN in aws:SourceArn.
"""

import pytest

import cfn

A = cfn.ACCOUNT
R = cfn.REGION
BUCKET = cfn.REQUIRED_PARAMS["DatasetBucketName"]
B = f"arn:aws:s3:::{BUCKET}"
ROUTES_IN_BUCKET = f"s3://{BUCKET}/hubtune/hubtune.toml"
ADMIN = f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_*"
ADMIN_SESSION_ROLE = f"arn:aws:iam::{A}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123abcd"
OTHER_ROLE = f"arn:aws:iam::{A}:role/DataScientist"  # broad S3/SQS/EventBridge rights in the account
GIVEN_TRAINING_ROLE = f"arn:aws:iam::{A}:role/team/MySageMakerRole"
WRITES = ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutObjectAcl", "s3:PutObjectTagging",
          "s3:ReplicateObject"]


def role(resolver, lid):
    return resolver.resolve({"Fn::GetAtt": [lid, "Arn"]})


def bucket_policy(resolver):
    return cfn.Policy(resolver.props("DatasetBucketPolicy")["PolicyDocument"]["Statement"])


def _tls(principal):
    return {"aws:PrincipalArn": principal, "aws:SecureTransport": "true"}


def _writers(resolver):
    return {
        "launch": role(resolver, "LaunchFinetuneRole"),
        "state": role(resolver, "TrainingStateRole"),
        "publish": role(resolver, "PublishArtifactRole"),
        "training": role(resolver, "TrainingRole") if resolver.exists("TrainingRole")
        else resolver.params["TrainingRoleArn"],
        "admin": ADMIN_SESSION_ROLE,
        "other": OTHER_ROLE,
    }


# (key, principals whose writes are NOT denied) with AdminRoleArn set; without it, "admin" is denied too.
BUCKET_CASES = [
    ("hubtune/state/runs/hubtune-chat-0123.json", {"launch", "state", "publish", "admin"}),
    ("hubtune/state/queue/chat/20250601-abc.json", {"launch", "state", "publish", "admin"}),
    ("hubtune/state/slots/chat.json", {"launch", "state", "publish", "admin"}),
    ("hubtune/state/manifests/hubtune-chat-0123.manifest", {"launch", "state", "publish", "admin"}),
    ("hubtune/output/chat/latest.json", {"launch", "state", "publish", "training", "admin"}),
    ("hubtune/output/chat/hubtune-chat-0123/output/model.tar.gz",
     {"launch", "state", "publish", "training", "admin"}),
    ("hubtune/checkpoints/chat/hubtune-chat-0123/checkpoint-1.pt", {"training", "admin"}),
    ("hubtune/hubtune.toml", {"launch", "state", "publish", "admin"}),
    # Datasets are uploaded by people and pipelines: the bucket policy leaves them to IAM.
    ("datasets/chat/2025-06-01/train.jsonl", {"launch", "state", "publish", "training", "admin", "other"}),
]


@pytest.mark.parametrize("admin", [True, False])
@pytest.mark.parametrize("key, allowed", BUCKET_CASES)
def test_bucket_policy_denies_writes_to_all_but_hubtune(template, key, allowed, admin):
    params = {"RoutesFileUri": ROUTES_IN_BUCKET, **({"AdminRoleArn": ADMIN} if admin else {})}
    resolver = cfn.Resolver(template, params)
    policy = bucket_policy(resolver)
    allowed = allowed if admin or key.startswith("datasets/") else allowed - {"admin"}
    for who, principal in _writers(resolver).items():
        for action in WRITES:
            denied = policy.denies(action, f"{B}/{key}", _tls(principal))
            assert denied is (who not in allowed), (who, action, key)
        # Reading is never what the policy is about.
        assert not policy.denies("s3:GetObject", f"{B}/{key}", _tls(principal)), (who, key)


def test_bucket_policy_follows_a_given_training_role_and_prefixes(template):
    resolver = cfn.Resolver(template, {"TrainingRoleArn": GIVEN_TRAINING_ROLE, "OutputPrefix": "models/",
                                       "CheckpointPrefix": "ckpt/", "StatePrefix": "ops/state/"})
    policy = bucket_policy(resolver)
    assert not policy.denies("s3:PutObject", f"{B}/models/chat/latest.json", _tls(GIVEN_TRAINING_ROLE))
    assert not policy.denies("s3:PutObject", f"{B}/ckpt/chat/x.pt", _tls(GIVEN_TRAINING_ROLE))
    assert policy.denies("s3:PutObject", f"{B}/ops/state/runs/x.json", _tls(GIVEN_TRAINING_ROLE))
    assert policy.denies("s3:PutObject", f"{B}/models/chat/latest.json", _tls(OTHER_ROLE))
    assert not policy.denies("s3:PutObject", f"{B}/hubtune/output/x", _tls(OTHER_ROLE)), "the old prefix is free"


def test_routes_file_elsewhere_is_not_named_by_this_bucket(template):
    """A bucket policy may only name its own bucket's objects: with the routes file in another bucket (the test
    default, s3://cfg-bkt/...) there is no routes-file statement at all."""
    elsewhere = cfn.Resolver(template)
    sids = {st["Sid"] for st in elsewhere.props("DatasetBucketPolicy")["PolicyDocument"]["Statement"]}
    assert sids == {"DenyInsecureTransport", "DenyStateWritesByOthers", "DenyOutputWritesByOthers",
                    "DenyCheckpointWritesByOthers"}
    here = cfn.Resolver(template, {"RoutesFileUri": ROUTES_IN_BUCKET})
    statements = here.props("DatasetBucketPolicy")["PolicyDocument"]["Statement"]
    (routes,) = [st for st in statements if st["Sid"] == "DenyRoutesFileWritesByOthers"]
    assert routes["Resource"] == f"{B}/hubtune/hubtune.toml"
    for st in statements:
        for resource in cfn.as_list(st["Resource"]):
            assert resource == B or resource.startswith(f"{B}/"), (st["Sid"], resource)


def test_bucket_policy_denies_every_request_without_tls(resolver):
    policy = bucket_policy(resolver)
    launcher = role(resolver, "LaunchFinetuneRole")
    insecure = {"aws:PrincipalArn": launcher, "aws:SecureTransport": "false"}
    assert policy.denies("s3:GetObject", f"{B}/datasets/chat/x.jsonl", insecure)
    assert policy.denies("s3:ListBucket", B, insecure)
    assert policy.denies("s3:PutObject", f"{B}/hubtune/state/runs/x.json", insecure)
    assert not policy.denies("s3:GetObject", f"{B}/datasets/chat/x.jsonl", _tls(launcher))


def test_bucket_policy_uses_principal_arn_conditions_not_not_principal(resolver):
    for st in resolver.props("DatasetBucketPolicy")["PolicyDocument"]["Statement"]:
        assert st["Effect"] == "Deny" and st["Principal"] == "*" and "NotPrincipal" not in st, st["Sid"]
        if st["Sid"] != "DenyInsecureTransport":
            assert set(st["Condition"]) == {"StringNotLike"}, st["Sid"]
            assert set(st["Condition"]["StringNotLike"]) == {"aws:PrincipalArn"}, st["Sid"]


# ---------------------------------------------------------------------------------------------------------------
# The hubtune bus
# ---------------------------------------------------------------------------------------------------------------
def bus_policy(resolver):
    return cfn.Policy(resolver.props("HubtuneEventBus")["Policy"]["Statement"])


@pytest.mark.parametrize(
    "principal, sources, denied",
    [
        ("LaunchFinetuneRole", ["hubtune"], False),
        ("TrainingStateRole", ["hubtune"], False),
        ("PublishArtifactRole", ["hubtune"], False),
        (OTHER_ROLE, ["hubtune"], True),
        (OTHER_ROLE, ["com.example.app", "hubtune"], True),
        (ADMIN_SESSION_ROLE, ["hubtune"], True),
        (f"arn:aws:iam::210987654321:role/Attacker", ["hubtune"], True),
        (OTHER_ROLE, ["com.example.app"], False),  # the bus is open to other sources; their rules ignore them
    ],
)
def test_only_hubtunes_roles_put_hubtune_events(template, principal, sources, denied):
    resolver = cfn.Resolver(template, {"AdminRoleArn": ADMIN})
    bus = f"arn:aws:events:{R}:{A}:event-bus/hubtune"
    arn = role(resolver, principal) if principal in resolver.template["Resources"] else principal
    ctx = {"aws:PrincipalArn": arn, "events:source": sources}
    assert bus_policy(resolver).denies("events:PutEvents", bus, ctx) is denied


def test_the_rules_that_consume_hubtune_events_match_its_source(resolver):
    for lid in ("RouteSlotFreedRule", "TrainingRunFinishedRule", "NotificationRule"):
        props = resolver.props(lid)
        assert props["EventBusName"] == "hubtune", lid
        assert props["EventPattern"]["source"] == ["hubtune"], lid


def test_the_source_is_the_one_hubtune_sends():
    events = (cfn.INFRA.parent / "shared" / "src" / "domain" / "events.rs").read_text(encoding="utf-8")
    assert 'pub const SOURCE: &str = "hubtune";' in events


# ---------------------------------------------------------------------------------------------------------------
# The queues
# ---------------------------------------------------------------------------------------------------------------
QUEUE_RULES = {
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
ALL_RULES = sorted({r for _, rules in QUEUE_RULES.values() for r in rules})


@pytest.mark.parametrize("admin", [True, False])
@pytest.mark.parametrize("policy_id", sorted(QUEUE_RULES))
def test_queues_accept_only_their_rules_hubtune_and_the_admin(template, policy_id, admin):
    resolver = cfn.Resolver(template, {"AdminRoleArn": ADMIN} if admin else {})
    queue_id, rules = QUEUE_RULES[policy_id]
    policy = cfn.Policy(resolver.props(policy_id)["PolicyDocument"]["Statement"])
    queue = f"arn:aws:sqs:{R}:{A}:{queue_id}"

    def denied(ctx):
        return policy.denies("sqs:SendMessage", queue, ctx)

    for rule in ALL_RULES:
        rule_arn = resolver.resolve({"Fn::GetAtt": [rule, "Arn"]})
        assert denied({"aws:SourceArn": rule_arn}) is (rule not in rules), (queue_id, rule)
        assert policy.allows("sqs:SendMessage", queue, {"aws:SourceArn": rule_arn}) is (rule in rules)
    assert denied({"aws:SourceArn": f"arn:aws:events:{R}:210987654321:rule/forged"})
    for lid in ("LaunchFinetuneRole", "TrainingStateRole", "PublishArtifactRole"):
        assert not denied({"aws:PrincipalArn": role(resolver, lid)}), (queue_id, lid)
    assert denied({"aws:PrincipalArn": OTHER_ROLE})
    assert denied({"aws:PrincipalArn": ADMIN_SESSION_ROLE}) is not admin, "hubtune redrive runs as the admin"


# ---------------------------------------------------------------------------------------------------------------
# The notification topic's key
# ---------------------------------------------------------------------------------------------------------------
def test_topic_is_encrypted_with_a_key_the_stack_creates_by_default(template, resolver):
    assert resolver.exists("NotificationTopicKey")
    key = resolver.props("NotificationTopicKey")
    assert key["EnableKeyRotation"] is True
    assert resolver.props("NotificationTopic")["KmsMasterKeyId"] == role(resolver, "NotificationTopicKey")
    by_sid = {st["Sid"]: st for st in key["KeyPolicy"]["Statement"]}
    assert set(by_sid) == {"EnableAccountAdministration", "AllowEventBridgeAndAlarmsToPublish"}
    publish = by_sid["AllowEventBridgeAndAlarmsToPublish"]
    assert publish["Principal"] == {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]}
    assert sorted(publish["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert by_sid["EnableAccountAdministration"]["Principal"] == {"AWS": f"arn:aws:iam::{A}:root"}


def test_a_given_key_replaces_the_created_one(template):
    key = f"arn:aws:kms:{R}:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    given = cfn.Resolver(template, {"KmsKeyArn": key})
    assert not given.exists("NotificationTopicKey")
    assert given.props("NotificationTopic")["KmsMasterKeyId"] == key
