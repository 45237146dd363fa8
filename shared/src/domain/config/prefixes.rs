//! The rules across routes: hubtune never writes where it listens, no object belongs to two routes, and every
//! route lies under the prefix the deployment's EventBridge rule forwards.

use crate::domain::config::model::{invalid, Config, ConfigError, Route};
use crate::domain::s3uri::S3Uri;

/// hubtune never writes where it listens: state and output live outside every dataset prefix, no job writes its
/// model or checkpoints under any route's dataset prefix, and routes do not nest (an object would belong to two
/// routes).
pub(crate) fn check_prefixes(c: &Config) -> Result<(), ConfigError> {
    let d = &c.deployment;
    for r in &c.routes {
        for (what, own) in [
            ("state_prefix", &d.state_prefix),
            ("output_prefix", &d.output_prefix),
        ] {
            if overlap(own, &r.prefix) {
                return Err(invalid(
                    format!("routes.{}.prefix", r.name),
                    format!("{} overlaps the deployment's {what} {own}: hubtune would write where it listens", r.prefix),
                ));
            }
        }
        check_job_writes(c, r)?;
        for other in &c.routes {
            if other.name != r.name && r.prefix.is_under(&other.prefix) {
                return Err(invalid(
                    format!("routes.{}.prefix", r.name),
                    format!(
                        "{} lies under routes.{}.prefix ({}): an object would belong to two routes",
                        r.prefix, other.name, other.prefix
                    ),
                ));
            }
        }
        if let Some(src) = &c.source {
            if src.is_under(&r.prefix) {
                return Err(invalid(
                    format!("routes.{}.prefix", r.name),
                    format!("the routes file {src} lies under this dataset prefix"),
                ));
            }
        }
    }
    Ok(())
}

/// Whether one prefix holds the other.
fn overlap(a: &S3Uri, b: &S3Uri) -> bool {
    a.is_under(b) || b.is_under(a)
}

/// Where a route's jobs write (its output path, its checkpoints) overlaps no route's dataset prefix, its own or
/// another's: a model or a checkpoint landing there would be taken for a dataset, or its marker for one.
fn check_job_writes(c: &Config, r: &Route) -> Result<(), ConfigError> {
    let checkpoint = r
        .training
        .spot
        .as_ref()
        .and_then(|s| s.checkpoint_s3_uri.as_ref());
    let writes = std::iter::once(("output_path", &r.training.output_path))
        .chain(checkpoint.map(|c| ("spot.checkpoint_path", c)));
    for (key, written) in writes {
        if let Some(o) = c.routes.iter().find(|o| overlap(written, &o.prefix)) {
            let whose = if o.name == r.name {
                "the route's dataset prefix".to_string()
            } else {
                format!("routes.{}.prefix", o.name)
            };
            return Err(invalid(
                format!("routes.{}.{key}", r.name),
                format!(
                    "{written} overlaps {whose} {}: a job would write where hubtune listens",
                    o.prefix
                ),
            ));
        }
    }
    Ok(())
}

/// Every route lies under the prefix the deployment forwards (`HUBTUNE_DATASET_PREFIX`).
pub(crate) fn check_forwarded(config: &Config, dataset_prefix: &str) -> Result<(), ConfigError> {
    let forwarded = S3Uri::new(
        config.deployment.bucket.clone(),
        dataset_prefix.trim_start_matches('/'),
    )
    .map_err(|e| invalid("HUBTUNE_DATASET_PREFIX", e.to_string()))?
    .as_prefix();
    if let Some(r) = config
        .routes
        .iter()
        .find(|r| !r.prefix.is_under(&forwarded))
    {
        return Err(invalid(
            format!("routes.{}.prefix", r.name),
            format!("{} lies outside the deployment's dataset prefix {forwarded}: its uploads would never reach hubtune (the EventBridge rule forwards only that prefix)", r.prefix),
        ));
    }
    Ok(())
}
