//! One route, from its table (defaults applied) to a `Route`.

use std::collections::BTreeMap;

use crate::domain::capacity::MAX_INSTANCE_TYPES;
use crate::domain::config::duration::parse_duration;
use crate::domain::config::model::{
    invalid, BusyPolicy, ConfigError, DailyBudget, DatasetRules, Deployment, Route, Trigger,
    DEFAULT_ALLOWED_EXTENSIONS, DEFAULT_MARKER, DEFAULT_QUEUE_MAX_AGE,
};
use crate::domain::config::raw::{RawRoute, RawSpot, RawVpc};
use crate::domain::config::request::check_route_request;
use crate::domain::plan::{SpotSettings, TrainingSettings, VpcSettings};
use crate::domain::registry::settings::{group_violations, ApprovalStatus, Registry};
use crate::domain::s3uri::{S3Uri, S3UriError};

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
    let instance_types = instance_types(&p, &r)?;
    let listed = r.instance_types.is_some();
    let r = RawRoute {
        instance_type: instance_types.first().cloned(),
        ..r
    };
    let training = training(name, &p, &r, dep)?;
    let dataset = dataset_rules(&p, &r)?;
    let channels: Vec<&str> = dataset
        .channels
        .iter()
        .map(|c| c.channel.as_str())
        .collect();
    // Every type of the list makes a request of its own: each is checked as the first is.
    for (i, t) in instance_types.iter().enumerate() {
        let mut s = training.clone();
        s.instance_type = Some(t.clone());
        check_route_request(name, &prefix, &s, dep, &channels)
            .map_err(|e| at_list(e, listed, i))?;
    }
    if instance_types.is_empty() {
        check_route_request(name, &prefix, &training, dep, &channels)?;
    }
    let max_concurrent_jobs = positive(&p("max_concurrent_jobs"), r.max_concurrent_jobs, 1, 1000)?;
    let queue_max_age = match &r.queue_max_age {
        None => DEFAULT_QUEUE_MAX_AGE,
        Some(v) => parse_duration(v).map_err(|m| invalid(p("queue_max_age"), m))?,
    };
    let budget = budget(&p, &r, &training)?;
    let hourly_price_usd = hourly_price(&p, r.hourly_price_usd)?;
    let registry = registry(&p, &r)?;
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
        budget,
        dataset,
        training,
        hourly_price_usd,
        registry,
        instance_types,
    })
}

/// `instance_type`, or `instance_types` (capacity fallback) in the order they are tried: the first is the one the
/// plan starts with. Empty: the route names none, and the hub document's default is used.
fn instance_types(p: &dyn Fn(&str) -> String, r: &RawRoute) -> Result<Vec<String>, ConfigError> {
    let list = match (&r.instance_type, &r.instance_types) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                p("instance_types"),
                "set instance_type or instance_types, not both",
            ))
        }
        (Some(t), None) => return Ok(vec![t.clone()]),
        (None, None) => return Ok(vec![]),
        (None, Some(list)) => list,
    };
    let key = p("instance_types");
    if list.is_empty() || list.len() > MAX_INSTANCE_TYPES {
        return Err(invalid(
            key,
            format!(
                "lists {} types: must list 1 to {MAX_INSTANCE_TYPES}",
                list.len()
            ),
        ));
    }
    if let Some((i, t)) = list
        .iter()
        .enumerate()
        .find(|(i, t)| list[..*i].contains(t))
    {
        return Err(invalid(
            format!("{key}[{i}]"),
            format!("`{t}` is listed twice: each type is tried once"),
        ));
    }
    Ok(list.clone())
}

/// A refusal of the request made with the list's `i`-th type names that entry (`routes.a.instance_types[1]`).
pub(crate) fn at_list(e: ConfigError, listed: bool, i: usize) -> ConfigError {
    match e {
        ConfigError::Invalid { path, message } if listed && path.ends_with(".instance_type") => {
            ConfigError::Invalid {
                path: format!("{path}s[{i}]"),
                message,
            }
        }
        other => other,
    }
}

/// `model_package_group` (a name or ARN, as CreateModelPackage takes it) and `model_approval_status` (the model's
/// enum, `PendingManualApproval` unless set). A status without a group registers nothing: refused, not ignored.
fn registry(p: &dyn Fn(&str) -> String, r: &RawRoute) -> Result<Option<Registry>, ConfigError> {
    let approval = match r.model_approval_status.as_deref() {
        None => ApprovalStatus::default(),
        Some(s) => ApprovalStatus::parse(s).ok_or_else(|| {
            invalid(
                p("model_approval_status"),
                format!(
                    "`{s}` is not a model approval status: use one of {}",
                    ApprovalStatus::ALL.join(", ")
                ),
            )
        })?,
    };
    let Some(group) = r.model_package_group.clone() else {
        if r.model_approval_status.is_some() {
            return Err(invalid(
                p("model_approval_status"),
                "needs model_package_group: the group the model is registered in",
            ));
        }
        return Ok(None);
    };
    if let Some(v) = group_violations(&group).into_iter().next() {
        return Err(invalid(p("model_package_group"), v.to_string()));
    }
    Ok(Some(Registry { group, approval }))
}

/// An hourly price is a finite number >= 0 (TOML has `nan` and `inf`; an estimate of either says nothing).
fn hourly_price(p: &dyn Fn(&str) -> String, v: Option<f64>) -> Result<Option<f64>, ConfigError> {
    match v {
        Some(x) if !x.is_finite() => Err(invalid(
            p("hourly_price_usd"),
            format!("{x} is not a price: must be a finite number of US dollars per instance-hour"),
        )),
        Some(x) if x < 0.0 => Err(invalid(
            p("hourly_price_usd"),
            format!("{x} is out of range: must be >= 0"),
        )),
        v => Ok(v),
    }
}

/// The most jobs a day a cap may name: above it, the cap would not be a cap.
const MAX_JOBS_PER_DAY: u32 = 1_000_000;

/// `max_jobs_per_day` (a positive integer) and `max_training_hours_per_day` (a positive, finite number). A route
/// whose own `max_runtime_seconds` reserves more than the hours cap could never launch: refused here. (A runtime
/// taken from the model's document is known only at launch, which refuses that dataset with `cap_exceeded`.)
fn budget(
    p: &dyn Fn(&str) -> String,
    r: &RawRoute,
    training: &TrainingSettings,
) -> Result<DailyBudget, ConfigError> {
    let max_jobs_per_day =
        opt_positive(&p("max_jobs_per_day"), r.max_jobs_per_day, MAX_JOBS_PER_DAY)?;
    let hours_path = p("max_training_hours_per_day");
    let max_training_hours_per_day = match &r.max_training_hours_per_day {
        None => None,
        Some(v) => {
            let h = match v {
                toml::Value::Integer(n) => *n as f64,
                toml::Value::Float(f) => *f,
                other => {
                    return Err(invalid(
                        hours_path,
                        format!("must be a number of hours, not {}", other.type_str()),
                    ))
                }
            };
            if !(h.is_finite() && h > 0.0) {
                return Err(invalid(
                    hours_path,
                    format!("{h} is not a positive, finite number of hours"),
                ));
            }
            Some(h)
        }
    };
    if let (Some(cap), Some(rt)) = (max_training_hours_per_day, training.max_runtime_seconds) {
        let reserved = f64::from(rt) * f64::from(training.instance_count) / 3600.0;
        if reserved > cap {
            return Err(invalid(
                p("max_training_hours_per_day"),
                format!(
                    "{cap} is below what one job reserves ({reserved} hours: max_runtime_seconds {rt} × {} \
                     instance(s)): no dataset of this route could ever launch",
                    training.instance_count
                ),
            ));
        }
    }
    Ok(DailyBudget {
        max_jobs_per_day,
        max_training_hours_per_day,
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
    let uri = location(&v, &dep.bucket).map_err(|e| invalid(p("prefix"), e.to_string()))?;
    if uri.is_bucket_root() {
        return Err(invalid(
            p("prefix"),
            "must not be a whole bucket: name a folder such as `datasets/my-route/`",
        ));
    }
    Ok(uri.as_prefix())
}

/// A location as the routes file may give it: `s3://…`, an S3 endpoint's `https://…` URL, or a key in the
/// deployment's bucket.
pub(crate) fn location(v: &str, bucket: &str) -> Result<S3Uri, S3UriError> {
    if v.starts_with("s3://") || v.starts_with("https://") {
        S3Uri::parse_location(v)
    } else {
        S3Uri::new(bucket, v.trim_start_matches('/'))
    }
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
        channels: crate::domain::channels::route_channels(&p("channels"), r.channels.as_ref())
            .map_err(|(path, message)| invalid(path, message))?,
    })
}

/// What the route asks of SageMaker, read in the order the keys were always read: the numbers, hyperparameters,
/// output path, role, tags, VPC and spot. What AWS's rules say of each is checked afterwards, on the request they
/// make (`request::check_route_request`).
fn training(
    name: &str,
    p: &dyn Fn(&str) -> String,
    r: &RawRoute,
    dep: &Deployment,
) -> Result<TrainingSettings, ConfigError> {
    let limits = limits(p, r)?;
    let hyperparameters = hyperparameters(p, r.hyperparameters.clone())?;
    let output_path = match &r.output_path {
        Some(o) => S3Uri::parse_location(o)
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
        vpc: vpc(r.vpc.clone()),
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
/// themselves. SageMaker's ceiling on MaxRuntimeInSeconds (28 days) is the validator's, checked on the request.
fn limits(p: &dyn Fn(&str) -> String, r: &RawRoute) -> Result<Limits, ConfigError> {
    let instance_count = positive(&p("instance_count"), r.instance_count, 1, u32::MAX >> 1)?;
    let max_instance_count = opt_positive(
        &p("max_instance_count"),
        r.max_instance_count,
        u32::MAX >> 1,
    )?;
    let volume_size_gb = opt_positive(&p("volume_size_gb"), r.volume_size_gb, 16384)?;
    let max_runtime_seconds = opt_positive(
        &p("max_runtime_seconds"),
        r.max_runtime_seconds,
        u32::MAX >> 1,
    )?;
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

/// The route's role, else the deployment's (its form is the validator's `RoleArn` rule, checked on the request).
fn role_arn(
    p: &dyn Fn(&str) -> String,
    own: Option<String>,
    dep: &Deployment,
) -> Result<String, ConfigError> {
    own.or_else(|| dep.training_role_arn.clone())
        .ok_or_else(|| invalid(p("role_arn"), "missing: the SageMaker execution role (set it here, in [defaults], or HUBTUNE_TRAINING_ROLE_ARN)"))
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

/// hubtune's own tag prefixes are hubtune's: a route's tag there would clash with the tags every job carries.
/// What AWS says of tags (characters, lengths, `aws:`) is the validator's, checked on the request.
fn check_tags(p: &dyn Fn(&str) -> String, r: &RawRoute) -> Result<(), ConfigError> {
    for k in r.tags.iter().flatten().map(|(k, _)| k) {
        if k.starts_with("hubtune:") || k.starts_with("sagemaker-sdk:") {
            return Err(invalid(
                p(&format!("tags.{k}")),
                "tag keys starting with hubtune: or sagemaker-sdk: are reserved for the tags hubtune sets",
            ));
        }
    }
    Ok(())
}

/// The counts and forms of subnets and security groups are the validator's, checked on the request.
fn vpc(raw: Option<RawVpc>) -> Option<VpcSettings> {
    raw.map(|v| VpcSettings {
        subnets: v.subnets,
        security_group_ids: v.security_group_ids,
    })
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
        .map(|c| S3Uri::parse_location(&c).map(|u| u.as_prefix()))
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

/// The template's default `MarkerSuffix`: what a deployment delivers when its environment does not say.
const TEMPLATE_MARKER_SUFFIX: &str = "_SUCCESS";

/// Every route's `trigger`/`marker` is one the deployment's S3 rule lets through: an object the rule filters out
/// never reaches the launcher, so a route that waits for it would wait for ever. `delivered` is
/// `HUBTUNE_DELIVERED_MARKERS` (the key suffixes the rule matches, comma-separated, or `*` for every object); unset,
/// the template's default is assumed, and the message says so (how `hubtune config check` runs offline).
pub(crate) fn check_delivered(
    routes: &[Route],
    delivered: Option<&str>,
) -> Result<(), ConfigError> {
    let (text, assumed) = match delivered {
        Some(d) => (d, ""),
        None => (
            TEMPLATE_MARKER_SUFFIX,
            " (no HUBTUNE_DELIVERED_MARKERS set: checked against the template's default; set it to your stack's \
             MarkerSuffix, or `*` if that is empty)",
        ),
    };
    let every_object = text.split(',').any(|s| s.trim() == "*");
    let suffixes: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for r in routes {
        let (key, missed) = match &r.trigger {
            _ if every_object => continue,
            Trigger::Object => (
                "trigger",
                "`trigger = \"object\"` needs every object".to_string(),
            ),
            // The rule matches the whole key's end, and a marker's key ends in `/<marker>`.
            Trigger::Marker { marker }
                if suffixes.iter().any(|s| format!("/{marker}").ends_with(s)) =>
            {
                continue
            }
            Trigger::Marker { marker } => (
                "marker",
                format!("the marker `{marker}` is never delivered"),
            ),
        };
        return Err(invalid(
            format!("routes.{}.{key}", r.name),
            format!(
                "{missed}: the deployment's EventBridge rule delivers only keys ending in {}{assumed}; set the \
                 template parameter MarkerSuffix to {} and redeploy",
                suffixes.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "),
                match &r.trigger {
                    Trigger::Marker { marker } => format!("`{marker}` (or empty: every object)"),
                    Trigger::Object => "empty (every object)".to_string(),
                }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::domain::config::{parse, DeploymentEnv};

    fn file(route_keys: &str) -> String {
        format!(
            "[deployment]\nbucket = \"bkt\"\n[defaults]\nhub = \"h\"\nmodel_id = \"m\"\n\
             role_arn = \"arn:aws:iam::111122223333:role/R\"\n\
             [routes.a]\nprefix = \"datasets/a/\"\n{route_keys}\n[routes.z]\nprefix = \"datasets/z/\"\n"
        )
    }

    fn check(route_keys: &str, delivered: Option<&str>) -> Result<(), String> {
        let env = DeploymentEnv {
            delivered_markers: delivered.map(String::from),
            ..Default::default()
        };
        parse(&file(route_keys), &env, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_marker_the_rule_does_not_deliver_is_refused() {
        let e = check("marker = \"_DONE\"", Some("_SUCCESS")).unwrap_err();
        assert!(
            e.starts_with("routes.a.marker:")
                && e.contains("`_SUCCESS`")
                && e.contains("MarkerSuffix"),
            "{e}"
        );
        // Offline, the template's default is assumed, and the message says so.
        let e = check("marker = \"_DONE\"", None).unwrap_err();
        assert!(e.contains("template's default"), "{e}");
        // The default marker, under a rule for another one.
        let e = check("", Some("_DONE")).unwrap_err();
        assert!(
            e.starts_with("routes.a.marker:") && e.contains("`_SUCCESS`"),
            "{e}"
        );
    }

    #[test]
    fn object_trigger_under_a_marker_rule_is_refused() {
        for delivered in [None, Some("_SUCCESS"), Some("_SUCCESS,_DONE")] {
            let e = check("trigger = \"object\"", delivered).unwrap_err();
            assert!(
                e.starts_with("routes.a.trigger:") && e.contains("MarkerSuffix to empty"),
                "{delivered:?}: {e}"
            );
        }
    }

    #[test]
    fn what_the_rule_delivers_is_accepted() {
        assert_eq!(check("", None), Ok(()));
        assert_eq!(check("marker = \"_DONE\"", Some("*")), Ok(()));
        assert_eq!(check("trigger = \"object\"", Some("*")), Ok(()));
        // The second route keeps `_SUCCESS`: both suffixes delivered.
        assert_eq!(check("marker = \"_DONE\"", Some("_DONE, _SUCCESS")), Ok(()));
        // The rule matches the key's end: `SUCCESS` lets `…/_SUCCESS` through, `/_SUCCESS` too.
        assert_eq!(check("", Some("SUCCESS")), Ok(()));
        assert_eq!(check("", Some("/_SUCCESS")), Ok(()));
        assert!(check("", Some("x_SUCCESS")).is_err());
    }
}
