//! A deployment's runs: `hubtune status` (the run records), `hubtune rerun` (a new attempt on purpose) and
//! `hubtune stop` (a training job, ended through the normal path).

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use hubtune::domain::config::{Config, DeploymentEnv};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;

use crate::commands::common::{aws, load_config, Res};

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

/// Every run record of the deployment, oldest first.
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
