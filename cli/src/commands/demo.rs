//! `hubtune demo` and `hubtune local`: the whole pipeline on the embedded local stack, the three real handlers fed by
//! the dispatcher as Lambda's event source mappings would.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubtune::aws::Aws;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::inbound::{parse_message, Inbound};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_cli::local::{Delivery, Dispatcher, Stack, StackInfo, StackOptions, SWEEP_RULE};
use serde_json::Value;

use crate::commands::common::Res;
use crate::commands::local_dataset::local_listing;

fn examples() -> PathBuf {
    hubtune_cli::home().join("examples")
}

/// The model package group the demo's stack creates (template parameter `ModelPackageGroupName`) and its route
/// registers in.
const DEMO_GROUP: &str = "support-bot-models";

fn demo_routes(bucket: &str) -> String {
    format!(
        r#"# Written by `hubtune demo`: one route fine-tuning the private hub's Llama 3.2 1B reference.
[deployment]
bucket = "{bucket}"

[defaults]
hub = "my-private-hub"
role_arn = "arn:aws:iam::123456789012:role/hubtune-training"

[routes.support-bot]
prefix = "datasets/support-bot/"
model_id = "meta-textgeneration-llama-3-2-1b"
accept_eula = true
instance_type = "ml.g5.2xlarge"
hyperparameters = {{ epoch = 2, instruction_tuned = true }}
max_concurrent_jobs = 2
model_package_group = "{DEMO_GROUP}"
"#
    )
}

/// The embedded stack with the example hub seeded; training jobs stay in progress `train_seconds`.
fn stack_options(train_seconds: f64) -> StackOptions {
    StackOptions {
        seed_hub: vec![examples().join("hub/describe-hub-content.model-reference.json")],
        in_progress_seconds: train_seconds,
        parameters: vec![("ModelPackageGroupName".into(), DEMO_GROUP.into())],
        ..Default::default()
    }
}

struct Spinner {
    on: bool,
    i: usize,
}

impl Spinner {
    fn tick(&mut self, what: &str, since: Instant) {
        if self.on {
            const F: [&str; 4] = ["|", "/", "-", "\\"];
            self.i += 1;
            print!("\r  {} {what} ({:.0?})   ", F[self.i % 4], since.elapsed());
            let _ = std::io::stdout().flush();
        }
    }
    fn clear(&self) {
        if self.on {
            print!("\r{:80}\r", "");
        }
    }
}

fn step(msg: impl std::fmt::Display) {
    println!("==> {msg}");
}

pub async fn demo(train_seconds: f64) -> Res {
    let started = Instant::now();
    step("starting the local stack (moto + hubtune's SageMaker stand-in), provisioned from infra/template.yaml");
    let stack = Stack::start(&stack_options(train_seconds)).await?;
    let result = demo_on(&stack).await;
    stack.stop().await;
    match result {
        Ok(()) => {
            step(format!(
                "done in {:.1?}: dataset → job → published model, on your laptop",
                started.elapsed()
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("hubtune demo FAILED: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// What the demo runs against: the routes, the clients, the handlers' context and the dispatcher.
struct Demo {
    config: Arc<Config>,
    aws: Aws,
    ctx: Arc<Context>,
    dispatcher: Dispatcher,
    dir: PathBuf,
}

/// The demo's steps on a running stack: set up, upload, follow the run, show what was published.
async fn demo_on(stack: &Stack) -> Result<(), String> {
    let demo = set_up(stack).await?;
    let location = upload_dataset(&demo).await?;
    step(format!(
        "dataset landed: {location} (+ the _SUCCESS marker)"
    ));
    let (outcome, received) = follow(&demo).await?;
    if outcome["detail-type"] != "Model Published" {
        return Err(format!(
            "the fine-tune failed: {}",
            outcome["detail"]["failure_reason"]
        ));
    }
    show_result(&demo, &received).await?;
    let _ = std::fs::remove_dir_all(&demo.dir);
    Ok(())
}

async fn set_up(stack: &Stack) -> Result<Demo, String> {
    let info = &stack.info;
    println!(
        "    endpoint {}  bucket {}  bus {}",
        info.endpoint, info.bucket, info.event_bus
    );
    step("seeded private hub `my-private-hub` with the model reference meta-textgeneration-llama-3-2-1b 1.2.0");
    let dir = std::env::temp_dir().join(format!("hubtune-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let routes = dir.join("hubtune.toml");
    std::fs::write(&routes, demo_routes(&info.bucket)).map_err(|e| e.to_string())?;
    step(format!("wrote the routes file {}", routes.display()));
    let config = Arc::new(
        config::parse(&demo_routes(&info.bucket), &DeploymentEnv::default(), None)
            .map_err(|e| e.to_string())?,
    );
    let aws = Aws::for_endpoint(&info.endpoint, &info.region).await;
    let ctx = Arc::new(Context::new(
        aws.ports(),
        ConfigSource::Inline(config.clone()),
        DeploymentEnv::default(),
    ));
    let dispatcher = Dispatcher::new(info, ctx.clone());
    Ok(Demo {
        config,
        aws,
        ctx,
        dispatcher,
        dir,
    })
}

/// The example dataset's files, then its marker. Returns the dataset's folder.
async fn upload_dataset(demo: &Demo) -> Result<S3Uri, String> {
    let data = examples().join("datasets/support-bot");
    let name = format!("demo-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
    let route = demo.config.route("support-bot").expect("demo route");
    let location = route.prefix.join(&format!("{name}/"));
    let listing = local_listing(&data, location.key())?;
    let put = |key: String, body: Vec<u8>, content_type: &'static str| {
        let aws = demo.aws.clone();
        let bucket = location.bucket().to_string();
        async move {
            aws.put_object(
                &bucket,
                &key,
                body,
                content_type,
                hubtune::ports::PutCondition::None,
            )
            .await
            .map_err(|e| e.to_string())
        }
    };
    for (f, path) in &listing {
        let body = std::fs::read(path).map_err(|e| e.to_string())?;
        put(f.key.clone(), body, "application/jsonl").await?;
        println!("    uploaded {} ({} bytes)", f.key, f.size);
    }
    put(format!("{}_SUCCESS", location.key()), vec![], "text/plain").await?;
    Ok(location)
}

/// Run the handlers until the run is published (or failed): the outcome and every event a subscriber received.
async fn follow(demo: &Demo) -> Result<(Value, Vec<Value>), String> {
    let mut spinner = Spinner {
        on: std::io::stdout().is_terminal(),
        i: 0,
    };
    let mut received = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let wait_from = Instant::now();
    loop {
        if Instant::now() > deadline {
            spinner.clear();
            return Err(format!(
                "no Model Published or Fine-tune Failed within 120 s; events seen: {}",
                received.len()
            ));
        }
        let deliveries = demo
            .dispatcher
            .pump_once()
            .await
            .map_err(|e| e.to_string())?;
        if !deliveries.is_empty() {
            spinner.clear();
        }
        show_deliveries(&deliveries);
        for ev in demo
            .dispatcher
            .observed()
            .await
            .map_err(|e| e.to_string())?
        {
            spinner.clear();
            let done = on_event(demo, &ev).await?;
            received.push(ev.clone());
            if done {
                return Ok((ev, received));
            }
        }
        if deliveries.is_empty() {
            spinner.tick("waiting for the training job", wait_from);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

fn show_deliveries(deliveries: &[Delivery]) {
    for d in deliveries {
        for b in &d.bodies {
            println!("    {} ← {}", d.function.as_str(), describe_input(b));
        }
        if let Some(e) = &d.error {
            println!(
                "    {} failed: {e} (the message comes back)",
                d.function.as_str()
            );
        } else if d.failed > 0 {
            println!(
                "    {} returned {} record(s) for retry",
                d.function.as_str(),
                d.failed
            );
        }
    }
}

/// Show one event a subscriber received; `true` when it ends the run (published or failed).
async fn on_event(demo: &Demo, ev: &Value) -> Result<bool, String> {
    let dt = ev["detail-type"].as_str().unwrap_or_default();
    if dt == "Training Run Started" {
        if let Some(job) = ev["detail"]["job_name"].as_str() {
            show_launch(demo, job).await;
        }
    }
    println!(
        "    event  {dt}: {}",
        ev["detail"]["summary"].as_str().unwrap_or_default()
    );
    if dt == "Dataset Rejected" {
        return Err(format!(
            "the dataset was rejected: {}",
            ev["detail"]["message"]
        ));
    }
    Ok(dt == "Model Published" || dt == "Fine-tune Failed")
}

/// The launcher froze what it checked into the run record: show it as the user's "checks passed".
async fn show_launch(demo: &Demo, job: &str) {
    let key = demo.config.deployment.run_key(job);
    let Ok(Some(r)) = demo.ctx.store.read::<RunRecord>(&key).await else {
        return;
    };
    let r = r.value;
    if let Some(f) = &r.frozen {
        step(format!(
            "checks passed: {} data files, {} bytes, in {} channel(s)",
            f.files.len(),
            f.total_bytes,
            r.channel_list().len()
        ));
    }
    // Each channel (train/ → training, validation/ → validation) is frozen in its own manifest.
    for c in r.channel_list() {
        println!(
            "    channel {:<10} {} file(s), {} bytes, manifest {}",
            c.name,
            c.file_count.unwrap_or_default(),
            c.total_bytes.unwrap_or_default(),
            c.manifest_uri
        );
    }
    step(format!(
        "job launched: {job} on {} × {} from {}",
        r.instance_count,
        r.instance_type,
        r.hub_content_arn.as_deref().unwrap_or("the hub")
    ));
}

async fn show_result(demo: &Demo, received: &[Value]) -> Result<(), String> {
    let latest = demo.config.deployment.latest_key("support-bot");
    let bytes = demo
        .aws
        .get_object(latest.bucket(), latest.key())
        .await
        .map_err(|e| e.to_string())?
        .ok_or("latest.json was not written")?
        .body;
    step(format!("published {latest}:"));
    println!("{}", String::from_utf8_lossy(&bytes));
    show_model_package(demo, received).await?;
    step(format!(
        "a subscriber on the hubtune bus received {} event(s):",
        received.len()
    ));
    for ev in received {
        println!(
            "    {:<22} event_id {}",
            ev["detail-type"].as_str().unwrap_or_default(),
            ev["detail"]["event_id"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// The model package version `Model Published` names, as the registry describes it.
async fn show_model_package(demo: &Demo, received: &[Value]) -> Result<(), String> {
    let arn = received
        .iter()
        .find(|e| e["detail-type"] == "Model Published")
        .and_then(|e| e["detail"]["model_package_arn"].as_str())
        .ok_or("Model Published names no model package")?;
    let d = demo
        .aws
        .sagemaker
        .describe_model_package()
        .model_package_name(arn)
        .send()
        .await
        .map_err(|e| format!("DescribeModelPackage {arn}: {e}"))?;
    step(format!("registered model package {arn}:"));
    println!(
        "    group {}  version {}  approval {}",
        d.model_package_group_name().unwrap_or_default(),
        d.model_package_version().unwrap_or_default(),
        d.model_approval_status()
            .map(|s| s.as_str())
            .unwrap_or_default()
    );
    if let Some(c) = d
        .inference_specification()
        .and_then(|s| s.containers().first())
    {
        println!("    image {}", c.image().unwrap_or_default());
        let prefix = c
            .model_data_source()
            .and_then(|m| m.s3_data_source())
            .and_then(|s| s.s3_uri());
        println!(
            "    model data {}",
            c.model_data_url().or(prefix).unwrap_or_default()
        );
    }
    let metadata: std::collections::BTreeMap<_, _> = d
        .customer_metadata_properties()
        .into_iter()
        .flatten()
        .collect();
    for (k, v) in metadata {
        println!("    {k} = {v}");
    }
    Ok(())
}

fn describe_input(b: &Value) -> String {
    match parse_message(b).first() {
        Some(Inbound::ObjectLanded(o)) => format!("Object Created s3://{}/{}", o.bucket, o.key),
        Some(Inbound::TrainingUpdate(u)) => {
            format!("state change {} → {}", u.job_name, u.status.as_str())
        }
        Some(Inbound::Hubtune {
            detail_type,
            detail,
        }) => format!(
            "{detail_type} {}",
            detail["job_name"].as_str().unwrap_or_default()
        ),
        Some(Inbound::SlotFreed { route }) => format!("Route Slot Freed {route}"),
        Some(other) => format!("{other:?}"),
        None => "nothing".into(),
    }
}

pub async fn local(train_seconds: f64) -> Res {
    let stack = Stack::start(&stack_options(train_seconds)).await?;
    let info = stack.info.clone();
    let routes = local_routes_file(&info)?;
    print_how_to_use(&info, &routes);
    let aws = Aws::for_endpoint(&info.endpoint, &info.region).await;
    let ctx = Arc::new(Context::new(
        aws.ports(),
        ConfigSource::File(routes),
        DeploymentEnv {
            bucket: Some(info.bucket.clone()),
            ..Default::default()
        },
    ));
    let dispatcher = Dispatcher::new(&info, ctx.clone());
    serve(&dispatcher).await?;
    println!("\nstopping the local stack");
    stack.stop().await;
    Ok(ExitCode::SUCCESS)
}

/// The routes file `hubtune local` reads (under the repository's .hubtune/), written with the demo's routes if absent.
fn local_routes_file(info: &StackInfo) -> std::io::Result<PathBuf> {
    let dir = hubtune_cli::home().join(".hubtune");
    std::fs::create_dir_all(&dir)?;
    let routes = dir.join("hubtune.toml");
    if !routes.exists() {
        std::fs::write(&routes, demo_routes(&info.bucket))?;
    }
    Ok(routes)
}

fn print_how_to_use(info: &StackInfo, routes: &Path) {
    println!("hubtune local stack on {}\n", info.endpoint);
    println!("export AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION={}", info.endpoint, info.region);
    println!("export HUBTUNE_CONFIG={}\n", routes.display());
    println!(
        "then: hubtune upload examples/datasets/support-bot --route support-bot --name my-first"
    );
    println!("  or: aws s3 cp --recursive DIR s3://{}/datasets/support-bot/NAME/ && aws s3 cp /dev/null s3://{}/datasets/support-bot/NAME/_SUCCESS", info.bucket, info.bucket);
    println!("      hubtune status   (Ctrl-C stops everything)\n");
}

/// Run the handlers on what arrives, and a sweep tick every minute, until Ctrl-C.
async fn serve(dispatcher: &Dispatcher) -> Result<(), String> {
    let mut last_sweep = Instant::now();
    // One listener for the whole run: a Ctrl-C that arrives while a batch is being handled is not lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => return Ok(()),
            r = dispatcher.pump_once() => {
                for d in r.map_err(|e| e.to_string())? {
                    for b in &d.bodies {
                        println!("{} ← {}", d.function.as_str(), describe_input(b));
                    }
                }
                for ev in dispatcher.observed().await.map_err(|e| e.to_string())? {
                    println!("event  {}: {}", ev["detail-type"].as_str().unwrap_or_default(), ev["detail"]["summary"].as_str().unwrap_or_default());
                }
                if last_sweep.elapsed() > Duration::from_secs(60) {
                    last_sweep = Instant::now();
                    // As the template's schedule rule does: a tick on the sweep's own queue, which the next pass
                    // hands to training-state whatever waits on its state-change queue.
                    if let Err(e) = dispatcher.fire_schedule(SWEEP_RULE).await {
                        println!("sweep tick: {e}");
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
