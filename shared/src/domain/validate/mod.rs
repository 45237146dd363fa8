//! Valid before spend: what hubtune sends to AWS, checked against AWS's own service models (`model`, generated from
//! botocore by `scripts/gen-aws-limits`) and the documented limits the models do not carry, before a dataset takes a
//! slot or a manifest is written. A violation names the field, the value and the rule; nothing the API accepts is
//! refused.

pub mod model;
pub mod rules;

use serde_json::{json, Value};

use crate::domain::config::Deployment;
use crate::domain::event_size::{entry_size, MAX_ENTRY_BYTES};
use crate::domain::events::OutgoingEvent;
use crate::domain::hub::has_local_storage;
use crate::domain::plan::CreateTrainingJobRequest;
use crate::domain::s3uri::S3Uri;
use rules::{check, Violation};

/// SageMaker's longest training job: 28 days.
pub const MAX_RUNTIME_SECONDS: i64 = 28 * 24 * 3600;
/// S3's longest object key, in UTF-8 bytes.
pub const MAX_S3_KEY_BYTES: usize = 1024;

/// Where SageMaker writes a job's model: `<output path>/<job>/output/model.tar.gz`.
pub fn artifact_key(output_path: &S3Uri, job: &str) -> String {
    format!("{}{job}/output/model.tar.gz", output_path.as_prefix().key())
}

/// Every way AWS would refuse this CreateTrainingJob request, or the job would fail for a key S3 cannot hold.
pub fn training_job(req: &CreateTrainingJobRequest) -> Vec<Violation> {
    let wire = serde_json::to_value(req).unwrap_or(Value::Null);
    let mut out = check(model::CREATE_TRAINING_JOB, &wire);
    let runtime = req.stopping_condition.max_runtime_in_seconds;
    if i64::from(runtime) > MAX_RUNTIME_SECONDS {
        out.push(violation(
            "StoppingCondition.MaxRuntimeInSeconds",
            &json!(runtime),
            format!("at most {MAX_RUNTIME_SECONDS} (28 days, SageMaker's limit)"),
        ));
    }
    for (i, tag) in req.tags.iter().enumerate() {
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            out.push(violation(
                &format!("Tags[{i}].Key"),
                &json!(tag.key),
                "the prefix aws: is reserved for AWS, in any case".into(),
            ));
        }
    }
    let r = &req.resource_config;
    if let (Some(key), true) = (&r.volume_kms_key_id, has_local_storage(&r.instance_type)) {
        out.push(violation(
            "ResourceConfig.VolumeKmsKeyId",
            &json!(key),
            format!(
                "{} has local storage only: SageMaker refuses a volume KMS key on it",
                r.instance_type
            ),
        ));
    }
    let artifact = artifact_key(
        &req.output_data_config.s3_output_path,
        &req.training_job_name,
    );
    out.extend(s3_key(
        "OutputDataConfig.S3OutputPath (the model's key)",
        &artifact,
    ));
    out
}

/// The keys a run writes under the state prefix (run record, manifest): each within S3's limit.
pub fn state_keys(deployment: &Deployment, job: &str) -> Vec<Violation> {
    let mut out = s3_key(
        "state_prefix (the run record's key)",
        deployment.run_key(job).key(),
    );
    out.extend(s3_key(
        "state_prefix (the manifest's key)",
        deployment.manifest_key(job).key(),
    ));
    out
}

/// A PutEvents entry as hubtune sends it: the model's rules, and EventBridge's 256 KiB entry limit.
pub fn event_entry(bus: &str, e: &OutgoingEvent) -> Vec<Violation> {
    let entry = json!({
        "Source": e.source,
        "DetailType": e.detail_type,
        "Detail": e.detail.to_string(),
        "EventBusName": bus,
        "Resources": e.resources,
    });
    let mut out = check(model::PUT_EVENTS_ENTRY, &entry);
    let size = entry_size(e);
    if size > MAX_ENTRY_BYTES {
        out.push(violation(
            "Entries[0]",
            &json!(format!("{size} bytes")),
            format!("at most {MAX_ENTRY_BYTES} bytes per entry"),
        ));
    }
    out
}

/// The event bus a deployment names, as PutEvents' `EventBusName` takes it.
pub fn event_bus_name(bus: &str) -> Vec<Violation> {
    check(model::PUT_EVENTS_ENTRY, &json!({ "EventBusName": bus }))
}

fn s3_key(field: &str, key: &str) -> Vec<Violation> {
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

fn violation(field: &str, value: &Value, rule: String) -> Violation {
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

#[cfg(test)]
mod tests;
