"""Wiring of infra/template.yaml: rules -> queues -> functions, failure handling, alarms, logs, bucket.

The logical ids checked here are a contract with the local stack (docs/local-stack-contract.md), which provisions
the queues, the bus and the rules from this template.
"""

import re

import pytest

import cfn

FUNCTIONS = {
    # function logical id: (binary, queue, dead-letter queue, log group)
    "LaunchFinetuneFunction": ("launch-finetune", "LaunchQueue", "LaunchDeadLetterQueue", "LaunchFinetuneLogGroup"),
    "TrainingStateFunction": (
        "training-state", "TrainingStateQueue", "TrainingStateDeadLetterQueue", "TrainingStateLogGroup",
    ),
    "PublishArtifactFunction": (
        "publish-artifact", "PublishQueue", "PublishDeadLetterQueue", "PublishArtifactLogGroup",
    ),
}
QUEUES = {
    "LaunchQueue", "LaunchDeadLetterQueue", "TrainingStateQueue", "TrainingStateDeadLetterQueue", "PublishQueue",
    "PublishDeadLetterQueue", "RuleTargetDeadLetterQueue", "SweepQueue", "SweepDeadLetterQueue",
}
DEAD_LETTER_QUEUES = {"LaunchDeadLetterQueue", "TrainingStateDeadLetterQueue", "PublishDeadLetterQueue",
                      "RuleTargetDeadLetterQueue", "SweepDeadLetterQueue"}
# Queues a function reads besides its own (FUNCTIONS): training-state's sweep ticks (test_sweep_queue.py).
EXTRA_QUEUES = {"SweepQueue": ("TrainingStateFunction", "SweepDeadLetterQueue")}
RULES = {
    # rule: (bus: None = default, target logical id)
    "DatasetObjectCreatedRule": (None, "LaunchQueue"),
    "RouteSlotFreedRule": ("EventBusName", "LaunchQueue"),
    "TrainingJobStateChangeRule": (None, "TrainingStateQueue"),
    "SweepScheduleRule": (None, "SweepQueue"),
    "TrainingRunFinishedRule": ("EventBusName", "PublishQueue"),
    "NotificationRule": ("EventBusName", "NotificationTopic"),
}
ENV_VARS = {
    "HUBTUNE_CONFIG", "HUBTUNE_BUCKET", "HUBTUNE_STATE_PREFIX", "HUBTUNE_OUTPUT_PREFIX", "HUBTUNE_DATASET_PREFIX",
    "HUBTUNE_JOB_PREFIX", "HUBTUNE_EVENT_BUS", "HUBTUNE_DEPLOYMENT", "HUBTUNE_TRAINING_ROLE_ARN", "RUST_LOG",
    "HUBTUNE_ALLOWED_INSTANCE_TYPES", "HUBTUNE_MAX_RUNTIME_CAP_SECONDS", "HUBTUNE_ALLOWED_TAG_KEYS",
    "HUBTUNE_REQUIRE_NETWORK_ISOLATION", "HUBTUNE_REQUIRED_SUBNETS", "HUBTUNE_DELIVERED_MARKERS",
}


def resources_of(template, kind):
    return {lid: res for lid, res in template["Resources"].items() if res["Type"] == kind}


def test_template_parses_with_cloudformation_tags(template):
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    assert template["Resources"]["LaunchQueue"]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["LaunchDeadLetterQueue", "Arn"]
    }


def test_template_parses_with_cfn_lint_decoder():
    decode = pytest.importorskip("cfnlint.decode")
    parsed, matches = decode.decode(str(cfn.TEMPLATE_PATH))
    assert not matches, matches
    assert set(parsed["Resources"]) == set(cfn.load()["Resources"])


def test_logical_ids_of_the_contract(template):
    assert set(resources_of(template, "AWS::SQS::Queue")) == QUEUES
    assert set(resources_of(template, "AWS::Events::Rule")) == set(RULES)
    assert set(resources_of(template, "AWS::Events::EventBus")) == {"HubtuneEventBus"}
    assert set(resources_of(template, "AWS::Serverless::Function")) == set(FUNCTIONS)
    assert set(resources_of(template, "AWS::SNS::Topic")) == {"NotificationTopic"}
    bus = template["Resources"]["HubtuneEventBus"]["Properties"]
    assert bus["Name"] == {"Ref": "EventBusName"} and set(bus) == {"Name", "Policy"}


def test_every_rule_target_has_retry_policy_and_dead_letter_config(template):
    for lid, res in resources_of(template, "AWS::Events::Rule").items():
        targets = res["Properties"]["Targets"]
        assert targets, lid
        for target in targets:
            assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RuleTargetDeadLetterQueue", "Arn"]}}, lid
            retry = target["RetryPolicy"]
            assert 0 < retry["MaximumRetryAttempts"] <= 185, lid
            assert 60 <= retry["MaximumEventAgeInSeconds"] <= 86400, lid


def test_rules_deliver_where_the_design_says(template):
    for lid, (bus, target_id) in RULES.items():
        res = template["Resources"][lid]
        props = res["Properties"]
        assert props["State"] == "ENABLED", lid
        if bus is None:
            assert "EventBusName" not in props, f"{lid} belongs on the default bus"
        else:
            assert props["EventBusName"] == {"Ref": bus}, lid
            # The bus is named by the parameter (which the local stack resolves), so the dependency is explicit.
            assert res.get("DependsOn") in ("HubtuneEventBus", ["HubtuneEventBus"]), lid
        (target,) = props["Targets"]
        if target_id == "NotificationTopic":
            assert target["Arn"] == {"Ref": "NotificationTopic"}
        else:
            assert target["Arn"] == {"Fn::GetAtt": [target_id, "Arn"]}, lid
        assert target["Id"] == target_id


def test_event_patterns(resolver, template):
    p = lambda lid: resolver.props(lid).get("EventPattern")  # noqa: E731
    assert p("DatasetObjectCreatedRule") == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": ["data-bkt"]}, "object": {"key": [{"wildcard": "datasets/*_SUCCESS"}]}},
    }
    every_object = cfn.Resolver(template, {"MarkerSuffix": ""})
    assert every_object.props("DatasetObjectCreatedRule")["EventPattern"]["detail"]["object"]["key"] == [
        {"prefix": "datasets/"}
    ]
    assert p("RouteSlotFreedRule") == {"source": ["hubtune"], "detail-type": ["Route Slot Freed"]}
    assert p("TrainingJobStateChangeRule") == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Training Job State Change"],
        "detail": {"TrainingJobName": [{"prefix": "hubtune-"}]},
    }
    other_prefix = cfn.Resolver(template, {"JobPrefix": "ft-team2"})
    assert other_prefix.props("TrainingJobStateChangeRule")["EventPattern"]["detail"]["TrainingJobName"] == [
        {"prefix": "ft-team2-"}
    ]
    assert p("TrainingRunFinishedRule") == {"source": ["hubtune"], "detail-type": ["Training Run Finished"]}
    assert p("NotificationRule") == {
        "source": ["hubtune"],
        "detail-type": ["Model Published", "Fine-tune Failed", "Dataset Rejected", "Dataset Queued"],
    }
    sweep = resolver.props("SweepScheduleRule")
    assert sweep["ScheduleExpression"] == "rate(5 minutes)" and "EventPattern" not in sweep


def _wildcard(pattern: str, value: str) -> bool:
    """EventBridge `wildcard`: '*' matches any run of characters, including '/'."""
    return re.fullmatch(".*".join(re.escape(part) for part in pattern.split("*")), value) is not None


@pytest.mark.parametrize(
    "key, fires",
    [
        ("datasets/chat/2025-06-01/_SUCCESS", True),
        ("datasets/chat/a b/c#d/_SUCCESS", True),
        ("datasets/chat/2025-06-01/train.jsonl", False),
        ("datasets/chat/2025-06-01/_SUCCESS.tmp", False),
        ("hubtune/state/queue/chat/_SUCCESS", False),
        ("hubtune/output/chat/_SUCCESS", False),
    ],
)
def test_marker_wildcard_semantics(resolver, key, fires):
    (entry,) = resolver.props("DatasetObjectCreatedRule")["EventPattern"]["detail"]["object"]["key"]
    assert _wildcard(entry["wildcard"], key) is fires


def test_notification_rule_makes_a_subject_line_and_a_short_body(template):
    (target,) = template["Resources"]["NotificationRule"]["Properties"]["Targets"]
    transformer = target["InputTransformer"]
    paths = transformer["InputPathsMap"]
    assert paths["subject"] == "$.detail.notification.subject"
    assert paths["summary"] == "$.detail.summary"
    assert paths["results"] == "$.detail.notification.results"
    for field in ("route", "dataset_uri", "job_name", "event_id"):
        assert f"$.detail.{field}" in paths.values(), field
    lines = transformer["InputTemplate"].strip().split("\n")
    # One JSON string per line (SNS, and so the e-mail, gets plain text lines); the subject first, then the body.
    assert len(lines) == 4
    for line in lines:
        assert line.startswith('"') and line.endswith('"') and line.count('"') == 2, line
    assert lines[0] == '"<subject>"'
    assert lines[2] == '"<results>"'
    rendered = "\n".join(lines)
    for name in paths:
        assert f"<{name}>" in rendered, name


def test_function_queues_redrive_to_their_dead_letter_queue(template):
    pairs = [(queue, dlq) for (_, queue, dlq, _) in FUNCTIONS.values()]
    pairs += [(queue, dlq) for queue, (_, dlq) in EXTRA_QUEUES.items()]
    for queue, dlq in pairs:
        redrive = template["Resources"][queue]["Properties"]["RedrivePolicy"]
        assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]}, "maxReceiveCount": 5}, queue
    for dlq in DEAD_LETTER_QUEUES:
        props = template["Resources"][dlq]["Properties"]
        assert "RedrivePolicy" not in props, dlq
        assert props["MessageRetentionPeriod"] == 1209600, f"{dlq} keeps messages the longest SQS allows"


def test_queues_are_encrypted(template):
    for lid in QUEUES:
        assert template["Resources"][lid]["Properties"]["SqsManagedSseEnabled"] is True, lid


def test_functions_read_their_queue_with_partial_batch_failures(template):
    globals_ = template["Globals"]["Function"]
    for fn, (binary, queue, _, _) in FUNCTIONS.items():
        res = template["Resources"][fn]
        props = res["Properties"]
        events = props["Events"]
        queues = {queue} | {q for q, (reader, _) in EXTRA_QUEUES.items() if reader == fn}
        assert {e["Properties"]["Queue"]["Fn::GetAtt"][0] for e in events.values()} == queues, fn
        assert len(events) == len(queues), fn
        for event in events.values():
            assert event["Type"] == "SQS", fn
            ev = event["Properties"]
            assert ev["FunctionResponseTypes"] == ["ReportBatchItemFailures"], fn
            assert 2 <= ev["ScalingConfig"]["MaximumConcurrency"] <= 1000, fn
            assert 1 <= ev["BatchSize"] <= 10, fn
            timeout = props["Timeout"]
            read = ev["Queue"]["Fn::GetAtt"][0]
            visibility = template["Resources"][read]["Properties"]["VisibilityTimeout"]
            assert visibility >= 6 * timeout, f"{read}: VisibilityTimeout {visibility} < 6 x {timeout}"
        assert "Timeout" not in globals_ and "MemorySize" not in globals_, "explicit per function"


def test_functions_build_and_runtime(template):
    globals_ = template["Globals"]["Function"]
    assert globals_["Runtime"] == "provided.al2023"
    assert globals_["Architectures"] == ["arm64"]
    for fn, (binary, _, _, _) in FUNCTIONS.items():
        res = template["Resources"][fn]
        assert res["Metadata"]["BuildMethod"] == "rust-cargolambda", fn
        assert res["Metadata"]["BuildProperties"] == {"Binary": binary}, fn
        props = res["Properties"]
        assert props["CodeUri"] == "../", fn
        assert props["MemorySize"] == 128 and props["Timeout"] == 30, fn
        assert "Runtime" not in props and "Architectures" not in props, f"{fn}: one place for runtime settings"
    assert "chosen from measurement: see docs/benchmarks.md" in cfn.text()


def test_environment_of_every_function(template, resolver):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert set(env) == ENV_VARS
    for fn in FUNCTIONS:
        assert "Environment" not in template["Resources"][fn]["Properties"], f"{fn} overrides the shared env"
    resolved = resolver.resolve(env)
    assert resolved == {
        "HUBTUNE_CONFIG": "s3://cfg-bkt/conf/hubtune.toml",
        "HUBTUNE_BUCKET": "data-bkt",
        "HUBTUNE_STATE_PREFIX": "hubtune/state/",
        "HUBTUNE_OUTPUT_PREFIX": "hubtune/output/",
        "HUBTUNE_DATASET_PREFIX": "datasets/",
        "HUBTUNE_JOB_PREFIX": "hubtune",
        "HUBTUNE_EVENT_BUS": "hubtune",
        "HUBTUNE_DEPLOYMENT": "hubtune",
        "HUBTUNE_TRAINING_ROLE_ARN": f"arn:aws:iam::{cfn.ACCOUNT}:role/{cfn.STACK}-TrainingRole-ABC123",
        "RUST_LOG": "info",
        "HUBTUNE_ALLOWED_INSTANCE_TYPES": "ml.g5.2xlarge,ml.g5.4xlarge,ml.g5.12xlarge",
        "HUBTUNE_MAX_RUNTIME_CAP_SECONDS": "86400",
        "HUBTUNE_ALLOWED_TAG_KEYS": "hubtune:route,hubtune:dataset,hubtune:deployment,",
        "HUBTUNE_REQUIRE_NETWORK_ISOLATION": "false",
        "HUBTUNE_REQUIRED_SUBNETS": "",
        "HUBTUNE_DELIVERED_MARKERS": "_SUCCESS",
    }


def test_log_groups_with_retention(template, resolver):
    assert template["Parameters"]["LogRetentionDays"]["Default"] == 30
    for fn, (binary, _, _, log_group) in FUNCTIONS.items():
        lg = template["Resources"][log_group]
        assert lg["Type"] == "AWS::Logs::LogGroup"
        assert lg["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert resolver.props(log_group)["LogGroupName"] == f"/aws/lambda/{cfn.STACK}-{binary}"
        logging = template["Resources"][fn]["Properties"]["LoggingConfig"]
        assert logging["LogGroup"] == {"Ref": log_group}, fn


def _alarms(resolver):
    return {lid: resolver.props(lid) for lid in resolver.resources("AWS::CloudWatch::Alarm")}


def _dimension(alarm):
    (dim,) = alarm["Dimensions"]
    return dim["Name"], dim["Value"]


def test_alarms_on_dead_letter_queues(resolver):
    topic = resolver.resolve({"Ref": "NotificationTopic"})
    covered = set()
    for lid, alarm in _alarms(resolver).items():
        if alarm["MetricName"] != "ApproximateNumberOfMessagesVisible":
            continue
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold", lid
        assert alarm["AlarmActions"] == [topic], lid
        assert alarm["TreatMissingData"] == "notBreaching", lid
        covered.add(_dimension(alarm)[1])
    assert covered == DEAD_LETTER_QUEUES


def test_alarms_on_queue_age(resolver):
    topic = resolver.resolve({"Ref": "NotificationTopic"})
    covered = set()
    for lid, alarm in _alarms(resolver).items():
        if alarm["MetricName"] != "ApproximateAgeOfOldestMessage":
            continue
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and float(alarm["Threshold"]) > 0, lid
        assert alarm["AlarmActions"] == [topic], lid
        covered.add(_dimension(alarm)[1])
    assert covered == {"LaunchQueue", "TrainingStateQueue", "PublishQueue"}


def test_alarms_on_function_errors(resolver):
    topic = resolver.resolve({"Ref": "NotificationTopic"})
    covered = set()
    for lid, alarm in _alarms(resolver).items():
        if alarm["MetricName"] != "Errors":
            continue
        assert alarm["Namespace"] == "AWS/Lambda"
        assert alarm["Statistic"] == "Sum" and alarm["Threshold"] == 0, lid
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold", lid
        assert alarm["AlarmActions"] == [topic], lid
        covered.add(_dimension(alarm))
    assert covered == {("FunctionName", resolver.resolve({"Ref": fn})) for fn in FUNCTIONS}


def test_deployment_faults_are_counted_from_every_function_and_alarmed(template, resolver):
    filters = [r for r in template["Resources"].values() if r["Type"] == "AWS::Logs::MetricFilter"]
    assert {f["Properties"]["LogGroupName"]["Ref"] for f in filters} == {
        "LaunchFinetuneLogGroup", "TrainingStateLogGroup", "PublishArtifactLogGroup"}
    for f in filters:
        assert f["Properties"]["FilterPattern"] == '{ $.fault = "deployment" }'
        (t,) = f["Properties"]["MetricTransformations"]
        assert t["MetricName"] == "DeploymentFaults"
    alarm = resolver.props("DeploymentFaultsAlarm")
    assert alarm["MetricName"] == "DeploymentFaults" and alarm["Threshold"] == 0
    assert alarm["AlarmActions"] == [resolver.resolve({"Ref": "NotificationTopic"})]


def test_optional_email_subscription(template):
    sub = template["Resources"]["NotificationEmailSubscription"]
    assert sub["Condition"] == "HasNotificationEmail"
    assert sub["Properties"]["Protocol"] == "email"
    assert not cfn.Resolver(template).exists("NotificationEmailSubscription")
    assert cfn.Resolver(template, {"NotificationEmail": "ops@example.com"}).exists("NotificationEmailSubscription")


def test_created_bucket(template, resolver):
    bucket = template["Resources"]["DatasetBucket"]
    assert bucket["Condition"] == "CreateBucket"
    assert bucket["DeletionPolicy"] == "Retain" and bucket["UpdateReplacePolicy"] == "Retain"
    props = resolver.props("DatasetBucket")
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with_kms = cfn.Resolver(template, {"KmsKeyArn": key}).props("DatasetBucket")
    assert with_kms["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}, "BucketKeyEnabled": True}
    ]
    existing = cfn.Resolver(template, {"CreateDatasetBucket": "false"})
    assert not existing.exists("DatasetBucket") and not existing.exists("DatasetBucketPolicy")
    assert template["Resources"]["DatasetBucketPolicy"]["Condition"] == "CreateBucket"


def test_lifecycle_expires_state_but_keeps_young_run_records(template, resolver):
    rules = {r["Id"]: r for r in resolver.props("DatasetBucket")["LifecycleConfiguration"]["Rules"]}
    assert template["Parameters"]["RunRecordRetentionDays"]["Default"] == 365
    runs = rules["state-run-records"]
    assert runs["Prefix"] == "hubtune/state/runs/"
    assert str(runs["ExpirationInDays"]) == "365"
    for rule_id, prefix in (("state-queue-entries", "queue/"), ("state-route-slots", "slots/")):
        assert rules[rule_id]["Prefix"] == f"hubtune/state/{prefix}"
        assert rules[rule_id]["Status"] == "Enabled"
        # Longer than SageMaker's longest job (28 days), so a live slot never expires.
        assert int(rules[rule_id]["ExpirationInDays"]) > 28
    assert template["Parameters"]["StateEntryRetentionDays"]["MinValue"] > 28
    # Nothing expires under the dataset or output prefixes, and no rule covers the whole state prefix.
    for rule in rules.values():
        prefix = rule.get("Prefix")
        if prefix is None:
            assert set(rule) == {"Id", "Status", "AbortIncompleteMultipartUpload"}, rule
            continue
        assert prefix.startswith("hubtune/state/") and prefix != "hubtune/state/", rule
    # A run record is never expired before RunRecordRetentionDays: no other rule reaches runs/.
    for rule in rules.values():
        if rule["Id"] != "state-run-records" and "Prefix" in rule:
            assert not "hubtune/state/runs/".startswith(rule["Prefix"]), rule


def test_run_records_outlive_the_longest_job_and_its_publication(template):
    """A run record changes when its job starts and next when the job ends, up to 28 days later (SageMaker's
    longest job); its manifest is read by the job. Expiring sooner than that plus the days publication may take
    would drop the record of a live job."""
    spec = template["Parameters"]["RunRecordRetentionDays"]
    assert spec["MinValue"] >= 28 + 2
    assert spec["Default"] >= spec["MinValue"]


def test_the_example_routes_files_do_not_override_the_stacks_training_role():
    """launch-finetune may pass the stack's training role and no other: a role_arn in [defaults] or a route wins
    over HUBTUNE_TRAINING_ROLE_ARN and is then refused by iam:PassRole."""
    import tomllib

    files = sorted((cfn.INFRA.parent / "examples").rglob("*.toml"))
    assert files
    for path in files:
        routes_file = tomllib.loads(path.read_text(encoding="utf-8"))
        assert "role_arn" not in routes_file.get("defaults", {}), path
        for name, route in routes_file.get("routes", {}).items():
            assert "role_arn" not in route, (path, name)


@pytest.mark.parametrize(
    "prefix, ok",
    [("hubtune", True), ("ft", True), ("a", True), ("team-2", True), ("a--b", True), ("x" * 20, True),
     ("Hubtune", False), ("hubtune-", False), ("-hubtune", False), ("hub_tune", False), ("x" * 21, False),
     ("", True)],
)
def test_job_prefix_keeps_job_names_valid(template, prefix, ok):
    spec = template["Parameters"]["JobPrefix"]
    accepted = re.fullmatch(spec["AllowedPattern"], prefix) is not None and len(prefix) <= spec["MaxLength"]
    assert accepted is ok
    if ok and prefix:
        # <prefix>-<route slug>-<64-bit hash>: even with the longest prefix a slug of 20 fits in 63 characters.
        name = f"{prefix}-{'r' * 20}-{'0' * 16}"
        assert len(name) <= 63
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name)


@pytest.mark.parametrize(
    "name, value, ok",
    [
        ("DatasetPrefix", "datasets/", True),
        ("DatasetPrefix", "data/sets/", True),
        ("DatasetPrefix", "datasets", False),
        ("DatasetPrefix", "/datasets/", False),
        ("DatasetPrefix", "data*/", False),
        ("MarkerSuffix", "_SUCCESS", True),
        ("MarkerSuffix", "", True),
        ("MarkerSuffix", "*", False),
        ("RoutesFileUri", "s3://my-bucket/hubtune/hubtune.toml", True),
        ("RoutesFileUri", "/etc/hubtune.toml", False),
        ("EventBusName", "hubtune", True),
        ("EventBusName", "default", False),
        ("TrainingRoleArn", "", True),
        ("KmsKeyArn", "", True),
        ("KmsKeyArn", "alias/aws/s3", False),
    ],
)
def test_parameter_patterns(template, name, value, ok):
    assert (re.fullmatch(template["Parameters"][name]["AllowedPattern"], value) is not None) is ok


def test_parameter_defaults(template):
    params = template["Parameters"]
    expected = {
        "JobPrefix": "", "CreateDatasetBucket": "true", "DatasetPrefix": "datasets/", "MarkerSuffix": "_SUCCESS",
        "StatePrefix": "hubtune/state/", "OutputPrefix": "hubtune/output/", "TrainingRoleArn": "",
        "NotificationEmail": "", "EventBusName": "hubtune", "DeploymentName": "", "KmsKeyArn": "",
        "SweepSchedule": "rate(5 minutes)", "LogLevel": "info", "CheckpointPrefix": "hubtune/checkpoints/",
        "AdminRoleArn": "", "RequireNetworkIsolation": "false", "TrainingSubnetIds": "", "RouteTagKeys": "",
    }
    for name, default in expected.items():
        assert params[name]["Default"] == default, name
    for name in ("DatasetBucketName", "HubName", "RoutesFileUri"):
        assert name in params and "Default" not in params[name], name


def test_checkov_skips_are_named_with_reasons(template):
    """Every skipped checkov check sits in the resource's Metadata with a real reason."""
    skips = 0
    for lid, res in template["Resources"].items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips += 1
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), (lid, skip)
            assert len(skip.get("comment", "")) > 60, f"{lid}: {skip['id']} needs its reason"
    assert skips > 0
    assert "skip-check" not in (cfn.INFRA / ".checkov.yaml").read_text(), "skips belong in the template"


def test_outputs(template):
    outputs = set(template["Outputs"])
    for name in ("DatasetBucketName", "EventBusName", "EventBusArn", "LaunchQueueUrl", "TrainingStateQueueUrl",
                 "PublishQueueUrl", "SweepQueueUrl", "SweepDeadLetterQueueUrl", "NotificationTopicArn", "LaunchFinetuneFunctionName",
                 "TrainingStateFunctionName", "PublishArtifactFunctionName"):
        assert name in outputs, name


def test_sam_translation_keeps_the_wiring(template):
    """SAM's own translator turns the functions into what the tests above assume."""
    translator = pytest.importorskip("samtranslator.translator.translator")
    parser = pytest.importorskip("samtranslator.parser.parser")
    boto3 = pytest.importorskip("boto3")

    def no_managed_policies():
        raise AssertionError("the template references no managed policies by name")

    # An explicit region keeps the translator offline (it would otherwise ask boto for one).
    session = boto3.session.Session(region_name=cfn.REGION, aws_access_key_id="x", aws_secret_access_key="x")
    sam = translator.Translator(None, parser.Parser(), boto_session=session)
    packaged = cfn.load()
    for fn in FUNCTIONS:  # what `sam package` does after `sam build`: the code is an S3 object by then
        packaged["Resources"][fn]["Properties"]["CodeUri"] = f"s3://artifacts/{fn}.zip"
    out = sam.translate(packaged, dict(cfn.REQUIRED_PARAMS), get_managed_policy_map=no_managed_policies)
    mappings = {lid: r for lid, r in out["Resources"].items() if r["Type"] == "AWS::Lambda::EventSourceMapping"}
    assert len(mappings) == 3 + len(EXTRA_QUEUES)
    for mapping in mappings.values():
        props = mapping["Properties"]
        assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert "MaximumConcurrency" in props["ScalingConfig"]
    for fn in FUNCTIONS:
        props = out["Resources"][fn]["Properties"]
        assert props["Runtime"] == "provided.al2023" and props["Architectures"] == ["arm64"]
        assert "LogGroup" in props["LoggingConfig"]
        assert set(props["Environment"]["Variables"]) == ENV_VARS
    roles = {lid for lid, r in out["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
    assert roles == {"LaunchFinetuneRole", "TrainingStateRole", "PublishArtifactRole", "TrainingRole"}, (
        "SAM must not generate roles of its own"
    )


def test_the_local_stack_provisions_from_this_template():
    """The local stack (localstack/, see docs/local-stack-contract.md) plans its queues, bus and rules from this
    very file; its planner must find the contract's shapes. Skipped where that component is not present."""
    import sys

    package = cfn.INFRA.parent / "localstack"
    if not (package / "hubtune_localstack" / "template.py").exists():
        pytest.skip("localstack/ is not in this checkout")
    sys.path.insert(0, str(package))
    dont_write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # leave no __pycache__ in another component's folder
    try:
        planner = pytest.importorskip("hubtune_localstack.template")
    finally:
        sys.path.remove(str(package))
        sys.dont_write_bytecode = dont_write
    if not hasattr(planner, "plan_from_file"):
        pytest.skip("the local stack's planner has no plan_from_file")
    plan = planner.plan_from_file(
        cfn.TEMPLATE_PATH, {"DatasetBucketName": "hubtune-local", "JobPrefix": "hubtune"}, "http://127.0.0.1:9"
    )
    assert set(plan.queues) == QUEUES
    for fn, (_, queue, dlq, _) in FUNCTIONS.items():
        assert plan.queues[queue].redrive_policy["maxReceiveCount"] == 5
        assert plan.queues[queue].redrive_policy["deadLetterTargetArn"].endswith(f":{dlq}")
        assert int(plan.queues[queue].attributes["VisibilityTimeout"]) == 180
    assert plan.function_queues == {
        "launch-finetune": ["LaunchQueue"], "training-state": ["TrainingStateQueue", "SweepQueue"],
        "publish-artifact": ["PublishQueue"],
    }
    assert plan.queues["SweepQueue"].redrive_policy["deadLetterTargetArn"].endswith(":SweepDeadLetterQueue")
    # Moto fires no schedule: the dispatcher sends the ticks, to the queue the template's rule targets.
    assert plan.schedules["SweepScheduleRule"].queues == ["SweepQueue"]
    assert plan.event_bus == "hubtune"
    rules = {rule.logical_id: rule for rule in plan.rules}
    expected = {
        "DatasetObjectCreatedRule": ("default", ["LaunchQueue"]),
        "RouteSlotFreedRule": ("hubtune", ["LaunchQueue"]),
        "TrainingJobStateChangeRule": ("default", ["TrainingStateQueue"]),
        "TrainingRunFinishedRule": ("hubtune", ["PublishQueue"]),
        "NotificationRule": ("hubtune", []),  # SNS target: created without targets locally
    }
    assert set(rules) == set(expected), "the schedule rule is fired by the local dispatcher instead"
    for lid, (bus, targets) in expected.items():
        assert rules[lid].bus == bus, lid
        assert [t["Id"] for t in rules[lid].targets] == targets, lid
    bucket = next(iter(plan.buckets.values()))
    assert bucket.name == "hubtune-local" and bucket.versioned and bucket.eventbridge


def _job_prefix_uses(resolver: cfn.Resolver) -> set[str]:
    """Every place the template spells the job prefix: the functions' variable, the rule's prefix, IAM's job ARNs."""
    uses = {resolver.resolve(template_env(resolver)["HUBTUNE_JOB_PREFIX"])}
    rule = resolver.props("TrainingJobStateChangeRule")["EventPattern"]["detail"]["TrainingJobName"]
    uses |= {p["prefix"].removesuffix("-") for p in rule}
    for lid in resolver.resources("AWS::IAM::Role"):
        for st in cfn.role_statements(resolver, lid):
            for res in cfn.as_list(st.get("Resource", [])):
                if isinstance(res, str) and ":training-job/" in res:
                    uses.add(res.split(":training-job/", 1)[1].removesuffix("-*"))
    return uses


def template_env(resolver: cfn.Resolver) -> dict:
    return resolver.template["Globals"]["Function"]["Environment"]["Variables"]


@pytest.mark.parametrize("stack_uuid", ["1c2fa620-982a-11e3-aff7-50e2416294e0", "00000000-0000-0000-0000-000000000000"])
def test_an_empty_job_prefix_is_the_stacks_own_everywhere(template, stack_uuid):
    """Item 4: two stacks with the defaults get two prefixes, valid job-name starts, and every use agrees."""
    resolver = cfn.Resolver(template, {"JobPrefix": ""})
    resolver.pseudo["AWS::StackId"] = cfn.STACK_ID.rsplit("/", 1)[0] + "/" + stack_uuid
    uses = _job_prefix_uses(resolver)
    expected = "hubtune" + stack_uuid.split("-")[0]
    assert uses == {expected}
    spec = template["Parameters"]["JobPrefix"]
    assert re.fullmatch(spec["AllowedPattern"], expected) and len(expected) <= spec["MaxLength"]
    # The old fixed prefix's rule (prefix "hubtune-") does not reach a derived prefix's jobs.
    assert not f"{expected}-chat-{'0' * 16}".startswith("hubtune-")
    given = cfn.Resolver(template, {"JobPrefix": "ft-team2"})
    assert _job_prefix_uses(given) == {"ft-team2"}


def test_an_empty_deployment_name_is_the_stacks_name_in_the_functions_and_the_guardrail(template):
    """Two stacks with the defaults carry two `hubtune:deployment` tags: the tag check holds only if names differ."""
    resolver = cfn.Resolver(template, {"DeploymentName": ""})
    assert resolver.resolve(template_env(resolver)["HUBTUNE_DEPLOYMENT"]) == cfn.STACK
    tags = {
        value
        for st in cfn.role_statements(resolver, "LaunchFinetuneRole")
        for value in [st.get("Condition", {}).get("StringEquals", {}).get("aws:RequestTag/hubtune:deployment")]
        if value is not None
    }
    assert tags == {cfn.STACK}
    given = cfn.Resolver(template, {"DeploymentName": "team2"})
    assert given.resolve(template_env(given)["HUBTUNE_DEPLOYMENT"]) == "team2"
