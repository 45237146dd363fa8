//! From the routes file's text to a `Config`: syntax, the deployment, every route, and the rules across routes.

use crate::domain::config::model::{
    invalid, Config, ConfigError, Deployment, DeploymentEnv, DEFAULT_EVENT_BUS,
    DEFAULT_OUTPUT_PREFIX, DEFAULT_STATE_PREFIX,
};
use crate::domain::config::raw::{RawDeployment, RawFile};
use crate::domain::config::route::route;
use crate::domain::naming::JobPrefix;
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
    if let Some(p) = &env.dataset_prefix {
        let forwarded = S3Uri::new(config.deployment.bucket.clone(), p.trim_start_matches('/'))
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
    }
    Ok(config)
}

fn deployment(raw: &RawDeployment, env: &DeploymentEnv) -> Result<Deployment, ConfigError> {
    let pick = |e: &Option<String>, r: &Option<String>| e.clone().or_else(|| r.clone());
    let bucket = pick(&env.bucket, &raw.bucket).ok_or_else(|| {
        invalid(
            "deployment.bucket",
            "no deployment bucket: set HUBTUNE_BUCKET or `bucket` in [deployment]",
        )
    })?;
    let prefix = |path: &str, v: Option<String>, default: &str| -> Result<S3Uri, ConfigError> {
        let v = v.unwrap_or_else(|| default.to_string());
        let uri = if v.starts_with("s3://") {
            v.parse::<S3Uri>()
        } else {
            S3Uri::new(bucket.clone(), v)
        }
        .map_err(|e| invalid(path, e.to_string()))?
        .as_prefix();
        if uri.key().is_empty() {
            return Err(invalid(
                path,
                "must not be the bucket root: hubtune would write where it listens",
            ));
        }
        Ok(uri)
    };
    let job_prefix = pick(&env.job_prefix, &raw.job_prefix)
        .map(|p| JobPrefix::new(&p))
        .transpose()
        .map_err(|e| invalid("deployment.job_prefix", e.to_string()))?
        .unwrap_or_default();
    Ok(Deployment {
        name: pick(&env.name, &raw.name).unwrap_or_else(|| "hubtune".into()),
        state_prefix: prefix(
            "deployment.state_prefix",
            pick(&env.state_prefix, &raw.state_prefix),
            DEFAULT_STATE_PREFIX,
        )?,
        output_prefix: prefix(
            "deployment.output_prefix",
            pick(&env.output_prefix, &raw.output_prefix),
            DEFAULT_OUTPUT_PREFIX,
        )?,
        bucket: bucket.clone(),
        job_prefix,
        event_bus: pick(&env.event_bus, &raw.event_bus).unwrap_or_else(|| DEFAULT_EVENT_BUS.into()),
        region: pick(&env.region, &raw.region).unwrap_or_else(|| "us-east-1".into()),
        training_role_arn: pick(&env.training_role_arn, &raw.training_role_arn),
    })
}

/// hubtune never writes where it listens: state and output live outside every dataset prefix, and routes do not
/// nest (an object would belong to two routes).
fn check_prefixes(c: &Config) -> Result<(), ConfigError> {
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
