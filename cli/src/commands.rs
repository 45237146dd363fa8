//! The commands behind `hubtune`'s subcommands. Each returns an exit code; errors print to stderr with exit 2.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubtune::aws::Aws;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::dataset::{self, DatasetFile, DatasetIdentity, JSONL_CHECK_BYTES};
use hubtune::domain::hub::HubContent;
use hubtune::domain::inbound::{parse_message, Inbound};
use hubtune::domain::naming::dataset_tag_value;
use hubtune::domain::plan::{self, PlanInput, TrainingChannel};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_cli::local::{Dispatcher, Stack, StackOptions};
use serde_json::{json, Value};

type Res = Result<ExitCode, Box<dyn std::error::Error>>;

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn load_config(path: &Path) -> Result<Config, String> {
    config::parse(&read(path)?, &hubtune::runtime::env::deployment_env(), None)
        .map_err(|e| format!("{}: {e}", path.display()))
}

async fn aws(endpoint: Option<&str>) -> Aws {
    match endpoint {
        Some(e) => {
            Aws::for_endpoint(
                e,
                &std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            )
            .await
        }
        None => Aws::from_env().await,
    }
}

/// A local folder as a listing under `prefix` (ETags are content hashes: there is no S3 object yet).
fn local_listing(
    dir: &Path,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<(DatasetFile, PathBuf)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let etag = hubtune::domain::naming::identity_hash("", &String::from_utf8_lossy(&bytes))
                [..32]
                .to_string();
            out.push((
                DatasetFile {
                    key: format!("{prefix}{rel}"),
                    etag,
                    size: bytes.len() as u64,
                },
                path,
            ));
        }
    }
    let _ = bucket;
    out.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    Ok(out)
}

fn folder_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into())
}

/// Every problem of a local dataset, as the launcher would find them.
fn check_local(
    config: &Config,
    route: &str,
    dir: &Path,
) -> Result<(S3Uri, Vec<hubtune::domain::rejection::Rejection>), String> {
    let r = config.route(route).ok_or_else(|| {
        format!(
            "no route `{route}` in the routes file (routes: {})",
            config
                .routes
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let location = r.prefix.join(&format!("{}/", folder_name(dir)));
    let listing = local_listing(dir, location.bucket(), location.key())?;
    let files: Vec<DatasetFile> = listing.iter().map(|(f, _)| f.clone()).collect();
    let mut problems = match dataset::check_listing(r, &location, &files) {
        Ok(_) => vec![],
        Err(p) => p,
    };
    for (f, path) in &listing {
        if dataset::needs_content_check(&f.key) && dataset::is_data_file(&f.key, r) {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            let truncated = bytes.len() > JSONL_CHECK_BYTES;
            let rel = path.strip_prefix(dir).unwrap_or(path).display().to_string();
            if let Err(mut p) = dataset::check_jsonl_head(
                &rel,
                &bytes[..bytes.len().min(JSONL_CHECK_BYTES)],
                truncated,
            ) {
                p.file = Some(path.display().to_string());
                problems.push(p);
            }
        }
    }
    Ok((location, problems))
}

pub async fn plan(
    config_path: &Path,
    hub_content: Option<&Path>,
    dir: Option<&Path>,
    route: Option<&str>,
    uri: Option<&str>,
    endpoint: Option<&str>,
) -> Res {
    let config = load_config(config_path)?;
    let (route, location) = match (dir, uri) {
        (Some(dir), _) => {
            let route = route.ok_or("--dataset needs --route")?;
            let (location, problems) = check_local(&config, route, dir)?;
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Err(
                    format!("the dataset has {} problem(s): no plan", problems.len()).into(),
                );
            }
            (config.route(route).expect("checked").clone(), location)
        }
        (None, Some(uri)) => {
            let location = uri.parse::<S3Uri>().map_err(|e| e.to_string())?.as_prefix();
            let route = match route {
                Some(r) => config.route(r).ok_or_else(|| format!("no route `{r}`"))?,
                None => config
                    .route_for(&location)
                    .ok_or_else(|| format!("no route's prefix holds {location}"))?,
            };
            (route.clone(), location)
        }
        (None, None) => return Err("give the dataset's S3 URI, or --dataset DIR --route R".into()),
    };
    let hub: HubContent = match hub_content {
        Some(p) => HubContent::from_describe_json(&read(p)?)
            .map_err(|e| format!("{}: {e}", p.display()))?,
        None => {
            let aws = aws(endpoint).await;
            let ctx = Context::new(
                aws.ports(),
                ConfigSource::Inline(Arc::new(config.clone())),
                DeploymentEnv::default(),
            );
            let found = ctx
                .hubs
                .resolve(
                    ctx.hub.as_ref(),
                    &route.hub,
                    &route.model_id,
                    route.model_version.as_deref(),
                )
                .await?;
            (*found.ok_or_else(|| {
                format!(
                    "hub {} has no model reference {}",
                    route.hub, route.model_id
                )
            })?)
            .clone()
        }
    };
    // With only a URI there is no marker event: the identity is the folder itself.
    let identity = DatasetIdentity {
        bucket: location.bucket().into(),
        key: location.key().into(),
        version: "plan".into(),
        attempt: 0,
    };
    let job = identity.job_name(&config, &route.name);
    let request = plan::plan(&PlanInput {
        job_name: &job,
        region: &config.deployment.region,
        hub: &hub,
        settings: &route.training,
        training_channel: TrainingChannel::Prefix(location.clone()),
        route: &route.name,
        dataset_tag: dataset_tag_value(
            &location.to_string(),
            &identity.hash(&config.deployment.name),
        ),
    })
    .map_err(|r| r.to_string())?;
    println!("{}", serde_json::to_string_pretty(&request)?);
    Ok(ExitCode::SUCCESS)
}

pub fn validate(dir: &Path, route: &str, config_path: &Path) -> Res {
    let config = load_config(config_path)?;
    let (location, problems) = check_local(&config, route, dir)?;
    if problems.is_empty() {
        println!(
            "ok: {} passes route {route}'s checks (it would land at {location})",
            dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    for p in &problems {
        println!("{p} [{}]", p.reason);
    }
    println!("{} problem(s)", problems.len());
    Ok(ExitCode::from(1))
}

pub fn config_check(file: &Path) -> Res {
    let config = load_config(file)?;
    for r in &config.routes {
        println!(
            "route {}: {} → {} / {}{} ({}, up to {} at once, busy: {:?})",
            r.name,
            r.prefix,
            r.hub,
            r.model_id,
            r.model_version
                .as_deref()
                .map(|v| format!("@{v}"))
                .unwrap_or_default(),
            r.training
                .instance_type
                .as_deref()
                .unwrap_or("document's default instance"),
            r.max_concurrent_jobs,
            r.busy_policy
        );
    }
    println!("ok: {} route(s)", config.routes.len());
    Ok(ExitCode::SUCCESS)
}

pub fn inspect(event: &Path, config_path: Option<&Path>) -> Res {
    let body: Value = serde_json::from_str(&read(event)?)
        .map_err(|e| format!("{}: not JSON: {e}", event.display()))?;
    // An SQS batch is unwrapped record by record, as the functions do.
    let bodies: Vec<Value> = match hubtune::runtime::batch::sqs_batch(&body) {
        Some(batch) => batch
            .records
            .into_iter()
            .map(|r| {
                let b = r.body.unwrap_or_default();
                serde_json::from_str(&b).unwrap_or(Value::String(b))
            })
            .collect(),
        None => vec![body],
    };
    let config = config_path.map(load_config).transpose()?;
    let mut out = Vec::new();
    for b in &bodies {
        for inbound in parse_message(b) {
            let meaning = match (&inbound, &config) {
                (Inbound::ObjectLanded(o), Some(c)) => {
                    match dataset::locate(c, o, chrono::Utc::now()) {
                        Ok(l) => {
                            let mut v = serde_json::to_value(&l)?;
                            if let dataset::Located::Dataset(d) = &l {
                                v["job_name"] = json!(d.identity.job_name(c, &d.route).to_string());
                            }
                            v
                        }
                        Err(rej) => json!({ "outcome": "rejected", "rejection": rej }),
                    }
                }
                (Inbound::ObjectLanded(_), None) => {
                    json!({ "outcome": "needs --config to say which route and job" })
                }
                (Inbound::TrainingUpdate(u), Some(c))
                    if !c.deployment.job_prefix.owns(&u.job_name) =>
                {
                    json!({ "outcome": "ignored", "reason": format!("job is not under the deployment's prefix `{}`", c.deployment.job_prefix) })
                }
                (Inbound::Unrecognized { .. }, _) => {
                    json!({ "outcome": "ignored", "reason": "not an input hubtune understands" })
                }
                _ => json!({ "outcome": "handled" }),
            };
            out.push(json!({ "input": inbound, "meaning": meaning }));
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

pub async fn upload(
    dir: &Path,
    route: &str,
    config_path: &Path,
    name: Option<&str>,
    endpoint: Option<&str>,
) -> Res {
    let config = load_config(config_path)?;
    let (location, problems) = check_local(&config, route, dir)?;
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let location = match name {
        Some(n) => config
            .route(route)
            .expect("checked")
            .prefix
            .join(&format!("{n}/")),
        None => location,
    };
    let aws = aws(endpoint).await;
    let marker = match &config.route(route).expect("checked").trigger {
        hubtune::domain::config::Trigger::Marker { marker } => Some(marker.clone()),
        hubtune::domain::config::Trigger::Object => None,
    };
    let listing = local_listing(dir, location.bucket(), location.key())?;
    for (f, path) in &listing {
        aws.put_object(
            location.bucket(),
            &f.key,
            std::fs::read(path)?,
            "application/octet-stream",
            hubtune::ports::PutCondition::None,
        )
        .await?;
        println!("uploaded s3://{}/{}", location.bucket(), f.key);
    }
    if let Some(m) = marker {
        let key = format!("{}{m}", location.key());
        aws.put_object(
            location.bucket(),
            &key,
            vec![],
            "application/octet-stream",
            hubtune::ports::PutCondition::None,
        )
        .await?;
        println!(
            "uploaded s3://{}/{key} (the marker: the dataset launches now)",
            location.bucket()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn records(
    ctx: &Context,
    config: &Config,
) -> Result<Vec<RunRecord>, Box<dyn std::error::Error>> {
    let mut out = Vec::new();
    for k in ctx
        .store
        .list(&config.deployment.state_key("runs/"))
        .await?
    {
        let uri = S3Uri::new(config.deployment.bucket.clone(), k)?;
        if let Some(v) = ctx.store.read::<RunRecord>(&uri).await? {
            out.push(v.value);
        }
    }
    out.sort_by_key(|r| r.created_at);
    Ok(out)
}

pub async fn status(route: Option<&str>, config_path: &Path, endpoint: Option<&str>) -> Res {
    let config = load_config(config_path)?;
    let ctx = Context::new(
        aws(endpoint).await.ports(),
        ConfigSource::Inline(Arc::new(config.clone())),
        DeploymentEnv::default(),
    );
    let runs = records(&ctx, &config).await?;
    println!(
        "{:<12} {:<45} {:<11} {:>8}  {:<50} ARTIFACT",
        "ROUTE", "JOB", "STATE", "SECONDS", "DATASET"
    );
    for r in runs.iter().filter(|r| route.is_none_or(|x| x == r.route)) {
        println!(
            "{:<12} {:<45} {:<11} {:>8}  {:<50} {}",
            r.route,
            r.job_name.as_str(),
            r.status.as_str(),
            r.duration_seconds(chrono::Utc::now())
                .map(|s| s.to_string())
                .unwrap_or_else(|| "-".into()),
            r.dataset_uri,
            r.model_artifacts.as_deref().unwrap_or("-")
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn rerun(uri: &str, config_path: &Path, endpoint: Option<&str>) -> Res {
    let ctx = Context::new(
        aws(endpoint).await.ports(),
        ConfigSource::File(config_path.to_path_buf()),
        hubtune::runtime::env::deployment_env(),
    );
    let uri: S3Uri = uri.parse()?;
    let outcome = launch_finetune::rerun(&ctx, &uri).await?;
    println!("{outcome:?}");
    Ok(ExitCode::SUCCESS)
}

pub async fn stop(job: &str, endpoint: Option<&str>) -> Res {
    aws(endpoint).await.stop_training_job(job).await?;
    println!("stopping {job}: its run ends Stopped when SageMaker says so");
    Ok(ExitCode::SUCCESS)
}

pub async fn redrive(pairs: &[String], endpoint: Option<&str>) -> Res {
    if pairs.is_empty() {
        return Err("give --pair DLQ_URL=QUEUE_URL for each dead-letter queue to replay (the stack's outputs list them)".into());
    }
    let endpoint_str = endpoint.map(str::to_string);
    let sqs = match &endpoint_str {
        Some(e) => hubtune_cli::local::sqs_client(e, "us-east-1"),
        None => aws_sdk_sqs::Client::new(
            &aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
        ),
    };
    for p in pairs {
        let (dlq, queue) = p
            .split_once('=')
            .ok_or_else(|| format!("`{p}` is not DLQ_URL=QUEUE_URL"))?;
        let mut moved = 0;
        loop {
            let msgs = sqs
                .receive_message()
                .queue_url(dlq)
                .max_number_of_messages(10)
                .send()
                .await?
                .messages
                .unwrap_or_default();
            if msgs.is_empty() {
                break;
            }
            for m in msgs {
                sqs.send_message()
                    .queue_url(queue)
                    .set_message_body(m.body)
                    .send()
                    .await?;
                sqs.delete_message()
                    .queue_url(dlq)
                    .set_receipt_handle(m.receipt_handle)
                    .send()
                    .await?;
                moved += 1;
            }
        }
        println!("{moved} message(s) moved from {dlq} back to {queue}");
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn enable_eventbridge(bucket: &str, endpoint: Option<&str>) -> Res {
    let aws = aws(endpoint).await;
    let current = aws
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await?;
    if current.event_bridge_configuration.is_some() {
        println!("ok: s3://{bucket} already sends its events to EventBridge");
        return Ok(ExitCode::SUCCESS);
    }
    // PutBucketNotificationConfiguration replaces the whole set: write back what is there, plus EventBridge.
    let conf = aws_sdk_s3::types::NotificationConfiguration::builder()
        .set_topic_configurations(current.topic_configurations)
        .set_queue_configurations(current.queue_configurations)
        .set_lambda_function_configurations(current.lambda_function_configurations)
        .event_bridge_configuration(aws_sdk_s3::types::EventBridgeConfiguration::builder().build())
        .build();
    aws.s3
        .put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(conf)
        .send()
        .await?;
    println!("ok: s3://{bucket} now sends its events to EventBridge (its other notifications are unchanged)");
    Ok(ExitCode::SUCCESS)
}

pub async fn doctor(config_uri: &str, endpoint: Option<&str>) -> Res {
    let sdk = sdk_config(endpoint).await;
    let aws = aws(endpoint).await;
    let ctx = Context::new(
        aws.ports(),
        ConfigSource::parse(config_uri)?,
        hubtune::runtime::env::deployment_env(),
    );
    let checks = crate::doctor::run(&ctx, &aws, config_uri, &sdk).await;
    for c in &checks {
        println!("{c}");
    }
    let fixes = checks
        .iter()
        .filter(|c| c.status == crate::doctor::Status::Fix)
        .count();
    println!(
        "{} check(s): {} ok, {fixes} to fix, {} not checked",
        checks.len(),
        checks
            .iter()
            .filter(|c| c.status == crate::doctor::Status::Ok)
            .count(),
        checks
            .iter()
            .filter(|c| c.status == crate::doctor::Status::Skip)
            .count()
    );
    Ok(if fixes == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The SDK configuration for clients hubtune's own `Aws` does not hold (IAM, Service Quotas).
async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    match endpoint {
        Some(e) => {
            loader
                .endpoint_url(e)
                .region(aws_config::Region::new(
                    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                ))
                .credentials_provider(aws_sdk_iam::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "hubtune-local",
                ))
                .load()
                .await
        }
        None => loader.load().await,
    }
}

// ---- the local stack ----------------------------------------------------------------------------------------------

fn examples() -> PathBuf {
    hubtune_cli::home().join("examples")
}

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
"#
    )
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
    let opts = StackOptions {
        seed_hub: vec![examples().join("hub/describe-hub-content.model-reference.json")],
        in_progress_seconds: train_seconds,
        ..Default::default()
    };
    let stack = Stack::start(&opts).await?;
    let result = demo_on(&stack, started).await;
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

async fn demo_on(stack: &Stack, started: Instant) -> Result<(), String> {
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

    let data = examples().join("datasets/support-bot");
    let name = format!("demo-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S"));
    let route = config.route("support-bot").expect("demo route");
    let location = route.prefix.join(&format!("{name}/"));
    let listing = local_listing(&data, location.bucket(), location.key())?;
    for (f, path) in &listing {
        aws.put_object(
            location.bucket(),
            &f.key,
            std::fs::read(path).map_err(|e| e.to_string())?,
            "application/jsonl",
            hubtune::ports::PutCondition::None,
        )
        .await
        .map_err(|e| e.to_string())?;
        println!("    uploaded {} ({} bytes)", f.key, f.size);
    }
    aws.put_object(
        location.bucket(),
        &format!("{}_SUCCESS", location.key()),
        vec![],
        "text/plain",
        hubtune::ports::PutCondition::None,
    )
    .await
    .map_err(|e| e.to_string())?;
    step(format!(
        "dataset landed: {location} (+ the _SUCCESS marker)"
    ));

    let mut spinner = Spinner {
        on: std::io::stdout().is_terminal(),
        i: 0,
    };
    let mut received = Vec::new();
    let mut outcome: Option<Value> = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let wait_from = Instant::now();
    while outcome.is_none() {
        if Instant::now() > deadline {
            spinner.clear();
            return Err(format!(
                "no Model Published or Fine-tune Failed within 120 s; events seen: {}",
                received.len()
            ));
        }
        let deliveries = dispatcher.pump_once().await.map_err(|e| e.to_string())?;
        for d in &deliveries {
            spinner.clear();
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
        for ev in dispatcher.observed().await.map_err(|e| e.to_string())? {
            spinner.clear();
            let dt = ev["detail-type"].as_str().unwrap_or_default().to_string();
            if dt == "Training Run Started" {
                // The launcher froze what it checked into the run record: show it as the user's "checks passed".
                if let Some(job) = ev["detail"]["job_name"].as_str() {
                    let key = config.deployment.state_key(&format!("runs/{job}.json"));
                    if let Ok(Some(r)) = ctx.store.read::<RunRecord>(&key).await {
                        let r = r.value;
                        if let Some(f) = &r.frozen {
                            step(format!(
                                "checks passed: {} data files, {} bytes, frozen in {}",
                                f.files.len(),
                                f.total_bytes,
                                r.manifest_uri.as_deref().unwrap_or("the manifest")
                            ));
                        }
                        step(format!(
                            "job launched: {job} on {} × {} from {}",
                            r.instance_count,
                            r.instance_type,
                            r.hub_content_arn.as_deref().unwrap_or("the hub")
                        ));
                    }
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
            if dt == "Model Published" || dt == "Fine-tune Failed" {
                outcome = Some(ev.clone());
            }
            received.push(ev);
        }
        if deliveries.is_empty() {
            spinner.tick("waiting for the training job", wait_from);
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
    spinner.clear();
    let outcome = outcome.expect("loop ends with one");
    if outcome["detail-type"] != "Model Published" {
        return Err(format!(
            "the fine-tune failed: {}",
            outcome["detail"]["failure_reason"]
        ));
    }
    let latest = config.deployment.latest_key("support-bot");
    let bytes = aws
        .get_object(latest.bucket(), latest.key())
        .await
        .map_err(|e| e.to_string())?
        .ok_or("latest.json was not written")?
        .body;
    step(format!("published {latest}:"));
    println!("{}", String::from_utf8_lossy(&bytes));
    step(format!(
        "a subscriber on the hubtune bus received {} event(s):",
        received.len()
    ));
    for ev in &received {
        println!(
            "    {:<22} event_id {}",
            ev["detail-type"].as_str().unwrap_or_default(),
            ev["detail"]["event_id"].as_str().unwrap_or_default()
        );
    }
    let _ = started;
    let _ = std::fs::remove_dir_all(&dir);
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
    let opts = StackOptions {
        seed_hub: vec![examples().join("hub/describe-hub-content.model-reference.json")],
        in_progress_seconds: train_seconds,
        ..Default::default()
    };
    let stack = Stack::start(&opts).await?;
    let info = stack.info.clone();
    let dir = hubtune_cli::home().join(".hubtune");
    std::fs::create_dir_all(&dir)?;
    let routes = dir.join("hubtune.toml");
    if !routes.exists() {
        std::fs::write(&routes, demo_routes(&info.bucket))?;
    }
    println!("hubtune local stack on {}\n", info.endpoint);
    println!("export AWS_ENDPOINT_URL={} AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION={}", info.endpoint, info.region);
    println!("export HUBTUNE_CONFIG={}\n", routes.display());
    println!(
        "then: hubtune upload examples/datasets/support-bot --route support-bot --name my-first"
    );
    println!("  or: aws s3 cp --recursive DIR s3://{}/datasets/support-bot/NAME/ && aws s3 cp /dev/null s3://{}/datasets/support-bot/NAME/_SUCCESS", info.bucket, info.bucket);
    println!("      hubtune status   (Ctrl-C stops everything)\n");
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
    let mut last_sweep = Instant::now();
    // One listener for the whole run: a Ctrl-C that arrives while a batch is being handled is not lost.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            _ = &mut ctrl_c => break,
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
                    if let Err(e) = training_state::sweep(&ctx).await {
                        println!("sweep: {e}");
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    println!("\nstopping the local stack");
    stack.stop().await;
    Ok(ExitCode::SUCCESS)
}
