//! What a route puts in every CreateTrainingJob request, checked by the validator's own rules (`validate`) when the
//! routes file is parsed: `hubtune config check`, the launcher and every command refuse what AWS would refuse
//! before any dataset lands, naming the route's key, the request's field, the value and the rule.
//!
//! Only the launch sees the whole request: what the hub document adds (its environment, its hyperparameters, its
//! default instance type) is checked there, by the same rules (`validate::training_job`).

use serde_json::{json, Map, Value};

use crate::domain::config::model::{invalid, ConfigError, Deployment};
use crate::domain::hub::{python_json_string, volume_size_supported};
use crate::domain::naming::JobName;
use crate::domain::plan::{
    TrainingSettings, TAG_DATASET, TAG_DEPLOYMENT, TAG_HUB_CONTENT_ARN, TAG_MODEL_ID,
    TAG_MODEL_VERSION, TAG_ROUTE,
};
use crate::domain::s3uri::S3Uri;
use crate::domain::validate::fields as validate;
use crate::domain::validate::rules::Violation;

/// The tags hubtune adds to every job, first, as the plan puts them: they count toward the limit of 50.
const HUBTUNE_TAGS: [&str; 6] = [
    TAG_MODEL_ID,
    TAG_MODEL_VERSION,
    TAG_HUB_CONTENT_ARN,
    TAG_ROUTE,
    TAG_DATASET,
    TAG_DEPLOYMENT,
];

/// Which routes-file key sets each request field (the first whose field is a prefix of the violation's).
const ROUTE_KEYS: &[(&str, &str)] = &[
    ("RoleArn", "role_arn"),
    ("InputDataConfig", "prefix"),
    ("OutputDataConfig.S3OutputPath", "output_path"),
    ("OutputDataConfig.KmsKeyId", "kms_key_id"),
    ("ResourceConfig.VolumeKmsKeyId", "kms_key_id"),
    ("ResourceConfig.InstanceType", "instance_type"),
    ("ResourceConfig.InstanceCount", "instance_count"),
    ("ResourceConfig.VolumeSizeInGB", "volume_size_gb"),
    (
        "StoppingCondition.MaxRuntimeInSeconds",
        "max_runtime_seconds",
    ),
    (
        "StoppingCondition.MaxWaitTimeInSeconds",
        "spot.max_wait_seconds",
    ),
    ("CheckpointConfig.S3Uri", "spot.checkpoint_path"),
    ("VpcConfig.Subnets", "vpc.subnets"),
    ("VpcConfig.SecurityGroupIds", "vpc.security_group_ids"),
    ("HyperParameters", "hyperparameters"),
    ("Environment", "environment"),
    ("Tags", "tags"),
];

/// The route's part of the request, and the state keys its runs will write: the first violation, as an error
/// naming the route's key.
pub(crate) fn check_route_request(
    name: &str,
    prefix: &S3Uri,
    s: &TrainingSettings,
    dep: &Deployment,
    channels: &[&str],
) -> Result<(), ConfigError> {
    // Every job of a route has a name of the same length (prefix, route slug, hash): any identity measures it.
    let job = JobName::shape_of_route(&dep.job_prefix, name);
    let wire = route_request(job.as_str(), prefix, s);
    if let Some(v) = validate::check_request(&wire).into_iter().next() {
        return Err(invalid(
            format!("routes.{name}.{}", route_key(&v, s)),
            format!("AWS would refuse {v}"),
        ));
    }
    if let Some(v) = validate::route_state_keys(dep, name, job.as_str(), channels)
        .into_iter()
        .next()
    {
        return Err(invalid(
            "deployment.state_prefix",
            format!("S3 would refuse {v}, for route {name}'s jobs"),
        ));
    }
    Ok(())
}

/// The request's fields that the route decides, with the API's names, as the plan fills them.
fn route_request(job: &str, prefix: &S3Uri, s: &TrainingSettings) -> Value {
    let mut resource = Map::new();
    resource.insert("InstanceCount".into(), json!(s.instance_count));
    if let Some(t) = &s.instance_type {
        resource.insert("InstanceType".into(), json!(t));
        // The plan sends the volume key only where the instance takes an EBS volume.
        if let Some(k) = s.kms_key_id.as_ref().filter(|_| volume_size_supported(t)) {
            resource.insert("VolumeKmsKeyId".into(), json!(k));
        }
    }
    if let Some(v) = s.volume_size_gb {
        resource.insert("VolumeSizeInGB".into(), json!(v));
    }
    let mut wire = json!({
        "TrainingJobName": job,
        "RoleArn": s.role_arn,
        // The dataset's URIs all begin with the prefix: what the prefix breaks, every dataset breaks.
        "InputDataConfig": [{"ChannelName": "training",
                             "DataSource": {"S3DataSource": {"S3Uri": prefix.to_string()}}}],
        "OutputDataConfig": {"S3OutputPath": s.output_path.to_string()},
        "ResourceConfig": resource,
        "StoppingCondition": {},
        "HyperParameters": s.hyperparameters.iter()
            .map(|(k, v)| (k.clone(), json!(python_json_string(v))))
            .collect::<Map<_, _>>(),
        "Environment": s.environment,
        "Tags": tags(s),
    });
    if let Some(k) = &s.kms_key_id {
        wire["OutputDataConfig"]["KmsKeyId"] = json!(k);
    }
    if let Some(r) = s.max_runtime_seconds {
        wire["StoppingCondition"]["MaxRuntimeInSeconds"] = json!(r);
    }
    if let Some(spot) = &s.spot {
        wire["StoppingCondition"]["MaxWaitTimeInSeconds"] = json!(spot.max_wait_seconds);
        if let Some(c) = &spot.checkpoint_s3_uri {
            wire["CheckpointConfig"] = json!({ "S3Uri": c.to_string() });
        }
    }
    if let Some(vpc) = &s.vpc {
        wire["VpcConfig"] =
            json!({ "Subnets": vpc.subnets, "SecurityGroupIds": vpc.security_group_ids });
    }
    wire
}

/// hubtune's tags (their values are the dataset's, unknown here: empty, which every rule accepts), then the route's.
fn tags(s: &TrainingSettings) -> Vec<Value> {
    HUBTUNE_TAGS
        .iter()
        .map(|k| json!({"Key": k, "Value": ""}))
        .chain(s.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})))
        .collect()
}

/// The routes-file key a violation is about: `environment.<name>`, `tags.<key>`, `hyperparameters.<name>` for an
/// entry, else the key that sets the field.
fn route_key(v: &Violation, s: &TrainingSettings) -> String {
    let Some((api, key)) = ROUTE_KEYS.iter().find(|(api, _)| v.field.starts_with(api)) else {
        return "training".into();
    };
    let rest = &v.field[api.len()..];
    let entry = match *api {
        "Tags" => rest
            .strip_prefix('[')
            .and_then(|r| r.split(']').next())
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| i.checked_sub(HUBTUNE_TAGS.len()))
            .and_then(|i| s.tags.keys().nth(i).cloned()),
        "Environment" | "HyperParameters" => rest.strip_prefix('.').map(|e| {
            e.strip_prefix("<key ")
                .and_then(|e| e.strip_suffix('>'))
                .unwrap_or(e)
                .to_string()
        }),
        _ => None,
    };
    match entry {
        Some(e) => format!("{key}.{e}"),
        None => key.to_string(),
    }
}
