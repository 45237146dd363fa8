//! The rules across routes: hubtune never writes where it listens, no object belongs to two routes, and every
//! route lies under the prefix the deployment's EventBridge rule forwards.

use crate::domain::config::model::{invalid, Config, ConfigError};
use crate::domain::s3uri::S3Uri;

/// hubtune never writes where it listens: state and output live outside every dataset prefix, and routes do not
/// nest (an object would belong to two routes).
pub(crate) fn check_prefixes(c: &Config) -> Result<(), ConfigError> {
    let d = &c.deployment;
    for r in &c.routes {
        for (what, own) in [
            ("state_prefix", &d.state_prefix),
            ("output_prefix", &d.output_prefix),
        ] {
            if own.is_under(&r.prefix) || r.prefix.is_under(own) {
                return Err(invalid(
                    format!("routes.{}.prefix", r.name),
                    format!("{} overlaps the deployment's {what} {own}: hubtune would write where it listens", r.prefix),
                ));
            }
        }
        if r.training.output_path.is_under(&r.prefix) || r.prefix.is_under(&r.training.output_path)
        {
            return Err(invalid(
                format!("routes.{}.output_path", r.name),
                format!(
                    "{} overlaps the route's dataset prefix {}",
                    r.training.output_path, r.prefix
                ),
            ));
        }
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
