//! The training-state handler in-process, over the in-memory ports. Each test starts from what the launcher leaves
//! behind (support/mod.rs: a job made through the jobs port, its record `Launched`, its route slot taken), moves the
//! job in the in-memory SageMaker, and delivers SageMaker's state-change events and the scheduled sweep in SQS
//! batches to `training_state::handle`. No network, no sleeps: the clock moves only when a test advances it.
//!
//! The promises: a job's record only moves forward and follows DescribeTrainingJob (the event is a hint); one
//! `Training Run Finished` and one `Route Slot Freed` per job, whatever is duplicated, reordered, refused or crashed;
//! every failed record comes back in `batchItemFailures`; the sweep repairs what no event will.

mod support;

use chrono::Duration;
use hubtune::domain::events::{ROUTE_SLOT_FREED, TRAINING_RUN_FINISHED, TRAINING_RUN_STARTED};
use hubtune::domain::job::JobStatus;
use hubtune::domain::plan::{TAG_DEPLOYMENT, TAG_HUB_CONTENT_ARN, TAG_MODEL_ID, TAG_ROUTE};
use hubtune::domain::route_queue::QueueEntry;
use hubtune::domain::run::{OpenRun, Outbox, RunStatus};
use hubtune::memory::{access_denied, capacity_refusal, throttled};
use hubtune::ports::TrainingJobs;
use hubtune::runtime::faults;
use serde_json::{json, Value};
use support::{state_change, sweep_event, Harness, BUCKET, ROUTE};
use training_state::{GONE_AFTER_SECONDS, REPUBLISH_AFTER_SECONDS, STUCK_LAUNCH_SECONDS};

/// The outbox once training-state has worked it off (everything but `published`, which is publish-artifact's).
fn worked_off() -> Outbox {
    Outbox {
        started_emitted: true,
        finished_emitted: true,
        slot_released: true,
        slot_freed_emitted: true,
        published: false,
        finished_sent_at: None,
    }
}

/// The outbox's flags, without when `Training Run Finished` went out (that time is checked where it matters).
fn flags(o: &Outbox) -> Outbox {
    assert!(
        o.finished_sent_at.is_some() == o.finished_emitted,
        "a sent Finished has its time: {o:?}"
    );
    Outbox {
        finished_sent_at: None,
        ..o.clone()
    }
}

fn seconds(s: i64) -> Duration {
    Duration::seconds(s)
}

// ---- Following one job ----

#[tokio::test]
async fn in_progress_then_completed_moves_the_record_forward_sends_finished_once_and_frees_the_slot_once(
) {
    let h = Harness::new();
    let job = h.launched("forward").await;

    assert!(h
        .deliver(&[state_change(&job, "InProgress")])
        .await
        .is_empty());
    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::InProgress);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 0);
    assert_eq!(
        h.holders(),
        std::slice::from_ref(&job),
        "a running job keeps its slot"
    );

    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Completed);
    let path: Vec<_> = r.history.iter().map(|c| c.status).collect();
    assert_eq!(
        path,
        [
            RunStatus::Launching,
            RunStatus::Launched,
            RunStatus::InProgress,
            RunStatus::Completed
        ]
    );
    let artifact = h.world.jobs.get(&job).unwrap().description.model_artifacts;
    assert!(artifact.is_some());
    assert_eq!(r.model_artifacts, artifact);
    assert_eq!(flags(&r.outbox), worked_off());

    let finished = h.sent(TRAINING_RUN_FINISHED, &job);
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].detail["status"], "Completed");
    assert_eq!(finished[0].detail["model_artifacts"], json!(artifact));
    assert!(h.holders().is_empty(), "the slot is released");
    let freed = h.world.bus.of_type(ROUTE_SLOT_FREED);
    assert_eq!(freed.len(), 1);
    assert_eq!(freed[0].detail["route"], ROUTE);
    assert_eq!(
        h.count(TRAINING_RUN_STARTED),
        0,
        "the launcher had sent it already"
    );
}

#[tokio::test]
async fn the_same_completed_event_twice_sends_one_of_each_event() {
    let h = Harness::new();
    let job = h.launched("duplicate").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    let completed = state_change(&job, "Completed");

    // Twice in one batch, then once more in a later batch (SQS's at-least-once).
    assert!(h
        .deliver(&[completed.clone(), completed.clone()])
        .await
        .is_empty());
    let after_first = h.record_bytes(&job);
    assert!(h.deliver(&[completed]).await.is_empty());

    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
    assert_eq!(h.world.bus.events().len(), 2, "nothing else went out");
    assert_eq!(
        h.record_bytes(&job),
        after_first,
        "the duplicate rewrote nothing"
    );
    assert_eq!(h.record(&job).status, RunStatus::Completed);
}

#[tokio::test]
async fn a_late_in_progress_after_completed_leaves_the_record_completed_and_sends_nothing_more() {
    let h = Harness::new();
    let job = h.launched("reordered").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let before = h.record_bytes(&job);
    let events_before = h.world.bus.events().len();

    assert!(h
        .deliver(&[state_change(&job, "InProgress")])
        .await
        .is_empty());

    assert_eq!(h.record(&job).status, RunStatus::Completed);
    assert_eq!(h.record_bytes(&job), before, "not rewritten");
    assert_eq!(h.world.bus.events().len(), events_before);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
}

#[tokio::test]
async fn a_completed_event_while_describe_says_in_progress_finishes_nothing() {
    let h = Harness::new();
    let job = h.launched("hint").await;
    // The event says Completed; SageMaker still describes the job InProgress (the in-memory job was not moved).

    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());

    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::InProgress);
    assert_eq!(r.model_artifacts, None);
    assert!(!r.outbox.finished_emitted && !r.outbox.slot_released);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 0);
    assert_eq!(h.count(ROUTE_SLOT_FREED), 0);
    assert_eq!(h.holders(), [job]);
}

#[tokio::test]
async fn another_deployments_job_is_ignored_with_zero_aws_calls() {
    let h = Harness::new();
    h.world.reset_calls();
    // Someone else's job on the default bus, and one whose name merely starts with the same letters as the prefix.
    let foreign = [
        state_change(
            "meta-textgeneration-llama-3-2-1b-2025-06-01-12-00-00-000",
            "Completed",
        ),
        state_change("hubtunex-support-bot-0123456789abcdef", "Failed"),
    ];

    assert!(h.deliver(&foreign).await.is_empty(), "acknowledged");

    assert_eq!(h.world.total_calls(), 0, "{:?}", h.world.calls());
    assert!(h.world.bus.events().is_empty());
}

#[tokio::test]
async fn a_job_another_deployment_launched_under_the_same_prefix_is_never_adopted() {
    let h = Harness::new();
    // Another stack in the account with the same job prefix: its job, its tag, no record of ours.
    let mut request = h.request("theirs");
    for t in &mut request.tags {
        if t.key == TAG_DEPLOYMENT {
            t.value = "someone-else".into();
        }
    }
    let job = request.training_job_name.clone();
    h.world.jobs.create(&request).await.unwrap();
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    h.world.reset_calls();

    assert!(
        h.deliver(&[state_change(&job, "Completed")])
            .await
            .is_empty(),
        "acknowledged"
    );

    assert!(
        h.world.objects.body(&h.run_uri(&job)).is_none(),
        "no record written"
    );
    assert!(h.world.bus.events().is_empty(), "nothing sent");
}

#[tokio::test]
async fn a_prefixed_job_with_no_record_is_adopted_from_its_tags() {
    let h = Harness::new();
    let job = h.launched("adopted").await;
    // The launcher's record write was lost: only the job (and its slot) remain.
    h.world.objects.remove(&h.run_uri(&job));
    h.world.jobs.set_status(
        &job,
        JobStatus::Failed,
        Some("AlgorithmError: out of memory"),
    );

    assert!(h.deliver(&[state_change(&job, "Failed")]).await.is_empty());

    let tags: std::collections::BTreeMap<_, _> = h
        .world
        .jobs
        .get(&job)
        .unwrap()
        .request
        .tags
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    assert_eq!(tags[TAG_ROUTE], ROUTE);
    let r = h.record(&job);
    assert_eq!(r.job_name.as_str(), job);
    assert_eq!(r.route, tags[TAG_ROUTE]);
    assert_eq!(r.model_id, tags[TAG_MODEL_ID]);
    assert_eq!(r.hub_content_arn.as_ref(), Some(&tags[TAG_HUB_CONTENT_ARN]));
    assert_eq!(
        r.job_arn,
        Some(h.world.jobs.get(&job).unwrap().description.arn)
    );
    assert_eq!(r.dataset, None, "no record of ours held it");
    assert_eq!(r.history[0].detail.as_deref(), Some("adopted"));
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(
        r.failure_reason.as_deref(),
        Some("AlgorithmError: out of memory")
    );
    assert_eq!(flags(&r.outbox), worked_off());
    // Whether the launcher's `Training Run Started` went out is unknown: sent again (same event_id).
    assert_eq!(h.sent(TRAINING_RUN_STARTED, &job).len(), 1);
    let finished = h.sent(TRAINING_RUN_FINISHED, &job);
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].detail["status"], "Failed");
    assert!(h.holders().is_empty());
}

#[tokio::test]
async fn a_launch_that_crashed_after_create_is_finished_by_the_state_change() {
    let h = Harness::new();
    // The record is still `Launching` and the slot taken, but CreateTrainingJob had succeeded.
    let job = h.stuck_launching("after-create");
    h.world
        .jobs
        .create(&h.request("after-create"))
        .await
        .unwrap();

    assert!(h
        .deliver(&[state_change(&job, "InProgress")])
        .await
        .is_empty());

    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::InProgress);
    assert_eq!(
        r.job_arn,
        Some(h.world.jobs.get(&job).unwrap().description.arn)
    );
    assert!(r.outbox.started_emitted);
    assert_eq!(h.sent(TRAINING_RUN_STARTED, &job).len(), 1);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 0);
    assert_eq!(h.holders(), [job]);
}

#[tokio::test]
async fn a_job_being_deleted_ends_failed_at_once_and_frees_its_slot() {
    let h = Harness::new();
    let job = h.launched("deleting").await;
    h.world.jobs.set_status(&job, JobStatus::Deleting, None);

    assert!(h
        .deliver(&[state_change(&job, "Deleting")])
        .await
        .is_empty());

    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.failure_reason.as_deref().unwrap().contains("was deleted"),
        "{:?}",
        r.failure_reason
    );
    assert_eq!(flags(&r.outbox), worked_off());
    let finished = h.sent(TRAINING_RUN_FINISHED, &job);
    assert_eq!(finished.len(), 1);
    assert_eq!(finished[0].detail["status"], "Failed");
    assert!(h.holders().is_empty());
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
}

#[tokio::test]
async fn a_job_gone_from_sagemaker_ends_failed_only_after_the_grace_period_and_frees_its_slot() {
    let h = Harness::new();
    let job = h.launched("gone").await;
    h.world.jobs.remove(&job);

    // Not at once (a describe right after CreateTrainingJob may not see the job), nor just before the grace ends.
    assert!(h.deliver(&[sweep_event()]).await.is_empty());
    h.world.clock.advance(seconds(GONE_AFTER_SECONDS - 1));
    assert!(h.deliver(&[sweep_event()]).await.is_empty());
    assert_eq!(h.record(&job).status, RunStatus::Launched);
    assert_eq!(h.holders(), std::slice::from_ref(&job));
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 0);

    h.world.clock.advance(seconds(2));
    assert!(h.deliver(&[sweep_event()]).await.is_empty());

    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        r.failure_reason
            .as_deref()
            .unwrap()
            .contains("no longer knows"),
        "{:?}",
        r.failure_reason
    );
    assert_eq!(flags(&r.outbox), worked_off());
    assert_eq!(h.sent(TRAINING_RUN_FINISHED, &job).len(), 1);
    assert!(h.holders().is_empty());
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
}

// ---- Every error class ----

#[tokio::test]
async fn a_throttled_describe_comes_back_and_its_redelivery_completes_the_run_once() {
    let h = Harness::new();
    let job = h.launched("throttled").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    let untouched = h.record_bytes(&job);
    h.world.jobs.faults.fail(
        "DescribeTrainingJob",
        &job,
        1,
        throttled("sagemaker", "DescribeTrainingJob"),
    );

    assert_eq!(h.deliver(&[state_change(&job, "Completed")]).await, ["m0"]);
    assert_eq!(h.record_bytes(&job), untouched);
    assert!(h.world.bus.events().is_empty());

    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.record(&job).status, RunStatus::Completed);
    assert_eq!(flags(&h.record(&job).outbox), worked_off());
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
    assert!(h.holders().is_empty());
}

#[tokio::test]
async fn every_error_class_brings_its_record_back_and_spares_the_rest_of_the_batch() {
    let h = Harness::with_route("max_concurrent_jobs = 4");
    let [ok, retry, deployment, capacity] = [
        h.launched("ok").await,
        h.launched("retry").await,
        h.launched("deployment").await,
        h.launched("capacity").await,
    ];
    for job in [&ok, &retry, &deployment, &capacity] {
        h.world.jobs.set_status(job, JobStatus::Completed, None);
    }
    h.world.jobs.faults.fail(
        "DescribeTrainingJob",
        &retry,
        1,
        throttled("sagemaker", "DescribeTrainingJob"),
    );
    h.world.objects.faults.fail(
        "GetObject",
        &h.run_uri(&deployment),
        1,
        access_denied("s3", "GetObject"),
    );
    // Capacity is the launcher's class (a describe is never refused for it): injected here so every class is seen.
    h.world.jobs.faults.fail(
        "DescribeTrainingJob",
        &capacity,
        1,
        capacity_refusal("DescribeTrainingJob"),
    );
    // Permanent: an input training-state does not take (a wiring fault): it goes to the dead-letter queue.
    let not_ours = json!({"version": "0", "id": "s3-1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "111122223333", "time": "2026-01-15T12:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": "datasets/support-bot/x/_SUCCESS", "size": 0,
        "sequencer": "0A1"}}});
    let batch = [
        state_change(&ok, "Completed"),
        state_change(&retry, "Completed"),
        state_change(&deployment, "Completed"),
        state_change(&capacity, "Completed"),
        not_ours,
    ];

    assert_eq!(h.deliver(&batch).await, ["m1", "m2", "m3", "m4"]);
    assert_eq!(h.record(&ok).status, RunStatus::Completed);
    assert_eq!(h.sent(TRAINING_RUN_FINISHED, &ok).len(), 1);
    for job in [&retry, &deployment, &capacity] {
        assert_eq!(h.record(job).status, RunStatus::Launched, "{job}");
        assert!(h.sent(TRAINING_RUN_FINISHED, job).is_empty(), "{job}");
    }

    // The faults are spent (the deployment fixed): the redelivery completes each once; the permanent one stays.
    assert_eq!(h.deliver(&batch).await, ["m4"]);
    for job in [&ok, &retry, &deployment, &capacity] {
        assert_eq!(h.record(job).status, RunStatus::Completed, "{job}");
        assert_eq!(h.sent(TRAINING_RUN_FINISHED, job).len(), 1, "{job}");
    }
    assert_eq!(h.count(ROUTE_SLOT_FREED), 4);
    assert!(h.holders().is_empty());
}

#[tokio::test]
async fn a_refused_finished_entry_comes_back_and_its_redelivery_sends_it_exactly_once_more() {
    let h = Harness::new();
    let job = h.launched("refused").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    h.world.bus.refuse_next_entries(1);

    assert_eq!(h.deliver(&[state_change(&job, "Completed")]).await, ["m0"]);
    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Completed, "the record moved first");
    assert!(!r.outbox.finished_emitted, "the flag waits for EventBridge");
    assert!(
        !r.outbox.slot_released,
        "nothing after the refused event ran"
    );
    assert_eq!(h.world.calls().get("PutEvents"), Some(&1), "it was sent");
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 0, "and refused");
    assert_eq!(h.holders(), std::slice::from_ref(&job));

    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.sent(TRAINING_RUN_FINISHED, &job).len(), 1);
    assert_eq!(flags(&h.record(&job).outbox), worked_off());
    assert!(h.holders().is_empty());
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
}

#[tokio::test]
async fn a_crash_before_the_finished_event_comes_back_and_its_redelivery_finishes_the_run() {
    let h = Harness::new();
    let job = h.launched("crash").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    // Crash points are process-global: the scope is this test's own job.
    faults::arm("state.before_finished_event", &job, 1);

    assert_eq!(h.deliver(&[state_change(&job, "Completed")]).await, ["m0"]);
    assert_eq!(
        faults::remaining("state.before_finished_event", &job),
        0,
        "it fired"
    );
    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Completed);
    assert!(!r.outbox.finished_emitted);
    assert!(h.world.bus.events().is_empty());
    assert_eq!(h.holders(), std::slice::from_ref(&job));

    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.sent(TRAINING_RUN_FINISHED, &job).len(), 1);
    assert_eq!(flags(&h.record(&job).outbox), worked_off());
    assert!(h.holders().is_empty());
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
}

// ---- The sweep ----

#[tokio::test]
async fn the_sweep_republishes_finished_only_after_its_wait_without_publication() {
    let h = Harness::new();
    let job = h.launched("republish").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());

    assert_eq!(training_state::sweep(&h.ctx).await.unwrap().republished, 0);
    h.world.clock.advance(seconds(REPUBLISH_AFTER_SECONDS - 1));
    assert_eq!(training_state::sweep(&h.ctx).await.unwrap().republished, 0);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);

    h.world.clock.advance(seconds(2));
    assert_eq!(training_state::sweep(&h.ctx).await.unwrap().republished, 1);
    let finished = h.sent(TRAINING_RUN_FINISHED, &job);
    assert_eq!(finished.len(), 2);
    assert_eq!(finished[0], finished[1], "the same event, same event_id");

    // Once publish-artifact confirms, the sweep stops asking.
    let mut r = h.record(&job);
    r.outbox.published = true;
    h.put_record(&r);
    h.world.clock.advance(seconds(REPUBLISH_AFTER_SECONDS));
    assert_eq!(training_state::sweep(&h.ctx).await.unwrap().republished, 0);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 2);
}

#[tokio::test]
async fn the_sweep_requeues_a_launch_stuck_launching_with_no_job_and_gives_back_its_slot() {
    let h = Harness::new();
    let job = h.stuck_launching("stuck");

    let early = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(early.requeued, 0, "a launch may still be on its way");
    assert!(h.queue_uris().is_empty());
    assert_eq!(h.holders(), std::slice::from_ref(&job));

    h.world.clock.advance(seconds(STUCK_LAUNCH_SECONDS + 1));
    let report = training_state::sweep(&h.ctx).await.unwrap();

    assert_eq!(report.requeued, 1);
    let queued = h.queue_uris();
    assert_eq!(queued.len(), 1, "{queued:?}");
    let entry: QueueEntry =
        serde_json::from_value(h.world.objects.json(&queued[0]).unwrap()).unwrap();
    assert_eq!(Some(entry.dataset), h.record(&job).dataset);
    assert!(h.holders().is_empty(), "its slot went back with it");
    assert_eq!(report.slots_freed_announced, 1, "and the route is nudged");
    let freed = h.world.bus.of_type(ROUTE_SLOT_FREED);
    assert_eq!(freed.len(), 1);
    assert_eq!(freed[0].detail["route"], ROUTE);
}

#[tokio::test]
async fn the_sweep_releases_a_stale_slot_with_no_record_and_no_job() {
    let h = Harness::with_route("max_concurrent_jobs = 2");
    let running = h.launched("running").await;
    let ghost = h.job_name("never-launched").to_string();
    h.take_slot(&ghost);

    let early = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(
        early.stale_slots_released, 0,
        "a launch may still be on its way"
    );
    assert_eq!(h.holders().len(), 2);

    h.world.clock.advance(seconds(STUCK_LAUNCH_SECONDS + 1));
    let report = training_state::sweep(&h.ctx).await.unwrap();

    assert_eq!(report.stale_slots_released, 1);
    assert_eq!(h.holders(), [running], "the running job keeps its slot");
}

#[tokio::test]
async fn the_sweep_nudges_a_route_with_a_queue_entry_only_while_it_has_a_free_slot() {
    let h = Harness::new(); // One slot.
    let running = h.launched("running").await;
    h.queue("waiting");

    let full = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(full.slots_freed_announced, 0);
    assert_eq!(h.count(ROUTE_SLOT_FREED), 0);

    h.world
        .jobs
        .set_status(&running, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&running, "Completed")])
        .await
        .is_empty());
    assert_eq!(
        h.count(ROUTE_SLOT_FREED),
        1,
        "the run's own, from its outbox"
    );

    let free = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(free.slots_freed_announced, 1);
    let freed = h.world.bus.of_type(ROUTE_SLOT_FREED);
    assert_eq!(freed.len(), 2);
    assert_eq!(freed[1].detail["route"], ROUTE);
    assert_eq!(freed[1].detail["job_name"], Value::Null);
}

#[tokio::test]
async fn one_unreadable_run_record_does_not_stop_the_sweep_from_repairing_the_others() {
    let h = Harness::with_route("max_concurrent_jobs = 2");
    let first = h.launched("first").await;
    let second = h.launched("second").await;
    // Both jobs ended while their events were lost.
    h.world.jobs.set_status(&first, JobStatus::Completed, None);
    h.world.jobs.set_status(&second, JobStatus::Stopped, None);
    // Garbage listed before, between and after the two records (`<lower job>0` sorts right after the lower one).
    let between = format!("{}0", first.as_str().min(second.as_str()));
    let mut garbage = Vec::new();
    for name in ["hubtune-0", between.as_str(), "hubtune-zzz"] {
        let uri = h.run_uri(name);
        h.world.objects.insert(&uri, "{not json");
        garbage.push(uri);
    }

    let failures = h.deliver(&[sweep_event()]).await;

    assert_eq!(h.record(&first).status, RunStatus::Completed);
    assert_eq!(h.record(&second).status, RunStatus::Stopped);
    for job in [&first, &second] {
        assert_eq!(flags(&h.record(job).outbox), worked_off(), "{job}");
        assert_eq!(h.sent(TRAINING_RUN_FINISHED, job).len(), 1, "{job}");
    }
    assert!(h.holders().is_empty());
    for uri in &garbage {
        assert_eq!(
            h.world.objects.body(uri).unwrap(),
            b"{not json",
            "left as found"
        );
    }
    // An unreadable state object is a fault to look at: the sweep's message comes back.
    assert_eq!(failures, ["m0"]);
}

// ---- The sweep's waits (each once a bug: the republish wait ran from the job's end; a re-queued launch was re-queued by every later sweep) ----

#[tokio::test]
async fn the_sweep_waits_its_republish_time_from_when_finished_was_sent_not_from_the_jobs_end() {
    let h = Harness::new();
    let job = h.launched("late-delivery").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    // The state change is handled two hours after the job ended (a backlog, a redrive, or the sweep finding it).
    h.world.clock.advance(Duration::hours(2));
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);

    h.world.clock.advance(seconds(60));
    let report = training_state::sweep(&h.ctx).await.unwrap();

    assert_eq!(
        report.republished, 0,
        "Training Run Finished went out a minute ago: it is not yet unanswered for REPUBLISH_AFTER_SECONDS"
    );
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
}

#[tokio::test]
async fn a_second_sweep_does_not_count_a_launch_it_already_requeued() {
    let h = Harness::new();
    h.stuck_launching("requeued-once");
    h.world.clock.advance(seconds(STUCK_LAUNCH_SECONDS + 1));
    assert_eq!(training_state::sweep(&h.ctx).await.unwrap().requeued, 1);

    let again = training_state::sweep(&h.ctx).await.unwrap();

    assert_eq!(h.queue_uris().len(), 1, "nothing new was queued");
    assert_eq!(again.requeued, 0);
}

#[tokio::test]
async fn a_later_sweep_never_frees_the_slot_a_retried_launch_has_just_taken() {
    let h = Harness::new();
    let job = h.stuck_launching("retried");
    h.world.clock.advance(seconds(STUCK_LAUNCH_SECONDS + 1));
    assert_eq!(training_state::sweep(&h.ctx).await.unwrap().requeued, 1);
    assert!(h.holders().is_empty(), "the stuck launch's slot went back");
    // The queue drained: the retried launch took the slot again and is under way, and has not written yet.
    for uri in h.queue_uris() {
        h.world.objects.remove(&uri);
    }
    h.world.clock.advance(seconds(STUCK_LAUNCH_SECONDS + 1));
    h.take_slot(&job);

    training_state::sweep(&h.ctx).await.unwrap();

    assert_eq!(
        h.holders(),
        [job],
        "a slot taken a moment ago belongs to a launch under way"
    );
}

// ---- The call budget ----

#[tokio::test]
async fn one_completed_event_for_a_launched_job_costs_exactly_its_ten_calls() {
    let h = Harness::new();
    let job = h.launched("budget").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    h.world.reset_calls();

    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());

    let calls = h.world.calls();
    let expected = [
        // The truth: the event is only a hint.
        ("DescribeTrainingJob", 1),
        // The run record (once: every write after it starts from the ETag in hand), and the route's slots object
        // (changed by compare-and-swap, so it must be read).
        ("GetObject", 2),
        // The record moved to Completed; `finished_emitted` after EventBridge accepted the event; the slots object
        // without this job; `slot_released`; `slot_freed_emitted`. Each flag is its own write, made only after its
        // effect, so a crash between two steps repeats one step and never skips one.
        ("PutObject", 5),
        // `Training Run Finished`, then `Route Slot Freed` (each checked entry by entry).
        ("PutEvents", 2),
    ];
    assert_eq!(
        calls,
        expected.into_iter().collect::<std::collections::BTreeMap<_, _>>(),
        "no ListTags (the record exists), no ListObjectsV2 (not a sweep), no event-size spill object, no \
         DeleteObject (the record is not closed yet: its open-run marker goes with `published`, publish-artifact's)"
    );
    assert_eq!(h.world.total_calls(), 10);
}

// ---- The index of open runs: a sweep costs what is open, not what was ever run ----

/// A record as it ends when everything is done: terminal, every flag set, published.
fn closed_record(h: &Harness, label: &str) {
    let mut r = h.launching_record(label);
    r.advance(RunStatus::Launched, h.now(), None);
    r.advance(RunStatus::Completed, h.now(), None);
    r.outbox = Outbox::all_done();
    h.put_record(&r);
}

/// The open-run marker, as the launcher writes it before the record.
fn mark_open(h: &Harness, job: &str) {
    let marker = OpenRun {
        job: job.to_string(),
        opened_at: h.now(),
    };
    let uri = h.config.deployment.open_run_key(job).to_string();
    h.world
        .objects
        .insert(&uri, serde_json::to_vec(&marker).unwrap());
}

fn index_built(h: &Harness) {
    let uri = h.config.deployment.open_index_built_key().to_string();
    h.world.objects.insert(&uri, "{}");
}

fn has_marker(h: &Harness, job: &str) -> bool {
    let uri = h.config.deployment.open_run_key(job).to_string();
    h.world.objects.body(&uri).is_some()
}

#[tokio::test]
async fn the_sweep_reads_only_the_open_runs_not_a_thousand_closed_ones() {
    let h = Harness::new();
    for i in 0..1000 {
        closed_record(&h, &format!("closed-{i}"));
    }
    let mut open = Vec::new();
    for i in 0..3 {
        let job = h.launched(&format!("open-{i}")).await;
        mark_open(&h, &job);
        open.push(job);
    }
    index_built(&h);
    h.world.reset_calls();

    let report = training_state::sweep(&h.ctx).await.unwrap();

    assert_eq!(report.records, 3, "{report:?}");
    assert!(!report.rebuilt_index);
    let calls = h.world.calls();
    // Per open run: its record, once (reconcile starts from what the sweep read); the route's slots object (stale
    // slots). Reading the 1,000 closed records too would be 1,000 more.
    assert_eq!(calls.get("GetObject"), Some(&4), "{calls:?}");
    // The open-run index, and the route queues.
    assert_eq!(calls.get("ListObjectsV2"), Some(&2), "{calls:?}");
    assert!(
        open.iter().all(|j| has_marker(&h, j)),
        "open runs stay open"
    );
}

#[tokio::test]
async fn a_closed_run_leaves_the_index_and_a_marker_left_by_a_crash_is_dropped_by_the_sweep() {
    let h = Harness::new();
    index_built(&h);
    let job = h.launched("closes").await;
    mark_open(&h, &job);
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert!(has_marker(&h, &job), "not closed until published");

    // publish-artifact set `published` and crashed before deleting the marker.
    let mut r = h.record(&job);
    r.outbox.published = true;
    h.put_record(&r);
    let report = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(report.markers_dropped, 1, "{report:?}");
    assert!(!has_marker(&h, &job));

    let again = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(
        again.records, 0,
        "a closed run is never read again: {again:?}"
    );
}

#[tokio::test]
async fn a_marker_whose_record_never_came_is_kept_while_a_launch_may_be_on_its_way_then_dropped() {
    let h = Harness::new();
    index_built(&h);
    let job = h.job_name("crashed-between").to_string();
    mark_open(&h, &job);

    let young = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!((young.records, young.markers_dropped), (1, 0), "{young:?}");
    assert!(has_marker(&h, &job));

    h.world.clock.advance(seconds(STUCK_LAUNCH_SECONDS + 1));
    let old = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(old.markers_dropped, 1, "{old:?}");
    assert!(!has_marker(&h, &job));
}

#[tokio::test]
async fn records_written_before_the_index_get_their_markers_from_one_full_sweep_then_only_open_ones_are_read(
) {
    let h = Harness::new();
    for i in 0..5 {
        closed_record(&h, &format!("old-closed-{i}"));
    }
    let open = h.launched("old-open").await;

    let first = training_state::sweep(&h.ctx).await.unwrap();
    assert!(first.rebuilt_index, "{first:?}");
    assert_eq!(first.records, 6);
    assert!(has_marker(&h, &open));
    assert!((0..5).all(|i| !has_marker(&h, h.job_name(&format!("old-closed-{i}")).as_str())));

    let second = training_state::sweep(&h.ctx).await.unwrap();
    assert!(!second.rebuilt_index);
    assert_eq!(second.records, 1, "{second:?}");
}

#[tokio::test]
async fn an_unreadable_record_written_before_the_index_is_indexed_and_reported_by_every_sweep() {
    let h = Harness::new();
    let broken = h.job_name("broken").to_string();
    h.world.objects.insert(&h.run_uri(&broken), "not json");
    assert!(training_state::sweep(&h.ctx).await.is_err());
    assert!(
        has_marker(&h, &broken),
        "read by every sweep until someone looks"
    );
    let built = h.config.deployment.open_index_built_key().to_string();
    assert!(
        h.world.objects.body(&built).is_some(),
        "one broken record does not keep the index from being built"
    );
    assert!(
        training_state::sweep(&h.ctx).await.is_err(),
        "still reported"
    );
}

#[tokio::test]
async fn a_sweep_past_its_record_budget_leaves_the_rest_for_the_next() {
    let h = Harness::new();
    index_built(&h);
    let n = training_state::MAX_RECORDS_PER_SWEEP + 2;
    for i in 0..n {
        // Open markers whose records are still young `Launching` ones: read, nothing to do.
        let label = format!("budget-{i}");
        let job = h.job_name(&label).to_string();
        h.put_record(&h.launching_record(&label));
        mark_open(&h, &job);
    }
    let report = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(report.records, training_state::MAX_RECORDS_PER_SWEEP);
    assert_eq!(report.left_for_next, 2, "{report:?}");
}

#[tokio::test]
async fn a_sweep_with_no_time_left_starts_no_record_and_leaves_them_for_the_next() {
    let h = Harness::new();
    index_built(&h);
    let job = h.launched("late").await;
    mark_open(&h, &job);
    let almost_gone = std::time::Instant::now() + training_state::SWEEP_RESERVE / 2;
    let report = training_state::sweep_until(&h.ctx, REPUBLISH_AFTER_SECONDS, Some(almost_gone))
        .await
        .unwrap();
    assert_eq!((report.records, report.left_for_next), (0, 1), "{report:?}");
}

// ---- The handler and `hubtune inspect` agree ----

/// What the decision says training-state does, in the terms the world shows.
fn expected_ending(h: &hubtune::domain::handling::Handling) -> String {
    use hubtune::domain::handling::{Handling, StateHandling};
    match h {
        Handling::TrainingState(StateHandling::Reconcile { job, .. }) => format!("reconcile {job}"),
        Handling::TrainingState(StateHandling::Sweep) => "sweep".into(),
        Handling::TrainingState(StateHandling::Ignore { .. }) => "ignored".into(),
        Handling::TrainingState(StateHandling::Fail { .. }) => "failed".into(),
        other => panic!("not training-state's decision: {other:?}"),
    }
}

/// How the delivery ended, as the world shows it: one of the four endings, or a panic. A reconcile is seen as
/// the job described (the world has no such job and no record: nothing more to do), a sweep as its listings.
fn observed_ending(h: &Harness, came_back: &[String], described: &[String]) -> String {
    let events = h.world.bus.events();
    let calls = h.world.calls();
    if !came_back.is_empty() {
        assert!(events.is_empty(), "a failure sent {events:#?}");
        return "failed".into();
    }
    if let [job] = described {
        return format!("reconcile {job}");
    }
    if events.is_empty() && h.world.total_calls() == 0 {
        return "ignored".into();
    }
    if described.is_empty() && calls.contains_key("ListObjectsV2") {
        return "sweep".into();
    }
    panic!("none of the four endings: calls {calls:?}, events {events:#?}")
}

/// Every fixture, replayed through `hubtune inspect`'s decision and through the handler on the in-memory world,
/// ends the same way, and that way is one of the four (docs/reliability.md).
#[tokio::test]
async fn every_event_fixture_ends_as_inspect_says() {
    use hubtune::domain::handling::{decide, Function};
    use hubtune::domain::inbound::parse_message;
    let mut endings = std::collections::BTreeMap::new();
    for (name, body) in hubtune::memory::event_fixtures() {
        let h = Harness::new();
        let inbound = parse_message(&body);
        assert_eq!(inbound.len(), 1, "{name}: one record per body");
        let decision = decide(
            Function::TrainingState,
            inbound[0].clone(),
            Some(&h.config),
            h.now(),
        )
        .expect("the routes are given");
        let came_back = h.deliver(std::slice::from_ref(&body)).await;
        // The job a reconcile described: the one the event names, if DescribeTrainingJob was called.
        let described: Vec<String> = match (&inbound[0], h.world.calls().get("DescribeTrainingJob"))
        {
            (hubtune::domain::inbound::Inbound::TrainingUpdate(u), Some(_)) => {
                vec![u.job_name.clone()]
            }
            _ => vec![],
        };
        let observed = observed_ending(&h, &came_back, &described);
        assert_eq!(
            observed,
            expected_ending(&decision),
            "{name}: inspect says `{decision}`"
        );
        endings.insert(name, observed);
    }
    for kind in ["reconcile ", "sweep", "ignored", "failed"] {
        assert!(
            endings.values().any(|e| e.starts_with(kind)),
            "no fixture ends `{kind}`: {endings:#?}"
        );
    }
}
