//! The launch-finetune handler in-process, over the in-memory ports (`hubtune::memory`): every test builds a fresh
//! `World`, delivers SQS batches whose bodies are S3 notifications or EventBridge events, and looks at what a user
//! would see: the jobs SageMaker holds, the objects in S3 (run records, manifests, slots, queue entries) and the
//! events on the hubtune bus. No network, no sleeps: the clock moves only when a test moves it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hubtune::domain::capacity::AttemptOutcome;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::dataset::DatasetIdentity;
use hubtune::domain::events::{
    self, OutgoingEvent, DATASET_QUEUED, DATASET_REJECTED, TRAINING_RUN_STARTED,
};
use hubtune::domain::hub::HubContent;
use hubtune::domain::inbound::{parse_message, Inbound, ObjectLanded};
use hubtune::domain::plan::{
    CreateTrainingJobRequest, S3DataType, TAG_DATASET, TAG_HUB_CONTENT_ARN, TAG_MODEL_VERSION,
    TAG_ROUTE,
};
use hubtune::domain::rejection::RejectionReason;
use hubtune::domain::route_queue::{DaySpend, QueueEntry, Slots};
use hubtune::domain::run::{RunRecord, RunStatus};
use hubtune::domain::s3uri::S3Uri;
use hubtune::memory::{access_denied, capacity_refusal, server_error, throttled, World};
use hubtune::ports::Clock;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use launch_finetune::Outcome;
use serde_json::{json, Value};

const BUCKET: &str = "acme-ml-datasets";
const ROUTE: &str = "support-bot";
const HUB: &str = "my-private-hub";
const MODEL: &str = "meta-textgeneration-llama-3-2-1b";
const ROLE: &str = "arn:aws:iam::111122223333:role/hubtune-training";
/// When the test datasets land (the envelope's time, which orders a route's datasets).
const LANDED_AT: &str = "2026-11-27T09:14:03Z";
/// Two valid training lines.
const GOOD_JSONL: &str = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n{\"instruction\": \"bye\", \"response\": \"see you\"}\n";

const HUB_FIXTURE: &str =
    include_str!("../../../fixtures/hub/describe-hub-content.model-reference.json");
const S3_NOTIFICATION_FIXTURE: &str =
    include_str!("../../../fixtures/events/s3-notification.object-created.json");
const EVENTBRIDGE_FIXTURE: &str =
    include_str!("../../../fixtures/events/eventbridge-s3.object-created.json");

fn hub_content() -> HubContent {
    HubContent::from_describe_json(HUB_FIXTURE).expect("the hub fixture parses")
}

/// The routes file of tests/lib.rs, on the fixtures' bucket, with `route_extra` added to the route.
fn routes_toml(route_extra: &str) -> String {
    format!(
        r#"
[deployment]
bucket = "{BUCKET}"
[defaults]
hub = "{HUB}"
role_arn = "{ROLE}"
[routes.{ROUTE}]
prefix = "datasets/{ROUTE}/"
model_id = "{MODEL}"
instance_type = "ml.g5.2xlarge"
hyperparameters = {{ epoch = 2, instruction_tuned = true }}
accept_eula = true
{route_extra}
"#
    )
}

// ---- Envelopes ----

/// An S3 notification of one created object (keys are form-encoded there; the test keys need no encoding).
fn s3_notification(key: &str, sequencer: &str) -> Value {
    json!({ "Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": LANDED_AT,
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "hubtune-datasets",
            "bucket": { "name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}") },
            "object": { "key": key, "size": 0, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": sequencer }
        }
    }]})
}

/// An EventBridge `Object Created` of one object, at `time`.
fn object_created_at(key: &str, sequencer: &str, time: &str) -> Value {
    json!({
        "version": "0",
        "id": format!("id-{sequencer}"),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "111122223333",
        "time": time,
        "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{BUCKET}")],
        "detail": {
            "version": "0",
            "bucket": { "name": BUCKET },
            "object": { "key": key, "size": 0, "etag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": sequencer },
            "reason": "PutObject"
        }
    })
}

fn object_created(key: &str, sequencer: &str) -> Value {
    object_created_at(key, sequencer, LANDED_AT)
}

/// hubtune's own `Route Slot Freed`, as training-state or the sweep sends it.
fn slot_freed(route: &str) -> Value {
    json!({
        "version": "0",
        "id": "slot-freed-1",
        "detail-type": "Route Slot Freed",
        "source": "hubtune",
        "account": "111122223333",
        "time": LANDED_AT,
        "region": "us-east-1",
        "resources": [],
        "detail": { "schema": 1, "route": route }
    })
}

/// An SQS batch with one record per body (message ids `m0`, `m1`, …).
fn sqs(bodies: &[Value]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({
                "messageId": format!("m{i}"),
                "receiptHandle": format!("rh-{i}"),
                "body": b.to_string(),
                "attributes": { "ApproximateReceiveCount": "1" },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:hubtune-launch",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The one object landing in a message body.
fn landed(body: &Value) -> ObjectLanded {
    match parse_message(body).into_iter().next() {
        Some(Inbound::ObjectLanded(o)) => o,
        other => panic!("not an object landing: {other:?}"),
    }
}

fn folder_key(name: &str) -> String {
    format!("datasets/{ROUTE}/{name}/")
}

fn marker_key(name: &str) -> String {
    format!("{}_SUCCESS", folder_key(name))
}

/// The key of `file` inside dataset `name`'s folder.
fn file_key(name: &str, file: &str) -> String {
    format!("{}{file}", folder_key(name))
}

/// The first (`attempt` 0) identity of dataset `name`'s marker, uploaded with this S3 `sequencer`.
fn identity(name: &str, sequencer: &str) -> DatasetIdentity {
    DatasetIdentity {
        bucket: BUCKET.into(),
        key: marker_key(name),
        version: format!("s:{sequencer}"),
        attempt: 0,
    }
}

/// A fixture's JSON.
fn fixture(text: &str) -> Value {
    serde_json::from_str(text).expect("JSON")
}

/// The sequencer of a test dataset's marker upload: one per dataset name.
fn sequencer(name: &str) -> String {
    format!("0066F9A1B2-{name}")
}

// ---- The harness ----

struct Harness {
    world: World,
    config: Arc<Config>,
    ctx: Context,
}

impl Harness {
    fn new() -> Self {
        Self::with_route("")
    }

    /// The default route with these TOML keys added, e.g. `max_concurrent_jobs = 1`.
    fn with_route(extra: &str) -> Self {
        Self::with_routes_file(&routes_toml(extra))
    }

    /// The default route launching on these instance types in order (capacity fallback).
    fn with_instance_types(types: &[&str]) -> Self {
        let list = format!("instance_types = {types:?}\n");
        Self::with_routes_file(
            &routes_toml("").replace("instance_type = \"ml.g5.2xlarge\"\n", &list),
        )
    }

    fn with_routes_file(toml: &str) -> Self {
        let world = World::new();
        world.hub.insert(hub_content());
        let (config, ctx) = world.context(toml);
        Self { world, config, ctx }
    }

    fn uri(key: &str) -> String {
        format!("s3://{BUCKET}/{key}")
    }

    /// A dataset folder with these files, then its marker (as an uploader would: no call counted). Returns the
    /// folder's URI.
    fn put_dataset(&self, name: &str, files: &[(&str, &str)]) -> String {
        let folder = folder_key(name);
        for (file, body) in files {
            self.world
                .objects
                .insert(&Self::uri(&format!("{folder}{file}")), body.as_bytes());
        }
        self.world.objects.insert(&Self::uri(&marker_key(name)), "");
        Self::uri(&folder)
    }

    fn put_good(&self, name: &str) -> String {
        self.put_dataset(name, &[("train.jsonl", GOOD_JSONL)])
    }

    /// The EventBridge `Object Created` of dataset `name`'s marker.
    fn marker_event(&self, name: &str) -> Value {
        object_created(&marker_key(name), &sequencer(name))
    }

    /// Run the handler on an SQS batch of these bodies; returns the message ids it handed back.
    async fn deliver(&self, bodies: &[Value]) -> Vec<String> {
        let response = launch_finetune::handle(&self.ctx, sqs(bodies))
            .await
            .expect("an SQS batch always answers a batch response");
        response["batchItemFailures"]
            .as_array()
            .unwrap_or_else(|| panic!("not a batch response: {response}"))
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Deliver dataset `name`'s marker event in a batch of one.
    async fn land(&self, name: &str) -> Vec<String> {
        self.deliver(&[self.marker_event(name)]).await
    }

    /// The deterministic job name of dataset `name`'s marker upload (as delivered by `marker_event`).
    fn job_for(&self, name: &str) -> String {
        identity(name, &sequencer(name))
            .job_name(&self.config, ROUTE)
            .to_string()
    }

    fn record(&self, job: &str) -> Option<RunRecord> {
        let uri = self.config.deployment.run_key(job).to_string();
        let body = self.world.objects.json(&uri)?;
        Some(serde_json::from_value(body).expect("a run record"))
    }

    fn run_records(&self) -> Vec<String> {
        self.world
            .objects
            .uris(&self.config.deployment.runs_prefix().to_string())
    }

    fn slots_uri(&self) -> String {
        self.config.deployment.slots_key(ROUTE).to_string()
    }

    fn slots(&self) -> Option<Slots> {
        let body = self.world.objects.json(&self.slots_uri())?;
        Some(serde_json::from_value(body).expect("a slots object"))
    }

    /// Give back `job`'s slot as training-state would once its job ended (the slots object, edited in place).
    fn free_slot_of(&self, job: &str) {
        let mut slots = self.slots().expect("the route has a slots object");
        assert!(slots.holders.remove(job).is_some(), "{job} held no slot");
        self.world.objects.insert(
            &self.slots_uri(),
            serde_json::to_vec(&slots).expect("slots serialise"),
        );
    }

    fn queue(&self) -> Vec<String> {
        self.world
            .objects
            .uris(&self.config.deployment.queue_prefix(ROUTE).to_string())
    }

    fn queue_entry(&self, uri: &str) -> QueueEntry {
        serde_json::from_value(
            self.world
                .objects
                .json(uri)
                .expect("the queue entry exists"),
        )
        .expect("a queue entry")
    }

    fn jobs(&self) -> Vec<String> {
        self.world
            .jobs
            .all()
            .into_iter()
            .map(|j| j.request.training_job_name)
            .collect()
    }

    fn events(&self, detail_type: &str) -> Vec<OutgoingEvent> {
        self.world.bus.of_type(detail_type)
    }

    /// The request `job` was created with.
    fn request(&self, job: &str) -> CreateTrainingJobRequest {
        self.world.jobs.get(job).expect("the job").request
    }

    /// The status of `job`'s run record (which must exist).
    fn status(&self, job: &str) -> RunStatus {
        self.record(job).expect("the record").status
    }

    /// The jobs holding the route's slots (the slots object must exist).
    fn slot_holders(&self) -> Vec<String> {
        self.slots().expect("slots").holders.into_keys().collect()
    }

    /// The route's spend of the current UTC day (the slots object must hold one).
    fn today(&self) -> DaySpend {
        self.slots()
            .and_then(|s| s.today)
            .expect("the day's ledger")
    }

    /// The frozen manifests written so far.
    fn manifests(&self) -> Vec<String> {
        self.world
            .objects
            .uris(&self.config.deployment.state_key("manifests/").to_string())
    }

    /// CreateTrainingJob for `target` (a job or an instance type) refused for capacity `times` times.
    fn refuse_capacity(&self, target: &str, times: u32) {
        self.world.jobs.faults.fail(
            "CreateTrainingJob",
            target,
            times,
            capacity_refusal("CreateTrainingJob"),
        );
    }

    /// Each of `names` put with good files, then each marker landed in that order, each message acknowledged.
    async fn land_good(&self, names: &[&str]) {
        for name in names {
            self.put_good(name);
        }
        for name in names {
            assert!(self.land(name).await.is_empty(), "{name} came back");
        }
    }

    /// `name`'s job gives its slot back, then the `Slot Freed` that follows is delivered and acknowledged.
    async fn free_slot_and_drain(&self, name: &str) {
        self.free_slot_of(&self.job_for(name));
        assert!(self.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    }

    /// That exactly these jobs exist, in any order.
    fn assert_jobs(&self, want: &[&str]) {
        let mut want: Vec<String> = want.iter().map(|j| j.to_string()).collect();
        want.sort();
        assert_eq!(self.jobs(), want);
    }

    /// That `job` is the only job, announced once, and nothing was rejected.
    fn assert_launched_once(&self, job: &str) {
        assert_eq!(self.jobs(), [job]);
        assert_eq!(self.events(TRAINING_RUN_STARTED).len(), 1);
        assert!(self.events(DATASET_REJECTED).is_empty());
    }

    /// That nothing was called and nothing was sent.
    fn assert_nothing_called_or_sent(&self) {
        assert_eq!(self.world.total_calls(), 0, "{:?}", self.world.calls());
        assert!(self.world.bus.events().is_empty());
    }

    /// The one `Dataset Queued` sent.
    fn only_queued(&self) -> OutgoingEvent {
        let queued = self.events(DATASET_QUEUED);
        assert_eq!(queued.len(), 1, "{:#?}", self.world.bus.events());
        queued.into_iter().next().expect("one queued")
    }

    /// The one `Dataset Rejected` sent (as `only_rejection`), which gives `reason`.
    fn rejected_as(&self, reason: &str) -> OutgoingEvent {
        let e = self.only_rejection();
        assert_eq!(e.detail["reason"], reason, "{:#}", e.detail);
        e
    }

    /// The one `Dataset Rejected` sent, and that nothing was launched or queued for it.
    fn only_rejection(&self) -> OutgoingEvent {
        let rejected = self.events(DATASET_REJECTED);
        assert_eq!(rejected.len(), 1, "{:#?}", self.world.bus.events());
        assert_eq!(
            self.world.jobs.count(),
            0,
            "a rejected dataset launched a job"
        );
        assert_eq!(
            self.world.calls().get("CreateTrainingJob"),
            None,
            "a rejected dataset reached CreateTrainingJob"
        );
        assert!(self.events(TRAINING_RUN_STARTED).is_empty());
        assert!(self.events(DATASET_QUEUED).is_empty());
        assert!(self.run_records().is_empty(), "{:?}", self.run_records());
        rejected.into_iter().next().expect("one rejection")
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 time")
}

// ---- A dataset launches ----

#[tokio::test]
async fn a_dataset_launches_one_job_with_its_deterministic_name_tags_and_manifest_channel() {
    let h = Harness::new();
    let folder = h.put_good("first");
    assert!(h.land("first").await.is_empty());

    let job = h.job_for("first");
    assert_eq!(h.jobs(), [job.as_str()]);
    assert!(job.starts_with("hubtune-support-bot-"), "{job}");
    let req = h.request(&job);

    // The training channel is the frozen manifest under the state prefix, not the folder.
    let training = req.channel("training").expect("a training channel");
    let source = &training.data_source.s3_data_source;
    assert_eq!(source.s3_data_type, S3DataType::ManifestFile);
    assert_eq!(source.s3_uri, h.config.deployment.manifest_key(&job));
    assert!(source
        .s3_uri
        .to_string()
        .starts_with(&h.config.deployment.state_prefix.to_string()));

    // The tags link the job to its route, its dataset (identity hash, then the URI) and its hub reference.
    let hub = hub_content();
    let identity_hash = identity("first", &sequencer("first")).hash(&h.config.deployment.name);
    assert_eq!(req.tag(TAG_ROUTE), Some(ROUTE));
    assert_eq!(
        req.tag(TAG_DATASET),
        Some(format!("{} {folder}", &identity_hash[..16]).as_str())
    );
    assert_eq!(
        req.tag(TAG_HUB_CONTENT_ARN),
        Some(hub.hub_content_arn.as_str())
    );
    assert_eq!(req.tag(TAG_MODEL_VERSION), Some("1.2.0"));

    // What the route asks for (hyperparameters JSON-quoted, as the SageMaker SDK sends them).
    assert_eq!(req.resource_config.instance_type, "ml.g5.2xlarge");
    assert_eq!(req.role_arn, ROLE);
    assert_eq!(
        req.hyper_parameters.get("epoch").map(String::as_str),
        Some("\"2\"")
    );
    assert_eq!(
        req.hyper_parameters
            .get("instruction_tuned")
            .map(String::as_str),
        Some("\"True\"")
    );
}

/// The EMF metrics (runtime::metrics) a launch and a rejection emit, dimensioned by deployment and route.
#[tokio::test]
async fn a_launch_emits_datasets_launched_1_and_a_rejection_datasets_rejected_1() {
    use hubtune::runtime::metrics::{self, Capture};
    let h = Harness::new();
    let dims = [
        ("Deployment", h.config.deployment.name.as_str()),
        ("Route", ROUTE),
    ];
    let c = Capture::start();
    h.land_good(&["first"]).await;
    assert_eq!(c.sum(metrics::DATASETS_LAUNCHED, &dims), 1.0);
    assert_eq!(c.sum(metrics::DATASETS_REJECTED, &dims), 0.0);
    assert!(c.documents()[0].get(metrics::LAUNCH_TO_START).is_some());

    h.put_dataset("empty", &[]);
    assert!(h.land("empty").await.is_empty());
    assert_eq!(c.sum(metrics::DATASETS_LAUNCHED, &dims), 1.0);
    assert_eq!(c.sum(metrics::DATASETS_REJECTED, &dims), 1.0);
}

#[tokio::test]
async fn a_launch_leaves_a_launched_run_record_a_frozen_manifest_a_held_slot_and_one_started_event()
{
    let h = Harness::new();
    let folder = h.put_good("recorded");
    assert!(h.land("recorded").await.is_empty());
    let job = h.job_for("recorded");
    let arn = h.world.jobs.get(&job).expect("the job").description.arn;

    // The run record: `Launched`, with the job's ARN, its frozen contents and the event it sent.
    let r = h.record(&job).expect("a run record");
    assert_eq!(r.status, RunStatus::Launched);
    assert_eq!(
        r.history.iter().map(|c| c.status).collect::<Vec<_>>(),
        [RunStatus::Launching, RunStatus::Launched]
    );
    assert_eq!(r.job_name.as_str(), job);
    assert_eq!(r.job_arn.as_deref(), Some(arn.as_str()));
    assert_eq!(r.route, ROUTE);
    assert_eq!(r.dataset_uri, folder);
    assert_eq!(r.model_id, MODEL);
    assert_eq!(r.instance_type, "ml.g5.2xlarge");
    assert!(r.outbox.started_emitted);
    let frozen = r.frozen.expect("the frozen contents");
    assert_eq!(
        frozen
            .files
            .iter()
            .map(|f| f.key.as_str())
            .collect::<Vec<_>>(),
        [file_key("recorded", "train.jsonl")]
    );
    assert_eq!(frozen.total_bytes, GOOD_JSONL.len() as u64);
    // Its lineage: the size, ETag and version the checks read (the version from the ranged GET of its head).
    let train = Harness::uri(&file_key("recorded", "train.jsonl"));
    let file = &frozen.files[0];
    let etag = h.world.objects.etag(&train).expect("the file's ETag");
    assert_eq!(
        (file.size, file.etag.as_str(), file.version_id.as_deref()),
        (
            GOOD_JSONL.len() as u64,
            etag.as_str(),
            h.world.objects.version(&train).as_deref()
        )
    );
    assert!(file.version_id.is_some(), "{file:?}");

    // The manifest SageMaker reads lists exactly the checked file (not the marker).
    let manifest = h.config.deployment.manifest_key(&job).to_string();
    assert_eq!(r.manifest_uri.as_deref(), Some(manifest.as_str()));
    assert_eq!(
        h.world.objects.json(&manifest),
        Some(json!([{ "prefix": folder }, "train.jsonl"]))
    );

    // The slot is held by this job.
    let slots = h.slots().expect("a slots object");
    assert_eq!(slots.holders.keys().collect::<Vec<_>>(), [&job]);

    // Exactly one event on the bus: `Training Run Started`, naming the job, its dataset and route.
    let all = h.world.bus.events();
    assert_eq!(all.len(), 1, "{all:#?}");
    let started = &all[0];
    assert_eq!(started.detail_type, TRAINING_RUN_STARTED);
    assert_eq!(started.source, "hubtune");
    assert_eq!(h.world.bus.buses(), ["hubtune"]);
    assert_eq!(started.detail["job_name"], job.as_str());
    assert_eq!(started.detail["job_arn"], arn.as_str());
    assert_eq!(started.detail["dataset_uri"], folder.as_str());
    assert_eq!(started.detail["route"], ROUTE);
    assert_eq!(started.detail["instance_type"], "ml.g5.2xlarge");
    assert_eq!(
        started.event_id(),
        events::event_id(TRAINING_RUN_STARTED, &job)
    );
    assert_eq!(started.resources, [arn]);
}

// ---- One job per dataset ----

#[tokio::test]
async fn the_same_delivery_twice_is_one_job_and_the_second_is_already_launched() {
    // Free slots to spare: what keeps the duplicates from launching must be the job's identity, not a full route.
    let h = Harness::with_route("max_concurrent_jobs = 5");
    h.put_good("twice");
    let event = h.marker_event("twice");
    // Delivered twice in one batch, then the same batch again (SQS is at least once).
    assert!(h.deliver(&[event.clone(), event.clone()]).await.is_empty());
    assert!(h.deliver(std::slice::from_ref(&event)).await.is_empty());
    let job = h.job_for("twice");
    assert_eq!(h.jobs(), [job.as_str()]);
    assert_eq!(h.world.calls().get("CreateTrainingJob"), Some(&1));
    assert_eq!(
        launch_finetune::on_object(&h.ctx, &landed(&event))
            .await
            .expect("a duplicate is handled"),
        Outcome::AlreadyLaunched { job: job.clone() }
    );

    assert_eq!(h.world.jobs.count(), 1);
    assert_eq!(h.events(TRAINING_RUN_STARTED).len(), 1);
    assert!(h.events(DATASET_QUEUED).is_empty());
    assert_eq!(h.run_records().len(), 1);
    assert_eq!(
        h.record(&job).expect("the run record").status,
        RunStatus::Launched
    );
}

#[tokio::test]
async fn the_same_marker_in_an_s3_notification_and_in_an_eventbridge_envelope_is_one_job() {
    let h = Harness::with_route("max_concurrent_jobs = 5");
    // The two fixtures announce the same upload (same version id) of `2026-11-27 release#1/_SUCCESS`; the S3
    // notification form-encodes the key, EventBridge does not.
    let folder = h.put_good("2026-11-27 release#1");
    let notification = fixture(S3_NOTIFICATION_FIXTURE);
    let eventbridge = fixture(EVENTBRIDGE_FIXTURE);
    assert_eq!(landed(&notification).key, landed(&eventbridge).key);

    assert!(h.deliver(&[notification]).await.is_empty());
    assert_eq!(h.world.jobs.count(), 1);
    let job = h.jobs().remove(0);
    assert!(h
        .deliver(std::slice::from_ref(&eventbridge))
        .await
        .is_empty());
    assert_eq!(h.jobs(), [job.as_str()]);
    assert_eq!(h.world.calls().get("CreateTrainingJob"), Some(&1));
    assert_eq!(
        launch_finetune::on_object(&h.ctx, &landed(&eventbridge))
            .await
            .expect("handled"),
        Outcome::AlreadyLaunched { job: job.clone() }
    );

    assert_eq!(h.world.jobs.count(), 1);
    assert_eq!(h.events(TRAINING_RUN_STARTED).len(), 1);
    assert_eq!(h.record(&job).expect("the record").dataset_uri, folder);
}

#[tokio::test]
async fn two_datasets_delivered_in_reverse_order_are_two_jobs_each_on_its_own_files() {
    // Two slots, so that neither waits for the other.
    let h = Harness::with_route("max_concurrent_jobs = 2");
    let older = h.put_dataset("older", &[("a.jsonl", GOOD_JSONL)]);
    let newer = h.put_dataset("newer", &[("b.jsonl", GOOD_JSONL)]);
    let later = object_created_at(
        &marker_key("newer"),
        &sequencer("newer"),
        "2026-11-27T10:00:00Z",
    );
    assert!(h.deliver(&[later]).await.is_empty());
    assert!(h.land("older").await.is_empty());

    let (job_older, job_newer) = (h.job_for("older"), h.job_for("newer"));
    assert_ne!(job_older, job_newer);
    h.assert_jobs(&[&job_older, &job_newer]);
    for (job, folder, file) in [
        (&job_older, &older, "a.jsonl"),
        (&job_newer, &newer, "b.jsonl"),
    ] {
        let manifest = h.config.deployment.manifest_key(job).to_string();
        assert_eq!(
            h.world.objects.json(&manifest),
            Some(json!([{ "prefix": folder }, file])),
            "{job}"
        );
        assert_eq!(h.record(job).expect("a record").status, RunStatus::Launched);
    }
    let started: Vec<Value> = h
        .events(TRAINING_RUN_STARTED)
        .into_iter()
        .map(|e| e.detail["job_name"].clone())
        .collect();
    assert_eq!(started, [json!(job_newer), json!(job_older)]);
}

#[tokio::test]
async fn rerun_launches_the_same_dataset_again_as_a_second_job() {
    let h = Harness::new();
    let folder = h.put_good("again");
    assert!(h.land("again").await.is_empty());
    let first = h.job_for("again");
    // The first job ended: its slot is free again (training-state's part).
    h.free_slot_of(&first);

    let outcome = launch_finetune::rerun(&h.ctx, &folder.parse::<S3Uri>().expect("a URI"))
        .await
        .expect("a rerun");
    let Outcome::Launched { job: second } = outcome else {
        panic!("not launched: {outcome:?}");
    };
    assert_ne!(second, first);
    assert_eq!(h.world.jobs.count(), 2);
    let r = h.record(&second).expect("the rerun's record");
    assert_eq!(r.dataset.expect("its dataset").identity.attempt, 1);
    assert_eq!(r.dataset_uri, folder);
    assert_eq!(h.events(TRAINING_RUN_STARTED).len(), 2);
}

// ---- Datasets that are rejected or ignored ----

#[tokio::test]
async fn an_empty_folder_is_rejected_as_empty_dataset_and_the_message_is_acknowledged() {
    let h = Harness::new();
    let folder = h.put_dataset("empty", &[]);
    assert!(h.land("empty").await.is_empty());
    let e = h.rejected_as("empty_dataset");
    assert_eq!(e.detail["dataset_uri"], folder.as_str());
    assert_eq!(e.detail["route"], ROUTE);
}

#[tokio::test]
async fn a_malformed_jsonl_is_rejected_with_its_file_and_line_and_the_message_is_acknowledged() {
    let h = Harness::new();
    h.put_dataset(
        "malformed",
        &[(
            "train.jsonl",
            "{\"instruction\": \"hi\", \"response\": \"hello\"}\nnot json at all\n",
        )],
    );
    assert!(h.land("malformed").await.is_empty());
    let e = h.rejected_as("malformed_jsonl");
    assert_eq!(e.detail["file"], file_key("malformed", "train.jsonl"));
    assert_eq!(e.detail["line"], 2);
}

#[tokio::test]
async fn a_disallowed_file_type_is_rejected_as_file_type_not_allowed_and_the_message_is_acknowledged(
) {
    let h = Harness::new();
    h.put_dataset(
        "exe",
        &[("train.jsonl", GOOD_JSONL), ("setup.exe", "MZ\u{90}")],
    );
    assert!(h.land("exe").await.is_empty());
    let e = h.rejected_as("file_type_not_allowed");
    assert_eq!(e.detail["file"], file_key("exe", "setup.exe"));
}

#[tokio::test]
async fn a_marker_under_no_route_is_rejected_as_unknown_route() {
    let h = Harness::new();
    let key = "datasets/other-bot/x/_SUCCESS";
    h.world.objects.insert(&Harness::uri(key), "");
    let event = object_created(key, "0066F9A1B2-other");
    assert!(h.deliver(std::slice::from_ref(&event)).await.is_empty());
    let e = h.rejected_as("unknown_route");
    assert_eq!(e.detail["dataset_uri"], Harness::uri(key).as_str());
    assert_eq!(
        launch_finetune::on_object(&h.ctx, &landed(&event))
            .await
            .expect("handled"),
        Outcome::Rejected {
            reason: RejectionReason::UnknownRoute
        }
    );
}

#[tokio::test]
async fn a_marker_directly_in_the_route_prefix_is_rejected_not_ignored() {
    let h = Harness::new();
    let key = format!("datasets/{ROUTE}/_SUCCESS");
    h.world.objects.insert(&Harness::uri(&key), "");
    assert!(h
        .deliver(&[object_created(&key, "0066F9A1B2-prefix")])
        .await
        .is_empty());
    let e = h.rejected_as("marker_outside_folder");
    assert_eq!(e.detail["file"], Harness::uri(&key).as_str());
}

#[tokio::test]
async fn an_object_notification_without_a_key_is_rejected_not_dropped() {
    let h = Harness::new();
    let mut s3 = s3_notification("x", "0066F9A1B2-nokey");
    s3["Records"][0]["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    let mut eb = object_created("x", "0066F9A1B2-nokey");
    eb["detail"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    assert!(
        h.deliver(&[s3, eb]).await.is_empty(),
        "acknowledged: the rejection is the ending"
    );
    let rejected = h.events(DATASET_REJECTED);
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    assert!(rejected
        .iter()
        .all(|e| e.detail["reason"] == "unusable_notification"));
    assert_eq!(h.world.jobs.count(), 0);
}

#[tokio::test]
async fn an_object_removed_notification_is_ignored_and_nothing_is_called_or_sent() {
    let h = Harness::new();
    let mut removed = s3_notification(&marker_key("gone"), "0066F9A1B2-gone");
    removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    assert!(h.deliver(&[removed]).await.is_empty());
    h.assert_nothing_called_or_sent();
}

#[tokio::test]
async fn a_request_aws_would_refuse_is_rejected_before_a_slot_or_a_manifest() {
    // A routes file with a key AWS refuses is refused when it is parsed; the model's document can still bring one.
    let h = Harness::new();
    let mut hub = hub_content();
    hub.document
        .training_instance_type_variants
        .as_mut()
        .and_then(|v| v.variants.get_mut("g5"))
        .expect("the fixture has a g5 variant")
        .properties
        .environment_variables
        .insert("1BAD".into(), "x".into());
    h.world.hub.insert(hub);
    h.land_good(&["invalid"]).await;
    let e = h.rejected_as("invalid_request");
    let message = e.detail["message"].as_str().unwrap();
    assert!(message.contains("Environment.<key 1BAD>"), "{message}");
    assert!(message.contains("[a-zA-Z_][a-zA-Z0-9_]*"), "{message}");
    assert!(
        h.slots().is_none_or(|s| s.holders.is_empty()),
        "no slot taken"
    );
    assert!(h.manifests().is_empty());
}

#[tokio::test]
async fn a_data_file_is_ignored_and_nothing_is_called_or_sent() {
    let h = Harness::new();
    let key = file_key("waiting", "train.jsonl");
    h.world.objects.insert(&Harness::uri(&key), GOOD_JSONL);
    let event = s3_notification(&key, "0066F9A1B2-data");
    assert!(h.deliver(std::slice::from_ref(&event)).await.is_empty());
    h.assert_nothing_called_or_sent();
    assert!(matches!(
        launch_finetune::on_object(&h.ctx, &landed(&event)).await,
        Ok(Outcome::Ignored { .. })
    ));
    assert_eq!(h.world.total_calls(), 0, "{:?}", h.world.calls());
}

#[tokio::test]
async fn an_s3_test_event_is_ignored_and_nothing_is_called_or_sent() {
    let h = Harness::new();
    let test_event = json!({
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": "2026-11-27T09:00:00.000Z",
        "Bucket": BUCKET,
        "RequestId": "5582815E1AEA5ADF",
        "HostId": "8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"
    });
    assert!(h.deliver(&[test_event]).await.is_empty());
    h.assert_nothing_called_or_sent();
    assert_eq!(h.world.jobs.count(), 0);
}

// ---- Every error class ----

/// CreateTrainingJob fails once with `error`: the message comes back (no job, no event, the record waits
/// `Launching` with its slot), and its redelivery launches exactly one job.
async fn a_failed_create_comes_back_and_the_redelivery_launches_once(
    name: &str,
    error: hubtune::domain::error::Error,
) {
    let h = Harness::new();
    h.put_good(name);
    let job = h.job_for(name);
    h.world
        .jobs
        .faults
        .fail("CreateTrainingJob", &job, 1, error);

    assert_eq!(h.land(name).await, ["m0"]);
    assert_eq!(h.world.jobs.count(), 0);
    assert!(h.world.bus.events().is_empty());
    assert_eq!(h.status(&job), RunStatus::Launching);

    assert!(h.land(name).await.is_empty());
    h.assert_launched_once(&job);
    assert_eq!(h.world.calls().get("CreateTrainingJob"), Some(&2));
    assert_eq!(h.status(&job), RunStatus::Launched);
    assert_eq!(h.slot_holders(), [job.as_str()]);
}

#[tokio::test]
async fn a_throttled_create_training_job_comes_back_and_the_redelivery_launches_one_job() {
    a_failed_create_comes_back_and_the_redelivery_launches_once(
        "throttled",
        throttled("sagemaker", "CreateTrainingJob"),
    )
    .await;
}

#[tokio::test]
async fn a_5xx_create_training_job_comes_back_and_the_redelivery_launches_one_job() {
    a_failed_create_comes_back_and_the_redelivery_launches_once(
        "five-hundred",
        server_error("sagemaker", "CreateTrainingJob"),
    )
    .await;
}

#[tokio::test]
async fn a_capacity_refusal_queues_the_dataset_without_a_job_and_acknowledges_the_message() {
    let h = Harness::new();
    let folder = h.put_good("no-capacity");
    let job = h.job_for("no-capacity");
    h.refuse_capacity(&job, 1);
    assert!(h.land("no-capacity").await.is_empty());

    assert_eq!(h.world.jobs.count(), 0);
    let queued = h.only_queued();
    assert_eq!(queued.detail["dataset_uri"], folder.as_str());
    assert_eq!(queued.detail["reason"], "capacity");
    assert!(queued.detail["message"]
        .as_str()
        .unwrap_or_default()
        .contains("ResourceLimitExceeded"));
    assert!(h.events(DATASET_REJECTED).is_empty());
    assert!(h.events(TRAINING_RUN_STARTED).is_empty());

    let entries = h.queue();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        queued.detail["queue_entry"],
        entries[0].trim_start_matches(&h.config.deployment.state_prefix.to_string())
    );
    let entry = h.queue_entry(&entries[0]);
    assert_eq!(entry.dataset.location.to_string(), folder);
    assert_eq!(entry.claimed_at, None);
    // The record waits `Queued`, and the slot it took is given back.
    assert_eq!(h.status(&job), RunStatus::Queued);
    assert!(h.slots().expect("slots").holders.is_empty());
}

#[tokio::test]
async fn a_dataset_refused_for_capacity_launches_from_the_queue_when_a_slot_frees() {
    let h = Harness::new();
    h.put_good("later");
    let job = h.job_for("later");
    h.refuse_capacity(&job, 1);
    assert!(h.land("later").await.is_empty());
    assert_eq!(h.queue().len(), 1);

    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    assert_eq!(h.jobs(), [job.as_str()]);
    assert!(h.queue().is_empty(), "{:?}", h.queue());
    let r = h.record(&job).expect("the record");
    assert_eq!(r.status, RunStatus::Launched);
    assert_eq!(
        r.history.iter().map(|c| c.status).collect::<Vec<_>>(),
        [
            RunStatus::Launching,
            RunStatus::Queued,
            RunStatus::Launching,
            RunStatus::Launched
        ]
    );
    assert_eq!(h.events(TRAINING_RUN_STARTED).len(), 1);
}

/// Each instance type a run tried, with how it ended, in order.
fn tried(r: &RunRecord) -> Vec<(&str, AttemptOutcome)> {
    r.launch_attempts
        .iter()
        .map(|a| (a.instance_type.as_str(), a.outcome))
        .collect()
}

#[tokio::test]
async fn a_type_refused_for_capacity_launches_on_the_next_type_with_its_own_variant() {
    let h = Harness::with_instance_types(&["ml.g5.2xlarge", "ml.g4dn.12xlarge"]);
    // The document as published supports g5 only; this one also trains on the g4dn variant it describes.
    let mut hub = hub_content();
    hub.document
        .supported_training_instance_types
        .push("ml.g4dn.12xlarge".into());
    h.world.hub.insert(hub);
    h.put_good("fallback");
    let job = h.job_for("fallback");
    // No ml.g5.2xlarge to be had, however often it is asked for.
    h.world.jobs.faults.fail_always(
        "CreateTrainingJob",
        "ml.g5.2xlarge",
        capacity_refusal("CreateTrainingJob"),
    );
    assert!(h.land("fallback").await.is_empty());

    assert_eq!(h.jobs(), [job.as_str()]);
    assert_eq!(h.world.jobs.calls.get("CreateTrainingJob"), 2);
    let created = h.request(&job);
    assert_eq!(created.resource_config.instance_type, "ml.g4dn.12xlarge");
    // The hub document's ml.g4dn.12xlarge variant sets its own hyperparameter defaults (int8 quantization on).
    assert_eq!(created.hyper_parameters["int8_quantization"], "\"True\"");
    assert!(h.queue().is_empty());
    let r = h.record(&job).expect("the record");
    assert_eq!(r.status, RunStatus::Launched);
    assert_eq!(r.instance_type, "ml.g4dn.12xlarge");
    assert_eq!(
        tried(&r),
        [
            ("ml.g5.2xlarge", AttemptOutcome::Refused),
            ("ml.g4dn.12xlarge", AttemptOutcome::Launched)
        ]
    );
    assert!(r.launch_attempts[0]
        .detail
        .as_deref()
        .unwrap_or_default()
        .contains("ResourceLimitExceeded"));
    let started = h.events(TRAINING_RUN_STARTED);
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].detail["instance_type"], "ml.g4dn.12xlarge");
    assert_eq!(
        started[0].detail["launch_attempts"][0]["outcome"],
        "refused"
    );
    assert_eq!(
        started[0].detail["launch_attempts"][1]["outcome"],
        "launched"
    );
    assert!(h.events(DATASET_QUEUED).is_empty());
}

#[tokio::test]
async fn every_type_refused_queues_the_dataset_and_the_queue_launches_it_on_the_first_type_with_capacity(
) {
    let h = Harness::with_instance_types(&["ml.g5.2xlarge", "ml.g5.4xlarge"]);
    h.put_good("none-left");
    let job = h.job_for("none-left");
    h.refuse_capacity("ml.g5.2xlarge", 2);
    h.refuse_capacity("ml.g5.4xlarge", 1);
    assert!(h.land("none-left").await.is_empty());

    assert_eq!(h.world.jobs.count(), 0);
    let queued = h.events(DATASET_QUEUED);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].detail["reason"], "capacity");
    assert_eq!(
        queued[0].detail["launch_attempts"].as_array().map(Vec::len),
        Some(2),
        "{}",
        queued[0].detail
    );
    assert_eq!(h.status(&job), RunStatus::Queued);
    assert!(h.slots().expect("slots").holders.is_empty());

    // Later, a slot frees: the list is tried again from its first type; ml.g5.2xlarge is still refused once,
    // ml.g5.4xlarge has capacity now.
    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    assert_eq!(h.jobs(), [job.as_str()]);
    assert!(h.queue().is_empty());
    let r = h.record(&job).expect("the record");
    assert_eq!(r.status, RunStatus::Launched);
    assert_eq!(r.instance_type, "ml.g5.4xlarge");
    assert_eq!(
        tried(&r),
        [
            ("ml.g5.2xlarge", AttemptOutcome::Refused),
            ("ml.g5.4xlarge", AttemptOutcome::Refused),
            ("ml.g5.2xlarge", AttemptOutcome::Refused),
            ("ml.g5.4xlarge", AttemptOutcome::Launched)
        ]
    );
    assert_eq!(h.events(TRAINING_RUN_STARTED).len(), 1);
}

#[tokio::test]
async fn access_denied_on_the_dataset_reads_keeps_the_message_and_after_the_fix_it_launches() {
    let h = Harness::new();
    h.put_good("denied");
    let folder = folder_key("denied");

    // The bucket policy forbids reading the files: a fault of the deployment, not of the dataset.
    h.world
        .objects
        .faults
        .fail_always("GetObject", &folder, access_denied("s3", "GetObject"));
    assert_eq!(h.land("denied").await, ["m0"]);
    // … and listing the folder.
    h.world.heal();
    h.world.objects.faults.fail_always(
        "ListObjectsV2",
        &folder,
        access_denied("s3", "ListObjectsV2"),
    );
    assert_eq!(h.land("denied").await, ["m0"]);

    assert!(
        h.events(DATASET_REJECTED).is_empty(),
        "a deployment fault rejected the dataset"
    );
    assert!(h.world.bus.events().is_empty());
    assert_eq!(h.world.jobs.count(), 0);
    assert!(h.run_records().is_empty());

    h.world.heal();
    assert!(h.land("denied").await.is_empty());
    h.assert_launched_once(&h.job_for("denied"));
}

/// The job is created, then announcing it fails (`break_bus` arms the failure): the message comes back, and its
/// redelivery sends `Training Run Started` once and creates no second job.
async fn an_unannounced_job_is_announced_once_by_the_redelivery(
    name: &str,
    break_bus: impl Fn(&World),
) {
    let h = Harness::new();
    h.put_good(name);
    let job = h.job_for(name);
    break_bus(&h.world);

    assert_eq!(h.land(name).await, ["m0"]);
    assert_eq!(h.jobs(), [job.as_str()]);
    assert!(h.world.bus.events().is_empty());
    let r = h.record(&job).expect("the record");
    assert_eq!(r.status, RunStatus::Launching);
    assert!(!r.outbox.started_emitted);

    assert!(h.land(name).await.is_empty());
    assert_eq!(h.jobs(), [job.as_str()]);
    let started = h.events(TRAINING_RUN_STARTED);
    assert_eq!(started.len(), 1, "{started:#?}");
    assert_eq!(started[0].detail["job_name"], job.as_str());
    assert_eq!(h.world.bus.events().len(), 1);
    let r = h.record(&job).expect("the record");
    assert_eq!(r.status, RunStatus::Launched);
    assert!(r.outbox.started_emitted);
    assert!(r.job_arn.is_some());

    // A third delivery finds nothing left to do.
    assert!(h.land(name).await.is_empty());
    assert_eq!(h.world.jobs.count(), 1);
    assert_eq!(h.world.bus.events().len(), 1);
}

#[tokio::test]
async fn a_put_events_failure_after_the_job_exists_comes_back_and_the_redelivery_announces_once() {
    an_unannounced_job_is_announced_once_by_the_redelivery("bus-down", |w| {
        w.bus
            .faults
            .fail("PutEvents", "", 1, server_error("events", "PutEvents"))
    })
    .await;
}

#[tokio::test]
async fn a_refused_put_events_entry_after_the_job_exists_comes_back_and_the_redelivery_announces_once(
) {
    an_unannounced_job_is_announced_once_by_the_redelivery("entry-refused", |w| {
        w.bus.refuse_next_entries(1)
    })
    .await;
}

#[tokio::test]
async fn a_crash_right_after_create_training_job_is_repaired_by_the_redelivery() {
    let h = Harness::new();
    h.put_good("crash-after-create");
    let job = h.job_for("crash-after-create");
    // The scope is the job and the dataset URI: this folder name is this test's alone.
    hubtune::runtime::faults::arm("launch.after_create", "crash-after-create", 1);

    assert_eq!(h.land("crash-after-create").await, ["m0"]);
    assert_eq!(
        hubtune::runtime::faults::remaining("launch.after_create", "crash-after-create"),
        0
    );
    assert_eq!(h.jobs(), [job.as_str()]);
    assert!(h.world.bus.events().is_empty());

    assert!(h.land("crash-after-create").await.is_empty());
    h.assert_launched_once(&job);
    assert_eq!(h.status(&job), RunStatus::Launched);
}

// ---- A busy route ----

#[tokio::test]
async fn a_full_route_queues_the_second_dataset_and_launches_it_once_the_slot_is_given_back() {
    let h = Harness::with_route("max_concurrent_jobs = 1");
    h.land_good(&["one", "two"]).await;
    let (one, two) = (h.job_for("one"), h.job_for("two"));

    // The second waits: a queue entry, `Dataset Queued`, no job and no record.
    assert_eq!(h.jobs(), [one.as_str()]);
    let queued = h.events(DATASET_QUEUED);
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].detail["job_name"], two.as_str());
    assert_eq!(queued[0].detail["reason"], "route_full");
    assert_eq!(h.queue().len(), 1);
    assert!(h.record(&two).is_none());

    // A slot freed while the first job still holds it: the entry stays, unclaimed, and nothing launches.
    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    assert_eq!(h.jobs(), [one.as_str()]);
    let entries = h.queue();
    assert_eq!(entries.len(), 1);
    assert_eq!(h.queue_entry(&entries[0]).claimed_at, None);
    assert_eq!(h.events(DATASET_QUEUED).len(), 1);

    // The first job ended and gave its slot back: the freed slot launches the queued dataset.
    h.free_slot_of(&one);
    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    h.assert_jobs(&[&one, &two]);
    assert!(h.queue().is_empty());
    assert_eq!(h.slot_holders(), [two.as_str()]);
    assert_eq!(h.status(&two), RunStatus::Launched);
    assert_eq!(h.events(TRAINING_RUN_STARTED).len(), 2);
}

#[tokio::test]
async fn a_queued_dataset_older_than_queue_max_age_is_rejected_when_a_slot_frees() {
    let h = Harness::with_route("max_concurrent_jobs = 1\nqueue_max_age = \"1h\"");
    h.land_good(&["busy", "stale"]).await;
    assert_eq!(h.queue().len(), 1);

    h.world.clock.advance(Duration::hours(2));
    h.free_slot_and_drain("busy").await;

    assert_eq!(h.jobs(), [h.job_for("busy")]);
    assert!(h.queue().is_empty());
    let rejected = h.events(DATASET_REJECTED);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].detail["reason"], "queue_max_age");
    assert_eq!(
        rejected[0].detail["dataset_uri"],
        Harness::uri(&folder_key("stale")).as_str()
    );
}

// ---- A route's daily spend cap (issue 14 item 5) ----

/// The first instant of the UTC day after `t`, plus `secs`.
fn next_day(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    let midnight = (t.date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    midnight + Duration::seconds(secs)
}

#[tokio::test]
async fn a_dataset_over_the_daily_job_cap_waits_with_reason_budget_and_launches_on_the_next_utc_day(
) {
    // Slots to spare: only the day's cap holds the second dataset back.
    let h = Harness::with_route("max_jobs_per_day = 1\nmax_concurrent_jobs = 5");
    h.land_good(&["one", "two"]).await;
    let (one, two) = (h.job_for("one"), h.job_for("two"));
    assert_eq!(h.jobs(), [one.as_str()]);
    let queued = h.only_queued();
    assert_eq!(queued.detail["job_name"], two.as_str());
    assert_eq!(queued.detail["reason"], "budget");
    let message = queued.detail["message"].as_str().unwrap_or_default();
    assert!(message.contains("max_jobs_per_day"), "{message}");
    assert_eq!(h.queue().len(), 1);
    assert!(h.record(&two).is_none(), "nothing spent on the waiting one");

    // Redeliveries of both, the same day: no second charge, no second job.
    assert!(h.land("one").await.is_empty());
    assert!(h.land("two").await.is_empty());
    assert_eq!(h.jobs(), [one.as_str()]);
    let today = h.today();
    assert_eq!(today.jobs.keys().collect::<Vec<_>>(), [&one]);

    // A slot freed the same day: the day is still spent, the entry stays, unclaimed.
    h.free_slot_of(&one);
    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    assert_eq!(h.jobs(), [one.as_str()]);
    let entries = h.queue();
    assert_eq!(entries.len(), 1);
    assert_eq!(h.queue_entry(&entries[0]).claimed_at, None);

    // The UTC day rolls over: the drain (as the sweep's nudge starts it) launches the waiting dataset, once.
    h.world.clock.set(next_day(h.world.clock.now(), 30));
    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    h.assert_jobs(&[&one, &two]);
    assert!(h.queue().is_empty());
    let today = h.today();
    assert_eq!(today.day, h.world.clock.now().date_naive());
    assert_eq!(today.jobs.keys().collect::<Vec<_>>(), [&two]);
    assert_eq!(h.events(TRAINING_RUN_STARTED).len(), 2);
    // The redelivery announced the wait again: the same event (same `event_id`), as delivery is at least once.
    let queued = h.events(DATASET_QUEUED);
    assert!(queued
        .iter()
        .all(|e| e.detail["event_id"] == queued[0].detail["event_id"]));
}

#[tokio::test]
async fn the_daily_hours_cap_charges_each_jobs_reserved_runtime() {
    // Each job reserves 10 hours (36,000 s on one instance): the first fits 25, the second too, the third waits.
    let h = Harness::with_route(
        "max_training_hours_per_day = 25\nmax_runtime_seconds = 36000\nmax_concurrent_jobs = 5",
    );
    for name in ["one", "two", "three"] {
        h.put_good(name);
        assert!(h.land(name).await.is_empty());
    }
    assert_eq!(h.world.jobs.count(), 2);
    let queued = h.only_queued();
    assert_eq!(queued.detail["job_name"], h.job_for("three").as_str());
    assert_eq!(queued.detail["reason"], "budget");
    let message = queued.detail["message"].as_str().unwrap_or_default();
    assert!(message.contains("max_training_hours_per_day"), "{message}");
    let today = h.today();
    assert_eq!(today.hours(), 20.0);
}

#[tokio::test]
async fn a_job_that_alone_reserves_more_than_the_daily_hours_cap_is_rejected_not_queued_for_ever() {
    // No max_runtime_seconds on the route: the runtime comes from the model's document (or SageMaker's 1 day), so
    // only the launch can see it is above the cap.
    let h = Harness::with_route("max_training_hours_per_day = 1");
    h.land_good(&["too-long"]).await;
    let e = h.rejected_as("cap_exceeded");
    let message = e.detail["message"].as_str().unwrap_or_default();
    assert!(message.contains("max_training_hours_per_day"), "{message}");
    assert!(h.slots().is_none(), "no slot taken, nothing charged");
}

// ---- What a launch costs, and its clock ----

#[tokio::test]
async fn a_fresh_launch_costs_exactly_its_calls_and_a_duplicate_one_read() {
    let h = Harness::with_route("max_concurrent_jobs = 5");
    h.put_good("counted");
    h.put_good("warm");
    let want = |hub: u32| -> BTreeMap<&'static str, u32> {
        let mut m = BTreeMap::from([
            // The run record (does a launch of this dataset exist?), the head of the one `.jsonl` file (its
            // check), and the route's slots object (compare-and-swap needs what it replaces).
            ("GetObject", 3),
            // The folder, twice: for the checks (what is checked is what is frozen), and again just before
            // CreateTrainingJob, after the manifest is written, to refuse a file overwritten since the checks
            // (one listing answers for up to 1,000 files; a HeadObject per file would cost one call each).
            ("ListObjectsV2", 2),
            // The slot taken, the open-run marker (before the record, so the sweep, which reads open runs only,
            // finds it), the frozen manifest, the record `Launching` (before the job exists, so a crash leaves a
            // trace), the record `Launched` with its outbox flag (after the event was accepted).
            ("PutObject", 5),
            ("CreateTrainingJob", 1),
            // `Training Run Started`.
            ("PutEvents", 1),
        ]);
        if hub > 0 {
            // The model reference, on a cold cache only (found as a ModelReference: no second lookup as Model).
            m.insert("DescribeHubContent", hub);
        }
        m
    };

    h.world.reset_calls();
    assert!(h.land("counted").await.is_empty());
    assert_eq!(h.world.calls(), want(1));

    // A second dataset in the same warm container: the hub document is cached.
    h.world.reset_calls();
    assert!(h.land("warm").await.is_empty());
    assert_eq!(h.world.calls(), want(0));

    // A duplicate: one read of the record, and nothing else.
    h.world.reset_calls();
    assert!(h.land("counted").await.is_empty());
    assert_eq!(h.world.calls(), BTreeMap::from([("GetObject", 1)]));
    assert_eq!(h.world.total_calls(), 1);
}

#[tokio::test]
async fn the_run_record_takes_its_times_from_the_clock() {
    let h = Harness::new();
    h.put_good("timed");
    let job = h.job_for("timed");
    let t0 = at("2026-03-01T08:00:00Z");
    h.world.clock.set(t0);
    // The announcement fails once, so that the two steps of the record happen at two instants.
    h.world
        .bus
        .faults
        .fail("PutEvents", "", 1, throttled("events", "PutEvents"));
    assert_eq!(h.land("timed").await, ["m0"]);
    let r = h.record(&job).expect("the record");
    assert_eq!((r.created_at, r.updated_at), (t0, t0));
    assert_eq!(h.slots().expect("slots").holders.get(&job), Some(&t0));
    assert_eq!(
        h.world
            .jobs
            .get(&job)
            .expect("the job")
            .description
            .creation_time,
        Some(t0)
    );

    h.world.clock.advance(Duration::seconds(90));
    let t1 = at("2026-03-01T08:01:30Z");
    assert!(h.land("timed").await.is_empty());
    let r = h.record(&job).expect("the record");
    assert_eq!(r.created_at, t0);
    assert_eq!(r.updated_at, t1);
    assert_eq!(
        r.history
            .iter()
            .map(|c| (c.status, c.at))
            .collect::<Vec<_>>(),
        [(RunStatus::Launching, t0), (RunStatus::Launched, t1)]
    );
    // The dataset's own time is the envelope's, not the clock's.
    assert_eq!(r.dataset.expect("the dataset").time, at(LANDED_AT));
}

// ---- Bugs found by these tests, fixed (each test failed before its fix) ----

#[tokio::test]
async fn a_resumed_launch_rejected_by_its_plan_ends_its_record_and_gives_back_its_slot() {
    let h = Harness::with_route("max_concurrent_jobs = 1");
    h.put_good("resumed");
    let job = h.job_for("resumed");
    // The first delivery took the slot and wrote the record `Launching`; CreateTrainingJob was throttled.
    h.world.jobs.faults.fail(
        "CreateTrainingJob",
        &job,
        1,
        throttled("sagemaker", "CreateTrainingJob"),
    );
    assert_eq!(h.land("resumed").await, ["m0"]);
    assert_eq!(h.slots().expect("slots").holders.len(), 1);

    // Meanwhile the model reference was removed from the hub; the redelivery reaches a cold container.
    let ports = hubtune::ports::Ports {
        hub: Arc::new(hubtune::memory::MemoryHub::default()),
        ..h.world.ports()
    };
    let cold = Context::new(
        ports,
        ConfigSource::Inline(h.config.clone()),
        DeploymentEnv::default(),
    );
    let response = launch_finetune::handle(&cold, sqs(&[h.marker_event("resumed")]))
        .await
        .expect("a batch response");
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    let rejected = h.events(DATASET_REJECTED);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].detail["reason"], "model_reference_not_found");
    assert_eq!(h.world.jobs.count(), 0);

    // The dataset ended: its record says so, and the route's only slot is free for the next dataset. (Today the
    // record stays `Launching`, which the sweep re-queues every 15 minutes, and the slot stays held for good.)
    assert_eq!(h.status(&job), RunStatus::Failed);
    assert!(h.slots().expect("slots").holders.is_empty());
}

#[tokio::test]
async fn the_same_marker_in_two_envelopes_on_a_full_route_is_queued_once() {
    let h = Harness::with_route("max_concurrent_jobs = 1");
    h.land_good(&["holder"]).await;
    // The two fixtures announce the same upload; S3 gives its time to the millisecond, EventBridge to the second.
    h.put_good("2026-11-27 release#1");
    let notification = fixture(S3_NOTIFICATION_FIXTURE);
    let eventbridge = fixture(EVENTBRIDGE_FIXTURE);
    assert!(h.deliver(&[notification]).await.is_empty());
    assert!(h.deliver(&[eventbridge]).await.is_empty());

    assert_eq!(h.queue().len(), 1, "{:?}", h.queue());
}

#[tokio::test]
async fn rerun_after_a_newer_upload_reruns_the_newer_upload() {
    let h = Harness::with_route("max_concurrent_jobs = 10");
    let folder = h.put_good("reuploaded");
    let uri: S3Uri = folder.parse().expect("a URI");
    // The first upload, and a rerun of it (attempt 1).
    assert!(h.land("reuploaded").await.is_empty());
    let Ok(Outcome::Launched { job: first_rerun }) = launch_finetune::rerun(&h.ctx, &uri).await
    else {
        panic!("the first rerun did not launch");
    };
    // A newer upload of the marker, a day later. Its sequencer is chosen so that its job name sorts before the
    // first rerun's (the run records are listed in name order); with the other order the test passes.
    let newer = (0..100)
        .map(|i| format!("newer-{i}"))
        .find(|seq| {
            identity("reuploaded", seq)
                .job_name(&h.config, ROUTE)
                .to_string()
                < first_rerun
        })
        .expect("one of 100 names sorts first");
    let newer_event = object_created_at(&marker_key("reuploaded"), &newer, "2026-11-28T09:00:00Z");
    assert!(h.deliver(&[newer_event]).await.is_empty());

    let Ok(Outcome::Launched { job }) = launch_finetune::rerun(&h.ctx, &uri).await else {
        panic!("the second rerun did not launch");
    };
    let d = h
        .record(&job)
        .and_then(|r| r.dataset)
        .expect("the rerun's dataset");
    assert_eq!(
        (d.identity.version.as_str(), d.identity.attempt, d.time),
        (format!("s:{newer}").as_str(), 1, at("2026-11-28T09:00:00Z"))
    );
}

// ---- What the adversarial review found (each failed before its fix) ----

impl Harness {
    /// The files a job's frozen manifest lists (the manifest's first entry is the prefix).
    fn manifest_files(&self, job: &str) -> Vec<String> {
        let manifest = self.config.deployment.manifest_key(job).to_string();
        let body = self.world.objects.json(&manifest).expect("the manifest");
        body.as_array().expect("a manifest is a list")[1..]
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// A second handler context on the same world, with another routes file (a redeploy).
    fn redeployed(&self, routes: &str) -> Context {
        let config = config::parse(routes, &DeploymentEnv::default(), None).expect("valid routes");
        Context::new(
            self.world.ports(),
            ConfigSource::Inline(Arc::new(config)),
            DeploymentEnv::default(),
        )
    }
}

#[tokio::test]
async fn a_file_added_while_the_dataset_waits_in_the_queue_is_not_trained() {
    let h = Harness::with_route("max_concurrent_jobs = 1");
    h.land_good(&["first", "waits"]).await;
    assert_eq!(h.queue().len(), 1);
    // Uploaded after the marker, while the dataset waits for a slot.
    let late = file_key("waits", "late.jsonl");
    h.world.objects.insert(&Harness::uri(&late), GOOD_JSONL);
    h.free_slot_and_drain("first").await;
    assert_eq!(h.manifest_files(&h.job_for("waits")), ["train.jsonl"]);
}

#[tokio::test]
async fn a_file_added_after_a_failed_first_delivery_is_not_trained_by_the_redelivery() {
    let h = Harness::new();
    h.put_good("retried");
    // The first delivery checks the dataset and writes its record, then fails writing the manifest.
    h.world.objects.faults.fail(
        "PutObject",
        "manifests/",
        1,
        server_error("s3", "PutObject"),
    );
    assert_eq!(h.land("retried").await, ["m0"]);
    let late = file_key("retried", "late.jsonl");
    h.world.objects.insert(&Harness::uri(&late), GOOD_JSONL);
    assert!(h.land("retried").await.is_empty());
    assert_eq!(h.jobs().len(), 1);
    assert_eq!(h.manifest_files(&h.job_for("retried")), ["train.jsonl"]);
}

/// The dataset was refused for a changed file, `file`: nothing trained, the record ended, the slot given back, the
/// message acknowledged.
fn assert_refused_as_changed(h: &Harness, name: &str, file: &str) {
    let job = h.job_for(name);
    assert!(!h.jobs().contains(&job), "{:?}", h.jobs());
    assert_eq!(h.world.calls().get("CreateTrainingJob"), None);
    let rejected = h.events(DATASET_REJECTED);
    assert_eq!(rejected.len(), 1, "{:#?}", h.world.bus.events());
    assert_eq!(rejected[0].detail["reason"], "changed_after_checks");
    assert_eq!(rejected[0].detail["file"], file);
    assert!(h
        .events(TRAINING_RUN_STARTED)
        .iter()
        .all(|e| e.detail["job_name"] != job.as_str()));
    let r = h.record(&job).expect("the run record");
    assert_eq!(r.status, RunStatus::Failed);
    assert!(
        h.slots().is_none_or(|s| s.holders.is_empty()),
        "{:?}",
        h.slots()
    );
}

#[tokio::test]
async fn a_file_overwritten_between_the_checks_and_the_launch_is_refused_not_trained() {
    let h = Harness::new();
    h.put_good("swapped");
    let train = file_key("swapped", "train.jsonl");
    // Right after the checks read its head, the file is replaced by one that would fail them.
    h.world.objects.overwrite_after(
        "GetObject",
        &train,
        &Harness::uri(&train),
        "not json at all\n",
    );
    assert!(
        h.land("swapped").await.is_empty(),
        "the message is acknowledged"
    );
    assert_refused_as_changed(&h, "swapped", &train);
    // A redelivery does not launch it either.
    assert!(h.land("swapped").await.is_empty());
    assert!(h.jobs().is_empty());
}

#[tokio::test]
async fn a_file_overwritten_while_the_dataset_waits_in_the_queue_is_refused_not_trained() {
    let h = Harness::with_route("max_concurrent_jobs = 1");
    h.land_good(&["first", "waits"]).await;
    assert_eq!(h.queue().len(), 1);
    let train = file_key("waits", "train.jsonl");
    h.world
        .objects
        .insert(&Harness::uri(&train), "{\"unchecked\": true}\n");
    h.free_slot_of(&h.job_for("first"));
    h.world.reset_calls();
    assert!(h.deliver(&[slot_freed(ROUTE)]).await.is_empty());
    assert_eq!(
        h.jobs(),
        [h.job_for("first")],
        "only the first dataset trains"
    );
    assert_refused_as_changed(&h, "waits", &train);
}

/// Overwritten between the listing and the read of its head: the bytes checked are not the object listed.
#[tokio::test]
async fn a_file_overwritten_while_it_is_checked_is_refused_before_a_record() {
    let h = Harness::new();
    h.put_good("midway");
    let train = file_key("midway", "train.jsonl");
    h.world.objects.overwrite_after(
        "ListObjectsV2",
        &folder_key("midway"),
        &Harness::uri(&train),
        GOOD_JSONL.repeat(2),
    );
    assert!(h.land("midway").await.is_empty());
    let rejected = h.only_rejection();
    assert_eq!(rejected.detail["reason"], "changed_after_checks");
    assert_eq!(rejected.detail["file"], train.as_str());
}

/// The job was created before the crash, so SageMaker holds the manifest: a file changed before the redelivery does
/// not turn the running job's record into a refusal (its slot and its record would be lost to a live job).
#[tokio::test]
async fn a_file_changed_after_the_job_was_created_does_not_refuse_the_running_job() {
    let h = Harness::new();
    h.put_good("created-then-changed");
    let job = h.job_for("created-then-changed");
    hubtune::runtime::faults::arm("launch.after_create", "created-then-changed", 1);
    assert_eq!(h.land("created-then-changed").await, ["m0"]);
    let train = file_key("created-then-changed", "train.jsonl");
    h.world
        .objects
        .insert(&Harness::uri(&train), GOOD_JSONL.repeat(3));
    assert!(h.land("created-then-changed").await.is_empty());
    assert_eq!(h.jobs(), [job.as_str()]);
    assert!(h.events(DATASET_REJECTED).is_empty());
    assert_eq!(h.status(&job), RunStatus::Launched);
    assert_eq!(h.slot_holders(), [job.as_str()]);
}

#[tokio::test]
async fn with_versioning_suspended_uploading_the_marker_again_retrains() {
    let h = Harness::with_route("max_concurrent_jobs = 2");
    h.put_good("suspended");
    let mut first = s3_notification(&marker_key("suspended"), "0066F9A1B2C3D4E5F6");
    first["Records"][0]["s3"]["object"]["versionId"] = json!("null");
    let mut again = first.clone();
    again["Records"][0]["s3"]["object"]["sequencer"] = json!("0066F9A1B2C3D4E5F7");
    assert!(h.deliver(&[first]).await.is_empty());
    assert!(h.deliver(&[again]).await.is_empty());
    assert_eq!(h.jobs().len(), 2, "{:?}", h.jobs());
}

#[tokio::test]
async fn a_file_in_an_archive_storage_class_is_rejected_not_lost() {
    let h = Harness::new();
    h.put_good("archived");
    h.world.objects.faults.fail_always(
        "GetObject",
        "train.jsonl",
        hubtune::domain::error::Error::Aws {
            service: "s3",
            operation: "GetObject",
            code: Some("InvalidObjectState".into()),
            message: "The operation is not valid for the object's storage class".into(),
            class: hubtune::domain::error::ErrorClass::Deployment,
        },
    );
    assert!(h.land("archived").await.is_empty());
    let e = h.rejected_as("archived_object");
    assert_eq!(e.detail["file"], file_key("archived", "train.jsonl"));
}

#[tokio::test]
async fn queued_datasets_of_a_route_removed_from_the_routes_file_are_rejected_not_stranded() {
    let h = Harness::with_route("max_concurrent_jobs = 1");
    h.land_good(&["running", "stranded"]).await;
    assert_eq!(h.queue().len(), 1);
    // The route is renamed in the routes file while a dataset waits in its queue.
    let redeployed =
        h.redeployed(&routes_toml("").replace("[routes.support-bot]", "[routes.renamed]"));
    launch_finetune::handle(&redeployed, sqs(&[slot_freed(ROUTE)]))
        .await
        .unwrap();
    let rejected = h.events(DATASET_REJECTED);
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0].detail["reason"], "unknown_route");
    assert!(h.queue().is_empty(), "the entry ended with its rejection");
}

#[tokio::test]
async fn an_unreadable_queue_entry_does_not_block_the_datasets_behind_it() {
    let h = Harness::with_route("max_concurrent_jobs = 1");
    h.land_good(&["running", "behind"]).await;
    // An entry that sorts first and cannot be read.
    let broken = h
        .config
        .deployment
        .queue_prefix(ROUTE)
        .join("00000000T000000Z-broken.json");
    h.world.objects.insert(&broken.to_string(), "{not json");
    h.free_slot_of(&h.job_for("running"));
    assert_eq!(
        h.deliver(&[slot_freed(ROUTE)]).await,
        ["m0"],
        "the broken entry brings the message back"
    );
    assert!(h.jobs().contains(&h.job_for("behind")), "{:?}", h.jobs());
}

#[tokio::test]
async fn a_payload_hubtune_does_not_understand_goes_to_the_dead_letter_queue_not_away() {
    let h = Harness::new();
    let stranger = json!({"hello": "world"});
    let misrouted = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
        "account": "111122223333", "time": LANDED_AT, "region": "us-east-1", "resources": [], "detail": {}});
    assert_eq!(
        h.deliver(&[stranger, misrouted, json!("not json")]).await,
        ["m0", "m1", "m2"],
        "each comes back, and after the receive count lands in the dead-letter queue"
    );
    assert!(h.world.bus.events().is_empty());
}

// ---- The handler and `hubtune inspect` agree ----

/// What the decision says launch-finetune does, in the terms the world shows.
fn expected_ending(h: &hubtune::domain::handling::Handling) -> String {
    use hubtune::domain::handling::{Handling, LaunchHandling};
    match h {
        Handling::LaunchFinetune(LaunchHandling::Launch { job, .. }) => format!("launch {job}"),
        Handling::LaunchFinetune(LaunchHandling::Drain { .. }) => "drain".into(),
        Handling::LaunchFinetune(LaunchHandling::Ignore { .. }) => "ignored".into(),
        Handling::LaunchFinetune(LaunchHandling::Reject(r)) => {
            format!(
                "rejected {} {}",
                r.rejection.reason,
                r.dataset_uri.as_deref().unwrap_or("")
            )
        }
        Handling::LaunchFinetune(LaunchHandling::Fail { .. }) => "failed".into(),
        other => panic!("not launch-finetune's decision: {other:?}"),
    }
}

/// How the delivery ended, as the world shows it: one of the four endings, or a panic.
fn observed_ending(h: &Harness, came_back: &[String]) -> String {
    let events = h.world.bus.events();
    let rejected = h.events(DATASET_REJECTED);
    let calls = h.world.calls();
    if !came_back.is_empty() {
        assert!(events.is_empty(), "a failure sent {events:#?}");
        return "failed".into();
    }
    if let [job] = h.jobs().as_slice() {
        return format!("launch {job}");
    }
    if let [e] = rejected.as_slice() {
        return format!(
            "rejected {} {}",
            e.detail["reason"].as_str().unwrap(),
            e.detail["dataset_uri"].as_str().unwrap()
        );
    }
    if events.is_empty() && h.world.total_calls() == 0 {
        return "ignored".into();
    }
    // A drain of an empty queue lists it and finds nothing to take.
    if events.is_empty() && calls.keys().all(|op| *op == "ListObjectsV2") {
        return "drain".into();
    }
    panic!(
        "none of the four endings: calls {calls:?}, events {events:#?}, jobs {:?}",
        h.jobs()
    )
}

/// Every fixture, replayed through `hubtune inspect`'s decision and through the handler on the in-memory world,
/// ends the same way, and that way is one of the four (docs/reliability.md).
#[tokio::test]
async fn every_event_fixture_ends_as_inspect_says() {
    use hubtune::domain::handling::{decide, Function};
    let mut endings = BTreeMap::new();
    for (name, body) in hubtune::memory::event_fixtures() {
        let h = Harness::new();
        // The fixtures' dataset is there with good files, so a launch can be seen to happen.
        h.put_good("2026-11-27 release#1");
        let inbound = parse_message(&body);
        assert_eq!(inbound.len(), 1, "{name}: one record per body");
        let now = h.ctx.now();
        let decision = decide(
            Function::LaunchFinetune,
            inbound[0].clone(),
            Some(&h.config),
            now,
        )
        .expect("the routes are given");
        let came_back = h.deliver(std::slice::from_ref(&body)).await;
        let observed = observed_ending(&h, &came_back);
        assert_eq!(
            observed,
            expected_ending(&decision),
            "{name}: inspect says `{decision}`"
        );
        endings.insert(name, observed);
    }
    // The fixtures cover every ending launch-finetune has.
    for kind in ["launch ", "drain", "ignored", "rejected ", "failed"] {
        assert!(
            endings.values().any(|e| e.starts_with(kind)),
            "no fixture ends `{kind}`: {endings:#?}"
        );
    }
}

// ---- Channels ----

/// The JSON of a manifest the launcher wrote.
fn manifest_at(h: &Harness, uri: &S3Uri) -> Value {
    h.world
        .objects
        .json(&uri.to_string())
        .unwrap_or_else(|| panic!("no manifest at {uri}"))
}

#[tokio::test]
async fn a_folder_with_train_and_validation_subfolders_launches_two_channels_each_with_its_manifest(
) {
    let h = Harness::new();
    let folder = h.put_dataset(
        "two",
        &[
            ("train/a.jsonl", GOOD_JSONL),
            ("validation/v.jsonl", GOOD_JSONL),
        ],
    );
    assert!(h.land("two").await.is_empty());
    let job = h.job_for("two");
    let req = h.request(&job);
    let names: Vec<&str> = req
        .input_data_config
        .iter()
        .map(|c| c.channel_name.as_str())
        .collect();
    assert_eq!(names, ["training", "validation", "model", "code"]);

    let d = &h.config.deployment;
    let (train_uri, val_uri) = (
        d.manifest_key(&job),
        d.channel_manifest_key(&job, "validation"),
    );
    let v = &req
        .channel("validation")
        .unwrap()
        .data_source
        .s3_data_source;
    assert_eq!(
        (v.s3_data_type, &v.s3_uri),
        (S3DataType::ManifestFile, &val_uri)
    );
    // Each manifest lists only its channel's files, from its subfolder.
    assert_eq!(
        manifest_at(&h, &train_uri),
        json!([{ "prefix": format!("{folder}train/") }, "a.jsonl"])
    );
    assert_eq!(
        manifest_at(&h, &val_uri),
        json!([{ "prefix": format!("{folder}validation/") }, "v.jsonl"])
    );

    // The run record and Training Run Started list both channels with their manifests.
    let record = h.record(&job).unwrap();
    let listed: Vec<(&str, &str)> = record
        .channels
        .iter()
        .map(|c| (c.name.as_str(), c.manifest_uri.as_str()))
        .collect();
    let (t, v) = (train_uri.to_string(), val_uri.to_string());
    assert_eq!(
        listed,
        [("training", t.as_str()), ("validation", v.as_str())]
    );
    let started = &h.events(TRAINING_RUN_STARTED)[0];
    assert_eq!(
        started.detail["schema"], 1,
        "channels is a new field, not a new shape"
    );
    assert_eq!(started.detail["channels"][0]["name"], "training");
    assert_eq!(started.detail["channels"][1]["name"], "validation");
    assert_eq!(started.detail["channels"][1]["manifest_uri"], v);
    assert_eq!(started.detail["channels"][1]["file_count"], 1);
}

#[tokio::test]
async fn a_folder_without_subfolders_is_one_training_channel_as_before() {
    let h = Harness::new();
    let folder = h.put_dataset(
        "flat",
        &[
            ("train.jsonl", GOOD_JSONL),
            ("validation.jsonl", GOOD_JSONL),
        ],
    );
    assert!(h.land("flat").await.is_empty());
    let job = h.job_for("flat");
    let req = h.request(&job);
    assert!(req.channel("validation").is_none());
    assert_eq!(
        manifest_at(&h, &h.config.deployment.manifest_key(&job)),
        json!([{ "prefix": folder }, "train.jsonl", "validation.jsonl"])
    );
    let started = &h.events(TRAINING_RUN_STARTED)[0];
    assert_eq!(started.detail["channels"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_route_maps_dev_to_validation() {
    let h = Harness::with_route(r#"channels = { training = "train", validation = "dev" }"#);
    h.put_dataset(
        "dev",
        &[("train/a.jsonl", GOOD_JSONL), ("dev/v.jsonl", GOOD_JSONL)],
    );
    assert!(h.land("dev").await.is_empty());
    let job = h.job_for("dev");
    let req = h.request(&job);
    assert!(req.channel("validation").is_some());
    let val = h.config.deployment.channel_manifest_key(&job, "validation");
    assert_eq!(manifest_at(&h, &val)[1], "v.jsonl");
}

#[tokio::test]
async fn a_validation_channel_the_hub_document_refuses_is_rejected_before_a_slot_or_a_manifest() {
    let h = Harness::new();
    let mut hub = hub_content();
    hub.document.validation_supported = Some(false);
    h.world.hub.insert(hub);
    h.put_dataset(
        "noval",
        &[
            ("train/a.jsonl", GOOD_JSONL),
            ("validation/v.jsonl", GOOD_JSONL),
        ],
    );
    assert!(h.land("noval").await.is_empty());
    h.rejected_as("channel_not_supported");
    assert!(h.jobs().is_empty());
    assert!(h.manifests().is_empty());
}

#[tokio::test]
async fn a_bad_file_in_the_validation_channel_rejects_the_dataset() {
    let h = Harness::new();
    h.put_dataset(
        "badval",
        &[
            ("train/a.jsonl", GOOD_JSONL),
            ("validation/v.jsonl", "not json\n"),
        ],
    );
    assert!(h.land("badval").await.is_empty());
    let e = h.rejected_as("malformed_jsonl");
    assert_eq!(e.detail["file"], file_key("badval", "validation/v.jsonl"));
}
