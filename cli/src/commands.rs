//! The commands behind `hubtune`'s subcommands. Each returns an exit code; errors print to stderr with exit 2.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use hubtune::aws::Aws;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::dataset::{self, DatasetFile, DatasetIdentity, JSONL_CHECK_BYTES};
use hubtune::domain::hub::HubContent;
use hubtune::domain::inbound::{parse_message, Inbound};
use hubtune::domain::naming::dataset_tag_value;
use hubtune::domain::plan::{self, PlanInput, TrainingChannel};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::domain::validate;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use serde_json::{json, Value};

pub(crate) type Res = Result<ExitCode, Box<dyn std::error::Error>>;

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
pub(crate) fn local_listing(
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
    let (route, location) = plan_target(&config, dir, route, uri)?;
    let hub = plan_hub(&config, &route, hub_content, endpoint).await?;
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
    // The same check the launcher makes before any money is spent.
    let invalid = validate::training_job(&request);
    if !invalid.is_empty() {
        for v in &invalid {
            eprintln!("AWS would refuse {v}");
        }
        return Err(format!("{} field(s) AWS would refuse: no plan", invalid.len()).into());
    }
    println!("{}", serde_json::to_string_pretty(&request)?);
    Ok(ExitCode::SUCCESS)
}

/// The route and the dataset's location: a local folder checked first, or an S3 URI.
fn plan_target(
    config: &Config,
    dir: Option<&Path>,
    route: Option<&str>,
    uri: Option<&str>,
) -> Result<(hubtune::domain::config::Route, S3Uri), Box<dyn std::error::Error>> {
    match (dir, uri) {
        (Some(dir), _) => {
            let route = route.ok_or("--dataset needs --route")?;
            let (location, problems) = check_local(config, route, dir)?;
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Err(
                    format!("the dataset has {} problem(s): no plan", problems.len()).into(),
                );
            }
            Ok((config.route(route).expect("checked").clone(), location))
        }
        (None, Some(uri)) => {
            let location = uri.parse::<S3Uri>().map_err(|e| e.to_string())?.as_prefix();
            let route = match route {
                Some(r) => config.route(r).ok_or_else(|| format!("no route `{r}`"))?,
                None => config
                    .route_for(&location)
                    .ok_or_else(|| format!("no route's prefix holds {location}"))?,
            };
            Ok((route.clone(), location))
        }
        (None, None) => Err("give the dataset's S3 URI, or --dataset DIR --route R".into()),
    }
}

/// The model reference: from a saved DescribeHubContent response, or the hub itself.
async fn plan_hub(
    config: &Config,
    route: &hubtune::domain::config::Route,
    hub_content: Option<&Path>,
    endpoint: Option<&str>,
) -> Result<HubContent, Box<dyn std::error::Error>> {
    if let Some(p) = hub_content {
        return Ok(HubContent::from_describe_json(&read(p)?)
            .map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let ctx = Context::new(
        aws(endpoint).await.ports(),
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
    let found = found.ok_or_else(|| {
        format!(
            "hub {} has no model reference {}",
            route.hub, route.model_id
        )
    })?;
    Ok((*found).clone())
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
