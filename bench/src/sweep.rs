//! `sweep`: training-state's real sweep, in process, over the in-memory ports, on a deployment with a long history:
//! `closed` runs completely done (terminal, every outbox flag set, published) and `open` runs still going
//! (`Launched`, updated a moment ago). Two worlds, built untimed:
//!
//! - `index`: every open run has its open-run marker and the index is built (`open/.built`), as the launcher and
//!   publish-artifact leave it: the sweep lists `open/` and reads the open runs only.
//! - `full_listing`: no index (records written before it existed): the sweep lists every record under `runs/` and
//!   reads each one, which is what the sweep did before the index (plus a marker PUT per open run and one
//!   `open/.built`, the migration's own writes). The store refuses a listing of more than 100,000 state objects, so
//!   this world holds `closed - open` closed runs to stay listable: the same 100,000-object order of magnitude.
//!
//! Each prints the sweep's report, its AWS calls by operation and its wall time. In-memory calls cost microseconds;
//! against S3 each GetObject is a round trip (~10-20 ms from Lambda), so the calls are the number that matters.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::naming::JobName;
use hubtune::domain::run::{OpenRun, Outbox, RunRecord, RunStatus, StatusChange, RUN_SCHEMA};
use hubtune::memory::World;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_e2e::routes_toml;
use serde_json::{json, Value};

use crate::common::{BoxError, ROUTE_EXTRA};

const BUCKET: &str = "hubtune-local";
const ROUTE: &str = "support-bot";

fn record(i: usize, status: RunStatus, outbox: Outbox) -> Result<RunRecord, BoxError> {
    let now = Utc::now();
    Ok(RunRecord {
        schema: RUN_SCHEMA,
        revision: 3,
        job_name: JobName::parse(&format!("hubtune-{ROUTE}-{i:016x}"))?,
        job_arn: Some(format!(
            "arn:aws:sagemaker:us-east-1:123456789012:training-job/hubtune-{ROUTE}-{i:016x}"
        )),
        route: ROUTE.into(),
        dataset_uri: format!("s3://{BUCKET}/datasets/{ROUTE}/ds-{i:06}/"),
        dataset: None,
        frozen: None,
        manifest_uri: Some(format!("s3://{BUCKET}/hubtune/manifests/ds-{i:06}.json")),
        model_id: "meta-textgeneration-llama-3-2-1b".into(),
        hub_content_arn: None,
        hub_content_version: Some("1.0.0".into()),
        public_hub_content_arn: None,
        instance_type: "ml.g5.2xlarge".into(),
        instance_count: 1,
        status,
        history: vec![StatusChange {
            status,
            at: now,
            detail: None,
        }],
        failure_reason: None,
        model_artifacts: None,
        results: None,
        billable_seconds: None,
        model_package_arn: None,
        launch_attempts: vec![],
        relaunched_as: None,
        channels: vec![],
        outbox,
        created_at: now,
        updated_at: now,
    })
}

/// A world with `closed` done runs and `open` running ones; with the index built (markers) or not.
fn world(config: &Config, closed: usize, open: usize, indexed: bool) -> Result<World, BoxError> {
    let world = World::new();
    let d = &config.deployment;
    let put = |r: &RunRecord| -> Result<(), BoxError> {
        let uri = d.run_key(r.job_name.as_str()).to_string();
        world.objects.insert(&uri, serde_json::to_vec_pretty(r)?);
        Ok(())
    };
    for i in 0..closed {
        put(&record(i, RunStatus::Completed, Outbox::all_done())?)?;
    }
    let started = Outbox {
        started_emitted: true,
        ..Outbox::default()
    };
    for i in closed..closed + open {
        let r = record(i, RunStatus::Launched, started.clone())?;
        put(&r)?;
        if indexed {
            let marker = OpenRun {
                job: r.job_name.to_string(),
                opened_at: r.created_at,
            };
            let uri = d.open_run_key(r.job_name.as_str()).to_string();
            world.objects.insert(&uri, serde_json::to_vec(&marker)?);
        }
    }
    if indexed {
        world
            .objects
            .insert(&d.open_index_built_key().to_string(), "{}");
    }
    Ok(world)
}

async fn one_sweep(config: &Arc<Config>, world: World) -> Result<Value, BoxError> {
    let ctx = Context::new(
        world.ports(),
        ConfigSource::Inline(config.clone()),
        DeploymentEnv::default(),
    );
    world.reset_calls();
    let t = Instant::now();
    let outcome = training_state::sweep(&ctx).await;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let calls = world.calls();
    Ok(json!({
        "wall_ms": ms,
        "calls": calls,
        "total_calls": world.total_calls(),
        "report": match outcome {
            Ok(r) => serde_json::to_value(r)?,
            Err(e) => json!({"error": e.to_string()}),
        },
    }))
}

pub async fn sweep(closed: usize, open: usize) -> Result<Value, BoxError> {
    let toml = routes_toml(BUCKET, ROUTE_EXTRA);
    let config = Arc::new(config::parse(&toml, &DeploymentEnv::default(), None)?);
    eprintln!("hubtune-bench sweep: {closed} closed + {open} open runs, index built");
    let index = one_sweep(&config, world(&config, closed, open, true)?).await?;
    let legacy_closed = closed.saturating_sub(open);
    eprintln!(
        "hubtune-bench sweep: {legacy_closed} closed + {open} open runs, no index (full listing)"
    );
    let full = one_sweep(&config, world(&config, legacy_closed, open, false)?).await?;
    eprintln!("hubtune-bench sweep: {closed} closed + {open} open runs, no index (over the listing limit)");
    let over = one_sweep(&config, world(&config, closed, open, false)?).await?;
    Ok(json!({
        "closed": closed,
        "open": open,
        "index": index,
        "full_listing": {"closed": legacy_closed, "open": open, "sweep": full},
        "full_listing_over_limit": {"closed": closed, "open": open, "sweep": over},
    }))
}
