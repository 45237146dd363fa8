//! The routes file's meaning, validated: the deployment, its routes, and the types that cannot hold bad values.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::naming::JobPrefix;
use crate::domain::plan::TrainingSettings;
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

pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
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
    /// Which subfolder feeds which channel (`training` first).
    pub channels: Vec<crate::domain::channels::ChannelFolder>,
}

/// A route's spend cap per UTC day: jobs launched, and training hours reserved (a job's MaxRuntimeInSeconds times
/// its instance count, charged when it launches). A dataset over either waits in the route's queue for the next day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DailyBudget {
    pub max_jobs_per_day: Option<u32>,
    pub max_training_hours_per_day: Option<f64>,
}

impl DailyBudget {
    /// Whether the route has a cap at all (an uncapped route keeps no day's ledger).
    pub fn is_capped(&self) -> bool {
        self.max_jobs_per_day.is_some() || self.max_training_hours_per_day.is_some()
    }
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
    /// What the route may launch in one UTC day (none: no limit).
    pub budget: DailyBudget,
    pub dataset: DatasetRules,
    pub training: TrainingSettings,
    /// The price of one instance-hour, for the estimated cost in a finished run's results (never a bill).
    pub hourly_price_usd: Option<f64>,
    /// Where publish-artifact registers the run's model as a model package version (`model_package_group`).
    pub registry: Option<crate::domain::registry::settings::Registry>,
    /// The instance types to launch on, in order (`instance_types`, or the one `instance_type`): on a quota or
    /// capacity refusal the next is tried. Empty: the hub document's default type, with no fallback.
    pub instance_types: Vec<String>,
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
    /// What the template's IAM conditions allow a training job (empty: no limit); a route beyond them is refused
    /// when the routes file is read, before any upload or job.
    pub guardrails: Guardrails,
}

/// The deployment's limits on spend and placement, mirrored from the template's CreateTrainingJob conditions
/// (`TrainingInstanceTypes`, `MaxTrainingRuntimeSeconds`, `RouteTagKeys`, `RequireNetworkIsolation`,
/// `TrainingSubnetIds`). Each is unset by default: a routes file without them is checked as before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Guardrails {
    /// Instance types a job may use; empty: any.
    pub allowed_instance_types: Vec<String>,
    pub max_runtime_cap_seconds: Option<u32>,
    /// Tag keys a route may add besides hubtune's own; `None`: any key.
    pub allowed_tag_keys: Option<Vec<String>>,
    /// Jobs must be network isolated: the model reference's recipe decides, so the plan checks it.
    pub require_network_isolation: bool,
    /// Subnets every job must run in (all of a route's subnets must be among them); empty: no VPC required.
    pub required_subnets: Vec<String>,
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

    /// A run's open-run marker: written just before its record is created, deleted once the record is closed
    /// (`RunRecord::is_closed`), so the sweep lists open work only.
    pub fn open_run_key(&self, job: &str) -> S3Uri {
        self.state_key(&format!("open/{job}"))
    }

    /// Every open-run marker (and `open_index_built_key`).
    pub fn open_runs_prefix(&self) -> S3Uri {
        self.state_key("open/")
    }

    /// Written once the sweep has given a marker to every open record written before the index existed. A job name
    /// never holds a `.`, so it is no marker.
    pub fn open_index_built_key(&self) -> S3Uri {
        self.state_key("open/.built")
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

    /// The frozen manifest a job's channel reads: the training channel's is `manifest_key` (where it always was),
    /// another channel's sits beside it as `<job>.<channel>.json`.
    pub fn channel_manifest_key(&self, job: &str, channel: &str) -> S3Uri {
        if channel == crate::domain::channels::TRAINING {
            self.manifest_key(job)
        } else {
            self.state_key(&format!("manifests/{job}.{channel}.json"))
        }
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

    /// The route's `hourly_price_usd`, for a finished run's estimated cost (`None` also for a route since removed).
    pub fn hourly_price(&self, route: &str) -> Option<f64> {
        self.route(route).and_then(|r| r.hourly_price_usd)
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
    /// What the deployment's S3 rule delivers to the launcher (`HUBTUNE_DELIVERED_MARKERS`): key suffixes separated
    /// by commas, or `*` for every object; unset: the template's default (`_SUCCESS`). See `route::check_delivered`.
    pub delivered_markers: Option<String>,
    /// The guardrails (`HUBTUNE_ALLOWED_INSTANCE_TYPES` and the others, see runtime::env), raw text: parsed with
    /// the `[deployment]` table so that a bad value is named like a bad key.
    pub allowed_instance_types: Option<String>,
    pub max_runtime_cap_seconds: Option<String>,
    pub allowed_tag_keys: Option<String>,
    pub require_network_isolation: Option<String>,
    pub required_subnets: Option<String>,
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
