//! The publish-artifact handler in-process, over the in-memory ports: the real launcher makes a job and the real
//! training-state follows it to its end (as in a deployment), then `Training Run Finished` is delivered as SQS
//! batches. No network, no sleeps: the clock moves only when a test moves it.

use std::sync::Arc;

use chrono::Duration;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::events::{FINETUNE_FAILED, MODEL_PUBLISHED, TRAINING_RUN_FINISHED};
use hubtune::domain::hub::HubContent;
use hubtune::domain::job::JobStatus;
use hubtune::domain::run::RunRecord;
use hubtune::memory::{access_denied, throttled, World};
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

    /// The job ends as `status` and training-state follows it (record, `Training Run Finished`); returns that event.
    async fn end(&self, job: &str, status: JobStatus, reason: Option<&str>) -> Value {
        self.world.jobs.set_status(job, status, reason);
        let out = training_state::handle(&self.ctx, sqs(&[state_change(job, status.as_str())]))
            .await
            .unwrap();
        assert_eq!(out["batchItemFailures"], json!([]));
        let finished = self.world.bus.of_type(TRAINING_RUN_FINISHED);
        let e = finished.last().expect("Training Run Finished");
        json!({"version": "0", "id": "f", "source": e.source, "detail-type": e.detail_type,
            "account": "111122223333", "time": "2026-11-27T10:00:00Z", "region": "us-east-1",
            "resources": e.resources, "detail": e.detail})
    }

    /// A completed job with its artifact in S3; returns the job and its `Training Run Finished`.
    async fn completed(&self, name: &str) -> (String, Value) {
        let job = self.launch(name).await;
        let finished = self.end(&job, JobStatus::Completed, None).await;
        let artifact = self
            .world
            .jobs
            .get(&job)
            .unwrap()
            .description
            .model_artifacts
            .unwrap();
        self.world.objects.insert(&artifact, vec![7u8; 1234]);
        (job, finished)
    }

    async fn deliver(&self, bodies: &[Value]) -> Vec<String> {
        let out = publish_artifact::handle(&self.ctx, sqs(bodies))
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

    fn latest(&self) -> Option<Value> {
        self.world
            .objects
            .json(&self.config.deployment.latest_key("support-bot").to_string())
    }
}

#[tokio::test]
async fn a_completed_run_is_published_with_its_manifest_and_latest() {
    let h = Harness::new();
    let (job, finished) = h.completed("a").await;
    assert!(h.deliver(&[finished]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    let d = &published[0].detail;
    assert_eq!(d["artifact_bytes"], 1234);
    assert_eq!(d["latest_updated"], true);
    let manifest = h
        .world
        .objects
        .json(d["manifest_uri"].as_str().unwrap())
        .expect("manifest");
    assert_eq!(manifest["job_name"], job.as_str());
    assert!(d["manifest_uri"]
        .as_str()
        .unwrap()
        .ends_with(&format!("{job}/hubtune-manifest.json")));
    assert_eq!(h.latest().unwrap()["job_name"], job.as_str());
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn a_duplicated_finish_is_one_publication() {
    let h = Harness::new();
    let (_, finished) = h.completed("dup").await;
    assert!(h
        .deliver(&[finished.clone(), finished.clone()])
        .await
        .is_empty());
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn an_older_dataset_finishing_last_does_not_move_latest() {
    let h = Harness::new();
    let (older, older_finished) = h.completed("a-older").await;
    // The newer dataset landed later (its sort key is later: same time, greater sequencer).
    let (newer, newer_finished) = h.completed("b-newer").await;
    assert!(h.deliver(&[newer_finished]).await.is_empty());
    assert!(h.deliver(&[older_finished]).await.is_empty());
    assert_eq!(h.latest().unwrap()["job_name"], newer.as_str());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    let older_event = published
        .iter()
        .find(|e| e.detail["job_name"] == older.as_str())
        .unwrap();
    assert_eq!(older_event.detail["latest_updated"], false);
}

#[tokio::test]
async fn a_failed_run_is_reported_with_its_reason_and_never_moves_latest() {
    let h = Harness::new();
    let job = h.launch("failed").await;
    let finished = h
        .end(
            &job,
            JobStatus::Failed,
            Some("AlgorithmError: CUDA out of memory"),
        )
        .await;
    assert!(h.deliver(&[finished]).await.is_empty());
    let failed = h.world.bus.of_type(FINETUNE_FAILED);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].detail["failure_reason"],
        "AlgorithmError: CUDA out of memory"
    );
    assert!(failed[0].detail["console_url"]
        .as_str()
        .unwrap()
        .contains(&job));
    assert!(h.latest().is_none());
}

#[tokio::test]
async fn a_finish_for_a_run_without_a_record_is_acknowledged() {
    let h = Harness::new();
    let e = json!({"version": "0", "id": "x", "source": "hubtune", "detail-type": "Training Run Finished",
        "account": "111122223333", "time": "2026-11-27T10:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {"job_name": "hubtune-support-bot-0000000000000000"}});
    assert!(h.deliver(&[e]).await.is_empty());
    assert!(h
        .world
        .bus
        .events()
        .iter()
        .all(|e| e.detail_type != MODEL_PUBLISHED));
}

#[tokio::test]
async fn a_job_deleted_after_it_completed_is_still_published() {
    let h = Harness::new();
    let (job, finished) = h.completed("deleted").await;
    h.world.jobs.remove(&job);
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn a_missing_artifact_comes_back_then_publishes_once_it_appears() {
    let h = Harness::new();
    let job = h.launch("lagging").await;
    let finished = h.end(&job, JobStatus::Completed, None).await;
    assert_eq!(h.deliver(std::slice::from_ref(&finished)).await, ["m0"]);
    let artifact = h
        .world
        .jobs
        .get(&job)
        .unwrap()
        .description
        .model_artifacts
        .unwrap();
    h.world.objects.insert(&artifact, vec![1u8; 10]);
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn an_artifact_deleted_before_publication_ends_in_fine_tune_failed() {
    let h = Harness::new();
    let job = h.launch("deleted-artifact").await;
    let finished = h.end(&job, JobStatus::Completed, None).await;
    h.world.clock.advance(Duration::seconds(
        publish_artifact::ARTIFACT_GRACE_SECONDS + 1,
    ));
    assert!(h.deliver(&[finished]).await.is_empty());
    let failed = h.world.bus.of_type(FINETUNE_FAILED);
    assert_eq!(failed.len(), 1);
    assert!(failed[0].detail["failure_reason"]
        .as_str()
        .unwrap()
        .contains("was deleted"));
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn a_directory_artifact_is_summed() {
    let h = Harness::new();
    let job = h.launch("dir").await;
    let finished = h.end(&job, JobStatus::Completed, None).await;
    let artifact = h
        .world
        .jobs
        .get(&job)
        .unwrap()
        .description
        .model_artifacts
        .unwrap();
    h.world
        .objects
        .insert(&format!("{artifact}/a.bin"), vec![0u8; 10]);
    h.world
        .objects
        .insert(&format!("{artifact}/b.bin"), vec![0u8; 5]);
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(
        h.world.bus.of_type(MODEL_PUBLISHED)[0].detail["artifact_bytes"],
        15
    );
}

#[tokio::test]
async fn a_throttled_read_comes_back_and_the_redelivery_publishes_once() {
    let h = Harness::new();
    let (_, finished) = h.completed("throttled").await;
    h.world.objects.faults.fail(
        "HeadObject",
        "model.tar.gz",
        1,
        throttled("s3", "HeadObject"),
    );
    assert_eq!(h.deliver(std::slice::from_ref(&finished)).await, ["m0"]);
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn a_refused_entry_after_latest_moved_is_sent_once_more_only() {
    let h = Harness::new();
    let (job, finished) = h.completed("refused").await;
    h.world.bus.refuse_next_entries(1);
    assert_eq!(h.deliver(std::slice::from_ref(&finished)).await, ["m0"]);
    assert_eq!(h.latest().unwrap()["job_name"], job.as_str());
    let latest_before = h.latest();
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
    assert_eq!(
        h.latest(),
        latest_before,
        "latest.json was not written twice"
    );
}

#[tokio::test]
async fn denied_access_to_the_output_is_a_deployment_fault_that_keeps_the_message() {
    let h = Harness::new();
    let (_, finished) = h.completed("denied").await;
    h.world.objects.faults.fail_always(
        "HeadObject",
        "model.tar.gz",
        access_denied("s3", "HeadObject"),
    );
    assert_eq!(h.deliver(std::slice::from_ref(&finished)).await, ["m0"]);
    assert!(
        h.world.bus.of_type(FINETUNE_FAILED).is_empty(),
        "never reported as the run's failure"
    );
    h.world.heal();
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn a_crash_before_model_published_is_repaired_by_the_redelivery() {
    let h = Harness::new();
    let (job, finished) = h.completed("crash").await;
    hubtune::runtime::faults::arm("publish.before_model_published", &job, 1);
    assert_eq!(h.deliver(std::slice::from_ref(&finished)).await, ["m0"]);
    assert!(h.deliver(&[finished]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn one_publication_costs_its_calls_and_no_more() {
    let h = Harness::new();
    let (_, finished) = h.completed("budget").await;
    h.world.reset_calls();
    assert!(h.deliver(&[finished]).await.is_empty());
    let calls = h.world.calls();
    // The record; DescribeTrainingJob for the details; HEAD of the artifact; the manifest, latest.json read and
    // written, the record's published flag; Model Published.
    assert_eq!(calls.get("DescribeTrainingJob"), Some(&1), "{calls:?}");
    assert_eq!(calls.get("HeadObject"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("GetObject"),
        Some(&2),
        "the record and latest.json: {calls:?}"
    );
    assert_eq!(
        calls.get("PutObject"),
        Some(&3),
        "manifest, latest, flag: {calls:?}"
    );
    assert_eq!(calls.get("PutEvents"), Some(&1), "{calls:?}");
}
