//! The offline checks: `hubtune validate` (a dataset folder), `hubtune config check` (a routes file) and
//! `hubtune inspect` (an input event). None calls AWS.

use std::path::Path;
use std::process::ExitCode;

use hubtune::domain::config::Config;
use hubtune::domain::dataset;
use hubtune::domain::inbound::{parse_message, Inbound};
use serde_json::{json, Value};

use crate::commands::common::{load_config, read, Res};
use crate::commands::local_dataset::check_local;

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
    let bodies = unwrap_sqs_batch(body);
    let config = config_path.map(load_config).transpose()?;
    let mut out = Vec::new();
    for b in &bodies {
        for inbound in parse_message(b) {
            let meaning = meaning(&inbound, config.as_ref())?;
            out.push(json!({ "input": inbound, "meaning": meaning }));
        }
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(ExitCode::SUCCESS)
}

/// An SQS batch is unwrapped record by record, as the functions do; anything else is one body.
fn unwrap_sqs_batch(body: Value) -> Vec<Value> {
    match hubtune::runtime::batch::sqs_batch(&body) {
        Some(batch) => batch
            .records
            .into_iter()
            .map(|r| {
                let b = r.body.unwrap_or_default();
                serde_json::from_str(&b).unwrap_or(Value::String(b))
            })
            .collect(),
        None => vec![body],
    }
}

/// What hubtune makes of one input: the dataset it sees (with the job it would launch), or why it ignores it.
fn meaning(inbound: &Inbound, config: Option<&Config>) -> Result<Value, serde_json::Error> {
    Ok(match (inbound, config) {
        (Inbound::ObjectLanded(o), Some(c)) => match dataset::locate(c, o, chrono::Utc::now()) {
            Ok(l) => {
                let mut v = serde_json::to_value(&l)?;
                if let dataset::Located::Dataset(d) = &l {
                    v["job_name"] = json!(d.identity.job_name(c, &d.route).to_string());
                }
                v
            }
            Err(rej) => json!({ "outcome": "rejected", "rejection": rej }),
        },
        (Inbound::ObjectLanded(_), None) => {
            json!({ "outcome": "needs --config to say which route and job" })
        }
        (Inbound::TrainingUpdate(u), Some(c)) if !c.deployment.job_prefix.owns(&u.job_name) => {
            json!({ "outcome": "ignored", "reason": format!("job is not under the deployment's prefix `{}`", c.deployment.job_prefix) })
        }
        (Inbound::Unrecognized { .. }, _) => {
            json!({ "outcome": "ignored", "reason": "not an input hubtune understands" })
        }
        _ => json!({ "outcome": "handled" }),
    })
}
