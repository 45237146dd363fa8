//! The offline checks: `hubtune validate` (a dataset folder) and `hubtune config check` (a routes file). Neither
//! calls AWS. (`hubtune inspect`, for an input event, is in `inspect`.)

use std::path::Path;
use std::process::ExitCode;

use crate::commands::common::{load_config, Res};
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
            if r.instance_types.is_empty() {
                "document's default instance".to_string()
            } else {
                // Capacity fallback: the types in the order they are tried.
                r.instance_types.join(" → ")
            },
            r.max_concurrent_jobs,
            r.busy_policy
        );
    }
    println!("ok: {} route(s)", config.routes.len());
    Ok(ExitCode::SUCCESS)
}
