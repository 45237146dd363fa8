//! The world publish-artifact works in, built by hand as the launcher and training-state would leave it: a job made
//! through the jobs port (from the SDK fixture) and moved by the in-memory SageMaker, its artifact in S3, and its
//! terminal run record with the outbox flags training-state sets. `Training Run Finished` is then delivered in SQS
//! batches. No network, no sleeps: the clock moves only when a test moves it.

#![allow(dead_code)] // Each test binary uses its own part of the harness.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hubtune::domain::config::Config;
use hubtune::domain::dataset::{DatasetFile, DatasetIdentity, DatasetLanded, FrozenDataset};
use hubtune::domain::hub::HubContent;
use hubtune::domain::job::JobStatus;
use hubtune::domain::naming::{identity_hash, JobName};
use hubtune::domain::plan::CreateTrainingJobRequest;
use hubtune::domain::run::{NewRun, RunRecord, RunStatus};
use hubtune::domain::s3uri::S3Uri;
use hubtune::memory::World;
use hubtune::ports::{ObjectStore, TrainingJobs};
use hubtune::runtime::context::Context;
use serde_json::{json, Value};

pub const BUCKET: &str = "acme-ml-datasets";
pub const ROUTE: &str = "support-bot";
pub const MODEL: &str = "meta-textgeneration-llama-3-2-1b";
/// The size of the artifact `completed` puts in S3.
pub const ARTIFACT_BYTES: usize = 1234;
/// The one data file of every dataset.
pub const DATASET_BYTES: u64 = 42;

/// The routes file of tests/lib.rs (`routes_toml`), with this crate's bucket.
pub fn routes_toml() -> String {
    format!(
        r#"
[deployment]
bucket = "{BUCKET}"
[defaults]
hub = "my-private-hub"
role_arn = "arn:aws:iam::111122223333:role/hubtune-training"
[routes.{ROUTE}]
prefix = "datasets/{ROUTE}/"
model_id = "{MODEL}"
instance_type = "ml.g5.2xlarge"
hyperparameters = {{ epoch = 2, instruction_tuned = true }}
accept_eula = true
hourly_price_usd = 1.5
"#
    )
}

/// How the job (and so its record) ended, or that it has not.
#[derive(Debug, Clone, Copy)]
pub enum Ends {
    Completed,
    Failed(Option<&'static str>),
    Stopped,
    /// Still training: the record is `InProgress`, only `Training Run Started` went out.
    Running,
}

pub struct Harness {
    pub world: World,
    pub config: Arc<Config>,
    pub ctx: Context,
}

impl Harness {
    pub fn new() -> Self {
        let world = World::new();
        let (config, ctx) = world.context(&routes_toml());
        Self { world, config, ctx }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.ctx.now()
    }

    /// A job name of this deployment, unique per label (crash points are process-global: a test arms its own job).
    pub fn job_name(label: &str) -> String {
        format!("hubtune-{ROUTE}-{}", &identity_hash("test", label)[..16])
    }

    /// A run landed `landed_ago` before now: the job made through the port, moved to its end by the in-memory
    /// SageMaker, and its record written as training-state leaves it. No artifact is put (see `put_artifact`).
    pub async fn run(&self, label: &str, landed_ago: Duration, ends: Ends) -> String {
        let job = Self::job_name(label);
        let request = self.request(&job);
        let arn = self
            .world
            .jobs
            .create(&request)
            .await
            .expect("the job is created");
        match ends {
            Ends::Completed => self.world.jobs.set_status(&job, JobStatus::Completed, None),
            Ends::Failed(reason) => self.world.jobs.set_status(&job, JobStatus::Failed, reason),
            Ends::Stopped => self.world.jobs.set_status(&job, JobStatus::Stopped, None),
            Ends::Running => {}
        }
        let record = self.record_for(&job, &arn, &request, label, landed_ago, ends);
        self.put_record(&record);
        job
    }

    /// A completed run with its `.tar.gz` artifact (`ARTIFACT_BYTES`) in S3, landed 4 hours ago.
    pub async fn completed(&self, label: &str) -> String {
        let job = self.run(label, Duration::hours(4), Ends::Completed).await;
        self.put_artifact(&job, ARTIFACT_BYTES);
        job
    }

    fn request(&self, job: &str) -> CreateTrainingJobRequest {
        let mut request: CreateTrainingJobRequest = serde_json::from_str(include_str!(
            "../../../../fixtures/sdk/create_training_job.accept_eula.json"
        ))
        .expect("the SDK fixture is a CreateTrainingJob request");
        request.training_job_name = job.to_string();
        request.output_data_config.s3_output_path = self.config.deployment.route_output(ROUTE);
        request
    }

    fn record_for(
        &self,
        job: &str,
        arn: &str,
        request: &CreateTrainingJobRequest,
        label: &str,
        landed_ago: Duration,
        ends: Ends,
    ) -> RunRecord {
        let now = self.now();
        let landed_at = now - landed_ago;
        let folder = format!("datasets/{ROUTE}/{label}/");
        let location = S3Uri::new(BUCKET, folder.clone()).unwrap();
        let sequencer = format!("0A{}", &identity_hash("seq", label)[..14].to_uppercase());
        let dataset = DatasetLanded {
            route: ROUTE.into(),
            identity: DatasetIdentity {
                bucket: BUCKET.into(),
                key: format!("{folder}_SUCCESS"),
                version: format!("s:{sequencer}"),
                attempt: 0,
            },
            location: location.clone(),
            time: landed_at,
            sequencer: Some(sequencer),
        };
        let frozen = FrozenDataset {
            location,
            files: vec![DatasetFile {
                key: format!("{folder}train.jsonl"),
                etag: "etag-train".into(),
                size: DATASET_BYTES,
                version_id: Some("version-train".into()),
                channel: "training".into(),
            }],
            total_bytes: DATASET_BYTES,
            channel_folders: vec![],
        };
        let hub = HubContent::from_describe_json(include_str!(
            "../../../../fixtures/hub/describe-hub-content.model-reference.json"
        ))
        .expect("the hub fixture parses");
        let job_name = JobName::parse(job).unwrap();
        let manifest = self.config.deployment.manifest_key(job);
        let launched_at = landed_at + Duration::seconds(5);
        let mut r = RunRecord::launching(
            NewRun {
                job: &job_name,
                dataset: &dataset,
                frozen: &frozen,
                manifest: &manifest,
                channel_manifests: &[],
                model_id: MODEL,
                hub: &hub,
                request,
            },
            launched_at,
        );
        r.job_arn = Some(arn.to_string());
        r.advance(RunStatus::Launched, launched_at, None);
        r.outbox.started_emitted = true;
        let desc = self.world.jobs.get(job).unwrap().description;
        let to = match ends {
            Ends::Running => {
                r.advance(RunStatus::InProgress, now, Some("Training".into()));
                return r;
            }
            Ends::Completed => RunStatus::Completed,
            Ends::Failed(_) => RunStatus::Failed,
            Ends::Stopped => RunStatus::Stopped,
        };
        // As training-state's observe: the end, its reason and artifact, then the outbox worked off (not `published`).
        r.advance(to, now, desc.secondary_status.clone());
        r.failure_reason = desc.failure_reason.clone();
        r.model_artifacts = desc.model_artifacts.clone();
        r.outbox.finished_emitted = true;
        r.outbox.slot_released = true;
        r.outbox.slot_freed_emitted = true;
        r
    }

    pub fn put_record(&self, r: &RunRecord) {
        let uri = self
            .config
            .deployment
            .run_key(r.job_name.as_str())
            .to_string();
        self.world
            .objects
            .insert(&uri, serde_json::to_vec_pretty(r).unwrap());
    }

    /// The artifact SageMaker names for a completed job (`<output>/<job>/output/model.tar.gz`).
    pub fn artifact_uri(&self, job: &str) -> String {
        self.world
            .jobs
            .get(job)
            .expect("the job exists")
            .description
            .model_artifacts
            .expect("the job completed")
    }

    pub fn put_artifact(&self, job: &str, bytes: usize) -> String {
        let uri = self.artifact_uri(job);
        self.world.objects.insert(&uri, vec![7u8; bytes]);
        uri
    }

    /// `<output>/<job>/`: the job's folder under the route's output.
    pub fn job_dir(&self, job: &str) -> String {
        format!("{}{job}/", self.config.deployment.route_output(ROUTE))
    }

    pub fn manifest_uri(&self, job: &str) -> String {
        format!("{}hubtune-manifest.json", self.job_dir(job))
    }

    pub fn latest_uri(&self) -> String {
        self.config.deployment.latest_key(ROUTE).to_string()
    }

    pub fn latest(&self) -> Option<Value> {
        self.world.objects.json(&self.latest_uri())
    }

    /// The ETag of `latest.json` (a new one per write). Costs a HeadObject: not between `reset_calls` and `calls`.
    pub async fn latest_etag(&self) -> Option<String> {
        let uri: S3Uri = self.latest_uri().parse().unwrap();
        self.world.objects.head(&uri).await.unwrap().map(|h| h.etag)
    }

    pub fn record(&self, job: &str) -> RunRecord {
        let uri = self.config.deployment.run_key(job).to_string();
        serde_json::from_value(self.world.objects.json(&uri).expect("a run record")).unwrap()
    }

    /// Deliver an SQS batch of these bodies (message ids `m0`, `m1`, …); returns the ids that come back.
    pub async fn deliver(&self, bodies: &[Value]) -> Vec<String> {
        let out = publish_artifact::handle(&self.ctx, sqs(bodies))
            .await
            .expect("an SQS batch always answers a batch response");
        out["batchItemFailures"]
            .as_array()
            .expect("batchItemFailures")
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
            .collect()
    }
}

/// An SQS batch as Lambda receives it.
pub fn sqs(bodies: &[Value]) -> Value {
    json!({ "Records": bodies.iter().enumerate().map(|(i, b)| json!({
        "messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": b.to_string()
    })).collect::<Vec<_>>() })
}

/// hubtune's `Training Run Finished` as EventBridge delivers it to publish-artifact's queue.
pub fn finished(job: &str) -> Value {
    envelope(json!({ "job_name": job }))
}

/// A `Training Run Finished` envelope around any detail.
pub fn envelope(detail: Value) -> Value {
    json!({
        "version": "0", "id": "5f2c9a1e-0000-4000-8000-000000000001", "detail-type": "Training Run Finished",
        "source": "hubtune", "account": "111122223333", "time": "2026-01-15T12:00:00Z", "region": "us-east-1",
        "resources": [], "detail": detail
    })
}
