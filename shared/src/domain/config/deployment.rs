//! The `[deployment]` table, overridden by the environment's values: where hubtune keeps its state and output.

use crate::domain::config::model::{
    invalid, ConfigError, Deployment, DeploymentEnv, DEFAULT_EVENT_BUS, DEFAULT_OUTPUT_PREFIX,
    DEFAULT_STATE_PREFIX,
};
use crate::domain::config::raw::RawDeployment;
use crate::domain::config::route::location;
use crate::domain::naming::JobPrefix;
use crate::domain::s3uri::S3Uri;
use crate::domain::validate::fields as validate;

pub(crate) fn deployment(
    raw: &RawDeployment,
    env: &DeploymentEnv,
) -> Result<Deployment, ConfigError> {
    let pick = |e: &Option<String>, r: &Option<String>| e.clone().or_else(|| r.clone());
    let bucket = pick(&env.bucket, &raw.bucket).ok_or_else(|| {
        invalid(
            "deployment.bucket",
            "no deployment bucket: set HUBTUNE_BUCKET or `bucket` in [deployment]",
        )
    })?;
    // A key is read as the routes' prefixes are: `/` (or `s3://bucket//`) is the bucket's root too.
    let prefix = |path: &str, v: Option<String>, default: &str| -> Result<S3Uri, ConfigError> {
        let v = v.unwrap_or_else(|| default.to_string());
        let uri = location(&v, &bucket)
            .map_err(|e| invalid(path, e.to_string()))?
            .as_prefix();
        if uri.is_bucket_root() {
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
    let event_bus =
        pick(&env.event_bus, &raw.event_bus).unwrap_or_else(|| DEFAULT_EVENT_BUS.into());
    if let Some(v) = validate::event_bus_name(&event_bus).into_iter().next() {
        return Err(invalid(
            "deployment.event_bus",
            format!("AWS would refuse {v}"),
        ));
    }
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
        event_bus,
        region: pick(&env.region, &raw.region).unwrap_or_else(|| "us-east-1".into()),
        training_role_arn: pick(&env.training_role_arn, &raw.training_role_arn),
    })
}
