//! The routes file's shape as written: every key optional, unknown keys refused, `[defaults]` inherited.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::config::model::BusyPolicy;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFile {
    #[serde(default)]
    pub(crate) deployment: RawDeployment,
    #[serde(default)]
    pub(crate) defaults: RawRoute,
    #[serde(default)]
    pub(crate) routes: BTreeMap<String, RawRoute>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDeployment {
    pub(crate) name: Option<String>,
    pub(crate) bucket: Option<String>,
    pub(crate) state_prefix: Option<String>,
    pub(crate) output_prefix: Option<String>,
    pub(crate) job_prefix: Option<String>,
    pub(crate) event_bus: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) training_role_arn: Option<String>,
    pub(crate) allowed_instance_types: Option<Vec<String>>,
    pub(crate) max_runtime_cap_seconds: Option<i64>,
    pub(crate) allowed_tag_keys: Option<Vec<String>>,
    pub(crate) require_network_isolation: Option<bool>,
    pub(crate) required_subnets: Option<Vec<String>>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub(crate) prefix: Option<String>,
    pub(crate) hub: Option<String>,
    pub(crate) model_id: Option<String>,
    pub(crate) model_version: Option<String>,
    pub(crate) accept_eula: Option<bool>,
    pub(crate) instance_type: Option<String>,
    /// Capacity fallback: the instance types to try, in order (instead of `instance_type`).
    pub(crate) instance_types: Option<Vec<String>>,
    pub(crate) instance_count: Option<i64>,
    pub(crate) max_instance_count: Option<i64>,
    pub(crate) volume_size_gb: Option<i64>,
    pub(crate) max_runtime_seconds: Option<i64>,
    pub(crate) max_runtime_cap_seconds: Option<i64>,
    pub(crate) hyperparameters: Option<BTreeMap<String, toml::Value>>,
    pub(crate) output_path: Option<String>,
    pub(crate) role_arn: Option<String>,
    pub(crate) tags: Option<BTreeMap<String, String>>,
    pub(crate) environment: Option<BTreeMap<String, String>>,
    pub(crate) kms_key_id: Option<String>,
    pub(crate) vpc: Option<RawVpc>,
    pub(crate) spot: Option<RawSpot>,
    pub(crate) trigger: Option<String>,
    pub(crate) marker: Option<String>,
    pub(crate) max_concurrent_jobs: Option<i64>,
    pub(crate) busy_policy: Option<BusyPolicy>,
    pub(crate) queue_max_age: Option<toml::Value>,
    pub(crate) max_jobs_per_day: Option<i64>,
    pub(crate) max_training_hours_per_day: Option<toml::Value>,
    pub(crate) min_dataset_bytes: Option<i64>,
    pub(crate) max_dataset_bytes: Option<i64>,
    pub(crate) max_files: Option<i64>,
    pub(crate) allowed_extensions: Option<Vec<String>>,
    pub(crate) hourly_price_usd: Option<f64>,
    pub(crate) model_package_group: Option<String>,
    pub(crate) model_approval_status: Option<String>,
    /// Channel name → dataset subfolder (replaces the default map, not merged with it).
    pub(crate) channels: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVpc {
    pub(crate) subnets: Vec<String>,
    pub(crate) security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSpot {
    pub(crate) max_wait_seconds: i64,
    pub(crate) checkpoint_path: Option<String>,
}

macro_rules! inherit {
    ($route:expr, $defaults:expr, $($field:ident),*) => {
        $( if $route.$field.is_none() { $route.$field = $defaults.$field.clone(); } )*
    };
}

impl RawRoute {
    pub(crate) fn with_defaults(mut self, d: &RawRoute) -> RawRoute {
        inherit!(
            self,
            d,
            prefix,
            hub,
            model_id,
            model_version,
            accept_eula,
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
            max_jobs_per_day,
            max_training_hours_per_day,
            min_dataset_bytes,
            max_dataset_bytes,
            max_files,
            allowed_extensions,
            hourly_price_usd,
            model_package_group,
            model_approval_status,
            channels
        );
        // One choice of instance: a route that names a type (or a list) takes none of the defaults' (inheriting the
        // other key would make it name both).
        if self.instance_type.is_none() && self.instance_types.is_none() {
            self.instance_type = d.instance_type.clone();
            self.instance_types = d.instance_types.clone();
        }
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
