"""Issue 13 item 8: the sweep on its own schedule and queue.

The sweep used to share TrainingStateQueue with SageMaker's state changes, so a tick waited behind a backlog of
them and a failing sweep landed in their dead-letter queue. These tests hold the template to the split: the
schedule rule delivers to SweepQueue only, SweepQueue takes nothing else, training-state reads it one tick at a
time with at most two concurrent sweeps, and its dead letters are alarmed and replayable like every other queue's.
"""

import cfn

ADMIN = "arn:aws:iam::123456789012:role/ops/HubtuneAdmin"


def _targets(resolver, rule):
    return [t["Arn"] for t in resolver.props(rule)["Targets"]]


def _arn(resolver, lid):
    return resolver.resolve({"Fn::GetAtt": [lid, "Arn"]})


def test_the_sweep_rule_targets_only_the_sweep_queue(resolver):
    assert _targets(resolver, "SweepScheduleRule") == [_arn(resolver, "SweepQueue")]
    (target,) = resolver.props("SweepScheduleRule")["Targets"]
    assert target["Id"] == "SweepQueue"
    assert target["DeadLetterConfig"] == {"Arn": _arn(resolver, "RuleTargetDeadLetterQueue")}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_no_other_rule_delivers_to_the_sweep_queue_and_state_changes_stay_on_their_queue(resolver):
    sweep_queue = _arn(resolver, "SweepQueue")
    for rule in resolver.resources("AWS::Events::Rule"):
        if rule != "SweepScheduleRule":
            assert sweep_queue not in _targets(resolver, rule), rule
    assert _targets(resolver, "TrainingJobStateChangeRule") == [_arn(resolver, "TrainingStateQueue")]


def test_the_sweep_queue_has_its_own_dead_letter_queue_encryption_and_visibility(template):
    props = template["Resources"]["SweepQueue"]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["SweepDeadLetterQueue", "Arn"]}, "maxReceiveCount": 5,
    }
    assert props["SqsManagedSseEnabled"] is True
    timeout = template["Resources"]["TrainingStateFunction"]["Properties"]["Timeout"]
    assert props["VisibilityTimeout"] >= 6 * timeout, "a sweep in flight is not handed to a second invocation"
    dlq = template["Resources"]["SweepDeadLetterQueue"]["Properties"]
    assert dlq["SqsManagedSseEnabled"] is True and "RedrivePolicy" not in dlq
    assert dlq["MessageRetentionPeriod"] == 1209600


def _sender_denied(resolver, policy_id, queue_id, ctx):
    policy = cfn.Policy(resolver.props(policy_id)["PolicyDocument"]["Statement"])
    return policy.denies("sqs:SendMessage", _arn(resolver, queue_id), ctx)


def test_the_sweep_queue_policy_admits_only_the_sweep_rule_hubtune_and_the_admin(template):
    resolver = cfn.Resolver(template, {"AdminRoleArn": ADMIN})
    props = resolver.props("SweepQueuePolicy")
    assert props["Queues"] == [resolver.resolve({"Ref": "SweepQueue"})]
    policy = cfn.Policy(props["PolicyDocument"]["Statement"])
    queue = _arn(resolver, "SweepQueue")
    for rule in resolver.resources("AWS::Events::Rule"):
        ctx = {"aws:SourceArn": _arn(resolver, rule)}
        assert policy.denies("sqs:SendMessage", queue, ctx) is (rule != "SweepScheduleRule"), rule
        assert policy.allows("sqs:SendMessage", queue, ctx) is (rule == "SweepScheduleRule"), rule
    for role in ("LaunchFinetuneRole", "TrainingStateRole", "PublishArtifactRole"):
        assert not policy.denies("sqs:SendMessage", queue, {"aws:PrincipalArn": _arn(resolver, role)}), role
    assert not policy.denies("sqs:SendMessage", queue, {"aws:PrincipalArn": ADMIN}), "hubtune redrive"
    assert policy.denies("sqs:SendMessage", queue, {"aws:PrincipalArn": f"arn:aws:iam::{cfn.ACCOUNT}:role/other"})


def test_the_state_change_queue_no_longer_admits_the_sweep_rule(resolver):
    sweep = {"aws:SourceArn": _arn(resolver, "SweepScheduleRule")}
    assert _sender_denied(resolver, "TrainingStateQueuePolicy", "TrainingStateQueue", sweep)
    state_change = {"aws:SourceArn": _arn(resolver, "TrainingJobStateChangeRule")}
    assert not _sender_denied(resolver, "TrainingStateQueuePolicy", "TrainingStateQueue", state_change)


def test_training_state_reads_the_sweep_queue_one_tick_at_a_time(template):
    events = template["Resources"]["TrainingStateFunction"]["Properties"]["Events"]
    sweeps = [e["Properties"] for e in events.values()
              if e["Type"] == "SQS" and e["Properties"]["Queue"] == {"Fn::GetAtt": ["SweepQueue", "Arn"]}]
    assert len(sweeps) == 1
    (sweep,) = sweeps
    assert sweep["BatchSize"] == 1
    assert sweep["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert sweep["ScalingConfig"] == {"MaximumConcurrency": 2}, "the least Lambda allows: sweeps do not pile up"
    state_changes = [e["Properties"] for e in events.values()
                     if e["Properties"]["Queue"] == {"Fn::GetAtt": ["TrainingStateQueue", "Arn"]}]
    assert len(state_changes) == 1 and len(events) == 2


def test_the_training_state_role_consumes_the_sweep_queue_and_may_not_send_to_it(resolver):
    p = cfn.Policy(cfn.role_statements(resolver, "TrainingStateRole"))
    queue = _arn(resolver, "SweepQueue")
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert p.allows(action, queue), action
    assert not p.allows("sqs:SendMessage", queue)
    assert not p.allows("sqs:ReceiveMessage", _arn(resolver, "SweepDeadLetterQueue"))
    assert not p.allows("sqs:ReceiveMessage", _arn(resolver, "LaunchQueue"))


def test_the_sweep_dead_letter_queue_is_alarmed(resolver):
    topic = resolver.resolve({"Ref": "NotificationTopic"})
    dlq_name = resolver.resolve({"Fn::GetAtt": ["SweepDeadLetterQueue", "QueueName"]})
    alarms = [
        resolver.props(lid) for lid in resolver.resources("AWS::CloudWatch::Alarm")
        if resolver.props(lid)["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and resolver.props(lid)["Dimensions"] == [{"Name": "QueueName", "Value": dlq_name}]
    ]
    assert len(alarms) == 1
    (alarm,) = alarms
    assert alarm["Namespace"] == "AWS/SQS" and alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["AlarmActions"] == [topic]
    assert "hubtune redrive" in alarm["AlarmDescription"]


def test_redrive_can_find_the_sweep_queues_in_the_outputs(template):
    outputs = template["Outputs"]
    assert outputs["SweepQueueUrl"]["Value"] == {"Ref": "SweepQueue"}
    assert outputs["SweepDeadLetterQueueUrl"]["Value"] == {"Ref": "SweepDeadLetterQueue"}
