//! The process environment's overrides of the routes file's `[deployment]` table (the Lambda's configuration): read
//! here, at the edge, so that the core never reads the environment.

use crate::domain::config::DeploymentEnv;

/// `HUBTUNE_BUCKET`, `HUBTUNE_DATASET_PREFIX`, `HUBTUNE_STATE_PREFIX`, `HUBTUNE_OUTPUT_PREFIX`, `HUBTUNE_JOB_PREFIX`,
/// `HUBTUNE_EVENT_BUS`, `HUBTUNE_DEPLOYMENT`, `AWS_REGION` (or `AWS_DEFAULT_REGION`), `HUBTUNE_TRAINING_ROLE_ARN`;
/// and the guardrails `HUBTUNE_ALLOWED_INSTANCE_TYPES`, `HUBTUNE_MAX_RUNTIME_CAP_SECONDS`, `HUBTUNE_ALLOWED_TAG_KEYS`
/// (comma-separated), `HUBTUNE_REQUIRE_NETWORK_ISOLATION` (`true`/`false`), `HUBTUNE_REQUIRED_SUBNETS`;
/// `HUBTUNE_DELIVERED_MARKERS` (what the S3 rule delivers: suffixes, or `*`); an empty variable counts as unset.
pub fn deployment_env() -> DeploymentEnv {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    DeploymentEnv {
        bucket: get("HUBTUNE_BUCKET"),
        dataset_prefix: get("HUBTUNE_DATASET_PREFIX"),
        state_prefix: get("HUBTUNE_STATE_PREFIX"),
        output_prefix: get("HUBTUNE_OUTPUT_PREFIX"),
        job_prefix: get("HUBTUNE_JOB_PREFIX"),
        event_bus: get("HUBTUNE_EVENT_BUS"),
        name: get("HUBTUNE_DEPLOYMENT"),
        region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
        training_role_arn: get("HUBTUNE_TRAINING_ROLE_ARN"),
        delivered_markers: get("HUBTUNE_DELIVERED_MARKERS"),
        allowed_instance_types: get("HUBTUNE_ALLOWED_INSTANCE_TYPES"),
        max_runtime_cap_seconds: get("HUBTUNE_MAX_RUNTIME_CAP_SECONDS"),
        allowed_tag_keys: get("HUBTUNE_ALLOWED_TAG_KEYS"),
        require_network_isolation: get("HUBTUNE_REQUIRE_NETWORK_ISOLATION"),
        required_subnets: get("HUBTUNE_REQUIRED_SUBNETS"),
    }
}
