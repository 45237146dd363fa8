//! A private hub's model reference, as DescribeHubContent returns it, and what it takes to fine-tune it on one
//! instance type (`TrainingRecipe`). Pure: the AWS adapter fills `DescribeHubContentResponse` and nothing here does
//! I/O.
//!
//! The rules are those of the SageMaker Python SDK 2.245's hub path (the reference implementation a user would
//! otherwise reach for), read from its source, with its known faults on this path fixed rather than copied:
//! - variants are looked up by the instance type as written (`ml.g4dn.12xlarge`, `g4dn`); the SDK renames keys with
//!   a letter after a digit (`g4dn` -> `g4_dn`), so it never finds them;
//! - a variant `TrainingArtifactUri` may be a full `s3://` URI (the SDK raises `UnboundLocalError` on it) or, as
//!   the SDK expects, a key in the region's JumpStart bucket;
//! - variant `EnvironmentVariables` keep their names (the SDK turns `NCCL_P2P_DISABLE` into
//!   `n_c_c_l_p2_p_d_i_s_a_b_l_e`).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::rejection::{Rejection, RejectionReason};
use crate::domain::s3uri::S3Uri;

/// The public hub every reference points into.
pub const PUBLIC_HUB_NAME: &str = "SageMakerPublicHub";

/// The EBS volume the SDK's Estimator asks for when the document's `TrainingVolumeSize` does not apply.
pub const SDK_DEFAULT_VOLUME_SIZE_GB: u32 = 30;

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

/// `ModelReference` (a pointer into the public hub) or `Model` (a model imported straight into the hub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HubContentType {
    ModelReference,
    Model,
}

impl HubContentType {
    pub fn as_str(&self) -> &'static str {
        match self {
            HubContentType::ModelReference => "ModelReference",
            HubContentType::Model => "Model",
        }
    }
}

impl fmt::Display for HubContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// DescribeHubContent's output as the API names it (what `aws sagemaker describe-hub-content` prints), reduced to
/// what hubtune reads. The document is still the JSON *string* the API returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeHubContentResponse {
    pub hub_content_name: String,
    pub hub_content_arn: String,
    pub hub_content_version: String,
    pub hub_content_type: HubContentType,
    pub hub_name: String,
    pub hub_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sage_maker_public_hub_content_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_min_version: Option<String>,
    pub hub_content_document: String,
}

/// A described hub content with its document parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct HubContent {
    pub hub_content_name: String,
    /// Versioned: `arn:aws:sagemaker:{region}:{account}:hub-content/{hub}/{type}/{name}/{version}`.
    pub hub_content_arn: String,
    pub hub_content_version: String,
    pub hub_content_type: HubContentType,
    pub hub_name: String,
    pub hub_arn: String,
    pub sagemaker_public_hub_content_arn: Option<String>,
    pub reference_min_version: Option<String>,
    pub document: HubDocument,
}

impl HubContent {
    /// From the JSON the CLI prints (or a fixture).
    pub fn from_describe_json(json: &str) -> Result<HubContent, HubError> {
        let response: DescribeHubContentResponse =
            serde_json::from_str(json).map_err(HubError::Response)?;
        HubContent::from_response(response)
    }

    /// From the API's fields, the document still a string (the AWS adapter fills the response from the SDK).
    pub fn from_response(r: DescribeHubContentResponse) -> Result<HubContent, HubError> {
        let document = HubDocument::from_json(&r.hub_content_document).map_err(|e| match e {
            HubError::Document { path, message, .. } => HubError::Document {
                arn: r.hub_content_arn.clone(),
                path,
                message,
            },
            other => other,
        })?;
        Ok(HubContent {
            hub_content_name: r.hub_content_name,
            hub_content_arn: r.hub_content_arn,
            hub_content_version: r.hub_content_version,
            hub_content_type: r.hub_content_type,
            hub_name: r.hub_name,
            hub_arn: r.hub_arn,
            sagemaker_public_hub_content_arn: r.sage_maker_public_hub_content_arn,
            reference_min_version: r.reference_min_version,
            document,
        })
    }

    /// The JumpStart model id: the public model a reference points to (its name may be an alias), else the name.
    pub fn public_model_id(&self) -> &str {
        self.sagemaker_public_hub_content_arn
            .as_deref()
            .and_then(|arn| parse_hub_content_arn(arn).map(|p| p.name))
            .unwrap_or(&self.hub_content_name)
    }

    pub fn is_reference(&self) -> bool {
        self.hub_content_type == HubContentType::ModelReference
    }
}

/// Hyperparameter value types of a JumpStart document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HyperparameterType {
    Int,
    Float,
    Text,
    Bool,
    /// A type this version does not know: values pass unchecked, as the SDK lets them.
    #[serde(other)]
    Unknown,
}

impl fmt::Display for HyperparameterType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HyperparameterType::Int => "int",
            HyperparameterType::Float => "float",
            HyperparameterType::Text => "text",
            HyperparameterType::Bool => "bool",
            HyperparameterType::Unknown => "unknown",
        })
    }
}

/// `algorithm` hyperparameters are the model's knobs (sent); `container` ones are the SDK's plumbing (not sent).
/// Variant-level specs say `hyper`, which the SDK applies whatever it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HyperparameterScope {
    Algorithm,
    Container,
    #[serde(other)]
    Other,
}

/// One hyperparameter spec. The document spells the keys `Name`, `Type`…; instance variants spell them `name`,
/// `type`…: both are read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HyperparameterSpec {
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    #[serde(rename = "Type", alias = "type")]
    pub kind: HyperparameterType,
    #[serde(rename = "Default", alias = "default", default)]
    pub default: serde_json::Value,
    #[serde(rename = "Scope", alias = "scope", default = "default_scope")]
    pub scope: HyperparameterScope,
    #[serde(
        rename = "Options",
        alias = "options",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub options: Option<Vec<serde_json::Value>>,
    #[serde(
        rename = "Min",
        alias = "min",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub min: Option<f64>,
    #[serde(
        rename = "Max",
        alias = "max",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max: Option<f64>,
    #[serde(
        rename = "ExclusiveMin",
        alias = "exclusive_min",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exclusive_min: Option<f64>,
    #[serde(
        rename = "ExclusiveMax",
        alias = "exclusive_max",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exclusive_max: Option<f64>,
}

fn default_scope() -> HyperparameterScope {
    HyperparameterScope::Algorithm
}

impl HyperparameterSpec {
    /// The default as the SDK stringifies it (Python's `str()`): `1`, `0.0001`, `1e-08`, `True`.
    pub fn default_string(&self) -> String {
        python_str(&self.default)
    }

    /// Checks a route's value the way the SDK's `validate_hyperparameters` does. `Err` says which rule failed.
    pub fn check(&self, value: &str) -> Result<(), String> {
        match self.kind {
            HyperparameterType::Bool => {
                if !value.eq_ignore_ascii_case("true") && !value.eq_ignore_ascii_case("false") {
                    return Err("must be a boolean (`True` or `False`)".into());
                }
            }
            HyperparameterType::Text => {
                if let Some(options) = &self.options {
                    let options: Vec<String> = options.iter().map(python_str).collect();
                    if !options.iter().any(|o| o == value) {
                        return Err(format!("must be one of: {}", options.join(", ")));
                    }
                }
                // Text bounds are on the length, as in the SDK.
                let len = value.chars().count() as f64;
                check_bounds(len, self, "its length")?;
            }
            HyperparameterType::Int | HyperparameterType::Float => {
                let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
                if self.kind == HyperparameterType::Int
                    && (digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()))
                {
                    return Err("must be an integer".into());
                }
                let n: f64 = value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n: &f64| n.is_finite())
                    .ok_or_else(|| "must be a finite number".to_string())?;
                check_bounds(n, self, "it")?;
            }
            HyperparameterType::Unknown => {}
        }
        Ok(())
    }

    /// The rules, for messages: `int, 1 <= x <= 1000`.
    pub fn describe_rule(&self) -> String {
        let mut parts = vec![self.kind.to_string()];
        if let Some(o) = &self.options {
            parts.push(format!(
                "one of {}",
                o.iter().map(python_str).collect::<Vec<_>>().join("/")
            ));
        }
        let what = if self.kind == HyperparameterType::Text {
            "length"
        } else {
            "value"
        };
        if let Some(m) = self.min {
            parts.push(format!("{what} >= {}", python_float(m)));
        }
        if let Some(m) = self.exclusive_min {
            parts.push(format!("{what} > {}", python_float(m)));
        }
        if let Some(m) = self.max {
            parts.push(format!("{what} <= {}", python_float(m)));
        }
        if let Some(m) = self.exclusive_max {
            parts.push(format!("{what} < {}", python_float(m)));
        }
        parts.join(", ")
    }
}

fn check_bounds(n: f64, spec: &HyperparameterSpec, what: &str) -> Result<(), String> {
    if let Some(min) = spec.min.filter(|m| n < *m) {
        return Err(format!("{what} must be at least {}", python_float(min)));
    }
    if let Some(max) = spec.max.filter(|m| n > *m) {
        return Err(format!("{what} must be at most {}", python_float(max)));
    }
    if let Some(min) = spec.exclusive_min.filter(|m| n <= *m) {
        return Err(format!("{what} must be greater than {}", python_float(min)));
    }
    if let Some(max) = spec.exclusive_max.filter(|m| n >= *m) {
        return Err(format!("{what} must be less than {}", python_float(max)));
    }
    Ok(())
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
        if !self.training_supported {
            return Err(Rejection::new(RejectionReason::ModelNotTrainable,
                "the hub content document says TrainingSupported is false: this model cannot be fine-tuned",
            ));
        }
        if !self.supported_training_instance_types.is_empty()
            && !self
                .supported_training_instance_types
                .iter()
                .any(|t| t == instance_type)
        {
            return Err(Rejection::new(
                RejectionReason::InstanceTypeNotSupported,
                format!(
                    "{instance_type} is not one of the model's training instance types: {}",
                    self.supported_training_instance_types.join(", ")
                ),
            ));
        }
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
        let model_artifact = if artifact.starts_with("s3://") {
            ModelArtifact::Uri(artifact.parse().map_err(|e| {
                Rejection::new(
                    RejectionReason::ModelNotTrainable,
                    format!("TrainingArtifactUri: {e}"),
                )
            })?)
        } else {
            ModelArtifact::JumpStartKey {
                key: artifact.to_string(),
                gated_bucket: self.gated_bucket,
            }
        };

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

        // Document algorithm specs, then the variant's replacing by name (the SDK sends every variant spec).
        let mut hyperparameters: Vec<HyperparameterSpec> = self
            .hyperparameters
            .iter()
            .filter(|h| h.scope == HyperparameterScope::Algorithm)
            .cloned()
            .collect();
        for spec in v.hyperparameters() {
            match hyperparameters.iter_mut().find(|h| h.name == spec.name) {
                Some(existing) => *existing = spec,
                None => hyperparameters.push(spec),
            }
        }

        // As the SDK: a variant metric replaces the document's of the same name and goes to the end.
        let mut metric_definitions = self.training_metrics.clone();
        for m in v.metrics() {
            metric_definitions.retain(|d| d.name != m.name);
            metric_definitions.push(m);
        }

        Ok(TrainingRecipe {
            instance_type: instance_type.to_string(),
            image_uri,
            model_artifact,
            artifact_compression: self.training_artifact_compression_type,
            gated_model_env_var_uri: v
                .property(|p| p.gated_model_env_var_uri.as_deref())
                .map(str::to_string),
            environment: v.environment(),
            hyperparameters,
            metric_definitions,
            code_uri,
            network_isolation: self.training_enable_network_isolation,
            volume_size_gb: sdk_volume_size_gb(instance_type, self.training_volume_size),
            max_runtime_seconds: self.max_runtime_in_seconds,
            default_training_dataset_uri: self.default_training_dataset_uri.clone(),
            gated: self.is_gated(),
            eula_uri: self.hosting_eula_uri.clone(),
        })
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

/// `ml.g5.2xlarge` -> `g5` (the SDK's `^ml[._]([a-z\d]+)\.?\w*$`).
pub fn instance_family(instance_type: &str) -> Option<&str> {
    let rest = instance_type
        .strip_prefix("ml.")
        .or_else(|| instance_type.strip_prefix("ml_"))?;
    let (family, size) = rest.split_once('.').unwrap_or((rest, ""));
    let ok = !family.is_empty()
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && size.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    ok.then_some(family)
}

/// Whether the instance takes an EBS volume: not on families with local NVMe storage (a `d` in the name: g4dn,
/// p4d, c5d) nor on g5/g6/p5/trn1 (and their `e`/`n` variants). The SDK's `volume_size_supported`; SageMaker also
/// refuses a `VolumeKmsKeyId` on these.
pub fn volume_size_supported(instance_type: &str) -> bool {
    if instance_type.starts_with("local") {
        return false;
    }
    let rest = instance_type.strip_prefix("ml.").unwrap_or(instance_type);
    let family = rest.split('.').next().unwrap_or(rest);
    !family.contains('d')
        && !["g5", "g6", "p5", "trn1"]
            .iter()
            .any(|p| family.starts_with(p))
}

/// `VolumeSizeInGB` as the SDK chooses it.
pub fn sdk_volume_size_gb(instance_type: &str, document_size: Option<u32>) -> u32 {
    match document_size {
        Some(size) if volume_size_supported(instance_type) => size,
        _ => SDK_DEFAULT_VOLUME_SIZE_GB,
    }
}

/// `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The parts of a hub ARN: `arn:{partition}:sagemaker:{region}:{account}:hub/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubArnParts<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub hub_name: &'a str,
}

pub fn parse_hub_arn(arn: &str) -> Option<HubArnParts<'_>> {
    let mut it = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(partition),
        Some("sagemaker"),
        Some(region),
        Some(account),
        Some(resource),
    ) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    )
    else {
        return None;
    };
    let hub_name = resource.strip_prefix("hub/")?;
    (!hub_name.is_empty() && !hub_name.contains('/')).then_some(HubArnParts {
        partition,
        region,
        account,
        hub_name,
    })
}

/// The parts of a hub-content ARN: `…:hub-content/{hub}/{type}/{name}[/{version}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubContentArnParts<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub hub_name: &'a str,
    pub content_type: &'a str,
    pub name: &'a str,
    pub version: Option<&'a str>,
}

pub fn parse_hub_content_arn(arn: &str) -> Option<HubContentArnParts<'_>> {
    let mut it = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(partition),
        Some("sagemaker"),
        Some(region),
        Some(account),
        Some(resource),
    ) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    )
    else {
        return None;
    };
    let mut seg = resource.strip_prefix("hub-content/")?.split('/');
    let (Some(hub_name), Some(content_type), Some(name)) = (seg.next(), seg.next(), seg.next())
    else {
        return None;
    };
    let version = seg.next();
    if seg.next().is_some() || name.is_empty() {
        return None;
    }
    Some(HubContentArnParts {
        partition,
        region,
        account,
        hub_name,
        content_type,
        name,
        version,
    })
}

/// The hub's ARN from its name (in this region and account), or the ARN itself when given one.
pub fn hub_arn(region: &str, account: &str, name_or_arn: &str) -> String {
    if parse_hub_arn(name_or_arn).is_some() {
        return name_or_arn.to_string();
    }
    format!(
        "arn:{}:sagemaker:{region}:{account}:hub/{name_or_arn}",
        partition(region)
    )
}

/// The hub name, from a name or a hub ARN.
pub fn hub_name(name_or_arn: &str) -> &str {
    parse_hub_arn(name_or_arn)
        .map(|p| p.hub_name)
        .unwrap_or(name_or_arn)
}

/// A hub content ARN. With `version: None` it is the unversioned form IAM policies use.
pub fn hub_content_arn(
    region: &str,
    account: &str,
    hub_name_or_arn: &str,
    content_type: HubContentType,
    name: &str,
    version: Option<&str>,
) -> String {
    let hub = hub_arn(region, account, hub_name_or_arn);
    let p = parse_hub_arn(&hub).expect("hub_arn always returns a hub ARN");
    let mut arn = format!(
        "arn:{}:sagemaker:{}:{}:hub-content/{}/{}/{}",
        p.partition, p.region, p.account, p.hub_name, content_type, name
    );
    if let Some(v) = version {
        arn.push('/');
        arn.push_str(v);
    }
    arn
}

/// Python's `str()` of a JSON value, which is how the SDK turns document defaults into hyperparameter strings.
pub fn python_str(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Bool(true) => "True".into(),
        serde_json::Value::Bool(false) => "False".into(),
        serde_json::Value::Null => "None".into(),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) if !n.is_f64() => i.to_string(),
            (_, Some(u), _) if !n.is_f64() => u.to_string(),
            (_, _, Some(f)) => python_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Python's `repr(float)`: the shortest round-trip digits, fixed notation for 1e-4 <= |x| < 1e16 (with `.0` when
/// whole), else `1e-05` / `1e+16` style.
pub fn python_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    // Rust's `{:e}` is the shortest round-trip form too: `1.5e-8`, `1e16`, `0e0`.
    let sci = format!("{:e}", f);
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..16).contains(&exp) {
        let m = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits
        };
        return format!(
            "{sign}{m}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        );
    }
    // Fixed notation: the decimal point goes after digit `exp + 1`.
    let point = exp + 1;
    let (int_part, frac_part) = if point <= 0 {
        (
            "0".to_string(),
            format!("{}{}", "0".repeat((-point) as usize), digits),
        )
    } else if point as usize >= digits.len() {
        (
            format!("{}{}", digits, "0".repeat(point as usize - digits.len())),
            String::new(),
        )
    } else {
        (
            digits[..point as usize].to_string(),
            digits[point as usize..].to_string(),
        )
    };
    let frac_part = if frac_part.is_empty() {
        "0".to_string()
    } else {
        frac_part
    };
    format!("{sign}{int_part}.{frac_part}")
}

/// Python's `json.dumps(str)`: ASCII only, non-ASCII as `\uXXXX` (surrogate pairs beyond the BMP).
pub fn python_json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{:04x}", unit));
                }
            }
        }
    }
    out.push('"');
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's hub fixtures, embedded.
    fn fixture(name: &str) -> String {
        match name {
            "describe-hub-content.model-reference.json" => {
                include_str!("../../../fixtures/hub/describe-hub-content.model-reference.json")
            }
            "meta-textgeneration-llama-2-13b-f.document.json" => include_str!(
                "../../../fixtures/hub/meta-textgeneration-llama-2-13b-f.document.json"
            ),
            "meta-textgeneration-llama-3-2-1b.document.json" => {
                include_str!("../../../fixtures/hub/meta-textgeneration-llama-3-2-1b.document.json")
            }
            other => panic!("no fixture {other}"),
        }
        .to_string()
    }

    fn llama_3_2_1b() -> HubDocument {
        HubDocument::from_json(&fixture("meta-textgeneration-llama-3-2-1b.document.json")).unwrap()
    }

    fn llama_2_13b_f() -> HubDocument {
        HubDocument::from_json(&fixture("meta-textgeneration-llama-2-13b-f.document.json")).unwrap()
    }

    const IMAGE: &str = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04";

    #[test]
    fn describe_fixture_parses_with_its_document() {
        let hub =
            HubContent::from_describe_json(&fixture("describe-hub-content.model-reference.json"))
                .unwrap();
        assert_eq!(hub.hub_content_name, "meta-textgeneration-llama-3-2-1b");
        assert_eq!(hub.hub_content_version, "1.2.0");
        assert_eq!(hub.hub_content_type, HubContentType::ModelReference);
        assert_eq!(hub.hub_name, "my-private-hub");
        assert_eq!(
            hub.hub_arn,
            "arn:aws:sagemaker:us-east-1:111122223333:hub/my-private-hub"
        );
        assert_eq!(
            hub.hub_content_arn,
            "arn:aws:sagemaker:us-east-1:111122223333:hub-content/my-private-hub/ModelReference/meta-textgeneration-llama-3-2-1b/1.2.0"
        );
        assert_eq!(hub.reference_min_version.as_deref(), Some("1.0.0"));
        assert_eq!(hub.public_model_id(), "meta-textgeneration-llama-3-2-1b");
        assert!(hub.is_reference());
        // The embedded document is the same as the standalone fixture.
        assert_eq!(hub.document, llama_3_2_1b());
    }

    #[test]
    fn alias_reference_reports_the_public_model_id() {
        let mut hub =
            HubContent::from_describe_json(&fixture("describe-hub-content.model-reference.json"))
                .unwrap();
        hub.hub_content_name = "our-llama".into();
        assert_eq!(hub.public_model_id(), "meta-textgeneration-llama-3-2-1b");
        hub.sagemaker_public_hub_content_arn = None;
        assert_eq!(hub.public_model_id(), "our-llama");
    }

    #[test]
    fn document_keeps_only_training_keys() {
        let d = llama_3_2_1b();
        assert!(d.training_supported);
        assert!(d.gated_bucket && d.is_gated());
        assert_eq!(
            d.default_training_instance_type.as_deref(),
            Some("ml.g5.2xlarge")
        );
        assert_eq!(
            d.supported_training_instance_types,
            ["ml.g5.2xlarge", "ml.g5.4xlarge", "ml.g5.12xlarge"]
        );
        assert_eq!(d.training_volume_size, Some(256));
        assert_eq!(d.max_runtime_in_seconds, Some(360000));
        assert_eq!(d.hyperparameters.len(), 23);
        assert_eq!(d.training_metrics.len(), 3);
        let v = d.training_instance_type_variants.as_ref().unwrap();
        // Variant level specs use lower-case keys.
        let g4dn = &v.variants["ml.g4dn.12xlarge"].properties.hyperparameters;
        assert_eq!(g4dn[2].name, "epoch");
        assert_eq!(g4dn[2].kind, HyperparameterType::Int);
        assert_eq!(g4dn[2].default, serde_json::json!(2));
        assert_eq!(g4dn[2].scope, HyperparameterScope::Other);
        // Nothing but the training keys survives a round trip.
        let back = serde_json::to_value(&d).unwrap();
        assert!(back.get("InferenceConfigs").is_none() && back.get("HostingEulaUri").is_some());
    }

    #[test]
    fn recipe_for_the_default_instance() {
        let r = llama_3_2_1b().recipe("ml.g5.2xlarge").unwrap();
        assert_eq!(r.image_uri, IMAGE);
        assert_eq!(
            r.model_artifact,
            ModelArtifact::Uri(
                "s3://jumpstart-private-cache-prod-us-east-1/meta-training/v1.1.0/train-meta-textgeneration-llama-3-2-1b.tar.gz"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(
            r.gated_model_env_var_uri.as_deref(),
            Some("s3://jumpstart-private-cache-prod-us-east-1/meta-training/g5/v1.0.0/train-meta-textgeneration-llama-3-2-1b.tar.gz")
        );
        assert_eq!(
            r.code_uri.to_string(),
            "s3://jumpstart-cache-prod-us-east-1/source-directory-tarballs/training/meta-textgeneration/prepack/inference-meta-textgeneration/v1.2.0/sourcedir.tar.gz"
        );
        assert!(r.network_isolation && r.gated);
        assert_eq!(
            r.eula_uri.as_deref(),
            Some("s3://jumpstart-cache-prod-us-east-1/fmhMetadata/eula/llamaEula.txt")
        );
        assert_eq!(r.volume_size_gb, 30, "g5 takes no EBS volume size");
        assert_eq!(r.max_runtime_seconds, Some(360000));
        // The 20 algorithm specs; the container ones (sagemaker_program…) are not the model's knobs.
        assert_eq!(r.hyperparameters.len(), 20);
        assert!(r.hyperparameter("sagemaker_program").is_none());
        assert_eq!(
            r.hyperparameter("learning_rate").unwrap().default_string(),
            "0.0001"
        );
        assert_eq!(r.metric_definitions.len(), 3);
        assert!(r.environment.is_empty());
    }

    #[test]
    fn g4dn_variants_are_found() {
        // The SDK renames `ml.g4dn.12xlarge` to `ml._g4_dn.12_xlarge` and never finds it.
        let r = llama_2_13b_f().recipe("ml.g4dn.12xlarge").unwrap();
        assert_eq!(
            r.gated_model_env_var_uri.as_deref(),
            Some("s3://jumpstart-private-cache-prod-us-east-1/meta-training/g4dn/v1.0.0/train-meta-textgeneration-llama-2-13b-f.tar.gz")
        );
        let default = |n: &str| r.hyperparameter(n).unwrap().default_string();
        assert_eq!(default("epoch"), "2");
        assert_eq!(default("int8_quantization"), "True");
        assert_eq!(default("enable_fsdp"), "False");
        assert_eq!(default("lora_r"), "8");
        assert_eq!(r.volume_size_gb, 30, "g4dn has local NVMe storage");
        // p3dn: family variant found, local storage too.
        let r = llama_2_13b_f().recipe("ml.p3dn.24xlarge").unwrap();
        assert!(r
            .gated_model_env_var_uri
            .as_deref()
            .unwrap()
            .contains("/p3dn/"));
        assert_eq!(r.volume_size_gb, 30);
        assert_eq!(r.hyperparameter("epoch").unwrap().default_string(), "1");
    }

    #[test]
    fn instance_type_must_be_supported() {
        let e = llama_3_2_1b().recipe("ml.p3.16xlarge").unwrap_err();
        assert_eq!(e.reason.as_str(), "instance_type_not_supported");
        assert!(
            e.message
                .contains("ml.g5.2xlarge, ml.g5.4xlarge, ml.g5.12xlarge"),
            "{}",
            e.message
        );
    }

    #[test]
    fn untrainable_models_are_refused() {
        let mut d = llama_3_2_1b();
        d.training_supported = false;
        assert_eq!(
            d.recipe("ml.g5.2xlarge").unwrap_err().reason.as_str(),
            "model_not_trainable"
        );
        let mut d = llama_3_2_1b();
        d.training_script_uri = None;
        let e = d.recipe("ml.g5.2xlarge").unwrap_err();
        assert_eq!(e.reason.as_str(), "model_not_trainable");
        assert!(e.message.contains("TrainingScriptUri"), "{}", e.message);
    }

    #[test]
    fn exact_variant_beats_family_property_by_property() {
        let mut d = llama_3_2_1b();
        d.supported_training_instance_types.clear();
        let variants = &mut d.training_instance_type_variants.as_mut().unwrap().variants;
        let mut exact = VariantProperties {
            image_uri: Some("exact-image".into()),
            training_artifact_uri: Some("meta-training/exact/weights.tar.gz".into()),
            ..Default::default()
        };
        exact
            .environment_variables
            .insert("A".into(), "exact".into());
        exact.metrics.push(MetricDefinition {
            name: "huggingface-textgeneration:eval-loss".into(),
            regex: "loss=(\\S+)".into(),
        });
        variants.insert(
            "ml.g5.48xlarge".into(),
            InstanceTypeVariant { properties: exact },
        );
        let g5 = &mut variants.get_mut("g5").unwrap().properties;
        g5.environment_variables.insert("A".into(), "family".into());
        g5.environment_variables.insert("B".into(), "family".into());

        let r = d.recipe("ml.g5.48xlarge").unwrap();
        assert_eq!(r.image_uri, "exact-image");
        // The gated env var comes from the family: there is none on the exact variant.
        assert!(r.gated_model_env_var_uri.unwrap().contains("/g5/"));
        assert_eq!(r.environment["A"], "exact");
        assert_eq!(r.environment["B"], "family");
        // A relative artifact key lives in the region's gated JumpStart bucket, as the SDK resolves it.
        assert_eq!(
            r.model_artifact.uri("eu-west-1").unwrap().to_string(),
            "s3://jumpstart-private-cache-prod-eu-west-1/meta-training/exact/weights.tar.gz"
        );
        // The variant metric replaces the document's and moves to the end.
        assert_eq!(r.metric_definitions.len(), 3);
        assert_eq!(r.metric_definitions[2].regex, "loss=(\\S+)");
        // A full s3:// URI on a variant works too (the SDK raises UnboundLocalError on it).
        let variants = &mut d.training_instance_type_variants.as_mut().unwrap().variants;
        variants
            .get_mut("ml.g5.48xlarge")
            .unwrap()
            .properties
            .training_artifact_uri = Some("s3://my-weights/llama/".into());
        let r = d.recipe("ml.g5.48xlarge").unwrap();
        assert_eq!(
            r.model_artifact.uri("us-east-1").unwrap().to_string(),
            "s3://my-weights/llama/"
        );
        // A non-gated model's keys resolve in the public bucket.
        d.gated_bucket = false;
        variants_set_relative(&mut d);
        let r = d.recipe("ml.g5.48xlarge").unwrap();
        assert_eq!(
            r.model_artifact.uri("us-east-1").unwrap().bucket(),
            "jumpstart-cache-prod-us-east-1"
        );
    }

    fn variants_set_relative(d: &mut HubDocument) {
        let variants = &mut d.training_instance_type_variants.as_mut().unwrap().variants;
        variants
            .get_mut("ml.g5.48xlarge")
            .unwrap()
            .properties
            .training_artifact_uri = Some("k/w.tar.gz".into());
    }

    #[test]
    fn prepacked_script_wins() {
        let mut d = llama_3_2_1b();
        d.training_prepacked_script_uri =
            Some("s3://jumpstart-cache-prod-us-east-1/prepacked/sourcedir.tar.gz".into());
        assert_eq!(
            d.recipe("ml.g5.2xlarge").unwrap().code_uri.to_string(),
            "s3://jumpstart-cache-prod-us-east-1/prepacked/sourcedir.tar.gz"
        );
    }

    #[test]
    fn gated_by_eula_uri_alone() {
        let mut d = llama_3_2_1b();
        d.gated_bucket = false;
        assert!(d.is_gated());
        d.hosting_eula_uri = None;
        assert!(!d.is_gated());
    }

    #[test]
    fn volume_rule_matches_the_sdk() {
        for (t, supported) in [
            ("ml.g5.2xlarge", false),
            ("ml.g6e.xlarge", false),
            ("ml.p5.48xlarge", false),
            ("ml.p5en.48xlarge", false),
            ("ml.trn1.32xlarge", false),
            ("ml.trn1n.32xlarge", false),
            ("ml.g4dn.12xlarge", false),
            ("ml.p4d.24xlarge", false),
            ("ml.p4de.24xlarge", false),
            ("ml.c5d.xlarge", false),
            ("ml.p3.16xlarge", true),
            ("ml.m5.xlarge", true),
            ("ml.trn2.48xlarge", true),
            ("local_gpu", false),
        ] {
            assert_eq!(volume_size_supported(t), supported, "{t}");
        }
        assert_eq!(sdk_volume_size_gb("ml.p3.16xlarge", Some(256)), 256);
        assert_eq!(sdk_volume_size_gb("ml.p3.16xlarge", None), 30);
        assert_eq!(sdk_volume_size_gb("ml.g5.2xlarge", Some(256)), 30);
    }

    #[test]
    fn families() {
        assert_eq!(instance_family("ml.g5.2xlarge"), Some("g5"));
        assert_eq!(instance_family("ml.g4dn.12xlarge"), Some("g4dn"));
        assert_eq!(instance_family("ml.p5en.48xlarge"), Some("p5en"));
        assert_eq!(instance_family("ml_g5"), Some("g5"));
        assert_eq!(instance_family("g5.2xlarge"), None);
        assert_eq!(instance_family("local_gpu"), None);
    }

    #[test]
    fn arns() {
        assert_eq!(
            hub_arn("us-east-1", "111122223333", "my-private-hub"),
            "arn:aws:sagemaker:us-east-1:111122223333:hub/my-private-hub"
        );
        let shared = "arn:aws:sagemaker:us-west-2:444455556666:hub/shared-hub";
        assert_eq!(hub_arn("us-east-1", "111122223333", shared), shared);
        assert_eq!(
            hub_arn("cn-north-1", "1", "h"),
            "arn:aws-cn:sagemaker:cn-north-1:1:hub/h"
        );
        assert_eq!(hub_name(shared), "shared-hub");
        assert_eq!(hub_name("plain"), "plain");
        assert_eq!(
            hub_content_arn("us-east-1", "111122223333", "my-private-hub", HubContentType::ModelReference, "m", Some("1.2.0")),
            "arn:aws:sagemaker:us-east-1:111122223333:hub-content/my-private-hub/ModelReference/m/1.2.0"
        );
        // A shared hub's ARN decides region and account; IAM's form has no version.
        assert_eq!(
            hub_content_arn(
                "us-east-1",
                "111122223333",
                shared,
                HubContentType::Model,
                "m",
                None
            ),
            "arn:aws:sagemaker:us-west-2:444455556666:hub-content/shared-hub/Model/m"
        );
        let p = parse_hub_content_arn(
            "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/meta-textgeneration-llama-3-2-1b/1.2.0",
        )
        .unwrap();
        assert_eq!(
            (p.hub_name, p.content_type, p.name, p.version),
            (
                PUBLIC_HUB_NAME,
                "Model",
                "meta-textgeneration-llama-3-2-1b",
                Some("1.2.0")
            )
        );
        assert!(parse_hub_arn("arn:aws:sagemaker:us-east-1:1:hub-content/h/Model/m").is_none());
        assert!(parse_hub_arn("my-hub").is_none());
    }

    #[test]
    fn python_strings() {
        use serde_json::json;
        for (v, s) in [
            (json!(1), "1"),
            (json!(-1), "-1"),
            (json!(0.0001), "0.0001"),
            (json!(1e-08), "1e-08"),
            (json!(0.00001), "1e-05"),
            (json!(0.2), "0.2"),
            (json!(1.0), "1.0"),
            (json!(0), "0"),
            (json!(0.0), "0.0"),
            (json!(1e16), "1e+16"),
            (json!(1234567890123456.0), "1234567890123456.0"),
            (json!(123.456), "123.456"),
            (json!(true), "True"),
            (json!(null), "None"),
            (json!("q_proj,v_proj"), "q_proj,v_proj"),
        ] {
            assert_eq!(python_str(&v), s, "{v}");
        }
        assert_eq!(python_json_string("2"), "\"2\"");
        assert_eq!(python_json_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(
            python_json_string("é😀\u{7f}"),
            "\"\\u00e9\\ud83d\\ude00\\u007f\""
        );
    }

    #[test]
    fn hyperparameter_checks_follow_the_sdk() {
        let r = llama_3_2_1b().recipe("ml.g5.2xlarge").unwrap();
        let check = |n: &str, v: &str| r.hyperparameter(n).unwrap().check(v);
        assert!(check("epoch", "2").is_ok());
        assert!(check("epoch", "+2").is_ok());
        assert!(check("epoch", "0").unwrap_err().contains("at least 1"));
        assert!(check("epoch", "1001").unwrap_err().contains("at most 1000"));
        assert!(check("epoch", "2.5").unwrap_err().contains("integer"));
        assert!(check("epoch", "two").unwrap_err().contains("integer"));
        assert!(check("learning_rate", "1e-5").is_ok());
        assert!(check("learning_rate", "2")
            .unwrap_err()
            .contains("at most 1"));
        assert!(check("learning_rate", "NaN").is_err());
        assert!(check("instruction_tuned", "True").is_ok());
        assert!(check("instruction_tuned", "true")
            .unwrap_err()
            .contains("True, False"));
        assert!(check("target_modules", "q_proj").is_ok());
        assert_eq!(
            r.hyperparameter("epoch").unwrap().describe_rule(),
            "int, value >= 1.0, value <= 1000.0"
        );
        let b = HyperparameterSpec {
            name: "flag".into(),
            kind: HyperparameterType::Bool,
            default: serde_json::json!(false),
            scope: HyperparameterScope::Algorithm,
            options: None,
            min: None,
            max: None,
            exclusive_min: None,
            exclusive_max: None,
        };
        assert!(b.check("TRUE").is_ok() && b.check("yes").is_err());
        assert_eq!(b.default_string(), "False");
    }

    #[test]
    fn bad_documents_name_the_key() {
        let e =
            HubDocument::from_json(r#"{"TrainingSupported": true, "TrainingVolumeSize": "big"}"#)
                .unwrap_err();
        assert!(e.to_string().contains("TrainingVolumeSize"), "{e}");
        let e = HubDocument::from_json(r#"{"Hyperparameters": [{"Name": "x"}]}"#).unwrap_err();
        assert!(e.to_string().contains("Hyperparameters[0]"), "{e}");
        // Null, numeric strings and non-string environment values are tolerated.
        let d = HubDocument::from_json(
            r#"{"TrainingSupported": null, "TrainingVolumeSize": "100", "TrainingInstanceTypeVariants":
                {"Variants": {"g5": {"Properties": {"EnvironmentVariables": {"N": 1}}}}}}"#,
        )
        .unwrap();
        assert!(!d.training_supported);
        assert_eq!(d.training_volume_size, Some(100));
        let g5 = &d.training_instance_type_variants.unwrap().variants["g5"];
        assert_eq!(g5.properties.environment_variables["N"], "1");
        let e = HubContent::from_describe_json(
            &fixture("describe-hub-content.model-reference.json").replace(
                "\\\"TrainingSupported\\\": true",
                "\\\"TrainingSupported\\\": 7",
            ),
        )
        .unwrap_err();
        assert!(
            matches!(&e, HubError::Document { arn, path, .. } if arn.contains("ModelReference") && path == "TrainingSupported"),
            "{e}"
        );
        let r: Rejection = e.into();
        assert_eq!(r.reason.as_str(), "bad_hub_document");
        assert!(r.message.contains("TrainingSupported"), "{}", r.message);
    }
}
