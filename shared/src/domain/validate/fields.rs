//! The checks the routes file's parser shares with the launch: the CreateTrainingJob request (whole or in part),
//! the keys a run writes, the event bus's name. This module names no event type, so `config` can use it without
//! an import circle (`validate` itself checks PutEvents entries, which name the run).

use serde_json::{json, Value};

// `config::model`, not `config`: config's parser checks routes with this module.
use crate::domain::config::model::Deployment;
use crate::domain::hub::has_local_storage;
use crate::domain::plan::CreateTrainingJobRequest;
use crate::domain::s3uri::S3Uri;
use crate::domain::validate::model;
use crate::domain::validate::rules::{check, Violation};

/// SageMaker's longest training job: 28 days.
pub const MAX_RUNTIME_SECONDS: i64 = 28 * 24 * 3600;
/// S3's longest object key, in UTF-8 bytes.
pub const MAX_S3_KEY_BYTES: usize = 1024;

/// Where SageMaker writes a job's model: `<output path>/<job>/output/model.tar.gz`.
pub fn artifact_key(output_path: &S3Uri, job: &str) -> String {
    format!("{}{job}/output/model.tar.gz", output_path.as_prefix().key())
}

/// Where publish-artifact writes the job's manifest, beside the model: `<output path>/<job>/hubtune-manifest.json`
/// (one byte longer than the model's key).
pub fn artifact_manifest_key(output_path: &S3Uri, job: &str) -> String {
    format!(
        "{}{job}/hubtune-manifest.json",
        output_path.as_prefix().key()
    )
}

/// Every way AWS would refuse this CreateTrainingJob request, or the job would fail for a key S3 cannot hold.
pub fn training_job(req: &CreateTrainingJobRequest) -> Vec<Violation> {
    check_request(&serde_json::to_value(req).unwrap_or(Value::Null))
}

/// Every way AWS would refuse a CreateTrainingJob request given as JSON with the API's field names, whole (a
/// planned request) or in part (what one route decides, checked by `config` before any dataset lands): the
/// model's rules, then the limits the model does not carry, each checked when its fields are present.
pub fn check_request(wire: &Value) -> Vec<Violation> {
    let mut out = check(model::CREATE_TRAINING_JOB, wire);
    let runtime = &wire["StoppingCondition"]["MaxRuntimeInSeconds"];
    if runtime.as_i64().is_some_and(|r| r > MAX_RUNTIME_SECONDS) {
        out.push(violation(
            "StoppingCondition.MaxRuntimeInSeconds",
            runtime,
            format!("at most {MAX_RUNTIME_SECONDS} (28 days, SageMaker's limit)"),
        ));
    }
    let tags = wire["Tags"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, key) in tags.iter().enumerate().map(|(i, t)| (i, &t["Key"])) {
        if key
            .as_str()
            .is_some_and(|k| k.to_ascii_lowercase().starts_with("aws:"))
        {
            out.push(violation(
                &format!("Tags[{i}].Key"),
                key,
                "the prefix aws: is reserved for AWS, in any case".into(),
            ));
        }
    }
    let r = &wire["ResourceConfig"];
    if let (Some(key), Some(t)) = (r.get("VolumeKmsKeyId"), r["InstanceType"].as_str()) {
        if has_local_storage(t) {
            out.push(violation(
                "ResourceConfig.VolumeKmsKeyId",
                key,
                format!("{t} has local storage only: SageMaker refuses a volume KMS key on it"),
            ));
        }
    }
    out.extend(model_keys(wire));
    out
}

/// The keys written under the output path for the job (the model, and hubtune's manifest beside it): each within
/// S3's limit, or the job would train and then fail to save.
fn model_keys(wire: &Value) -> Vec<Violation> {
    let output = wire["OutputDataConfig"]["S3OutputPath"].as_str();
    let (Some(output), Some(job)) = (output, wire["TrainingJobName"].as_str()) else {
        return Vec::new();
    };
    let Ok(output) = output.parse::<S3Uri>() else {
        return Vec::new();
    };
    let mut out = s3_key(
        "OutputDataConfig.S3OutputPath (the model's key)",
        &artifact_key(&output, job),
    );
    out.extend(s3_key(
        "OutputDataConfig.S3OutputPath (hubtune's manifest beside the model)",
        &artifact_manifest_key(&output, job),
    ));
    out
}

/// The keys a run writes under the state prefix (run record, the manifest of each of its `channels`): each within
/// S3's limit.
pub fn state_keys(deployment: &Deployment, job: &str, channels: &[&str]) -> Vec<Violation> {
    let mut out = s3_key(
        "state_prefix (the run record's key)",
        deployment.run_key(job).key(),
    );
    out.extend(s3_key(
        "state_prefix (the manifest's key)",
        deployment.manifest_key(job).key(),
    ));
    for channel in channels {
        out.extend(s3_key(
            &format!("state_prefix (the {channel} channel's manifest key)"),
            deployment.channel_manifest_key(job, channel).key(),
        ));
    }
    out
}

/// The keys of one route's state: its runs' (as `state_keys`, for a job name of the route's length) and its slots
/// object.
pub fn route_state_keys(
    deployment: &Deployment,
    route: &str,
    job: &str,
    channels: &[&str],
) -> Vec<Violation> {
    let mut out = state_keys(deployment, job, channels);
    out.extend(s3_key(
        "state_prefix (the route's slots key)",
        deployment.slots_key(route).key(),
    ));
    out
}

/// The event bus a deployment names, as PutEvents' `EventBusName` takes it.
pub fn event_bus_name(bus: &str) -> Vec<Violation> {
    check(model::PUT_EVENTS_ENTRY, &json!({ "EventBusName": bus }))
}

pub(crate) fn s3_key(field: &str, key: &str) -> Vec<Violation> {
    if key.len() <= MAX_S3_KEY_BYTES {
        return Vec::new();
    }
    vec![violation(
        field,
        &json!(key),
        format!(
            "S3 keys are at most {MAX_S3_KEY_BYTES} bytes (UTF-8), this one would be {}",
            key.len()
        ),
    )]
}

pub(crate) fn violation(field: &str, value: &Value, rule: String) -> Violation {
    let value = value.to_string();
    Violation {
        field: field.to_string(),
        value: if value.chars().count() > 120 {
            format!("{}…", value.chars().take(120).collect::<String>())
        } else {
            value
        },
        rule,
    }
}
