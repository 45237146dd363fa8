//! The world training-state works in, built by hand as the launcher leaves it: a job made through the jobs port from
//! the real plan (so its tags are the launcher's), its run record written `Launched` with `Training Run Started`
//! already sent, and the route slot it holds. SageMaker's state-change events (from the fixture) and the scheduled
//! sweep are then delivered in SQS batches to the real handler. No network, no sleeps: the in-memory SageMaker moves
//! a job only when a test moves it, and the clock only when a test advances it.

#![allow(dead_code)] // Each test binary uses its own part of the harness.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use hubtune::domain::config::Config;
use hubtune::domain::dataset::{DatasetFile, DatasetIdentity, DatasetLanded, FrozenDataset};
use hubtune::domain::events::OutgoingEvent;
use hubtune::domain::hub::HubContent;
use hubtune::domain::naming::{dataset_tag_value, identity_hash, JobName};
use hubtune::domain::plan::{self, CreateTrainingJobRequest, PlanInput, TrainingChannel};
use hubtune::domain::route_queue::{QueueEntry, Slots};
use hubtune::domain::run::{NewRun, RunRecord, RunStatus};
use hubtune::domain::s3uri::S3Uri;
use hubtune::memory::World;
use hubtune::ports::{Clock, TrainingJobs};
use hubtune::runtime::context::Context;
use serde_json::{json, Value};

pub const BUCKET: &str = "acme-ml-datasets";
pub const ROUTE: &str = "support-bot";
pub const MODEL: &str = "meta-textgeneration-llama-3-2-1b";

/// The routes file of tests/lib.rs (`routes_toml`), with `route_extra` added to the route's table.
pub fn routes_toml(route_extra: &str) -> String {
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
accept_eula = true
{route_extra}
"#
    )
}

pub fn hub_content() -> HubContent {
    HubContent::from_describe_json(include_str!(
        "../../../../fixtures/hub/describe-hub-content.model-reference.json"
    ))
    .expect("the hub fixture parses")
}

pub struct Harness {
    pub world: World,
    pub config: Arc<Config>,
    pub ctx: Context,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_route("")
    }

    pub fn with_route(route_extra: &str) -> Self {
        Self::with_routes_file(&routes_toml(route_extra))
    }

    /// The route launching on these instance types in order (capacity fallback); the first is the one `launched`
    /// uses.
    pub fn with_instance_types(types: &[&str]) -> Self {
        let list = format!("instance_types = {types:?}\n");
        Self::with_routes_file(
            &routes_toml("").replace("instance_type = \"ml.g5.2xlarge\"\n", &list),
        )
    }

    fn with_routes_file(toml: &str) -> Self {
        let world = World::new();
        let (config, ctx) = world.context(toml);
        Self { world, config, ctx }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.world.clock.now()
    }

    // ---- What the launcher leaves behind ----

    /// The dataset `datasets/support-bot/<label>/` as the launcher saw it land (its `_SUCCESS` marker).
    pub fn dataset(&self, label: &str) -> DatasetLanded {
        let folder = format!("datasets/{ROUTE}/{label}/");
        let sequencer = format!("0A{}", identity_hash("seq", label)[..14].to_uppercase());
        DatasetLanded {
            route: ROUTE.into(),
            identity: DatasetIdentity {
                bucket: BUCKET.into(),
                key: format!("{folder}_SUCCESS"),
                version: format!("s:{sequencer}"),
                attempt: 0,
            },
            location: S3Uri::new(BUCKET, folder).unwrap(),
            time: self.now(),
            sequencer: Some(sequencer),
        }
    }

    /// The job name the launcher gives this dataset (prefix `hubtune-`).
    pub fn job_name(&self, label: &str) -> JobName {
        self.dataset(label).identity.job_name(&self.config, ROUTE)
    }

    /// The CreateTrainingJob request the launcher plans for this dataset: the real plan, with the route and dataset
    /// tags.
    pub fn request(&self, label: &str) -> CreateTrainingJobRequest {
        let d = self.dataset(label);
        let job = self.job_name(label);
        let route = self.config.route(ROUTE).unwrap();
        let hash = d.identity.hash(&self.config.deployment.name);
        plan::plan(&PlanInput {
            job_name: &job,
            region: &self.config.deployment.region,
            hub: &hub_content(),
            settings: &route.training,
            training_channel: TrainingChannel::Manifest(
                self.config.deployment.manifest_key(job.as_str()),
            ),
            more_channels: vec![],
            route: ROUTE,
            dataset_tag: dataset_tag_value(&d.location.to_string(), &hash),
            deployment: &self.config.deployment.name,
        })
        .expect("the fixture hub content plans")
    }

    /// The run record as the launcher writes it before CreateTrainingJob (`Launching`).
    pub fn launching_record(&self, label: &str) -> RunRecord {
        let d = self.dataset(label);
        let job = self.job_name(label);
        let request = self.request(label);
        let folder = d.location.key().to_string();
        let frozen = FrozenDataset {
            location: d.location.clone(),
            files: vec![DatasetFile {
                key: format!("{folder}train.jsonl"),
                etag: "etag-train".into(),
                size: 42,
                version_id: None,
                channel: "training".into(),
            }],
            total_bytes: 42,
            channel_folders: vec![],
        };
        let manifest = self.config.deployment.manifest_key(job.as_str());
        RunRecord::launching(
            NewRun {
                job: &job,
                dataset: &d,
                frozen: &frozen,
                manifest: &manifest,
                channel_manifests: &[],
                model_id: MODEL,
                hub: &hub_content(),
                request: &request,
            },
            self.now(),
        )
    }

    /// A dataset launched as the launcher leaves it: the route slot taken, the job created through the jobs port
    /// (SageMaker describes it `InProgress`), the record `Launched` with its ARN and `Training Run Started` sent.
    /// Returns the job's name.
    pub async fn launched(&self, label: &str) -> String {
        let job = self.job_name(label).to_string();
        self.take_slot(&job);
        let arn = self
            .world
            .jobs
            .create(&self.request(label))
            .await
            .expect("the job is created");
        let mut r = self.launching_record(label);
        r.job_arn = Some(arn);
        r.advance(RunStatus::Launched, self.now(), None);
        r.outbox.started_emitted = true;
        r.revision = 1;
        self.put_record(&r);
        job
    }

    /// A launch that died after its record and before CreateTrainingJob: the slot taken, the record `Launching`,
    /// no job. Returns the job's name.
    pub fn stuck_launching(&self, label: &str) -> String {
        let job = self.job_name(label).to_string();
        self.take_slot(&job);
        self.put_record(&self.launching_record(label));
        job
    }

    /// `job` takes a slot on the route now (as the launcher's compare-and-swap would).
    pub fn take_slot(&self, job: &str) {
        let mut slots = self.slots().unwrap_or_else(|| Slots {
            route: ROUTE.into(),
            ..Default::default()
        });
        slots.holders.insert(job.to_string(), self.now());
        slots.revision += 1;
        self.world.objects.insert(
            &self.slots_uri(),
            serde_json::to_vec_pretty(&slots).unwrap(),
        );
    }

    pub fn put_record(&self, r: &RunRecord) {
        self.world.objects.insert(
            &self.run_uri(r.job_name.as_str()),
            serde_json::to_vec_pretty(r).unwrap(),
        );
    }

    /// A dataset waiting in the route's queue (as the launcher queues one when the route is busy).
    pub fn queue(&self, label: &str) -> String {
        let d = self.dataset(label);
        let rel = QueueEntry::key(&d, &d.identity.hash(&self.config.deployment.name));
        let uri = self.config.deployment.state_key(&rel).to_string();
        let entry = QueueEntry::new(d, "the route has no free training slot", self.now());
        self.world
            .objects
            .insert(&uri, serde_json::to_vec_pretty(&entry).unwrap());
        uri
    }

    // ---- Deliveries ----

    /// Deliver one SQS batch (message ids `m0`, `m1`, …) and return the ids that came back in `batchItemFailures`.
    pub async fn deliver(&self, bodies: &[Value]) -> Vec<String> {
        let out = training_state::handle(&self.ctx, sqs(bodies))
            .await
            .expect("an SQS batch always answers");
        out["batchItemFailures"]
            .as_array()
            .expect("a partial batch response")
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
            .collect()
    }

    // ---- What is there to see ----

    pub fn run_uri(&self, job: &str) -> String {
        self.config.deployment.run_key(job).to_string()
    }

    pub fn slots_uri(&self) -> String {
        self.config.deployment.slots_key(ROUTE).to_string()
    }

    pub fn record(&self, job: &str) -> RunRecord {
        let body = self
            .world
            .objects
            .body(&self.run_uri(job))
            .expect("a run record");
        serde_json::from_slice(&body).expect("a readable run record")
    }

    /// The record's stored bytes (to show that nothing rewrote it).
    pub fn record_bytes(&self, job: &str) -> Vec<u8> {
        self.world
            .objects
            .body(&self.run_uri(job))
            .expect("a run record")
    }

    pub fn slots(&self) -> Option<Slots> {
        self.world
            .objects
            .json(&self.slots_uri())
            .map(|v| serde_json::from_value(v).unwrap())
    }

    /// The jobs holding a slot on the route.
    pub fn holders(&self) -> Vec<String> {
        self.slots()
            .map(|s| s.holders.into_keys().collect())
            .unwrap_or_default()
    }

    /// The accepted events of one detail type about one job.
    pub fn sent(&self, detail_type: &str, job: &str) -> Vec<OutgoingEvent> {
        self.world
            .bus
            .of_type(detail_type)
            .into_iter()
            .filter(|e| e.detail["job_name"] == job)
            .collect()
    }

    pub fn count(&self, detail_type: &str) -> usize {
        self.world.bus.of_type(detail_type).len()
    }

    pub fn queue_uris(&self) -> Vec<String> {
        self.world
            .objects
            .uris(&self.config.deployment.queue_prefix(ROUTE).to_string())
    }
}

/// An SQS batch of these bodies, message ids `m0`, `m1`, ….
pub fn sqs(bodies: &[Value]) -> Value {
    json!({ "Records": bodies.iter().enumerate().map(|(i, b)| json!({
        "messageId": format!("m{i}"), "receiptHandle": format!("rh{i}"), "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:hubtune-training-state", "body": b.to_string()
    })).collect::<Vec<_>>() })
}

/// SageMaker's "Training Job State Change" as EventBridge delivers it (the fixture, renamed to `job` and set to
/// `status`). A hint only: the handler describes the job.
pub fn state_change(job: &str, status: &str) -> Value {
    let mut e: Value = serde_json::from_str(include_str!(
        "../../../../fixtures/events/sagemaker-training-state-change.completed.json"
    ))
    .unwrap();
    let arn = format!("arn:aws:sagemaker:us-east-1:111122223333:training-job/{job}");
    e["id"] = json!(format!("sc-{job}-{status}"));
    e["resources"] = json!([arn]);
    let d = &mut e["detail"];
    d["TrainingJobName"] = json!(job);
    d["TrainingJobArn"] = json!(arn);
    d["TrainingJobStatus"] = json!(status);
    d["SecondaryStatus"] = json!(status);
    if status != "Completed" {
        let d = d.as_object_mut().unwrap();
        d.remove("ModelArtifacts");
        d.remove("TrainingEndTime");
    }
    e
}

/// The scheduled sweep (an EventBridge schedule's event).
pub fn sweep_event() -> Value {
    json!({
        "version": "0", "id": "5b1e0b2a-sweep", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "111122223333", "time": "2026-01-15T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:111122223333:rule/hubtune-sweep"], "detail": {}
    })
}
