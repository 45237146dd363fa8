//! Every job followed to its end and published, under duplicates, reordering, crashes and faults.

use std::time::{Duration, Instant};

use hubtune::domain::run::RunStatus;
use hubtune::domain::s3uri::S3Uri;
use hubtune_cli::local::FunctionName;
use hubtune_e2e::{Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(40);

async fn latest(env: &Env) -> Value {
    let key = env.config.deployment.latest_key("support-bot");
    serde_json::from_slice(&env.object(&key).await.expect("latest.json exists")).unwrap()
}

#[tokio::test]
async fn success_publishes_once_with_a_manifest_and_latest_pointer() {
    let env = Env::start(Setup::default()).await;
    let uri = env.drop_good("ok").await;
    let ev = env.wait_for("Model Published", 1, T).await;
    env.settle(T).await;
    assert_eq!(env.events("Model Published").len(), 1);
    let d = &ev[0]["detail"];
    assert_eq!(d["schema"], 2);
    assert_eq!(d["dataset_uri"], uri);
    let artifact = d["artifact_uri"].as_str().unwrap();
    assert!(artifact.ends_with("/output/model.tar.gz"), "{artifact}");
    assert!(d["summary"].as_str().unwrap().contains(artifact));
    let l = latest(&env).await;
    assert_eq!(l["artifact_uri"], artifact);
    assert_eq!(l["dataset_uri"], uri);
    let manifest: S3Uri = d["manifest_uri"].as_str().unwrap().parse().unwrap();
    let m: Value = serde_json::from_slice(
        &env.object(&manifest)
            .await
            .expect("manifest beside the artifact"),
    )
    .unwrap();
    assert_eq!(m["artifact_uri"], artifact);
    assert_eq!(m["model_id"], "meta-textgeneration-llama-3-2-1b");
    assert_eq!(m["hub_content_version"], "1.2.0");
    assert!(m["artifact_bytes"].as_u64().unwrap() > 0);
    assert_eq!(m["instance_type"], "ml.g5.2xlarge");
    let job = d["job_name"].as_str().unwrap();
    let r = env.record(job).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert!(r.outbox.published && r.outbox.finished_emitted && r.outbox.slot_released);
    // Every outgoing event carried a summary and an id.
    for e in env.seen.lock().unwrap().iter() {
        assert!(
            e["detail"]["summary"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "{e}"
        );
        assert_eq!(
            e["detail"]["event_id"].as_str().map(str::len),
            Some(32),
            "{e}"
        );
    }
    env.stop().await;
}

#[tokio::test]
async fn failure_and_stop_are_reported_with_their_reason() {
    let env = Env::start(Setup {
        in_progress_seconds: 2.0,
        ..Setup::default()
    })
    .await;
    env.stack
        .outcome(
            "/fails/",
            "Failed",
            Some("AlgorithmError: CUDA out of memory"),
        )
        .await
        .unwrap();
    env.drop_good("fails").await;
    let ev = env.wait_for("Fine-tune Failed", 1, T).await;
    assert_eq!(ev[0]["detail"]["status"], "Failed");
    assert_eq!(
        ev[0]["detail"]["failure_reason"],
        "AlgorithmError: CUDA out of memory"
    );
    assert!(ev[0]["detail"]["console_url"]
        .as_str()
        .unwrap()
        .contains("sagemaker"));
    assert!(ev[0]["detail"]["secondary_status_history"]
        .as_array()
        .is_some());

    env.drop_good("stops").await;
    let started = env.wait_for("Training Run Started", 2, T).await;
    let job = started
        .iter()
        .map(|e| e["detail"]["job_name"].as_str().unwrap().to_string())
        .find(|j| env.events("Fine-tune Failed")[0]["detail"]["job_name"] != *j)
        .unwrap();
    env.aws.stop_training_job(&job).await.unwrap();
    let ev = env.wait_for("Fine-tune Failed", 2, T).await;
    let stopped = ev.iter().find(|e| e["detail"]["job_name"] == job).unwrap();
    assert_eq!(stopped["detail"]["status"], "Stopped");
    assert!(env.events("Model Published").is_empty());
    env.stop().await;
}

#[tokio::test]
async fn completed_five_times_publishes_once_and_reordered_events_end_completed() {
    let env = Env::start(Setup::default()).await;
    env.drop_good("dupes").await;
    let ev = env.wait_for("Model Published", 1, T).await;
    let job = ev[0]["detail"]["job_name"].as_str().unwrap().to_string();
    // Deliver the Completed state change five more times, then a late InProgress.
    let d = env.aws.describe_training_job(&job).await.unwrap().unwrap();
    let event = |status: &str| {
        json!({
        "version": "0", "id": "x", "detail-type": "SageMaker Training Job State Change", "source": "aws.sagemaker",
        "account": "123456789012", "time": "2026-11-27T10:00:00Z", "region": "us-east-1", "resources": [d.arn],
        "detail": { "TrainingJobName": job, "TrainingJobArn": d.arn, "TrainingJobStatus": status, "LastModifiedTime": "1764237600000.0", "Tags": [] }
    }).to_string()
    };
    for _ in 0..5 {
        env.send("TrainingStateQueue", &event("Completed")).await;
    }
    env.send("TrainingStateQueue", &event("InProgress")).await;
    env.settle(T).await;
    // The duplicates and the late InProgress really reached training-state (the stand-in's own Completed too)...
    let seen = |status: &str| {
        env.deliveries(
            FunctionName::TrainingState,
            &[&job, &format!("\"TrainingJobStatus\":\"{status}\"")],
        )
    };
    assert!(seen("Completed") >= 6, "{} Completed", seen("Completed"));
    assert!(seen("InProgress") >= 1);
    // ... and changed nothing.
    assert_eq!(env.events("Model Published").len(), 1, "one publication");
    assert_eq!(env.events("Training Run Finished").len(), 1, "one finish");
    assert_eq!(env.record(&job).await.status, RunStatus::Completed);
    env.stop().await;
}

#[tokio::test]
async fn completed_before_in_progress_ends_completed() {
    // The InProgress event is swallowed and replayed after the Completed one.
    let env = Env::start(Setup::default()).await;
    env.stack
        .control(
            "POST",
            "/_hubtune/drop-events",
            &json!({ "match": "/reversed/", "status": "InProgress", "count": 1 }),
        )
        .await
        .unwrap();
    env.drop_good("reversed").await;
    let ev = env.wait_for("Model Published", 1, T).await;
    let job = ev[0]["detail"]["job_name"].as_str().unwrap().to_string();
    let late = json!({ "id": "late-in-progress", "detail-type": "SageMaker Training Job State Change", "source": "aws.sagemaker",
        "detail": { "TrainingJobName": job, "TrainingJobStatus": "InProgress", "LastModifiedTime": 1 } });
    env.send("TrainingStateQueue", &late.to_string()).await;
    env.settle(T).await;
    assert_eq!(
        env.deliveries(FunctionName::TrainingState, &[&job, "late-in-progress"]),
        1,
        "the late InProgress reached training-state"
    );
    let r = env.record(&job).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(env.events("Model Published").len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_slow_old_job_never_replaces_a_newer_model() {
    let env = Env::start(Setup {
        in_progress_seconds: 0.5,
        ..Setup::route_with("max_concurrent_jobs = 2")
    })
    .await;
    // The older dataset trains longer: its job finishes after the newer one's.
    env.stack
        .control(
            "POST",
            "/_hubtune/outcomes",
            &json!({ "match": "/older/", "status": "Completed", "in_progress_seconds": 3.0 }),
        )
        .await
        .unwrap();
    env.drop_good("older").await;
    // Real time, on purpose: which dataset is newer comes from the time S3 stamps on each marker's event (the local
    // stack's clock, in whole seconds, not the handlers' clock), so the two uploads must be a second apart.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let newer = env.drop_good("newer").await;
    env.wait_for("Model Published", 2, T).await;
    let published: Vec<_> = env
        .events("Model Published")
        .iter()
        .map(|e| e["detail"]["dataset_uri"].as_str().unwrap().to_string())
        .collect();
    assert!(
        published[0].ends_with("/newer/"),
        "the newer job finished first: {published:?}"
    );
    assert_eq!(
        latest(&env).await["dataset_uri"],
        newer,
        "latest.json names the newer dataset"
    );
    let older = env
        .events("Model Published")
        .into_iter()
        .find(|e| {
            e["detail"]["dataset_uri"]
                .as_str()
                .unwrap()
                .ends_with("/older/")
        })
        .unwrap();
    assert_eq!(older["detail"]["latest_updated"], false);
    env.stop().await;
}

#[tokio::test]
async fn one_slot_three_datasets_run_one_after_another() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 1")).await;
    for n in ["q1", "q2", "q3"] {
        env.drop_good(n).await;
    }
    env.wait_for("Model Published", 3, Duration::from_secs(60))
        .await;
    assert_eq!(env.jobs().await.len(), 3);
    assert_eq!(
        env.events("Dataset Queued").len(),
        2,
        "two waited for the slot"
    );
    // Never two at once: each job started after the previous one ended.
    let mut spans = Vec::new();
    for j in env.jobs().await {
        let r = env.record(&j).await;
        let start = r
            .history
            .iter()
            .find(|c| c.status == RunStatus::Launched)
            .unwrap()
            .at;
        let end = r
            .history
            .iter()
            .find(|c| c.status.is_terminal())
            .unwrap()
            .at;
        spans.push((start, end));
    }
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[1].0 >= w[0].1, "overlapping jobs: {spans:?}");
    }
    assert!(
        env.keys("hubtune/state/queue/").await.is_empty(),
        "the queue is empty at the end"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_quota_refusal_is_queued_then_launched_and_published() {
    let env = Env::start(Setup::default()).await;
    env.fault(json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "resource-limit", "count": 1 })).await;
    env.drop_good("quota-later").await;
    env.wait_for("Dataset Queued", 1, T).await;
    // The sweep sees a queued dataset and a free slot, and announces it; the launcher takes it.
    training_state::sweep_with(&env.ctx, 0).await.unwrap();
    env.wait_for("Model Published", 1, T).await;
    assert_eq!(env.jobs().await.len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn two_launchers_racing_for_the_last_slot_make_one_job_and_one_queue_entry() {
    let env = Env::start(Setup {
        in_progress_seconds: 30.0,
        ..Setup::route_with("max_concurrent_jobs = 1")
    })
    .await;
    env.put("datasets/support-bot/race-a/train.jsonl", b"{\"a\":1}\n")
        .await;
    env.put("datasets/support-bot/race-b/train.jsonl", b"{\"a\":1}\n")
        .await;
    let ev = |name: &str, seq: &str| {
        json!({ "version": "0", "detail-type": "Object Created", "source": "aws.s3", "time": "2026-11-27T09:14:03Z",
        "detail": { "bucket": { "name": "hubtune-local" }, "object": { "key": format!("datasets/support-bot/{name}/_SUCCESS"), "size": 0, "sequencer": seq } } })
    };
    let (a, b) = tokio::join!(
        launch_finetune::handle(&env.ctx, ev("race-a", "01")),
        launch_finetune::handle(&env.ctx, ev("race-b", "02"))
    );
    a.unwrap();
    b.unwrap();
    env.collect().await;
    assert_eq!(env.jobs().await.len(), 1, "one job");
    assert_eq!(
        env.keys("hubtune/state/queue/support-bot/").await.len(),
        1,
        "one queue entry"
    );
    assert_eq!(env.events("Dataset Queued").len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_swallowed_completed_event_is_published_by_the_sweep() {
    let env = Env::start(Setup::default()).await;
    drop_next_event(&env, "/swallowed/", "Completed").await;
    env.drop_good("swallowed").await;
    // SageMaker says Completed; the event never comes.
    completed_job(&env).await;
    env.settle(T).await;
    assert!(
        env.events("Model Published").is_empty(),
        "nothing without the event"
    );
    let report = training_state::sweep_with(&env.ctx, 0).await.unwrap();
    assert!(report.reconciled >= 1, "{report:?}");
    env.wait_for("Model Published", 1, T).await;
    env.stop().await;
}

#[tokio::test]
async fn crashes_before_put_events_lead_to_exactly_one_publication() {
    let env = Env::start(Setup::default()).await;
    // After the terminal record update, before Training Run Finished; and between latest.json and Model Published.
    hubtune::runtime::faults::arm("state.before_finished_event", "/crashy/", 1);
    hubtune::runtime::faults::arm("publish.before_model_published", "/crashy/", 1);
    env.drop_good("crashy").await;
    let ev = env.wait_for("Model Published", 1, T).await;
    env.settle(T).await;
    training_state::sweep_with(&env.ctx, 0).await.unwrap();
    env.settle(T).await;
    let published = env.events("Model Published");
    assert_eq!(published.len(), 1, "exactly one Model Published");
    assert_eq!(
        published[0]["detail"]["event_id"],
        ev[0]["detail"]["event_id"]
    );
    assert_eq!(
        hubtune::runtime::faults::remaining("state.before_finished_event", "/crashy/"),
        0,
        "the crash really happened"
    );
    assert_eq!(
        hubtune::runtime::faults::remaining("publish.before_model_published", "/crashy/"),
        0,
        "the crash really happened"
    );
    env.stop().await;
}

#[tokio::test]
async fn an_s3_409_on_a_record_update_is_retried_and_nothing_is_lost() {
    let env = Env::start(Setup::default()).await;
    env.fault(json!({ "service": "s3", "operation": "PutObject", "error": "s3-409", "count": 2, "match": "runs/" })).await;
    env.drop_good("conflict").await;
    env.wait_for("Model Published", 1, T).await;
    assert_eq!(
        env.faults_pending().await,
        Vec::<Value>::new(),
        "both 409s really happened"
    );
    let job = env.jobs().await.pop().unwrap();
    let r = env.record(&job).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert!(r.outbox.published);
    env.stop().await;
}

#[tokio::test]
async fn a_put_events_partial_failure_is_resent_with_the_same_id() {
    let env = Env::start(Setup::default()).await;
    env.fault(json!({ "service": "events", "operation": "PutEvents", "error": "put-events-partial", "count": 1, "match": "Training Run Started" })).await;
    env.drop_good("partial").await;
    env.wait_for("Model Published", 1, T).await;
    env.settle(T).await;
    assert_eq!(
        env.faults_pending().await,
        Vec::<Value>::new(),
        "PutEvents really refused the entry"
    );
    let started = env.events("Training Run Started");
    assert_eq!(started.len(), 1, "the refused entry was sent again, once");
    // With the same id: the one derived from the job, which the refused entry carried too.
    let job = started[0]["detail"]["job_name"].as_str().unwrap();
    assert_eq!(
        started[0]["detail"]["event_id"],
        hubtune::domain::events::event_id(hubtune::domain::events::TRAINING_RUN_STARTED, job)
    );
    env.stop().await;
}

#[tokio::test]
async fn a_slot_left_by_a_launch_that_never_happened_is_freed_by_the_sweep() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 1")).await;
    // A launcher took the only slot, then died before writing its run record; its message went to the DLQ.
    let slots = env.config.deployment.state_key("slots/support-bot.json");
    let stale = json!({ "revision": 1, "route": "support-bot", "holders": { "hubtune-support-bot-00000000deadbeef": "2026-01-01T00:00:00Z" } });
    env.put(slots.key(), stale.to_string().as_bytes()).await;
    env.drop_good("behind-a-ghost").await;
    env.wait_for("Dataset Queued", 1, T).await;
    let report = training_state::sweep_with(&env.ctx, 0).await.unwrap();
    assert_eq!(report.stale_slots_released, 1, "{report:?}");
    env.wait_for("Model Published", 1, T).await;
    env.stop().await;
}

/// The job named by the one `Training Run Started`, once SageMaker says it has ended `Completed`.
async fn completed_job(env: &Env) -> String {
    let started = env.wait_for("Training Run Started", 1, T).await;
    let job = started[0]["detail"]["job_name"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..100 {
        let d = env.aws.describe_training_job(&job).await.unwrap().unwrap();
        if d.status == hubtune::domain::job::JobStatus::Completed {
            return job;
        }
        // Polling the stand-in's job (at most 10 s).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{job} did not complete");
}

/// Make the stand-in swallow the next state-change event of `status` for jobs matching `needle`.
async fn drop_next_event(env: &Env, needle: &str, status: &str) {
    env.stack
        .control(
            "POST",
            "/_hubtune/drop-events",
            &json!({ "match": needle, "status": status, "count": 1 }),
        )
        .await
        .unwrap();
}

/// DeleteTrainingJob; with `until_gone`, wait until SageMaker no longer describes the job.
async fn delete_job(env: &Env, job: &str, until_gone: bool) {
    env.aws
        .sagemaker
        .delete_training_job()
        .training_job_name(job)
        .send()
        .await
        .expect("DeleteTrainingJob");
    let start = Instant::now();
    while until_gone && env.aws.describe_training_job(job).await.unwrap().is_some() {
        assert!(start.elapsed() < T, "{job} is still described");
        // Polling the stand-in until the job is gone (the deadline above).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn assert_ended_failed_without_publication(
    env: &Env,
    r: &hubtune::domain::run::RunRecord,
    reason: &str,
) {
    assert_eq!(r.status, RunStatus::Failed, "{r:?}");
    let why = r.failure_reason.as_deref().unwrap_or_default();
    assert!(why.contains(reason), "{why}");
    assert!(r.outbox.finished_emitted && r.outbox.slot_released && r.outbox.slot_freed_emitted);
    assert!(env.events("Model Published").is_empty());
    assert_eq!(env.events("Route Slot Freed").len(), 1);
}

#[tokio::test]
async fn a_job_deleted_before_its_end_was_seen_ends_failed_through_its_deleting_event() {
    let env = Env::start(Setup::default()).await;
    drop_next_event(&env, "/deleted/", "Completed").await;
    env.drop_good("deleted").await;
    let job = completed_job(&env).await;
    delete_job(&env, &job, false).await;
    // The `Deleting` state change reaches training-state; no sweep is needed.
    let failed = env.wait_for("Fine-tune Failed", 1, T).await;
    let reason = failed[0]["detail"]["failure_reason"].as_str().unwrap();
    assert!(reason.contains("was deleted"), "{reason}");
    let r = env.record(&job).await;
    assert_ended_failed_without_publication(&env, &r, "was deleted");
    env.stop().await;
}

#[tokio::test]
async fn a_launched_job_sagemaker_no_longer_knows_is_ended_by_the_sweep_after_a_grace_period() {
    let env = Env::start(Setup::default()).await;
    drop_next_event(&env, "/vanished/", "Completed").await;
    drop_next_event(&env, "/vanished/", "Deleting").await;
    env.drop_good("vanished").await;
    let job = completed_job(&env).await;
    delete_job(&env, &job, true).await;
    // Not found, but the record changed moments ago: the sweep leaves it for a later look.
    training_state::sweep_with(&env.ctx, 0).await.unwrap();
    env.settle(T).await;
    assert_eq!(env.record(&job).await.status, RunStatus::InProgress);
    assert!(env.events("Fine-tune Failed").is_empty());
    // Long enough later (the handlers' clock moved past the grace period), it ends the run.
    env.advance(Duration::from_secs(
        training_state::GONE_AFTER_SECONDS as u64 + 1,
    ));
    training_state::sweep_with(&env.ctx, 0).await.unwrap();
    env.wait_for("Fine-tune Failed", 1, T).await;
    let r = env.record(&job).await;
    assert_ended_failed_without_publication(&env, &r, "no longer knows");
    // A later sweep has nothing left to do for it.
    training_state::sweep_with(&env.ctx, 0).await.unwrap();
    env.settle(T).await;
    assert_eq!(env.events("Fine-tune Failed").len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_refused_launch_that_waits_past_queue_max_age_ends_rejected_not_queued() {
    let env = Env::start(Setup::route_with("queue_max_age = \"1s\"")).await;
    env.fault(json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "resource-limit", "count": 1 })).await;
    env.drop_good("too-late").await;
    env.wait_for("Dataset Queued", 1, T).await;
    let runs = env.keys("hubtune/state/runs/").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    let job = runs[0]
        .rsplit('/')
        .next()
        .unwrap()
        .trim_end_matches(".json")
        .to_string();
    assert_eq!(env.record(&job).await.status, RunStatus::Queued);
    // Older than queue_max_age in whole seconds (an entry of 1.5 s is not yet older than 1 s): the handlers' clock
    // moves 2 s on.
    env.advance(Duration::from_secs(2));
    // The sweep sees the queued dataset and a free slot; the launcher finds it too old.
    training_state::sweep_with(&env.ctx, 0).await.unwrap();
    let rejected = env.wait_for("Dataset Rejected", 1, T).await;
    assert_eq!(
        rejected[0]["detail"]["reason"], "queue_max_age",
        "{}",
        rejected[0]["detail"]
    );
    let r = env.record(&job).await;
    assert_eq!(r.status, RunStatus::Failed, "{r:?}");
    assert!(r
        .failure_reason
        .unwrap_or_default()
        .contains("queue_max_age"));
    assert!(env.jobs().await.is_empty());
    assert!(env.keys("hubtune/state/queue/").await.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn a_completed_job_deleted_before_its_publication_is_published_from_the_run_record() {
    let env = Env::start(Setup::default()).await;
    // Every publication attempt "dies" after latest.json and before Model Published, until the job is gone.
    hubtune::runtime::faults::arm("publish.before_model_published", "/deleted-late/", u32::MAX);
    env.drop_good("deleted-late").await;
    let job = completed_job(&env).await;
    // Pump until training-state has sent `Training Run Finished` (publish-artifact keeps failing, so the queues
    // never settle): polling with a deadline.
    let start = Instant::now();
    let mut r = env.record(&job).await;
    while !r.outbox.finished_emitted {
        assert!(
            start.elapsed() < T,
            "Training Run Finished never sent: {r:?}"
        );
        env.pump().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        r = env.record(&job).await;
    }
    assert_eq!(r.status, RunStatus::Completed, "{r:?}");
    let artifact = r
        .model_artifacts
        .clone()
        .expect("the record holds the artifact");
    delete_job(&env, &job, true).await;
    hubtune::runtime::faults::disarm("publish.before_model_published", "/deleted-late/");
    assert!(env.events("Model Published").is_empty());
    // The sweep sends `Training Run Finished` again; publish-artifact publishes from the record alone.
    training_state::sweep_with(&env.ctx, 0).await.unwrap();
    let ev = env.wait_for("Model Published", 1, T).await;
    assert_eq!(ev[0]["detail"]["artifact_uri"], artifact.as_str());
    assert_eq!(latest(&env).await["artifact_uri"], artifact.as_str());
    assert!(env.record(&job).await.outbox.published);
    env.stop().await;
}
