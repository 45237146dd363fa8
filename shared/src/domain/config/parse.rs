//! From the routes file's text to a `Config`: syntax and shape, then the deployment, every route, and the rules
//! across routes.

use crate::domain::config::deployment::{check_guardrails, deployment};
use crate::domain::config::model::{invalid, Config, ConfigError, DeploymentEnv};
use crate::domain::config::prefixes::{check_forwarded, check_prefixes};
use crate::domain::config::raw::RawFile;
use crate::domain::config::route::{check_delivered, route};
use crate::domain::s3uri::S3Uri;

/// Parse and validate a routes file. `source` is where it came from (for the never-trigger rule).
pub fn parse(
    text: &str,
    env: &DeploymentEnv,
    source: Option<S3Uri>,
) -> Result<Config, ConfigError> {
    let value: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| ConfigError::Syntax(e.to_string()))?;
    let raw: RawFile =
        serde_path_to_error::deserialize(toml::Value::Table(value)).map_err(|e| {
            let path = e.path().to_string();
            invalid(path, e.into_inner().to_string())
        })?;
    let deployment = deployment(&raw.deployment, env)?;
    if raw.routes.is_empty() {
        return Err(invalid(
            "routes",
            "the file defines no route: add a [routes.<name>] table",
        ));
    }
    let mut routes = Vec::with_capacity(raw.routes.len());
    for (name, r) in raw.routes {
        routes.push(route(&name, r.with_defaults(&raw.defaults), &deployment)?);
    }
    let config = Config {
        deployment,
        routes,
        source,
    };
    check_prefixes(&config)?;
    let config = check_guardrails(config)?;
    check_delivered(&config.routes, env.delivered_markers.as_deref())?;
    if let Some(p) = &env.dataset_prefix {
        check_forwarded(&config, p)?;
    }
    Ok(config)
}
