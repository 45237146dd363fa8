//! The routes file (`hubtune.toml`) and the deployment settings, validated into types that cannot hold bad values.
//!
//! Every error names where it is: `routes.support-bot.instance_count: must be at least 1`. Unknown keys are errors
//! too, because a misspelt `acept_eula` silently ignored would cost a day of debugging.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::naming::JobPrefix;
use crate::domain::plan::{SpotSettings, TrainingSettings, VpcSettings};
use crate::domain::s3uri::S3Uri;

pub const DEFAULT_MARKER: &str = "_SUCCESS";
pub const DEFAULT_STATE_PREFIX: &str = "hubtune/state/";
pub const DEFAULT_OUTPUT_PREFIX: &str = "hubtune/output/";
pub const DEFAULT_EVENT_BUS: &str = "hubtune";
pub const DEFAULT_QUEUE_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
pub const DEFAULT_ALLOWED_EXTENSIONS: &[&str] = &["jsonl", "json", "csv", "txt", "parquet"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("cannot parse the routes file: {0}")]
    Syntax(String),
    #[error("cannot read the routes file {source_name}: {message}")]
    Unreadable {
        source_name: String,
        message: String,
    },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// How a dataset announces itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Trigger {
    /// A dataset is the folder `<prefix><name>/`, launched when the marker object lands in it.
    Marker { marker: String },
    /// Every object is a dataset of its own.
    Object,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BusyPolicy {
    /// Wait in the route's queue for a free slot.
    Queue,
    /// Reject with `Dataset Rejected` (reason: route busy).
    Skip,
}

/// Checks run on a dataset before any money is spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatasetRules {
    pub min_total_bytes: u64,
    pub max_total_bytes: u64,
    /// Lower-case file extensions without the dot.
    pub allowed_extensions: Vec<String>,
    pub max_files: usize,
}

/// One route: where datasets land and what they train.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    pub name: String,
    /// Always ends in `/`.
    pub prefix: S3Uri,
    pub hub: String,
    /// The hub content name of the model reference (often the public model id; may be an alias).
    pub model_id: String,
    pub model_version: Option<String>,
    pub trigger: Trigger,
    pub max_concurrent_jobs: u32,
    pub busy_policy: BusyPolicy,
    #[serde(with = "duration_secs")]
    pub queue_max_age: Duration,
    pub dataset: DatasetRules,
    pub training: TrainingSettings,
}

/// Settings of the whole deployment: the template sets them as environment variables; a `[deployment]` table in
/// the routes file fills them for local and CLI use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    pub name: String,
    pub bucket: String,
    pub state_prefix: S3Uri,
    pub output_prefix: S3Uri,
    #[serde(serialize_with = "ser_display")]
    pub job_prefix: JobPrefix,
    pub event_bus: String,
    pub region: String,
    pub training_role_arn: Option<String>,
}

impl Deployment {
    /// The default output path of a route: inside the deployment's bucket and output prefix.
    pub fn route_output(&self, route: &str) -> S3Uri {
        self.output_prefix.join(&format!("{route}/"))
    }

    pub fn state_key(&self, rest: &str) -> S3Uri {
        self.state_prefix.join(rest)
    }

    /// Where a job's run record lives: the one place this layout is written down.
    pub fn run_key(&self, job: &str) -> S3Uri {
        self.state_key(&format!("runs/{job}.json"))
    }

    /// Every run record.
    pub fn runs_prefix(&self) -> S3Uri {
        self.state_key("runs/")
    }

    /// A route's slots object.
    pub fn slots_key(&self, route: &str) -> S3Uri {
        self.state_key(&format!("slots/{route}.json"))
    }

    /// A route's queue entries.
    pub fn queue_prefix(&self, route: &str) -> S3Uri {
        self.state_key(&format!("queue/{route}/"))
    }

    /// The frozen manifest a job's training channel reads.
    pub fn manifest_key(&self, job: &str) -> S3Uri {
        self.state_key(&format!("manifests/{job}.json"))
    }

    /// The pointer to a route's newest published model.
    pub fn latest_key(&self, route: &str) -> S3Uri {
        self.output_prefix.join(&format!("{route}/latest.json"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub deployment: Deployment,
    pub routes: Vec<Route>,
    /// Where the routes file itself lives, when it is in S3 (it must never trigger anything).
    pub source: Option<S3Uri>,
}

impl Config {
    pub fn route(&self, name: &str) -> Option<&Route> {
        self.routes.iter().find(|r| r.name == name)
    }

    /// The route whose prefix holds this object (prefixes never nest: validation refuses it).
    pub fn route_for(&self, object: &S3Uri) -> Option<&Route> {
        self.routes.iter().find(|r| object.is_under(&r.prefix))
    }

    /// Objects hubtune writes itself, or its own routes file: never a dataset.
    pub fn is_own_object(&self, object: &S3Uri) -> bool {
        object.is_under(&self.deployment.state_prefix)
            || object.is_under(&self.deployment.output_prefix)
            || self.source.as_ref() == Some(object)
    }
}

/// Values from the environment that override the `[deployment]` table.
#[derive(Debug, Clone, Default)]
pub struct DeploymentEnv {
    pub bucket: Option<String>,
    /// The prefix the deployment's EventBridge rule forwards (`HUBTUNE_DATASET_PREFIX`): every route must lie under it.
    pub dataset_prefix: Option<String>,
    pub state_prefix: Option<String>,
    pub output_prefix: Option<String>,
    pub job_prefix: Option<String>,
    pub event_bus: Option<String>,
    pub name: Option<String>,
    pub region: Option<String>,
    pub training_role_arn: Option<String>,
}

impl DeploymentEnv {
    pub fn from_env() -> Self {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            bucket: get("HUBTUNE_BUCKET"),
            dataset_prefix: get("HUBTUNE_DATASET_PREFIX"),
            state_prefix: get("HUBTUNE_STATE_PREFIX"),
            output_prefix: get("HUBTUNE_OUTPUT_PREFIX"),
            job_prefix: get("HUBTUNE_JOB_PREFIX"),
            event_bus: get("HUBTUNE_EVENT_BUS"),
            name: get("HUBTUNE_DEPLOYMENT"),
            region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
            training_role_arn: get("HUBTUNE_TRAINING_ROLE_ARN"),
        }
    }
}

// ---- the file's shape -------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    deployment: RawDeployment,
    #[serde(default)]
    defaults: RawRoute,
    #[serde(default)]
    routes: BTreeMap<String, RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeployment {
    name: Option<String>,
    bucket: Option<String>,
    state_prefix: Option<String>,
    output_prefix: Option<String>,
    job_prefix: Option<String>,
    event_bus: Option<String>,
    region: Option<String>,
    training_role_arn: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: Option<String>,
    hub: Option<String>,
    model_id: Option<String>,
    model_version: Option<String>,
    accept_eula: Option<bool>,
    instance_type: Option<String>,
    instance_count: Option<i64>,
    max_instance_count: Option<i64>,
    volume_size_gb: Option<i64>,
    max_runtime_seconds: Option<i64>,
    max_runtime_cap_seconds: Option<i64>,
    hyperparameters: Option<BTreeMap<String, toml::Value>>,
    output_path: Option<String>,
    role_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    environment: Option<BTreeMap<String, String>>,
    kms_key_id: Option<String>,
    vpc: Option<RawVpc>,
    spot: Option<RawSpot>,
    trigger: Option<String>,
    marker: Option<String>,
    max_concurrent_jobs: Option<i64>,
    busy_policy: Option<BusyPolicy>,
    queue_max_age: Option<toml::Value>,
    min_dataset_bytes: Option<i64>,
    max_dataset_bytes: Option<i64>,
    max_files: Option<i64>,
    allowed_extensions: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVpc {
    subnets: Vec<String>,
    security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpot {
    max_wait_seconds: i64,
    checkpoint_path: Option<String>,
}

macro_rules! inherit {
    ($route:expr, $defaults:expr, $($field:ident),*) => {
        $( if $route.$field.is_none() { $route.$field = $defaults.$field.clone(); } )*
    };
}

impl RawRoute {
    fn with_defaults(mut self, d: &RawRoute) -> RawRoute {
        inherit!(
            self,
            d,
            prefix,
            hub,
            model_id,
            model_version,
            accept_eula,
            instance_type,
            instance_count,
            max_instance_count,
            volume_size_gb,
            max_runtime_seconds,
            max_runtime_cap_seconds,
            output_path,
            role_arn,
            kms_key_id,
            vpc,
            spot,
            trigger,
            marker,
            max_concurrent_jobs,
            busy_policy,
            queue_max_age,
            min_dataset_bytes,
            max_dataset_bytes,
            max_files,
            allowed_extensions
        );
        // Maps merge: a route adds to (and overrides) the defaults' entries.
        fn merge<V: Clone>(
            own: Option<BTreeMap<String, V>>,
            d: &Option<BTreeMap<String, V>>,
        ) -> Option<BTreeMap<String, V>> {
            match (own, d) {
                (None, None) => None,
                (own, d) => {
                    let mut m = d.clone().unwrap_or_default();
                    m.extend(own.unwrap_or_default());
                    Some(m)
                }
            }
        }
        self.hyperparameters = merge(self.hyperparameters, &d.hyperparameters);
        self.tags = merge(self.tags, &d.tags);
        self.environment = merge(self.environment, &d.environment);
        self
    }
}

// ---- parsing and validation -------------------------------------------------------------------------------------

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

fn route(name: &str, r: RawRoute, dep: &Deployment) -> Result<Route, ConfigError> {
    let p = |key: &str| format!("routes.{name}.{key}");
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(invalid(
            format!("routes.{name}"),
            "a route name has 1 to 64 characters of letters, digits, `-` and `_`",
        ));
    }
    let prefix = {
        let v = r
            .prefix
            .ok_or_else(|| invalid(p("prefix"), "missing: where this route's datasets land"))?;
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
        uri.as_prefix()
    };
    let hub = r.hub.filter(|h| !h.is_empty()).ok_or_else(|| {
        invalid(
            p("hub"),
            "missing: the private hub's name or ARN (set it here or in [defaults])",
        )
    })?;
    let model_id = r.model_id.filter(|m| !m.is_empty()).ok_or_else(|| {
        invalid(
            p("model_id"),
            "missing: the model reference's name in the hub",
        )
    })?;
    let model_version = r
        .model_version
        .filter(|v| !v.is_empty() && v != "*" && v != "latest");

    let trigger = match r.trigger.as_deref().unwrap_or("marker") {
        "marker" => {
            let marker = r.marker.unwrap_or_else(|| DEFAULT_MARKER.to_string());
            if marker.is_empty() || marker.contains('/') {
                return Err(invalid(
                    p("marker"),
                    "must be a file name without `/`, such as `_SUCCESS`",
                ));
            }
            Trigger::Marker { marker }
        }
        "object" => Trigger::Object,
        other => {
            return Err(invalid(
                p("trigger"),
                format!("`{other}` is not a trigger mode: use `marker` or `object`"),
            ))
        }
    };

    let instance_count = positive(&p("instance_count"), r.instance_count, 1, 64)?;
    let max_instance_count = opt_positive(&p("max_instance_count"), r.max_instance_count, 1000)?;
    let volume_size_gb = opt_positive(&p("volume_size_gb"), r.volume_size_gb, 16384)?;
    // SageMaker's ceiling on MaxRuntimeInSeconds is 28 days.
    let max_runtime_seconds =
        opt_positive(&p("max_runtime_seconds"), r.max_runtime_seconds, 2_419_200)?;
    let max_runtime_cap_seconds = opt_positive(
        &p("max_runtime_cap_seconds"),
        r.max_runtime_cap_seconds,
        2_419_200,
    )?;
    if let (Some(c), Some(m)) = (max_instance_count, Some(instance_count)) {
        if m > c {
            return Err(invalid(
                p("instance_count"),
                format!("{m} is above this route's max_instance_count ({c})"),
            ));
        }
    }
    if let (Some(cap), Some(m)) = (max_runtime_cap_seconds, max_runtime_seconds) {
        if m > cap {
            return Err(invalid(
                p("max_runtime_seconds"),
                format!("{m} is above this route's max_runtime_cap_seconds ({cap})"),
            ));
        }
    }
    if let Some(t) = &r.instance_type {
        if !t.starts_with("ml.") || t.split('.').count() != 3 {
            return Err(invalid(
                p("instance_type"),
                format!("`{t}` is not a SageMaker instance type such as `ml.g5.2xlarge`"),
            ));
        }
    }

    let mut hyperparameters = BTreeMap::new();
    for (k, v) in r.hyperparameters.unwrap_or_default() {
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

    let output_path = match r.output_path {
        Some(o) => o
            .parse::<S3Uri>()
            .map_err(|e| invalid(p("output_path"), e.to_string()))?
            .as_prefix(),
        None => dep.route_output(name),
    };
    let role_arn = r
        .role_arn
        .or_else(|| dep.training_role_arn.clone())
        .ok_or_else(|| invalid(p("role_arn"), "missing: the SageMaker execution role (set it here, in [defaults], or HUBTUNE_TRAINING_ROLE_ARN)"))?;
    if !role_arn.starts_with("arn:") || !role_arn.contains(":role/") {
        return Err(invalid(
            p("role_arn"),
            format!("`{role_arn}` is not an IAM role ARN"),
        ));
    }
    for (k, v) in r.tags.iter().flatten() {
        if k.starts_with("aws:") || k.starts_with("hubtune:") || k.starts_with("sagemaker-sdk:") {
            return Err(invalid(
                p(&format!("tags.{k}")),
                "tag keys starting with aws:, hubtune: or sagemaker-sdk: are reserved",
            ));
        }
        if k.is_empty()
            || k.len() > 128
            || v.len() > 256
            || !k.chars().all(crate::domain::naming::is_tag_char)
            || !v.chars().all(crate::domain::naming::is_tag_char)
        {
            return Err(invalid(p(&format!("tags.{k}")), "tag keys have 1 to 128 and values up to 256 characters of letters, digits, spaces and `_.:/=+-@`"));
        }
    }
    let vpc = match r.vpc {
        Some(v) if v.subnets.is_empty() || v.security_group_ids.is_empty() => {
            return Err(invalid(
                p("vpc"),
                "needs at least one subnet and one security group",
            ))
        }
        Some(v) => Some(VpcSettings {
            subnets: v.subnets,
            security_group_ids: v.security_group_ids,
        }),
        None => None,
    };
    let spot = match r.spot {
        Some(s) => {
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
            if let Some(rt) = max_runtime_seconds {
                if max_wait < rt {
                    return Err(invalid(
                        p("spot.max_wait_seconds"),
                        format!("{max_wait} must be at least max_runtime_seconds ({rt})"),
                    ));
                }
            }
            Some(SpotSettings {
                max_wait_seconds: max_wait,
                checkpoint_s3_uri: checkpoint,
            })
        }
        None => None,
    };

    let max_concurrent_jobs = positive(&p("max_concurrent_jobs"), r.max_concurrent_jobs, 1, 1000)?;
    let queue_max_age = match r.queue_max_age {
        None => DEFAULT_QUEUE_MAX_AGE,
        Some(v) => parse_duration(&v).map_err(|m| invalid(p("queue_max_age"), m))?,
    };
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
        dataset: DatasetRules {
            min_total_bytes: min_total_bytes as u64,
            max_total_bytes: max_total_bytes as u64,
            allowed_extensions,
            max_files,
        },
        training: TrainingSettings {
            instance_type: r.instance_type,
            instance_count,
            volume_size_gb,
            max_runtime_seconds,
            max_instance_count,
            max_runtime_cap_seconds,
            hyperparameters,
            output_path,
            role_arn,
            tags: r.tags.unwrap_or_default(),
            kms_key_id: r.kms_key_id,
            vpc,
            spot,
            accept_eula: r.accept_eula.unwrap_or(false),
            environment: r.environment.unwrap_or_default(),
        },
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

/// `"7d"`, `"12h"`, `"30m"`, `"45s"`, or a number of seconds.
pub fn parse_duration(v: &toml::Value) -> Result<Duration, String> {
    let secs = match v {
        toml::Value::Integer(n) if *n > 0 => *n as u64,
        toml::Value::String(s) => {
            let s = s.trim();
            let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
            let n: u64 = num.parse().map_err(|_| {
                format!("`{s}` is not a duration such as `7d`, `12h`, `30m` or `45s`")
            })?;
            let mult = match unit {
                "" | "s" => 1,
                "m" => 60,
                "h" => 3600,
                "d" => 86400,
                _ => return Err(format!("`{s}` has an unknown unit: use s, m, h or d")),
            };
            n * mult
        }
        other => {
            return Err(format!(
                "must be a duration string or a positive number of seconds, not {other}"
            ))
        }
    };
    if secs == 0 {
        return Err("must be longer than zero".into());
    }
    Ok(Duration::from_secs(secs))
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

mod duration_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[deployment]
bucket = "acme-ml-datasets"

[defaults]
hub = "my-private-hub"
role_arn = "arn:aws:iam::111122223333:role/SageMakerExecutionRole"

[routes.support-bot]
prefix = "datasets/support-bot/"
model_id = "meta-textgeneration-llama-3-2-1b"
accept_eula = true
instance_type = "ml.g5.2xlarge"
hyperparameters = { epoch = 2, instruction_tuned = true, learning_rate = "0.0002" }
tags = { team = "support" }
max_concurrent_jobs = 2
queue_max_age = "3d"
"#;

    fn parse_ok(s: &str) -> Config {
        parse(s, &DeploymentEnv::default(), None).unwrap()
    }

    fn parse_err(s: &str) -> String {
        parse(s, &DeploymentEnv::default(), None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_file_gets_its_defaults() {
        let c = parse_ok(GOOD);
        let r = c.route("support-bot").unwrap();
        assert_eq!(
            r.prefix.to_string(),
            "s3://acme-ml-datasets/datasets/support-bot/"
        );
        assert_eq!(
            r.trigger,
            Trigger::Marker {
                marker: "_SUCCESS".into()
            }
        );
        assert_eq!(r.busy_policy, BusyPolicy::Queue);
        assert_eq!(r.queue_max_age, Duration::from_secs(3 * 86400));
        assert_eq!(
            r.training.output_path.to_string(),
            "s3://acme-ml-datasets/hubtune/output/support-bot/"
        );
        assert_eq!(r.training.hyperparameters["epoch"], "2");
        assert_eq!(r.training.hyperparameters["instruction_tuned"], "True");
        assert_eq!(r.training.instance_count, 1);
        assert!(r.training.accept_eula);
        assert_eq!(c.deployment.job_prefix.as_str(), "hubtune");
        assert_eq!(
            c.deployment.state_prefix.to_string(),
            "s3://acme-ml-datasets/hubtune/state/"
        );
    }

    #[test]
    fn env_overrides_the_deployment_table() {
        let env = DeploymentEnv {
            bucket: Some("other-bucket".into()),
            job_prefix: Some("ml".into()),
            ..Default::default()
        };
        let c = parse(GOOD, &env, None).unwrap();
        assert_eq!(c.deployment.bucket, "other-bucket");
        assert_eq!(c.deployment.job_prefix.as_str(), "ml");
    }

    #[test]
    fn unknown_keys_name_route_and_key() {
        let e = parse_err(&GOOD.replace("accept_eula = true", "acept_eula = true"));
        assert!(
            e.contains("routes.support-bot") && e.contains("acept_eula"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_route_and_key() {
        let e = parse_err(&GOOD.replace("max_concurrent_jobs = 2", "max_concurrent_jobs = 0"));
        assert!(
            e.starts_with("routes.support-bot.max_concurrent_jobs:"),
            "{e}"
        );
        let e = parse_err(&GOOD.replace("queue_max_age = \"3d\"", "queue_max_age = \"3 weeks\""));
        assert!(e.starts_with("routes.support-bot.queue_max_age:"), "{e}");
        let e = parse_err(&GOOD.replace(
            "instance_type = \"ml.g5.2xlarge\"",
            "instance_type = \"g5\"",
        ));
        assert!(e.starts_with("routes.support-bot.instance_type:"), "{e}");
        let e =
            parse_err(&GOOD.replace("max_concurrent_jobs = 2", "max_concurrent_jobs = \"two\""));
        assert!(e.contains("routes.support-bot.max_concurrent_jobs"), "{e}");
    }

    #[test]
    fn state_under_a_dataset_prefix_is_refused() {
        let e = parse_err(&GOOD.replace(
            "[deployment]\n",
            "[deployment]\nstate_prefix = \"datasets/support-bot/state/\"\n",
        ));
        assert!(
            e.contains("routes.support-bot.prefix") && e.contains("state_prefix"),
            "{e}"
        );
        let e = parse_err(&GOOD.replace(
            "tags = {",
            "output_path = \"s3://acme-ml-datasets/datasets/support-bot/out/\"\ntags = {",
        ));
        assert!(e.contains("output_path"), "{e}");
    }

    #[test]
    fn routes_outside_the_forwarded_prefix_are_refused() {
        let env = DeploymentEnv {
            dataset_prefix: Some("incoming/".into()),
            ..Default::default()
        };
        let e = parse(GOOD, &env, None).unwrap_err().to_string();
        assert!(
            e.starts_with("routes.support-bot.prefix:") && e.contains("incoming/"),
            "{e}"
        );
        let env = DeploymentEnv {
            dataset_prefix: Some("datasets/".into()),
            ..Default::default()
        };
        assert!(parse(GOOD, &env, None).is_ok());
    }

    #[test]
    fn nested_routes_are_refused() {
        let e = parse_err(&format!(
            "{GOOD}\n[routes.inner]\nprefix = \"datasets/support-bot/inner/\"\nmodel_id = \"m\"\n"
        ));
        assert!(
            e.contains("routes.inner.prefix") && e.contains("two routes"),
            "{e}"
        );
    }

    #[test]
    fn missing_things_are_named() {
        let e = parse_err("[deployment]\nbucket = \"abc\"\n");
        assert!(e.starts_with("routes:"), "{e}");
        let e = parse_err("[routes.a]\nprefix = \"d/\"\n");
        assert!(e.contains("deployment.bucket"), "{e}");
        let e = parse_err(&GOOD.replace("model_id = \"meta-textgeneration-llama-3-2-1b\"", ""));
        assert!(e.starts_with("routes.support-bot.model_id:"), "{e}");
        assert!(parse_err("[routes.a\n").contains("parse"));
    }

    #[test]
    fn routing_and_own_objects() {
        let c = parse_ok(GOOD);
        let key = |k: &str| S3Uri::new("acme-ml-datasets", k).unwrap();
        assert_eq!(
            c.route_for(&key("datasets/support-bot/x/_SUCCESS"))
                .unwrap()
                .name,
            "support-bot"
        );
        assert!(c.route_for(&key("datasets/other/x/_SUCCESS")).is_none());
        assert!(c.is_own_object(&key("hubtune/state/runs/a.json")));
        assert!(!c.is_own_object(&key("datasets/support-bot/x/_SUCCESS")));
    }

    #[test]
    fn durations() {
        use toml::Value::*;
        assert_eq!(
            parse_duration(&String("45s".into())).unwrap(),
            Duration::from_secs(45)
        );
        assert_eq!(
            parse_duration(&String("2h".into())).unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(
            parse_duration(&Integer(60)).unwrap(),
            Duration::from_secs(60)
        );
        assert!(parse_duration(&Integer(0)).is_err());
        assert!(parse_duration(&String("5y".into())).is_err());
    }
}
