//! The model registry: what publish-artifact sends to CreateModelPackage when a route names a
//! `model_package_group`. Pure: the request, its idempotency token and its customer metadata are decided here;
//! the `ModelRegistry` port sends it.
//!
//! Exactly one version per run: the token is derived from the job name alone, so a request resent after a crash
//! (before the run record kept the package's ARN) is the same request to SageMaker, which answers with the version
//! it already made.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub mod settings;

pub use settings::*;

use crate::domain::hub::Hosting;
use crate::domain::results::FinalMetric;
use crate::domain::run::RunRecord;
use crate::domain::validate::model;
use crate::domain::validate::rules::{check, Violation};

/// CreateModelPackage's input, for the members hubtune sends, with the API's names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateModelPackageRequest {
    pub model_package_group_name: String,
    pub model_package_description: String,
    pub inference_specification: InferenceSpecification,
    pub model_approval_status: ApprovalStatus,
    pub client_token: String,
    pub customer_metadata_properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InferenceSpecification {
    pub containers: Vec<PackageContainer>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PackageContainer {
    pub image: String,
    /// A `.tar.gz` archive (SageMaker's default output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_data_url: Option<String>,
    /// Files under a prefix (a job with output compression off), which `ModelDataUrl` cannot name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_data_source: Option<ModelDataSource>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelDataSource {
    pub s3_data_source: S3ModelDataSource,
}

/// `S3DataType` `S3Prefix`, `CompressionType` `None`: the uncompressed files under `S3Uri` (ending in `/`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3ModelDataSource {
    pub s3_uri: String,
    pub s3_data_type: String,
    pub compression_type: String,
}

/// Where the trained model is: an archive object, or (output compression off) the files under a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelData {
    Archive(String),
    Prefix(String),
}

impl ModelData {
    fn into_fields(self) -> (Option<String>, Option<ModelDataSource>) {
        match self {
            ModelData::Archive(url) => (Some(url), None),
            ModelData::Prefix(uri) => (
                None,
                Some(ModelDataSource {
                    s3_data_source: S3ModelDataSource {
                        s3_uri: uri,
                        s3_data_type: "S3Prefix".into(),
                        compression_type: "None".into(),
                    },
                }),
            ),
        }
    }
}

/// CreateModelPackage's ClientToken: at most 36 characters of `[a-zA-Z0-9-]`. A UUID-shaped digest of the job name,
/// so every attempt for one run sends the same token.
pub fn client_token(job: &str) -> String {
    let digest = Sha256::digest(format!("hubtune-model-package\0{job}").as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// At most 50 entries (the model's `CustomerMetadataMap`).
pub const MAX_METADATA_ENTRIES: usize = 50;
pub const MAX_METADATA_KEY_CHARS: usize = 128;
pub const MAX_METADATA_VALUE_CHARS: usize = 256;

/// A character the model's customer metadata pattern (`[\p{L}\p{Z}\p{N}_.:/=+\-@]`) takes; others become `_`.
fn metadata_char(c: char) -> char {
    if c.is_alphanumeric() || c == ' ' || "_.:/=+-@".contains(c) {
        c
    } else {
        '_'
    }
}

fn metadata_text(s: &str, max: usize) -> String {
    s.chars().map(metadata_char).take(max).collect()
}

/// The run, as customer metadata: dataset, job, hub content ARN, then `metric:<name>` per final metric in the hub
/// document's order, as many as the 50 entries leave room for. An empty value is left out (the model's minimum is 1).
pub fn customer_metadata(r: &RunRecord, metrics: &[FinalMetric]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |k: &str, v: &str| {
        let (k, v) = (
            metadata_text(k, MAX_METADATA_KEY_CHARS),
            metadata_text(v, MAX_METADATA_VALUE_CHARS),
        );
        if !k.is_empty() && !v.is_empty() && out.len() < MAX_METADATA_ENTRIES {
            out.entry(k).or_insert(v);
        }
    };
    put("hubtune:route", &r.route);
    put("hubtune:dataset", &r.dataset_uri);
    put("hubtune:job", r.job_name.as_str());
    put("hubtune:model-id", &r.model_id);
    put(
        "hubtune:hub-content-arn",
        r.hub_content_arn.as_deref().unwrap_or_default(),
    );
    for m in metrics {
        put(&format!("metric:{}", m.name), &m.value.to_string());
    }
    out
}

/// The request that registers a completed run's model: the hosting container of its hub document, the artifact as
/// its model data, the route's approval status.
pub fn create_request(
    reg: &Registry,
    r: &RunRecord,
    hosting: &Hosting,
    model_data: ModelData,
    metrics: &[FinalMetric],
) -> CreateModelPackageRequest {
    let (model_data_url, model_data_source) = model_data.into_fields();
    let description = format!(
        "{} fine-tuned by hubtune on route {} from {}",
        r.model_id, r.route, r.dataset_uri
    );
    CreateModelPackageRequest {
        model_package_group_name: reg.group.clone(),
        model_package_description: description.chars().take(1024).collect(),
        inference_specification: InferenceSpecification {
            containers: vec![PackageContainer {
                image: hosting.image.clone(),
                model_data_url,
                model_data_source,
                environment: hosting.environment.clone(),
            }],
        },
        model_approval_status: reg.approval,
        client_token: client_token(r.job_name.as_str()),
        customer_metadata_properties: customer_metadata(r, metrics),
    }
}

/// Every way AWS's model says CreateModelPackage would refuse this request.
pub fn violations(req: &CreateModelPackageRequest) -> Vec<Violation> {
    check(
        model::CREATE_MODEL_PACKAGE,
        &serde_json::to_value(req).unwrap_or_default(),
    )
}

#[cfg(test)]
mod tests;
