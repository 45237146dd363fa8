//! One route, from its table (defaults applied) to a `Route`.

use std::collections::BTreeMap;

use crate::domain::config::duration::parse_duration;
use crate::domain::config::model::{
    invalid, BusyPolicy, ConfigError, DatasetRules, Deployment, Route, Trigger,
    DEFAULT_ALLOWED_EXTENSIONS, DEFAULT_MARKER, DEFAULT_QUEUE_MAX_AGE,
};
use crate::domain::config::raw::{RawRoute, RawSpot, RawVpc};
use crate::domain::plan::{SpotSettings, TrainingSettings, VpcSettings};
use crate::domain::s3uri::S3Uri;

fn positive(path: &str, v: Option<i64>, default: u32, max: u32) -> Result<u32, ConfigError> {
    match v {
        None => Ok(default),
        Some(n) if n >= 1 && n <= max as i64 => Ok(n as u32),
        Some(n) => Err(invalid(
            path,
            format!("{n} is out of range: must be 1 to {max}"),
        )),
    }
}

fn opt_positive(path: &str, v: Option<i64>, max: u32) -> Result<Option<u32>, ConfigError> {
    v.map(|n| positive(path, Some(n), 1, max)).transpose()
}

pub(crate) fn route(name: &str, r: RawRoute, dep: &Deployment) -> Result<Route, ConfigError> {
    check_name(name)?;
    let p = |key: &str| format!("routes.{name}.{key}");
    let prefix = prefix(&p, r.prefix.clone(), dep)?;
    let hub = r.hub.clone().filter(|h| !h.is_empty()).ok_or_else(|| {
        invalid(
            p("hub"),
            "missing: the private hub's name or ARN (set it here or in [defaults])",
        )
    })?;
    let model_id = r
        .model_id
        .clone()
        .filter(|m| !m.is_empty())
        .ok_or_else(|| {
            invalid(
                p("model_id"),
                "missing: the model reference's name in the hub",
            )
        })?;
    let model_version = r
        .model_version
        .clone()
        .filter(|v| !v.is_empty() && v != "*" && v != "latest");
    let trigger = trigger(&p, r.trigger.as_deref(), r.marker.clone())?;
    let training = training(name, &p, &r, dep)?;
    let max_concurrent_jobs = positive(&p("max_concurrent_jobs"), r.max_concurrent_jobs, 1, 1000)?;
    let queue_max_age = match &r.queue_max_age {
        None => DEFAULT_QUEUE_MAX_AGE,
        Some(v) => parse_duration(v).map_err(|m| invalid(p("queue_max_age"), m))?,
    };
    let dataset = dataset_rules(&p, &r)?;
    Ok(Route {
        name: name.to_string(),
        prefix,
        hub,
        model_id,
        model_version,
        trigger,
        max_concurrent_jobs,
        busy_policy: r.busy_policy.unwrap_or(BusyPolicy::Queue),
        queue_max_age,
        dataset,
        training,
    })
}

fn check_name(name: &str) -> Result<(), ConfigError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    Err(invalid(
        format!("routes.{name}"),
        "a route name has 1 to 64 characters of letters, digits, `-` and `_`",
    ))
}

fn prefix(
    p: &dyn Fn(&str) -> String,
    v: Option<String>,
    dep: &Deployment,
) -> Result<S3Uri, ConfigError> {
    let v = v.ok_or_else(|| invalid(p("prefix"), "missing: where this route's datasets land"))?;
    let uri = if v.starts_with("s3://") {
        v.parse::<S3Uri>()
    } else {
        S3Uri::new(dep.bucket.clone(), v.trim_start_matches('/'))
    }
    .map_err(|e| invalid(p("prefix"), e.to_string()))?;
    if uri.key().is_empty() {
        return Err(invalid(
            p("prefix"),
            "must not be a whole bucket: name a folder such as `datasets/my-route/`",
        ));
    }
    Ok(uri.as_prefix())
}

fn trigger(
    p: &dyn Fn(&str) -> String,
    mode: Option<&str>,
    marker: Option<String>,
) -> Result<Trigger, ConfigError> {
    match mode.unwrap_or("marker") {
        "marker" => {
            let marker = marker.unwrap_or_else(|| DEFAULT_MARKER.to_string());
            if marker.is_empty() || marker.contains('/') {
                return Err(invalid(
                    p("marker"),
                    "must be a file name without `/`, such as `_SUCCESS`",
                ));
            }
            Ok(Trigger::Marker { marker })
        }
        "object" => Ok(Trigger::Object),
        other => Err(invalid(
            p("trigger"),
            format!("`{other}` is not a trigger mode: use `marker` or `object`"),
        )),
    }
}

fn dataset_rules(p: &dyn Fn(&str) -> String, r: &RawRoute) -> Result<DatasetRules, ConfigError> {
    let min_total_bytes = r.min_dataset_bytes.unwrap_or(1);
    let max_total_bytes = r.max_dataset_bytes.unwrap_or(100 * 1024 * 1024 * 1024);
    if min_total_bytes < 0 || max_total_bytes < 1 || min_total_bytes > max_total_bytes {
        return Err(invalid(
            p("max_dataset_bytes"),
            "min_dataset_bytes must be at least 0 and no more than max_dataset_bytes",
        ));
    }
    let max_files = positive(&p("max_files"), r.max_files, 10_000, 1_000_000)? as usize;
    let allowed_extensions = r
        .allowed_extensions
        .clone()
        .unwrap_or_else(|| {
            DEFAULT_ALLOWED_EXTENSIONS
                .iter()
                .map(|s| s.to_string())
                .collect()
        })
        .into_iter()
        .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
        .collect::<Vec<_>>();
    if allowed_extensions.is_empty() {
        return Err(invalid(
            p("allowed_extensions"),
            "allows no file type at all",
        ));
    }
    Ok(DatasetRules {
        min_total_bytes: min_total_bytes as u64,
        max_total_bytes: max_total_bytes as u64,
        allowed_extensions,
        max_files,
    })
}

/// What the route asks of SageMaker, checked in the order the keys were always checked: the numbers, the instance
/// type, hyperparameters, output path, role, tags, VPC and spot.
fn training(
    name: &str,
    p: &dyn Fn(&str) -> String,
    r: &RawRoute,
    dep: &Deployment,
) -> Result<TrainingSettings, ConfigError> {
    let limits = limits(p, r)?;
    check_instance_type(p, r.instance_type.as_deref())?;
    let hyperparameters = hyperparameters(p, r.hyperparameters.clone())?;
    let output_path = match &r.output_path {
        Some(o) => o
            .parse::<S3Uri>()
            .map_err(|e| invalid(p("output_path"), e.to_string()))?
            .as_prefix(),
        None => dep.route_output(name),
    };
    let role_arn = role_arn(p, r.role_arn.clone(), dep)?;
    check_tags(p, r)?;
    Ok(TrainingSettings {
        instance_type: r.instance_type.clone(),
        instance_count: limits.instance_count,
        volume_size_gb: limits.volume_size_gb,
        max_runtime_seconds: limits.max_runtime_seconds,
        max_instance_count: limits.max_instance_count,
        max_runtime_cap_seconds: limits.max_runtime_cap_seconds,
        hyperparameters,
        output_path,
        role_arn,
        vpc: vpc(p, r.vpc.clone())?,
        spot: spot(p, r.spot.clone(), limits.max_runtime_seconds)?,
        tags: r.tags.clone().unwrap_or_default(),
        kms_key_id: r.kms_key_id.clone(),
        accept_eula: r.accept_eula.unwrap_or(false),
        environment: r.environment.clone().unwrap_or_default(),
    })
}

/// A route's numeric training limits, each in its range and each under its cap.
struct Limits {
    instance_count: u32,
    max_instance_count: Option<u32>,
    volume_size_gb: Option<u32>,
    max_runtime_seconds: Option<u32>,
    max_runtime_cap_seconds: Option<u32>,
}

/// Every range first, then the caps. No API caps the instance count: SageMaker's quotas do, and they answer for
/// themselves. SageMaker's ceiling on MaxRuntimeInSeconds is 28 days.
fn limits(p: &dyn Fn(&str) -> String, r: &RawRoute) -> Result<Limits, ConfigError> {
    let instance_count = positive(&p("instance_count"), r.instance_count, 1, u32::MAX >> 1)?;
    let max_instance_count = opt_positive(
        &p("max_instance_count"),
        r.max_instance_count,
        u32::MAX >> 1,
    )?;
    let volume_size_gb = opt_positive(&p("volume_size_gb"), r.volume_size_gb, 16384)?;
    let max_runtime_seconds =
        opt_positive(&p("max_runtime_seconds"), r.max_runtime_seconds, 2_419_200)?;
    let max_runtime_cap_seconds = opt_positive(
        &p("max_runtime_cap_seconds"),
        r.max_runtime_cap_seconds,
        2_419_200,
    )?;
    if let Some(c) = max_instance_count.filter(|c| instance_count > *c) {
        return Err(invalid(
            p("instance_count"),
            format!("{instance_count} is above this route's max_instance_count ({c})"),
        ));
    }
    if let (Some(cap), Some(m)) = (max_runtime_cap_seconds, max_runtime_seconds) {
        if m > cap {
            return Err(invalid(
                p("max_runtime_seconds"),
                format!("{m} is above this route's max_runtime_cap_seconds ({cap})"),
            ));
        }
    }
    Ok(Limits {
        instance_count,
        max_instance_count,
        volume_size_gb,
        max_runtime_seconds,
        max_runtime_cap_seconds,
    })
}

fn check_instance_type(p: &dyn Fn(&str) -> String, t: Option<&str>) -> Result<(), ConfigError> {
    match t {
        Some(t) if !t.starts_with("ml.") || t.split('.').count() != 3 => Err(invalid(
            p("instance_type"),
            format!("`{t}` is not a SageMaker instance type such as `ml.g5.2xlarge`"),
        )),
        _ => Ok(()),
    }
}

/// The route's role, else the deployment's.
fn role_arn(
    p: &dyn Fn(&str) -> String,
    own: Option<String>,
    dep: &Deployment,
) -> Result<String, ConfigError> {
    let role_arn = own
        .or_else(|| dep.training_role_arn.clone())
        .ok_or_else(|| invalid(p("role_arn"), "missing: the SageMaker execution role (set it here, in [defaults], or HUBTUNE_TRAINING_ROLE_ARN)"))?;
    if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
        return Err(invalid(
            p("role_arn"),
            format!("`{role_arn}` is not an IAM role ARN"),
        ));
    }
    Ok(role_arn)
}

fn hyperparameters(
    p: &dyn Fn(&str) -> String,
    raw: Option<BTreeMap<String, toml::Value>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut hyperparameters = BTreeMap::new();
    for (k, v) in raw.unwrap_or_default() {
        let s = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            // The JumpStart scripts read booleans as Python's `True`/`False` text.
            toml::Value::Boolean(b) => if b { "True" } else { "False" }.to_string(),
            other => {
                return Err(invalid(
                    p(&format!("hyperparameters.{k}")),
                    format!(
                        "must be a string, number or boolean, not {}",
                        other.type_str()
                    ),
                ))
            }
        };
        hyperparameters.insert(k, s);
    }
    Ok(hyperparameters)
}

/// Tag keys and values as SageMaker takes them: letters, digits and spaces of any script, and `_.:/=+-@`.
fn check_tags(p: &dyn Fn(&str) -> String, r: &RawRoute) -> Result<(), ConfigError> {
    let tag_char = |c: char| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c);
    for (k, v) in r.tags.iter().flatten() {
        let lower = k.to_lowercase();
        if lower.starts_with("aws:") || k.starts_with("hubtune:") || k.starts_with("sagemaker-sdk:")
        {
            return Err(invalid(
                p(&format!("tags.{k}")),
                "tag keys starting with aws: (in any case), hubtune: or sagemaker-sdk: are reserved",
            ));
        }
        let (kl, vl) = (k.encode_utf16().count(), v.encode_utf16().count());
        if kl == 0 || kl > 128 || vl > 256 || !k.chars().all(tag_char) || !v.chars().all(tag_char) {
            return Err(invalid(p(&format!("tags.{k}")), "tag keys have 1 to 128 and values up to 256 characters (UTF-16) of letters, digits and spaces of any script, and `_.:/=+-@`"));
        }
    }
    Ok(())
}

fn vpc(
    p: &dyn Fn(&str) -> String,
    raw: Option<RawVpc>,
) -> Result<Option<VpcSettings>, ConfigError> {
    match raw {
        Some(v) if v.subnets.is_empty() || v.security_group_ids.is_empty() => Err(invalid(
            p("vpc"),
            "needs at least one subnet and one security group",
        )),
        Some(v) => Ok(Some(VpcSettings {
            subnets: v.subnets,
            security_group_ids: v.security_group_ids,
        })),
        None => Ok(None),
    }
}

fn spot(
    p: &dyn Fn(&str) -> String,
    raw: Option<RawSpot>,
    max_runtime_seconds: Option<u32>,
) -> Result<Option<SpotSettings>, ConfigError> {
    let Some(s) = raw else {
        return Ok(None);
    };
    let max_wait = positive(
        &p("spot.max_wait_seconds"),
        Some(s.max_wait_seconds),
        1,
        2_419_200,
    )?;
    let checkpoint = s
        .checkpoint_path
        .map(|c| c.parse::<S3Uri>().map(|u| u.as_prefix()))
        .transpose()
        .map_err(|e| invalid(p("spot.checkpoint_path"), e.to_string()))?;
    if let Some(rt) = max_runtime_seconds.filter(|rt| max_wait < *rt) {
        return Err(invalid(
            p("spot.max_wait_seconds"),
            format!("{max_wait} must be at least max_runtime_seconds ({rt})"),
        ));
    }
    Ok(Some(SpotSettings {
        max_wait_seconds: max_wait,
        checkpoint_s3_uri: checkpoint,
    }))
}
