//! `pure`: launch-finetune's real handler, in process, over the in-memory ports (`hubtune::memory`).
//!
//! One `World` (an in-memory S3, SageMaker, EventBridge and private hub) and one `Context` per variant stand for one
//! warm Lambda instance. Each iteration lands a new dataset (its JSONL file and marker put into the World, untimed),
//! then times what the instance does for its SQS event: the payload parsed from its JSON text, `handle` (the event
//! parsed, the dataset located, listed and its JSONL head checked, the job named, the request planned and
//! validated, the slot taken by compare-and-swap, the run record and manifest written, CreateTrainingJob, the run
//! record moved to `Launched`, `Training Run Started` sent) and the batch response serialised. Every call goes to
//! the in-memory ports: no network, no AWS SDK. After each launch the run checks that exactly one job more exists
//! and nothing was handed back, then clears the object store (untimed): the in-memory LIST scans every object, so
//! an object store that grew over the run would slow the later launches for a reason S3 does not have.

use std::sync::Arc;
use std::time::Instant;

use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::events::TRAINING_RUN_STARTED;
use hubtune::domain::hub::HubContent;
use hubtune::domain::route_queue::Slots;
use hubtune::memory::World;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_e2e::routes_toml;
use serde_json::{json, Value};

use crate::common::{summary, BoxError, ROUTE_EXTRA, TRAIN_JSONL};

/// The hub document the private hub holds (`my-private-hub`, the model reference of the routes file's model).
const HUB_DOCUMENT: &str =
    include_str!("../../fixtures/hub/describe-hub-content.model-reference.json");
const BUCKET: &str = "hubtune-local";
const ROUTE: &str = "support-bot";
/// Launches before the timed ones (the hub cache filled, allocator and branch predictors warm).
const WARM_UP: usize = 200;

/// An `Object Created` event as the local stack (and S3 → EventBridge) sends it, inside a one-record SQS batch.
fn sqs_payload(i: usize) -> String {
    let body = json!({
        "version": "0", "id": format!("5c9a3e58-0000-4000-8000-{i:012}"), "detail-type": "Object Created",
        "source": "aws.s3", "account": "123456789012", "time": "2026-11-27T10:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{BUCKET}")],
        "detail": {
            "version": "0", "bucket": {"name": BUCKET},
            "object": {"key": format!("{}_SUCCESS", folder(i)), "size": 0,
                       "etag": "d41d8cd98f00b204e9800998ecf8427e",
                       "version-id": format!("vers{i:028}"), "sequencer": format!("{:018X}", 0x1000 + i)},
            "request-id": "C3D13FE58DE4C810", "requester": "123456789012", "source-ip-address": "127.0.0.1",
            "reason": "PutObject"
        }
    });
    json!({"Records": [{
        "messageId": format!("0f8c6a1e-0000-4000-8000-{i:012}"), "receiptHandle": "AQEB",
        "body": body.to_string(), "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:LaunchQueue", "awsRegion": "us-east-1"
    }]})
    .to_string()
}

/// Dataset `i`'s folder key.
fn folder(i: usize) -> String {
    format!("datasets/{ROUTE}/ds-{i:05}/")
}

/// One warm launch-finetune instance over one in-memory AWS, whose route already holds `holders` jobs.
struct Instance {
    world: World,
    ctx: Context,
    /// The route's slot object before each launch, as the store writes it, and its URI.
    slots_uri: String,
    slots_body: Vec<u8>,
    /// Datasets landed so far (each launch lands a new one: a new job name).
    landed: usize,
}

impl Instance {
    fn new(config: &Arc<Config>, hub: &HubContent, holders: usize) -> Result<Self, BoxError> {
        let world = World::new();
        world.hub.insert(hub.clone());
        let ctx = Context::new(
            world.ports(),
            ConfigSource::Inline(config.clone()),
            DeploymentEnv::default(),
        );
        let mut slots = Slots {
            route: ROUTE.into(),
            ..Default::default()
        };
        for i in 0..holders {
            slots.take(&format!("hubtune-{ROUTE}-{i:016x}"), u32::MAX, ctx.now());
        }
        Ok(Self {
            slots_uri: config.deployment.slots_key(ROUTE).to_string(),
            slots_body: serde_json::to_vec_pretty(&slots)?,
            world,
            ctx,
            landed: 0,
        })
    }

    /// Land the next dataset and launch it; the time of the launch in µs. An error when the handler did not launch
    /// exactly one job for it.
    async fn launch(&mut self) -> Result<f64, BoxError> {
        let i = self.landed;
        self.landed += 1;
        // Untimed: the dataset uploaded, the slot object as it stood, the SQS event as Lambda receives it.
        let objects = &self.world.objects;
        let base = format!("s3://{BUCKET}/{}", folder(i));
        objects.insert(&format!("{base}train.jsonl"), TRAIN_JSONL.as_bytes());
        objects.insert(&format!("{base}_SUCCESS"), Vec::new());
        objects.insert(&self.slots_uri, self.slots_body.clone());
        let payload = sqs_payload(i);
        let jobs_before = self.world.jobs.count();

        let t = Instant::now();
        let event: Value = serde_json::from_str(&payload)?;
        let response = launch_finetune::handle(&self.ctx, event).await?;
        let answer = serde_json::to_string(&response)?;
        let us = t.elapsed().as_secs_f64() * 1e6;

        let jobs = self.world.jobs.count();
        if jobs != jobs_before + 1 || response != json!({"batchItemFailures": []}) {
            return Err(format!(
                "launch {i} ({base}) did not launch exactly one job: {jobs_before} jobs before, {jobs} after; the \
                 handler answered {answer}"
            )
            .into());
        }
        for uri in objects.uris("") {
            objects.remove(&uri);
        }
        Ok(us)
    }

    /// The whole run's check: one job, one CreateTrainingJob and one `Training Run Started` per launch.
    fn check(&self) -> Result<Value, BoxError> {
        let n = self.landed;
        let calls = self.world.calls();
        let started = self.world.bus.of_type(TRAINING_RUN_STARTED).len();
        let created = calls.get("CreateTrainingJob").copied().unwrap_or(0) as usize;
        let jobs = self.world.jobs.count();
        if jobs != n || created != n || started != n {
            return Err(format!(
                "{n} datasets landed, but {jobs} jobs exist, {created} CreateTrainingJob calls were made and \
                 {started} Training Run Started events sent"
            )
            .into());
        }
        let per_launch: serde_json::Map<String, Value> = calls
            .iter()
            .map(|(op, c)| (op.to_string(), json!(f64::from(*c) / n as f64)))
            .collect();
        Ok(Value::Object(per_launch))
    }
}

/// Time `iterations` launches (after a warm-up) on a route already holding `holders` jobs.
async fn variant(
    config: &Arc<Config>,
    hub: &HubContent,
    holders: usize,
    iterations: usize,
) -> Result<(Value, Value), BoxError> {
    let mut instance = Instance::new(config, hub, holders)?;
    for _ in 0..WARM_UP {
        instance.launch().await?;
    }
    let mut us = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        us.push(instance.launch().await?);
    }
    let calls = instance.check()?;
    let mut s = summary(us);
    s["launched"] = json!(instance.landed);
    Ok((s, calls))
}

pub async fn pure(iterations: usize) -> Result<Value, BoxError> {
    let toml = routes_toml(BUCKET, ROUTE_EXTRA);
    // Per cold start (config) and per hub-cache miss (document): timed apart, they are not per-event work.
    let mut config_us = Vec::new();
    let mut hub_us = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let c = config::parse(&toml, &DeploymentEnv::default(), None)?;
        config_us.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(c);
        let t = Instant::now();
        let h = HubContent::from_describe_json(HUB_DOCUMENT)?;
        hub_us.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(h);
    }
    let config = Arc::new(config::parse(&toml, &DeploymentEnv::default(), None)?);
    let hub = HubContent::from_describe_json(HUB_DOCUMENT)?;

    // The slot object before each launch: one job already in it, or 999 (the launch makes it 1,000, the route's
    // limit under ROUTE_EXTRA).
    let mut launch = serde_json::Map::new();
    let mut calls = serde_json::Map::new();
    for (name, holders) in [("slots_1", 1usize), ("slots_1000", 999)] {
        eprintln!("hubtune-bench pure: {name}, {WARM_UP} + {iterations} launches");
        let (times, per_launch) = variant(&config, &hub, holders, iterations).await?;
        launch.insert(name.into(), times);
        calls.insert(name.into(), per_launch);
    }
    Ok(json!({
        "kind": "pure", "iterations": iterations, "unit": "us",
        "launch": launch,
        "calls_per_launch": calls,
        "config_parse": summary(config_us),
        "hub_document_parse": summary(hub_us),
    }))
}
