//! The training keys of a hub content document, and what it takes to fine-tune on one instance type
//! (`TrainingRecipe`), variants applied.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::hub::hyperparameters::{HyperparameterScope, HyperparameterSpec};
use crate::domain::hub::instances::{instance_family, sdk_volume_size_gb};
use crate::domain::rejection::{Rejection, RejectionReason};
use crate::domain::s3uri::S3Uri;

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("DescribeHubContent response is not valid JSON of the expected shape: {0}")]
    Response(#[source] serde_json::Error),
    #[error("hub content document of {arn} is not valid at `{path}`: {message}")]
    Document {
        arn: String,
        path: String,
        message: String,
    },
}

/// A document hubtune cannot read is a permanent refusal for that model: no retry will change it.
impl From<HubError> for Rejection {
    fn from(e: HubError) -> Self {
        Rejection::new(RejectionReason::BadHubDocument, e.to_string())
    }
}

/// `{Name, Regex}`: the document's `TrainingMetrics`, and `AlgorithmSpecification.MetricDefinitions` as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDefinition {
    pub name: String,
    pub regex: String,
}

/// `TrainingArtifactCompressionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompressionType {
    None,
    Gzip,
}

/// `TrainingInstanceTypeVariants`: per instance type (`ml.g5.2xlarge`) or family (`g5`) properties.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceTypeVariants {
    #[serde(default, deserialize_with = "null_as_default")]
    pub variants: BTreeMap<String, InstanceTypeVariant>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InstanceTypeVariant {
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: VariantProperties,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VariantProperties {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_artifact_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gated_model_env_var_uri: Option<String>,
    #[serde(
        default,
        deserialize_with = "string_map",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub environment_variables: BTreeMap<String, String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub hyperparameters: Vec<HyperparameterSpec>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub metrics: Vec<MetricDefinition>,
}

/// The training keys of a hub content document (the reference's section 2). Every other key is left out.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HubDocument {
    #[serde(default, deserialize_with = "null_as_default")]
    pub training_supported: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_ecr_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_instance_type_variants: Option<InstanceTypeVariants>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_artifact_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_artifact_compression_type: Option<CompressionType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_prepacked_script_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training_script_uri: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub hyperparameters: Vec<HyperparameterSpec>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub training_metrics: Vec<MetricDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_training_instance_type: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub supported_training_instance_types: Vec<String>,
    #[serde(
        default,
        deserialize_with = "lenient_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub training_volume_size: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub training_enable_network_isolation: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_training_dataset_uri: Option<String>,
    /// Whether the model's training script reads a `validation` channel; absent: the document does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_supported: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub gated_bucket: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_eula_uri: Option<String>,
    #[serde(
        default,
        deserialize_with = "lenient_u32",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_runtime_in_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt_inter_container_traffic: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disable_output_compression: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_name_base: Option<String>,
    /// The hosting keys a registered model package is built from (`hosting::Hosting`).
    #[serde(flatten)]
    pub hosting: crate::domain::hub::hosting::HostingKeys,
}

/// Where the base weights are: a full URI, or (as the SDK expects of a variant) a key in the region's JumpStart
/// bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelArtifact {
    Uri(S3Uri),
    /// Resolved against `jumpstart-private-cache-prod-{region}` for a `GatedBucket` model, else
    /// `jumpstart-cache-prod-{region}`, exactly as the SDK's `model_uris.retrieve` does.
    JumpStartKey {
        key: String,
        gated_bucket: bool,
    },
}

impl ModelArtifact {
    pub fn uri(&self, region: &str) -> Result<S3Uri, Rejection> {
        match self {
            ModelArtifact::Uri(u) => Ok(u.clone()),
            ModelArtifact::JumpStartKey { key, gated_bucket } => {
                let bucket = if *gated_bucket {
                    format!("jumpstart-private-cache-prod-{region}")
                } else {
                    format!("jumpstart-cache-prod-{region}")
                };
                S3Uri::new(bucket, key.trim_start_matches('/')).map_err(|e| {
                    Rejection::new(
                        RejectionReason::ModelNotTrainable,
                        format!("the model artifact: {e}"),
                    )
                })
            }
        }
    }
}

/// Everything the document says about fine-tuning on one instance type, variants applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingRecipe {
    pub instance_type: String,
    /// The variant's `ImageUri`, else `TrainingEcrUri`.
    pub image_uri: String,
    /// The `model` channel.
    pub model_artifact: ModelArtifact,
    pub artifact_compression: Option<CompressionType>,
    /// What the SDK puts in `SageMakerGatedModelS3Uri` when the EULA is not accepted (hubtune never sends it).
    pub gated_model_env_var_uri: Option<String>,
    pub environment: BTreeMap<String, String>,
    /// Document `algorithm` specs, then the variant's (replacing by name, or added).
    pub hyperparameters: Vec<HyperparameterSpec>,
    pub metric_definitions: Vec<MetricDefinition>,
    /// `TrainingPrepackedScriptUri`, else `TrainingScriptUri`: the `sourcedir.tar.gz` tarball.
    pub code_uri: S3Uri,
    pub network_isolation: bool,
    /// The SDK's rule: `TrainingVolumeSize`, or 30 GB on instances with local NVMe storage and g5/g6/p5/trn1.
    pub volume_size_gb: u32,
    pub max_runtime_seconds: Option<u32>,
    pub default_training_dataset_uri: Option<String>,
    /// Needs the EULA accepted: `GatedBucket` is true or `HostingEulaUri` is set.
    pub gated: bool,
    pub eula_uri: Option<String>,
}

impl TrainingRecipe {
    pub fn hyperparameter(&self, name: &str) -> Option<&HyperparameterSpec> {
        self.hyperparameters.iter().find(|h| h.name == name)
    }
}

impl HubDocument {
    /// Parse a `HubContentDocument` string. Errors name the JSON path of the offending key.
    pub fn from_json(json: &str) -> Result<HubDocument, HubError> {
        let de = &mut serde_json::Deserializer::from_str(json);
        serde_path_to_error::deserialize(de).map_err(|e| HubError::Document {
            arn: String::new(),
            path: e.path().to_string(),
            message: e.into_inner().to_string(),
        })
    }

    pub fn is_gated(&self) -> bool {
        self.gated_bucket || self.hosting_eula_uri.is_some()
    }

    /// The recipe for one instance type.
    pub fn recipe(&self, instance_type: &str) -> Result<TrainingRecipe, Rejection> {
        self.check_trainable_on(instance_type)?;
        let missing = |key: &str| {
            Rejection::new(RejectionReason::ModelNotTrainable,
                format!("the hub content document has no {key} for {instance_type}: the model cannot be fine-tuned"),
            )
        };
        let v = VariantLookup::new(self.training_instance_type_variants.as_ref(), instance_type);
        let image_uri = v
            .property(|p| p.image_uri.as_deref())
            .or(self.training_ecr_uri.as_deref().filter(|s| !s.is_empty()))
            .ok_or_else(|| missing("training image (variant ImageUri or TrainingEcrUri)"))?
            .to_string();
        let artifact = v
            .property(|p| p.training_artifact_uri.as_deref())
            .or(self
                .training_artifact_uri
                .as_deref()
                .filter(|s| !s.is_empty()))
            .ok_or_else(|| missing("TrainingArtifactUri"))?;
        let code = self
            .training_prepacked_script_uri
            .as_deref()
            .filter(|s| !s.is_empty())
            .or(self
                .training_script_uri
                .as_deref()
                .filter(|s| !s.is_empty()))
            .ok_or_else(|| {
                missing("training script (TrainingPrepackedScriptUri or TrainingScriptUri)")
            })?;
        let code_uri: S3Uri = code.parse().map_err(|e| {
            Rejection::new(
                RejectionReason::ModelNotTrainable,
                format!("training script: {e}"),
            )
        })?;
        Ok(TrainingRecipe {
            instance_type: instance_type.to_string(),
            image_uri,
            model_artifact: self.model_artifact(artifact)?,
            artifact_compression: self.training_artifact_compression_type,
            gated_model_env_var_uri: v
                .property(|p| p.gated_model_env_var_uri.as_deref())
                .map(str::to_string),
            environment: v.environment(),
            hyperparameters: self.hyperparameters_with(&v),
            metric_definitions: self.metrics_with(&v),
            code_uri,
            network_isolation: self.training_enable_network_isolation,
            volume_size_gb: sdk_volume_size_gb(instance_type, self.training_volume_size),
            max_runtime_seconds: self.max_runtime_in_seconds,
            default_training_dataset_uri: self.default_training_dataset_uri.clone(),
            gated: self.is_gated(),
            eula_uri: self.hosting_eula_uri.clone(),
        })
    }

    /// Whether the document says the model takes this input channel: `Some(false)` only where it says so
    /// (`ValidationSupported: false` for `validation`); `None` where it says nothing, and hubtune accepts.
    pub fn supports_channel(&self, channel: &str) -> Option<bool> {
        match channel {
            crate::domain::channels::TRAINING => Some(self.training_supported),
            crate::domain::channels::VALIDATION => self.validation_supported,
            _ => None,
        }
    }

    /// Training is supported, and on this instance type.
    fn check_trainable_on(&self, instance_type: &str) -> Result<(), Rejection> {
        if !self.training_supported {
            return Err(Rejection::new(RejectionReason::ModelNotTrainable,
                "the hub content document says TrainingSupported is false: this model cannot be fine-tuned",
            ));
        }
        let supported = &self.supported_training_instance_types;
        if !supported.is_empty() && !supported.iter().any(|t| t == instance_type) {
            return Err(Rejection::new(
                RejectionReason::InstanceTypeNotSupported,
                format!(
                    "{instance_type} is not one of the model's training instance types: {}",
                    supported.join(", ")
                ),
            ));
        }
        Ok(())
    }

    /// A full URI, or (as the SDK expects of a variant) a key in the region's JumpStart bucket.
    fn model_artifact(&self, artifact: &str) -> Result<ModelArtifact, Rejection> {
        if !artifact.starts_with("s3://") {
            return Ok(ModelArtifact::JumpStartKey {
                key: artifact.to_string(),
                gated_bucket: self.gated_bucket,
            });
        }
        let uri = artifact.parse().map_err(|e| {
            Rejection::new(
                RejectionReason::ModelNotTrainable,
                format!("TrainingArtifactUri: {e}"),
            )
        })?;
        Ok(ModelArtifact::Uri(uri))
    }

    /// Document algorithm specs, then the variant's replacing by name (the SDK sends every variant spec).
    fn hyperparameters_with(&self, v: &VariantLookup) -> Vec<HyperparameterSpec> {
        let mut specs: Vec<HyperparameterSpec> = self
            .hyperparameters
            .iter()
            .filter(|h| h.scope == HyperparameterScope::Algorithm)
            .cloned()
            .collect();
        for spec in v.hyperparameters() {
            match specs.iter_mut().find(|h| h.name == spec.name) {
                Some(existing) => *existing = spec,
                None => specs.push(spec),
            }
        }
        specs
    }

    /// As the SDK: a variant metric replaces the document's of the same name and goes to the end.
    fn metrics_with(&self, v: &VariantLookup) -> Vec<MetricDefinition> {
        let mut metrics = self.training_metrics.clone();
        for m in v.metrics() {
            metrics.retain(|d| d.name != m.name);
            metrics.push(m);
        }
        metrics
    }
}

/// The exact-type variant and the family variant of one instance type, merged property by property as the SDK
/// does (exact first).
struct VariantLookup<'a> {
    exact: Option<&'a VariantProperties>,
    family: Option<&'a VariantProperties>,
}

impl<'a> VariantLookup<'a> {
    fn new(variants: Option<&'a InstanceTypeVariants>, instance_type: &str) -> Self {
        let get = |k: &str| {
            variants
                .and_then(|v| v.variants.get(k))
                .map(|v| &v.properties)
        };
        Self {
            exact: get(instance_type),
            family: instance_family(instance_type).and_then(get),
        }
    }

    fn property(&self, f: impl Fn(&'a VariantProperties) -> Option<&'a str>) -> Option<&'a str> {
        self.exact
            .and_then(&f)
            .filter(|s| !s.is_empty())
            .or_else(|| self.family.and_then(&f).filter(|s| !s.is_empty()))
    }

    fn hyperparameters(&self) -> Vec<HyperparameterSpec> {
        let mut out: Vec<HyperparameterSpec> = self
            .exact
            .map(|p| p.hyperparameters.clone())
            .unwrap_or_default();
        for h in self
            .family
            .map(|p| p.hyperparameters.as_slice())
            .unwrap_or_default()
        {
            if !out.iter().any(|o| o.name == h.name) {
                out.push(h.clone());
            }
        }
        out
    }

    fn metrics(&self) -> Vec<MetricDefinition> {
        let mut out: Vec<MetricDefinition> =
            self.exact.map(|p| p.metrics.clone()).unwrap_or_default();
        for m in self
            .family
            .map(|p| p.metrics.as_slice())
            .unwrap_or_default()
        {
            if !out.iter().any(|o| o.name == m.name) {
                out.push(m.clone());
            }
        }
        out
    }

    fn environment(&self) -> BTreeMap<String, String> {
        let mut env = self
            .family
            .map(|p| p.environment_variables.clone())
            .unwrap_or_default();
        if let Some(p) = self.exact {
            env.extend(p.environment_variables.clone());
        }
        env
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A count given as a number or a numeric string (documents are hand-edited JSON).
fn lenient_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Value>::deserialize(d)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| D::Error::custom(format!("{n} is not a positive whole number"))),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| D::Error::custom(format!("`{s}` is not a positive whole number"))),
        Some(other) => Err(D::Error::custom(format!(
            "{other} is not a positive whole number"
        ))),
    }
}

/// Environment values are strings for the API; a number or boolean in a document becomes its text.
fn string_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let v = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, v)
        })
        .collect())
}
