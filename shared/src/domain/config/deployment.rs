//! The `[deployment]` table, overridden by the environment's values: where hubtune keeps its state and output.

use crate::domain::config::model::{
    invalid, Config, ConfigError, Deployment, DeploymentEnv, Guardrails, Route, DEFAULT_EVENT_BUS,
    DEFAULT_OUTPUT_PREFIX, DEFAULT_STATE_PREFIX,
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
        guardrails: guardrails(raw, env)?,
    })
}

/// A comma-separated environment value as a list (the template joins its CommaDelimitedList parameters so).
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// The guardrails: each environment variable overrides its `[deployment]` key.
fn guardrails(raw: &RawDeployment, env: &DeploymentEnv) -> Result<Guardrails, ConfigError> {
    let cap = match (&env.max_runtime_cap_seconds, raw.max_runtime_cap_seconds) {
        (Some(v), _) => Some(v.trim().parse::<i64>().map_err(|_| {
            invalid(
                "deployment.max_runtime_cap_seconds",
                format!("`{v}` is not a number of seconds"),
            )
        })?),
        (None, v) => v,
    };
    let cap = cap
        .map(|c| u32::try_from(c).ok().filter(|c| *c > 0))
        .map(|c| {
            c.ok_or_else(|| {
                invalid(
                    "deployment.max_runtime_cap_seconds",
                    "must be 1 to 4294967295",
                )
            })
        })
        .transpose()?;
    let isolation = match env.require_network_isolation.as_deref().map(str::trim) {
        Some("true") => true,
        Some("false") => false,
        Some(v) => {
            return Err(invalid(
                "deployment.require_network_isolation",
                format!("`{v}` is neither true nor false"),
            ))
        }
        None => raw.require_network_isolation.unwrap_or(false),
    };
    let pick_list =
        |e: &Option<String>, r: &Option<Vec<String>>| e.as_deref().map(list).or_else(|| r.clone());
    Ok(Guardrails {
        allowed_instance_types: pick_list(&env.allowed_instance_types, &raw.allowed_instance_types)
            .unwrap_or_default(),
        max_runtime_cap_seconds: cap,
        allowed_tag_keys: pick_list(&env.allowed_tag_keys, &raw.allowed_tag_keys),
        require_network_isolation: isolation,
        required_subnets: pick_list(&env.required_subnets, &raw.required_subnets)
            .unwrap_or_default(),
    })
}

/// Every route within the deployment's guardrails, or the first one beyond them, named like a bad route key: IAM
/// would refuse its job with AccessDenied after the upload, so the routes file is refused before it. The runtime cap
/// also bounds each route's own `max_runtime_cap_seconds`, so a route that leaves the runtime to the model
/// reference's document gets at most the cap (the plan clamps the document's value to the route's cap).
pub(crate) fn check_guardrails(mut config: Config) -> Result<Config, ConfigError> {
    let g = &config.deployment.guardrails;
    config
        .routes
        .iter()
        .try_for_each(|r| route_guardrails(g, r))?;
    if let Some(cap) = g.max_runtime_cap_seconds {
        for r in &mut config.routes {
            let own = &mut r.training.max_runtime_cap_seconds;
            *own = Some(own.map_or(cap, |c| c.min(cap)));
        }
    }
    Ok(config)
}

fn route_guardrails(g: &Guardrails, r: &Route) -> Result<(), ConfigError> {
    let at = |key: &str| format!("routes.{}.{key}", r.name);
    let t = &r.training;
    for (i, instance) in r.instance_types.iter().enumerate() {
        if let Some(m) = g.instance_refusal(instance) {
            let e = invalid(at("instance_type"), m);
            return Err(super::route::at_list(e, r.instance_types.len() > 1, i));
        }
    }
    if let (Some(s), Some(cap)) = (t.max_runtime_seconds, g.max_runtime_cap_seconds) {
        if s > cap {
            return Err(invalid(at("max_runtime_seconds"), format!("{s} is above the deployment's max_runtime_cap_seconds {cap}: IAM would refuse the job")));
        }
    }
    if let Some(allowed) = &g.allowed_tag_keys {
        if let Some(k) = t.tags.keys().find(|k| !allowed.contains(k)) {
            return Err(invalid(at("tags"), format!("tag key `{k}` is not among the deployment's allowed_tag_keys [{}] (the template's RouteTagKeys): IAM would refuse the job", allowed.join(", "))));
        }
    }
    if g.required_subnets.is_empty() {
        return Ok(());
    }
    let subnets = t
        .vpc
        .as_ref()
        .map(|v| v.subnets.as_slice())
        .unwrap_or_default();
    if subnets.is_empty() {
        return Err(invalid(at("vpc"), format!("the deployment requires a [vpc] table with subnets among [{}]: IAM would refuse a job outside them", g.required_subnets.join(", "))));
    }
    match subnets.iter().find(|s| !g.required_subnets.contains(s)) {
        Some(s) => Err(invalid(at("vpc.subnets"), format!("subnet `{s}` is not among the deployment's required_subnets [{}]: IAM would refuse the job", g.required_subnets.join(", ")))),
        None => Ok(()),
    }
}

impl Guardrails {
    /// Why the guardrails refuse this instance type, if they do.
    pub fn instance_refusal(&self, instance: &str) -> Option<String> {
        (!self.allowed_instance_types.is_empty()
            && !self.allowed_instance_types.iter().any(|a| a == instance))
        .then(|| format!("`{instance}` is not among the deployment's allowed_instance_types [{}] (the template's TrainingInstanceTypes): IAM would refuse the job", self.allowed_instance_types.join(", ")))
    }

    /// Why the guardrails refuse the job the model reference's recipe makes (its instance type, the hub's default
    /// when the route sets none, and its network isolation), if they do: only a plan knows these.
    pub fn job_refusal(&self, instance: &str, network_isolation: bool) -> Option<String> {
        self.instance_refusal(instance).or_else(|| {
            (self.require_network_isolation && !network_isolation).then(|| "the deployment requires network isolation (require_network_isolation, the template's RequireNetworkIsolation) and the model reference trains with the network: IAM would refuse the job".to_string())
        })
    }
}
