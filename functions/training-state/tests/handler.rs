//! The training-state handler in-process, over the in-memory ports: the real launcher makes a job (as in a
//! deployment), a test moves the job in the in-memory SageMaker, and SageMaker's state-change events and the sweep
//! are delivered as SQS batches. No network, no sleeps: the clock moves only when a test moves it.

use std::sync::Arc;

use chrono::Duration;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::events::{ROUTE_SLOT_FREED, TRAINING_RUN_FINISHED};
use hubtune::domain::hub::HubContent;
use hubtune::domain::job::JobStatus;
use hubtune::domain::route_queue::Slots;
use hubtune::domain::run::{RunRecord, RunStatus};
use hubtune::memory::{throttled, World};
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use serde_json::{json, Value};

const BUCKET: &str = "acme-ml-datasets";
const GOOD_JSONL: &str = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n";

fn routes(extra: &str) -> String {
    format!(
        r#"
[deployment]
bucket = "{BUCKET}"
[defaults]
hub = "my-private-hub"
role_arn = "arn:aws:iam::111122223333:role/hubtune-training"
[routes.support-bot]
prefix = "datasets/support-bot/"
model_id = "meta-textgeneration-llama-3-2-1b"
instance_type = "ml.g5.2xlarge"
accept_eula = true
max_concurrent_jobs = 5
{extra}
"#
    )
}

struct Harness {
    world: World,
    config: Arc<Config>,
    ctx: Context,
}

fn sqs(bodies: &[Value]) -> Value {
    json!({ "Records": bodies.iter().enumerate().map(|(i, b)| json!({
        "messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": b.to_string()
    })).collect::<Vec<_>>() })
}

/// SageMaker's state-change event as EventBridge delivers it (a hint: the handler describes the job).
fn state_change(job: &str, status: &str) -> Value {
    json!({
        "version": "0", "id": format!("sc-{job}-{status}"), "source": "aws.sagemaker",
        "detail-type": "SageMaker Training Job State Change", "account": "111122223333",
        "time": "2026-11-27T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": { "TrainingJobName": job, "TrainingJobStatus": status }
    })
}

fn sweep_event() -> Value {
    json!({"version": "0", "id": "sweep", "source": "aws.events", "detail-type": "Scheduled Event",
        "account": "111122223333", "time": "2026-11-27T10:00:00Z", "region": "us-east-1", "resources": [], "detail": {}})
}

impl Harness {
    fn new() -> Self {
        let world = World::new();
        world.hub.insert(
            HubContent::from_describe_json(include_str!(
                "../../../fixtures/hub/describe-hub-content.model-reference.json"
            ))
            .unwrap(),
        );
        let config = Arc::new(config::parse(&routes(""), &DeploymentEnv::default(), None).unwrap());
        let ctx = Context::new(
            world.ports(),
            ConfigSource::Inline(config.clone()),
            DeploymentEnv::default(),
        );
        Self { world, config, ctx }
    }

    /// A dataset launched by the real launcher; returns its job's name.
    async fn launch(&self, name: &str) -> String {
        let folder = format!("datasets/support-bot/{name}/");
        self.world
            .objects
            .insert(&format!("s3://{BUCKET}/{folder}train.jsonl"), GOOD_JSONL);
        let marker = format!("{folder}_SUCCESS");
        self.world
            .objects
            .insert(&format!("s3://{BUCKET}/{marker}"), "");
        let landed = json!({"version": "0", "id": name, "detail-type": "Object Created", "source": "aws.s3",
            "account": "111122223333", "time": "2026-11-27T09:14:03Z", "region": "us-east-1", "resources": [],
            "detail": {"bucket": {"name": BUCKET}, "object": {"key": marker, "size": 0, "sequencer": format!("0A{name}")}}});
        let before: Vec<String> = self.jobs();
        let out = launch_finetune::handle(&self.ctx, sqs(&[landed]))
            .await
            .unwrap();
        assert_eq!(out["batchItemFailures"], json!([]));
        self.jobs()
            .into_iter()
            .find(|j| !before.contains(j))
            .expect("the launcher made a job")
    }

    fn jobs(&self) -> Vec<String> {
        self.world
            .jobs
            .all()
            .into_iter()
            .map(|j| j.request.training_job_name)
            .collect()
    }

    async fn deliver(&self, bodies: &[Value]) -> Vec<String> {
        let out = training_state::handle(&self.ctx, sqs(bodies))
            .await
            .unwrap();
        out["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
            .collect()
    }

    fn record(&self, job: &str) -> RunRecord {
        let uri = self.config.deployment.run_key(job).to_string();
        serde_json::from_value(self.world.objects.json(&uri).expect("a run record")).unwrap()
    }

    fn holders(&self) -> Vec<String> {
        let uri = self.config.deployment.slots_key("support-bot").to_string();
        let slots: Slots = serde_json::from_value(self.world.objects.json(&uri).unwrap()).unwrap();
        slots.holders.into_keys().collect()
    }

    fn count(&self, detail_type: &str) -> usize {
        self.world.bus.of_type(detail_type).len()
    }
}

#[tokio::test]
async fn a_completed_job_moves_its_record_announces_once_and_frees_its_slot() {
    let h = Harness::new();
    let job = h.launch("a").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Completed);
    assert!(r.model_artifacts.unwrap().ends_with("/output/model.tar.gz"));
    assert!(r.outbox.finished_emitted && r.outbox.slot_released && r.outbox.slot_freed_emitted);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
    assert!(h.holders().is_empty());
}

#[tokio::test]
async fn the_same_completed_event_twice_is_one_of_each_event() {
    let h = Harness::new();
    let job = h.launch("dup").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    let e = state_change(&job, "Completed");
    assert!(h.deliver(&[e.clone(), e.clone()]).await.is_empty());
    assert!(h.deliver(&[e]).await.is_empty());
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
    assert_eq!(h.count(ROUTE_SLOT_FREED), 1);
}

#[tokio::test]
async fn a_late_in_progress_after_completed_changes_nothing() {
    let h = Harness::new();
    let job = h.launch("late").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let before = h.record(&job);
    assert!(h
        .deliver(&[state_change(&job, "InProgress")])
        .await
        .is_empty());
    assert_eq!(h.record(&job), before);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
}

#[tokio::test]
async fn the_event_is_a_hint_and_describe_is_the_truth() {
    let h = Harness::new();
    let job = h.launch("hint").await;
    // The event says Completed; SageMaker still describes the job InProgress.
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.record(&job).status, RunStatus::InProgress);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 0);
    assert_eq!(h.holders(), [job]);
}

#[tokio::test]
async fn another_deployments_job_is_ignored_without_a_call() {
    let h = Harness::new();
    h.world.reset_calls();
    assert!(h
        .deliver(&[state_change("someone-else-job-1", "Completed")])
        .await
        .is_empty());
    assert_eq!(h.world.total_calls(), 0, "{:?}", h.world.calls());
}

#[tokio::test]
async fn a_job_with_no_record_is_adopted_from_its_tags() {
    let h = Harness::new();
    let job = h.launch("adopt").await;
    h.world
        .objects
        .remove(&h.config.deployment.run_key(&job).to_string());
    h.world
        .jobs
        .set_status(&job, JobStatus::Failed, Some("AlgorithmError: boom"));
    assert!(h.deliver(&[state_change(&job, "Failed")]).await.is_empty());
    let r = h.record(&job);
    assert_eq!(r.route, "support-bot");
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(r.failure_reason.as_deref(), Some("AlgorithmError: boom"));
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
}

#[tokio::test]
async fn a_job_gone_from_sagemaker_ends_failed_after_the_grace_period() {
    let h = Harness::new();
    let job = h.launch("gone").await;
    h.world.jobs.remove(&job);
    assert!(h.deliver(&[sweep_event()]).await.is_empty());
    assert_eq!(h.record(&job).status, RunStatus::Launched, "not at once");
    h.world
        .clock
        .advance(Duration::seconds(training_state::GONE_AFTER_SECONDS + 1));
    assert!(h.deliver(&[sweep_event()]).await.is_empty());
    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Failed);
    assert!(r.failure_reason.unwrap().contains("no longer knows"));
    assert!(h.holders().is_empty());
}

#[tokio::test]
async fn a_throttled_describe_comes_back_and_the_redelivery_completes_once() {
    let h = Harness::new();
    let job = h.launch("throttled").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    h.world.jobs.faults.fail(
        "DescribeTrainingJob",
        &job,
        1,
        throttled("sagemaker", "DescribeTrainingJob"),
    );
    assert_eq!(h.deliver(&[state_change(&job, "Completed")]).await, ["m0"]);
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 0);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
}

#[tokio::test]
async fn a_refused_event_entry_comes_back_and_is_sent_once_more_only() {
    let h = Harness::new();
    let job = h.launch("refused").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    h.world.bus.refuse_next_entries(1);
    assert_eq!(h.deliver(&[state_change(&job, "Completed")]).await, ["m0"]);
    assert_eq!(
        h.record(&job).status,
        RunStatus::Completed,
        "the record moved first"
    );
    assert!(!h.record(&job).outbox.finished_emitted);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
    let o = h.record(&job).outbox;
    assert!(o.finished_emitted && o.slot_released && o.slot_freed_emitted);
}

#[tokio::test]
async fn a_crash_before_the_finished_event_is_repaired_by_the_redelivery() {
    let h = Harness::new();
    let job = h.launch("crash").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    hubtune::runtime::faults::arm("state.before_finished_event", &job, 1);
    assert_eq!(h.deliver(&[state_change(&job, "Completed")]).await, ["m0"]);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
}

#[tokio::test]
async fn the_sweep_republishes_only_after_its_wait() {
    let h = Harness::new();
    let job = h.launch("republish").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let report = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(report.republished, 0);
    h.world.clock.advance(Duration::seconds(
        training_state::REPUBLISH_AFTER_SECONDS + 1,
    ));
    let report = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(report.republished, 1);
    assert_eq!(
        h.count(TRAINING_RUN_FINISHED),
        2,
        "the same event, sent again"
    );
    let ids: Vec<_> = h
        .world
        .bus
        .of_type(TRAINING_RUN_FINISHED)
        .iter()
        .map(|e| e.event_id().to_string())
        .collect();
    assert_eq!(ids[0], ids[1]);
}

#[tokio::test]
async fn one_unreadable_run_record_does_not_stop_the_sweep() {
    let h = Harness::new();
    let job = h.launch("behind").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    let broken = h.config.deployment.run_key("aaa-broken").to_string();
    h.world.objects.insert(&broken, "{not json");
    let e = training_state::sweep(&h.ctx).await;
    assert!(
        e.is_err(),
        "the broken record brings the sweep's message back"
    );
    assert_eq!(
        h.record(&job).status,
        RunStatus::Completed,
        "the others were repaired"
    );
    assert_eq!(h.count(TRAINING_RUN_FINISHED), 1);
}

#[tokio::test]
async fn a_launch_stuck_without_a_job_is_requeued_and_gives_back_its_slot() {
    let h = Harness::new();
    let job = h.launch("stuck").await;
    // As if CreateTrainingJob never succeeded: no job, the record still Launching, the slot held.
    h.world.jobs.remove(&job);
    let uri = h.config.deployment.run_key(&job).to_string();
    let mut r = h.record(&job);
    r.status = RunStatus::Launching;
    h.world
        .objects
        .insert(&uri, serde_json::to_vec(&r).unwrap());
    h.world
        .clock
        .advance(Duration::seconds(training_state::STUCK_LAUNCH_SECONDS + 1));
    let report = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(report.requeued, 1);
    assert!(h.holders().is_empty(), "the slot went back with it");
    assert_eq!(report.slots_freed_announced, 1, "and the route is nudged");
}

#[tokio::test]
async fn a_payload_training_state_does_not_take_comes_back() {
    let h = Harness::new();
    assert_eq!(h.deliver(&[json!({"hello": "world"})]).await, ["m0"]);
}

#[tokio::test]
async fn one_completed_event_costs_its_calls_and_no_more() {
    let h = Harness::new();
    let job = h.launch("budget").await;
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    h.world.reset_calls();
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let calls = h.world.calls();
    // Describe (the truth), read the record, write it moved, two events each followed by its flag, the slot
    // read and released, and its flag.
    assert_eq!(calls.get("DescribeTrainingJob"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("PutEvents"), Some(&2), "{calls:?}");
    assert_eq!(
        calls.get("GetObject"),
        Some(&2),
        "the record and the slots: {calls:?}"
    );
    assert_eq!(
        calls.get("PutObject"),
        Some(&5),
        "record, 3 flags… {calls:?}"
    );
}
