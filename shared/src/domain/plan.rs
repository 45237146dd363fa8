//! The CreateTrainingJob request for one dataset on one route: the hub document's recipe, the route's settings and
//! the dataset, as a plain serializable value (the AWS adapter sends it; the CLI prints it; the conformance test
//! compares it with the SageMaker Python SDK's). Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::channels::data_channel_problem;
use crate::domain::hub::{self, python_json_string, HubContent, MetricDefinition, TrainingRecipe};
use crate::domain::naming::{self, JobName};
use crate::domain::rejection::{Rejection, RejectionReason};
use crate::domain::s3uri::{S3Uri, SAGEMAKER_MAX_S3_URI_LEN};

/// What SageMaker runs when a job has no MaxRuntimeInSeconds of its own: the SDK's default, one day.
pub const DEFAULT_MAX_RUNTIME_SECONDS: u32 = 86_400;
/// The JumpStart training scripts' entry point.
pub const TRAINING_ENTRY_POINT: &str = "transfer_learning.py";
/// Where the `code` channel's tarball lands in the container under network isolation.
pub const CONTAINER_CODE_TARBALL: &str = "/opt/ml/input/data/code/sourcedir.tar.gz";
/// `logging.INFO`, as the SDK sends it (a number, so not quoted).
pub const CONTAINER_LOG_LEVEL: &str = "20";
/// CreateTrainingJob accepts at most this many tags.
pub const MAX_TAGS: usize = 50;
/// SageMaker's limit on one hyperparameter value.
pub const MAX_HYPERPARAMETER_VALUE_LEN: usize = 2500;

/// A route's training settings (the routes file's `[routes.<name>]` table, mapped by `config`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSettings {
    /// `None`: the document's `DefaultTrainingInstanceType`.
    pub instance_type: Option<String>,
    pub instance_count: u32,
    /// `None`: the SDK's rule (the document's `TrainingVolumeSize`, or 30 GB where no EBS volume size applies).
    pub volume_size_gb: Option<u32>,
    /// `None`: the document's `MaxRuntimeInSeconds`, else 86400.
    pub max_runtime_seconds: Option<u32>,
    pub max_instance_count: Option<u32>,
    pub max_runtime_cap_seconds: Option<u32>,
    /// The route's overrides, already strings (`"2"`, `"True"`).
    pub hyperparameters: BTreeMap<String, String>,
    pub output_path: S3Uri,
    pub role_arn: String,
    pub tags: BTreeMap<String, String>,
    /// `OutputDataConfig.KmsKeyId` and, where the instance takes an EBS volume, `ResourceConfig.VolumeKmsKeyId`.
    pub kms_key_id: Option<String>,
    pub vpc: Option<VpcSettings>,
    pub spot: Option<SpotSettings>,
    pub accept_eula: bool,
    /// Extra environment variables (they win over the variant's).
    pub environment: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VpcSettings {
    pub subnets: Vec<String>,
    pub security_group_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpotSettings {
    pub max_wait_seconds: u32,
    pub checkpoint_s3_uri: Option<S3Uri>,
}

/// The `training` channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrainingChannel {
    /// hubtune's frozen dataset listing (`S3DataType: ManifestFile`): exactly the objects that were validated.
    Manifest(S3Uri),
    /// A prefix (`S3Prefix`, always sent ending in `/`), as the SDK sends it: the CLI's form when it only has a URI.
    Prefix(S3Uri),
}

impl TrainingChannel {
    fn data_source(&self) -> (S3DataType, S3Uri) {
        match self {
            TrainingChannel::Manifest(uri) => (S3DataType::ManifestFile, uri.clone()),
            TrainingChannel::Prefix(uri) => (S3DataType::S3Prefix, uri.as_prefix()),
        }
    }
}

/// A data channel beside `training` (`validation`, or a route's own): sent after training, before the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataChannel {
    pub name: String,
    pub source: TrainingChannel,
}

#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    pub job_name: &'a JobName,
    pub region: &'a str,
    pub hub: &'a HubContent,
    pub settings: &'a TrainingSettings,
    pub training_channel: TrainingChannel,
    /// The other data channels, in the order they are sent (the SDK sends `fit()`'s dict in its order).
    pub more_channels: Vec<DataChannel>,
    /// The route's name, for the `hubtune:route` tag and for messages that name the routes-file key to change.
    pub route: &'a str,
    /// The `hubtune:dataset` tag value (already sanitised: `naming::dataset_tag_value`).
    pub dataset_tag: String,
    /// The deployment's name, for the `hubtune:deployment` tag: the template's IAM guardrail requires it on every
    /// job, and training-state adopts only jobs that carry its own.
    pub deployment: &'a str,
}

// ---- The request, with the API's own field names ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTrainingJobRequest {
    pub training_job_name: String,
    pub algorithm_specification: AlgorithmSpecification,
    pub role_arn: String,
    pub input_data_config: Vec<Channel>,
    pub output_data_config: OutputDataConfig,
    pub resource_config: ResourceConfig,
    pub stopping_condition: StoppingCondition,
    #[serde(default)]
    pub hyper_parameters: BTreeMap<String, String>,
    #[serde(default)]
    pub environment: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub enable_network_isolation: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_config: Option<VpcConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_managed_spot_training: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_config: Option<CheckpointConfig>,
}

impl CreateTrainingJobRequest {
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.input_data_config
            .iter()
            .find(|c| c.channel_name == name)
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrainingInputMode {
    File,
    Pipe,
    FastFile,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlgorithmSpecification {
    pub training_image: String,
    pub training_input_mode: TrainingInputMode,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metric_definitions: Vec<MetricDefinition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Channel {
    pub channel_name: String,
    pub data_source: DataSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mode: Option<TrainingInputMode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_type: Option<hub::CompressionType>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataSource {
    pub s3_data_source: S3DataSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum S3DataType {
    S3Prefix,
    ManifestFile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum S3DataDistributionType {
    FullyReplicated,
    ShardedByS3Key,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3DataSource {
    pub s3_data_type: S3DataType,
    pub s3_uri: S3Uri,
    pub s3_data_distribution_type: S3DataDistributionType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hub_access_config: Option<HubAccessConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_access_config: Option<ModelAccessConfig>,
}

/// Lets SageMaker broker access to the JumpStart buckets for a hub reference (without it: AccessDenied).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HubAccessConfig {
    pub hub_content_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelAccessConfig {
    pub accept_eula: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OutputDataConfig {
    pub s3_output_path: S3Uri,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ResourceConfig {
    pub instance_type: String,
    pub instance_count: u32,
    #[serde(rename = "VolumeSizeInGB")]
    pub volume_size_in_gb: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_kms_key_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StoppingCondition {
    pub max_runtime_in_seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_time_in_seconds: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VpcConfig {
    pub security_group_ids: Vec<String>,
    pub subnets: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CheckpointConfig {
    pub s3_uri: S3Uri,
}

/// The tags SageMaker Studio uses to link a job to its JumpStart model.
pub const TAG_MODEL_ID: &str = "sagemaker-sdk:jumpstart-model-id";
pub const TAG_MODEL_VERSION: &str = "sagemaker-sdk:jumpstart-model-version";
pub const TAG_HUB_CONTENT_ARN: &str = "sagemaker-sdk:hub-content-arn";
pub const TAG_ROUTE: &str = "hubtune:route";
pub const TAG_DATASET: &str = "hubtune:dataset";
pub const TAG_DEPLOYMENT: &str = "hubtune:deployment";

/// The CreateTrainingJob request that fine-tunes `input.hub` on `input.training_channel`, as
/// `JumpStartEstimator(model_id, hub_name=...).fit(..., accept_eula=...)` of the SageMaker Python SDK 2.245 would
/// send it, or the reason it must not be sent.
///
/// Deliberate differences from SDK 2.245 (the conformance test, tests/e2e/conformance.rs, allows exactly these):
/// - **Training channel**: a manifest (`S3DataType: ManifestFile`) listing the objects that were validated, not the
///   dataset prefix (`S3Prefix`): a dataset is frozen when it is checked, and an object added afterwards must not be
///   trained. (`TrainingChannel::Prefix` sends the SDK's form.)
/// - **Output path**: the route's `output_path`, by default inside the deployment's bucket and output prefix, not
///   the SDK's `s3://sagemaker-{region}-{account}/`: hubtune never creates buckets, and publish-artifact looks for
///   the artifacts where the deployment put them.
/// - **MaxRuntimeInSeconds**: the route's, else the document's `MaxRuntimeInSeconds`, else 86400. SDK 2.245 drops
///   the document's job settings on the hub path by a bug and always sends 86400 (SDK 3.x applies them), which
///   stops long fine-tunes of large models after a day. A document value above the route's
///   `max_runtime_cap_seconds` is lowered to the cap; a route value above it is refused.
/// - **No DebugHookConfig / ProfilerConfig**: the JumpStart training scripts use neither, and the profiler costs
///   and writes beside the artifacts.
/// - **Variants the SDK cannot find are found**: exact-type keys (`ml.g4dn.12xlarge`) and families with a letter
///   after a digit (`g4dn`, `p4d`, `g6e`) are renamed by the SDK (`ml._g4_dn.12_xlarge`, `g4_dn`) and never match;
///   hubtune applies their image, artifact, hyperparameters and environment. Likewise a variant
///   `TrainingArtifactUri` given as a full `s3://` URI (the SDK raises `UnboundLocalError`) and variant environment
///   variable names (the SDK sends `NCCL_P2P_DISABLE` as `n_c_c_l_p2_p_d_i_s_a_b_l_e`).
/// - **A gated model without the EULA accepted is refused** (`eula_not_accepted`, naming `accept_eula = true` in
///   `[routes.<route>]` and the EULA): the SDK sends the variant's `SageMakerGatedModelS3Uri` environment variable
///   instead of `ModelAccessConfig`, and the training control plane refuses the gated weights after the job was
///   created.
/// - **Route hyperparameters are checked before launch** (type, bounds, options, known names: the SDK's
///   `validate_hyperparameters` rules): the SDK sends anything, and a bad value fails inside the container.
/// - **The document's `TrainingArtifactUri` and training script URIs are used as written**: the SDK keeps only their
///   keys and re-roots them in the region's JumpStart buckets. For real JumpStart documents the two agree.
/// - **`sagemaker-sdk:jumpstart-model-id` is the public model id** (from `SageMakerPublicHubContentArn`) when the
///   reference was created under an alias; the SDK tags the alias.
/// - **`EnableNetworkIsolation` and `Environment` are always sent** (`false`, `{}`); the SDK leaves them out when
///   false or empty. Same meaning.
pub fn plan(input: &PlanInput) -> Result<CreateTrainingJobRequest, Rejection> {
    let s = input.settings;
    let instance_type = instance_type(input)?;
    let recipe = input.hub.document.recipe(&instance_type)?;
    check_instance_count(input)?;
    check_eula(input, &recipe)?;
    let max_runtime = max_runtime(input, &recipe)?;
    let max_wait = max_wait(input, max_runtime)?;
    let hyper_parameters = hyperparameters(input, &recipe)?;
    let mut environment = recipe.environment.clone();
    environment.extend(s.environment.clone());
    let input_data_config = channels(input, &recipe)?;
    check_uri_lengths(input, &input_data_config)?;
    let tags = tags(input)?;

    Ok(CreateTrainingJobRequest {
        training_job_name: input.job_name.to_string(),
        algorithm_specification: AlgorithmSpecification {
            training_image: recipe.image_uri.clone(),
            training_input_mode: TrainingInputMode::File,
            metric_definitions: recipe.metric_definitions.clone(),
        },
        role_arn: s.role_arn.clone(),
        input_data_config,
        output_data_config: OutputDataConfig {
            s3_output_path: s.output_path.clone(),
            kms_key_id: s.kms_key_id.clone(),
        },
        resource_config: ResourceConfig {
            volume_size_in_gb: s.volume_size_gb.unwrap_or(recipe.volume_size_gb),
            // SageMaker refuses a volume key on instances with local storage (their disks are encrypted anyway).
            volume_kms_key_id: s
                .kms_key_id
                .clone()
                .filter(|_| hub::volume_size_supported(&instance_type)),
            instance_type,
            instance_count: s.instance_count,
        },
        stopping_condition: StoppingCondition {
            max_runtime_in_seconds: max_runtime,
            max_wait_time_in_seconds: max_wait,
        },
        hyper_parameters,
        environment,
        tags,
        enable_network_isolation: recipe.network_isolation,
        vpc_config: s.vpc.as_ref().map(|v| VpcConfig {
            security_group_ids: v.security_group_ids.clone(),
            subnets: v.subnets.clone(),
        }),
        enable_managed_spot_training: s.spot.as_ref().map(|_| true),
        checkpoint_config: s
            .spot
            .as_ref()
            .and_then(|sp| sp.checkpoint_s3_uri.clone())
            .map(|s3_uri| CheckpointConfig { s3_uri }),
    })
}

/// How a route key is named in messages: `` `instance_type` in [routes.support-bot] ``.
fn route_key(input: &PlanInput, k: &str) -> String {
    format!("`{k}` in [routes.{}]", input.route)
}

/// The route's instance type, else the document's default.
fn instance_type(input: &PlanInput) -> Result<String, Rejection> {
    let hub = input.hub;
    input
        .settings
        .instance_type
        .clone()
        .or_else(|| hub.document.default_training_instance_type.clone())
        .ok_or_else(|| {
            Rejection::new(
                RejectionReason::InstanceTypeMissing,
                format!(
                    "{} names no default training instance type: set {}",
                    hub.hub_content_name,
                    route_key(input, "instance_type")
                ),
            )
        })
}

fn check_instance_count(input: &PlanInput) -> Result<(), Rejection> {
    let s = input.settings;
    match s.max_instance_count.filter(|cap| s.instance_count > *cap) {
        Some(cap) => Err(Rejection::new(
            RejectionReason::CapExceeded,
            format!(
                "instance_count {} is above {} ({cap})",
                s.instance_count,
                route_key(input, "max_instance_count")
            ),
        )),
        None => Ok(()),
    }
}

fn check_eula(input: &PlanInput, recipe: &TrainingRecipe) -> Result<(), Rejection> {
    if !recipe.gated || input.settings.accept_eula {
        return Ok(());
    }
    let eula = recipe
        .eula_uri
        .as_deref()
        .map(|u| format!("its EULA is at {u}"))
        .unwrap_or_else(|| "its EULA is on the model's page in SageMaker Studio".into());
    Err(Rejection::new(
        RejectionReason::EulaNotAccepted,
        format!(
            "{} is a gated model: {eula}. Read it, then set `accept_eula = true` in [routes.{}] to accept it \
             for this route's fine-tunes",
            input.hub.public_model_id(),
            input.route
        ),
    ))
}

fn max_runtime(input: &PlanInput, recipe: &TrainingRecipe) -> Result<u32, Rejection> {
    let s = input.settings;
    match (s.max_runtime_seconds, s.max_runtime_cap_seconds) {
        (Some(v), Some(cap)) if v > cap => Err(Rejection::new(
            RejectionReason::CapExceeded,
            format!(
                "{} ({v}) is above {} ({cap})",
                route_key(input, "max_runtime_seconds"),
                route_key(input, "max_runtime_cap_seconds")
            ),
        )),
        (Some(v), _) => Ok(v),
        // The document's value is a default, not a request: the route's cap bounds it.
        (None, cap) => {
            let v = recipe
                .max_runtime_seconds
                .unwrap_or(DEFAULT_MAX_RUNTIME_SECONDS);
            Ok(cap.map_or(v, |c| v.min(c)))
        }
    }
}

fn max_wait(input: &PlanInput, max_runtime: u32) -> Result<Option<u32>, Rejection> {
    match &input.settings.spot {
        Some(spot) if spot.max_wait_seconds < max_runtime => Err(Rejection::new(
            RejectionReason::BadSpotSettings,
            format!(
                "{} ({}) must be at least the job's max runtime ({max_runtime} s): SageMaker refuses a shorter wait",
                route_key(input, "spot.max_wait_seconds"),
                spot.max_wait_seconds
            ),
        )),
        Some(spot) => Ok(Some(spot.max_wait_seconds)),
        None => Ok(None),
    }
}

/// The training channel, the model channel (through the hub reference), and under network isolation the code.
fn channels(input: &PlanInput, recipe: &TrainingRecipe) -> Result<Vec<Channel>, Rejection> {
    let hub = input.hub;
    let model_artifact = recipe.model_artifact.uri(input.region)?;
    let hub_access = hub.is_reference().then(|| HubAccessConfig {
        hub_content_arn: hub.hub_content_arn.clone(),
    });
    let (training_type, training_uri) = input.training_channel.data_source();
    // SageMaker brokers access to the model's sample dataset only through the reference, as the SDK does.
    let training_hub_access = hub_access.clone().filter(|_| {
        recipe.default_training_dataset_uri.as_deref() == Some(training_uri.to_string().as_str())
    });
    let data = |name: &str, (data_type, uri), access| Channel {
        channel_name: name.into(),
        data_source: s3_source(data_type, uri, access, None),
        content_type: None,
        input_mode: None,
        compression_type: None,
    };
    let training = (training_type, training_uri);
    let mut channels = vec![data("training", training, training_hub_access)];
    for c in &input.more_channels {
        let twice = input
            .more_channels
            .iter()
            .filter(|o| o.name == c.name)
            .count()
            > 1;
        let says = hub.document.supports_channel(&c.name);
        let (model, route) = (&hub.hub_content_name, input.route);
        if let Some(p) = data_channel_problem(&c.name, twice, says, model, route) {
            return Err(p);
        }
        channels.push(data(&c.name, c.source.data_source(), None));
    }
    channels.push(Channel {
        channel_name: "model".into(),
        data_source: s3_source(
            // S3Prefix even for a single .tar.gz, as the SDK sends it: the key matches itself as a prefix.
            S3DataType::S3Prefix,
            model_artifact,
            hub_access,
            input
                .settings
                .accept_eula
                .then_some(ModelAccessConfig { accept_eula: true }),
        ),
        content_type: Some("application/x-sagemaker-model".into()),
        input_mode: Some(TrainingInputMode::File),
        // The SDK never sends TrainingArtifactCompressionType on the model channel; neither does hubtune.
        compression_type: None,
    });
    if recipe.network_isolation {
        // Under network isolation the container cannot fetch its code: it comes in as a channel.
        channels.push(Channel {
            channel_name: "code".into(),
            data_source: s3_source(S3DataType::S3Prefix, recipe.code_uri.clone(), None, None),
            content_type: None,
            input_mode: None,
            compression_type: None,
        });
    }
    Ok(channels)
}

/// Every S3 URI of the request within SageMaker's length limit.
fn check_uri_lengths(input: &PlanInput, channels: &[Channel]) -> Result<(), Rejection> {
    let s = input.settings;
    let uris = channels
        .iter()
        .map(|c| {
            (
                format!("the {} channel", c.channel_name),
                &c.data_source.s3_data_source.s3_uri,
            )
        })
        .chain(std::iter::once((
            "the output path".to_string(),
            &s.output_path,
        )))
        .chain(
            s.spot
                .iter()
                .filter_map(|sp| sp.checkpoint_s3_uri.as_ref())
                .map(|u| ("the checkpoint path".to_string(), u)),
        );
    for (what, uri) in uris {
        if uri.len() > SAGEMAKER_MAX_S3_URI_LEN {
            return Err(Rejection::new(RejectionReason::UriTooLong,
                format!(
                    "{what} ({}…) is {} characters long: SageMaker accepts at most {SAGEMAKER_MAX_S3_URI_LEN}",
                    uri.to_string().chars().take(80).collect::<String>(),
                    uri.len()
                ),
            ));
        }
    }
    Ok(())
}

fn s3_source(
    s3_data_type: S3DataType,
    s3_uri: S3Uri,
    hub_access_config: Option<HubAccessConfig>,
    model_access_config: Option<ModelAccessConfig>,
) -> DataSource {
    DataSource {
        s3_data_source: S3DataSource {
            s3_data_type,
            s3_uri,
            s3_data_distribution_type: S3DataDistributionType::FullyReplicated,
            hub_access_config,
            model_access_config,
        },
    }
}

/// Document defaults (variant applied), then the route's checked overrides, every value JSON-encoded as the SDK
/// does (`2` -> `"2"` -> `"\"2\""`), then the script-mode entries.
fn hyperparameters(
    input: &PlanInput,
    recipe: &TrainingRecipe,
) -> Result<BTreeMap<String, String>, Rejection> {
    let route = input.route;
    let mut values: BTreeMap<String, String> = recipe
        .hyperparameters
        .iter()
        .map(|h| (h.name.clone(), h.default_string()))
        .collect();
    for (name, value) in &input.settings.hyperparameters {
        let Some(spec) = recipe.hyperparameter(name) else {
            let mut valid: Vec<&str> = recipe
                .hyperparameters
                .iter()
                .map(|h| h.name.as_str())
                .collect();
            valid.sort_unstable();
            return Err(Rejection::new(RejectionReason::UnknownHyperparameter,
                format!(
                    "`hyperparameters.{name}` in [routes.{route}]: {} has no hyperparameter `{name}`; it has: {}",
                    input.hub.public_model_id(),
                    valid.join(", ")
                ),
            ));
        };
        spec.check(value).map_err(|why| {
            Rejection::new(RejectionReason::BadHyperparameter,
                format!(
                    "`hyperparameters.{name}` in [routes.{route}] is \"{value}\": {why} (the model's rule: {})",
                    spec.describe_rule()
                ),
            )
        })?;
        values.insert(name.clone(), value.clone());
    }

    let mut out: BTreeMap<String, String> = values
        .into_iter()
        .map(|(k, v)| (k, python_json_string(&v)))
        .collect();
    if let Some((name, v)) = out
        .iter()
        // Bytes equal SageMaker's UTF-16 units here: the encoding escapes every non-ASCII character as Python does.
        .find(|(_, v)| v.len() > MAX_HYPERPARAMETER_VALUE_LEN)
    {
        return Err(Rejection::new(RejectionReason::BadHyperparameter,
            format!(
                "`hyperparameters.{name}` in [routes.{route}] is {} characters once encoded: SageMaker accepts at most \
                 {MAX_HYPERPARAMETER_VALUE_LEN}",
                v.len()
            ),
        ));
    }
    let submit_directory = if recipe.network_isolation {
        CONTAINER_CODE_TARBALL.to_string()
    } else {
        recipe.code_uri.to_string()
    };
    out.insert(
        "sagemaker_program".into(),
        python_json_string(TRAINING_ENTRY_POINT),
    );
    out.insert(
        "sagemaker_submit_directory".into(),
        python_json_string(&submit_directory),
    );
    out.insert(
        "sagemaker_container_log_level".into(),
        CONTAINER_LOG_LEVEL.into(),
    );
    out.insert(
        "sagemaker_job_name".into(),
        python_json_string(input.job_name.as_str()),
    );
    out.insert("sagemaker_region".into(), python_json_string(input.region));
    Ok(out)
}

fn tags(input: &PlanInput) -> Result<Vec<Tag>, Rejection> {
    let hub = input.hub;
    let tag = |key: &str, value: &str| Tag {
        key: key.to_string(),
        value: naming::tag_value(value),
    };
    let mut tags = vec![
        tag(TAG_MODEL_ID, hub.public_model_id()),
        tag(TAG_MODEL_VERSION, &hub.hub_content_version),
        tag(TAG_HUB_CONTENT_ARN, &hub.hub_content_arn),
        tag(TAG_ROUTE, input.route),
        tag(TAG_DATASET, &input.dataset_tag),
        tag(TAG_DEPLOYMENT, input.deployment),
    ];
    tags.extend(input.settings.tags.iter().map(|(k, v)| Tag {
        key: k.clone(),
        value: v.clone(),
    }));
    if tags.len() > MAX_TAGS {
        return Err(Rejection::new(RejectionReason::TooManyTags,
            format!(
                "`tags` in [routes.{}] has {} tags; with hubtune's {} the job would have {}, above SageMaker's {MAX_TAGS}",
                input.route,
                input.settings.tags.len(),
                tags.len() - input.settings.tags.len(),
                tags.len()
            ),
        ));
    }
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hub::{HubContentType, HubDocument};
    use serde_json::{json, Value};

    const FIXTURE_JOB: &str = "meta-textgeneration-llama-3-2-1b-2025-06-01-12-00-00-000";
    const FIXTURE_TRAINING: &str = "s3://my-bucket/datasets/train/";

    /// The repository's fixtures, embedded.
    fn read(rel: &str) -> String {
        match rel {
            "hub/describe-hub-content.model-reference.json" => {
                include_str!("../../../fixtures/hub/describe-hub-content.model-reference.json")
            }
            "hub/meta-textgeneration-llama-2-13b-f.document.json" => include_str!(
                "../../../fixtures/hub/meta-textgeneration-llama-2-13b-f.document.json"
            ),
            "sdk/create_training_job.accept_eula.json" => {
                include_str!("../../../fixtures/sdk/create_training_job.accept_eula.json")
            }
            "sdk/create_training_job.no_eula.json" => {
                include_str!("../../../fixtures/sdk/create_training_job.no_eula.json")
            }
            other => panic!("no fixture {other}"),
        }
        .to_string()
    }

    fn hub() -> HubContent {
        HubContent::from_describe_json(&read("hub/describe-hub-content.model-reference.json"))
            .unwrap()
    }

    /// The fixture's settings: ml.g5.2xlarge, epoch=2, instruction_tuned=True, the SDK's default output path.
    fn settings() -> TrainingSettings {
        TrainingSettings {
            instance_type: Some("ml.g5.2xlarge".into()),
            instance_count: 1,
            volume_size_gb: None,
            max_runtime_seconds: None,
            max_instance_count: None,
            max_runtime_cap_seconds: None,
            hyperparameters: [("epoch", "2"), ("instruction_tuned", "True")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            output_path: "s3://sagemaker-us-east-1-111122223333/".parse().unwrap(),
            role_arn: "arn:aws:iam::111122223333:role/SageMakerExecutionRole".into(),
            tags: BTreeMap::new(),
            kms_key_id: None,
            vpc: None,
            spot: None,
            accept_eula: true,
            environment: BTreeMap::new(),
        }
    }

    fn run(
        hub: &HubContent,
        settings: &TrainingSettings,
    ) -> Result<CreateTrainingJobRequest, Rejection> {
        let job = JobName::parse(FIXTURE_JOB).unwrap();
        plan(&PlanInput {
            job_name: &job,
            region: "us-east-1",
            hub,
            settings,
            training_channel: TrainingChannel::Prefix(FIXTURE_TRAINING.parse().unwrap()),
            more_channels: vec![],
            route: "support-bot",
            dataset_tag: "0123456789abcdef s3://my-bucket/datasets/train/".into(),
            deployment: "hubtune",
        })
    }

    fn with_document(edit: impl FnOnce(&mut HubDocument)) -> HubContent {
        let mut h = hub();
        edit(&mut h.document);
        h
    }

    #[test]
    fn reproduces_the_sdk_fixture_field_for_field() {
        let ours = serde_json::to_value(run(&hub(), &settings()).unwrap()).unwrap();
        let mut sdk: Value =
            serde_json::from_str(&read("sdk/create_training_job.accept_eula.json")).unwrap();

        // The documented differences (see `plan`), applied to the SDK's request; everything else must be equal.
        let sdk_obj = sdk.as_object_mut().unwrap();
        // 1. No DebugHookConfig / ProfilerConfig.
        assert!(sdk_obj.remove("DebugHookConfig").is_some());
        assert!(sdk_obj.remove("ProfilerConfig").is_some());
        // 2. MaxRuntimeInSeconds from the document (360000), not the SDK's 86400.
        assert_eq!(sdk["StoppingCondition"]["MaxRuntimeInSeconds"], 86400);
        sdk["StoppingCondition"]["MaxRuntimeInSeconds"] = json!(360000);
        // 3. hubtune's own tags.
        sdk["Tags"].as_array_mut().unwrap().extend([
            json!({"Key": "hubtune:route", "Value": "support-bot"}),
            json!({"Key": "hubtune:dataset", "Value": "0123456789abcdef s3://my-bucket/datasets/train/"}),
            json!({"Key": "hubtune:deployment", "Value": "hubtune"}),
        ]);
        // (The training channel and output path are the fixture's: TrainingChannel::Prefix and the SDK's default
        // bucket were given here, so those differences do not show.)
        assert_eq!(ours, sdk, "\nours: {ours:#}\nsdk: {sdk:#}");
    }

    #[test]
    fn request_round_trips_through_json() {
        let req = run(&hub(), &settings()).unwrap();
        let back: CreateTrainingJobRequest =
            serde_json::from_value(serde_json::to_value(&req).unwrap()).unwrap();
        assert_eq!(back, req);
        // The SDK fixture itself deserializes (unknown DebugHookConfig/ProfilerConfig are ignored).
        let sdk: CreateTrainingJobRequest =
            serde_json::from_str(&read("sdk/create_training_job.accept_eula.json")).unwrap();
        assert_eq!(
            sdk.channel("model")
                .unwrap()
                .data_source
                .s3_data_source
                .model_access_config,
            Some(ModelAccessConfig { accept_eula: true })
        );
    }

    #[test]
    fn manifest_channel() {
        let job = JobName::parse("hubtune-support-bot-0123456789abcdef").unwrap();
        let manifest: S3Uri =
            "s3://acme/hubtune/state/manifests/hubtune-support-bot-0123456789abcdef.json"
                .parse()
                .unwrap();
        let s = settings();
        let hub = hub();
        let req = plan(&PlanInput {
            job_name: &job,
            region: "us-east-1",
            hub: &hub,
            settings: &s,
            training_channel: TrainingChannel::Manifest(manifest.clone()),
            more_channels: vec![],
            route: "support-bot",
            dataset_tag: "x".into(),
            deployment: "hubtune",
        })
        .unwrap();
        let t = &req.channel("training").unwrap().data_source.s3_data_source;
        assert_eq!(
            (t.s3_data_type, &t.s3_uri),
            (S3DataType::ManifestFile, &manifest)
        );
        assert!(t.hub_access_config.is_none());
        assert_eq!(
            req.hyper_parameters["sagemaker_job_name"],
            "\"hubtune-support-bot-0123456789abcdef\""
        );
    }

    fn two_channel_plan(
        hub: &HubContent,
        more: Vec<DataChannel>,
    ) -> Result<CreateTrainingJobRequest, Rejection> {
        let job = JobName::parse("j").unwrap();
        let s = settings();
        plan(&PlanInput {
            job_name: &job,
            region: "us-east-1",
            hub,
            settings: &s,
            training_channel: TrainingChannel::Manifest("s3://bkt/m/j.json".parse().unwrap()),
            more_channels: more,
            route: "support-bot",
            dataset_tag: "x".into(),
            deployment: "hubtune",
        })
    }

    fn validation(uri: &str) -> DataChannel {
        DataChannel {
            name: "validation".into(),
            source: TrainingChannel::Manifest(uri.parse().unwrap()),
        }
    }

    #[test]
    fn a_validation_channel_follows_training_with_its_own_manifest() {
        let req =
            two_channel_plan(&hub(), vec![validation("s3://bkt/m/j.validation.json")]).unwrap();
        let names: Vec<&str> = req
            .input_data_config
            .iter()
            .map(|c| c.channel_name.as_str())
            .collect();
        // The SDK's order for fit({"training": ..., "validation": ...}): the data channels, then model, then code.
        assert_eq!(names, ["training", "validation", "model", "code"]);
        let v = &req
            .channel("validation")
            .unwrap()
            .data_source
            .s3_data_source;
        assert_eq!(v.s3_data_type, S3DataType::ManifestFile);
        assert_eq!(v.s3_uri.to_string(), "s3://bkt/m/j.validation.json");
        assert!(v.hub_access_config.is_none() && v.model_access_config.is_none());
    }

    #[test]
    fn a_channel_the_hub_document_refuses_is_rejected_where_it_says_and_accepted_where_it_does_not()
    {
        let mut h = hub();
        h.document.validation_supported = Some(false);
        let r = two_channel_plan(&h, vec![validation("s3://bkt/m/v.json")]).unwrap_err();
        assert_eq!(r.reason, RejectionReason::ChannelNotSupported);
        assert!(
            r.message.contains("routes.support-bot.channels"),
            "{}",
            r.message
        );
        // A channel the document says nothing of is accepted, and so is validation when it says nothing.
        let dev = DataChannel {
            name: "dev".into(),
            ..validation("s3://bkt/m/d.json")
        };
        assert!(two_channel_plan(&h, vec![dev]).is_ok());
        h.document.validation_supported = None;
        assert!(two_channel_plan(&h, vec![validation("s3://bkt/m/v.json")]).is_ok());
        // Names hubtune sends itself, twice, or that SageMaker refuses are never planned.
        for bad in ["model", "code", "training", "no spaces"] {
            let c = DataChannel {
                name: bad.into(),
                ..validation("s3://bkt/m/x.json")
            };
            let r = two_channel_plan(&h, vec![c]).unwrap_err();
            assert_eq!(r.reason, RejectionReason::InvalidRequest, "{bad}");
        }
        let twice = vec![
            validation("s3://bkt/m/1.json"),
            validation("s3://bkt/m/2.json"),
        ];
        assert!(two_channel_plan(&h, twice).is_err());
    }

    #[test]
    fn prefix_channel_always_ends_in_a_slash() {
        let job = JobName::parse("j").unwrap();
        let s = settings();
        let hub = hub();
        let req = plan(&PlanInput {
            job_name: &job,
            region: "us-east-1",
            hub: &hub,
            settings: &s,
            training_channel: TrainingChannel::Prefix(
                "s3://my-bucket/datasets/train".parse().unwrap(),
            ),
            more_channels: vec![],
            route: "r",
            dataset_tag: "x".into(),
            deployment: "hubtune",
        })
        .unwrap();
        assert_eq!(
            req.channel("training")
                .unwrap()
                .data_source
                .s3_data_source
                .s3_uri
                .to_string(),
            FIXTURE_TRAINING
        );
    }

    #[test]
    fn sample_dataset_gets_hub_access() {
        let job = JobName::parse("j").unwrap();
        let s = settings();
        let hub = hub();
        let req = plan(&PlanInput {
            job_name: &job,
            region: "us-east-1",
            hub: &hub,
            settings: &s,
            training_channel: TrainingChannel::Prefix(
                "s3://jumpstart-cache-prod-us-east-1/training-datasets/oasst_top/train/"
                    .parse()
                    .unwrap(),
            ),
            more_channels: vec![],
            route: "r",
            dataset_tag: "x".into(),
            deployment: "hubtune",
        })
        .unwrap();
        let t = &req.channel("training").unwrap().data_source.s3_data_source;
        assert_eq!(
            t.hub_access_config.as_ref().unwrap().hub_content_arn,
            hub.hub_content_arn
        );
    }

    #[test]
    fn gated_without_eula_is_refused_with_the_key_to_set() {
        let mut s = settings();
        s.accept_eula = false;
        let e = run(&hub(), &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "eula_not_accepted");
        assert!(
            e.message
                .contains("`accept_eula = true` in [routes.support-bot]"),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("s3://jumpstart-cache-prod-us-east-1/fmhMetadata/eula/llamaEula.txt"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("meta-textgeneration-llama-3-2-1b"),
            "{}",
            e.message
        );
        // A model that is not gated needs no EULA, and gets no ModelAccessConfig unless the route accepted one.
        let open = with_document(|d| {
            d.gated_bucket = false;
            d.hosting_eula_uri = None;
        });
        let req = run(&open, &s).unwrap();
        assert!(req
            .channel("model")
            .unwrap()
            .data_source
            .s3_data_source
            .model_access_config
            .is_none());
        assert!(
            req.environment.is_empty(),
            "never the SageMakerGatedModelS3Uri form"
        );
    }

    #[test]
    fn a_hub_model_has_no_hub_access_config() {
        let mut h = hub();
        h.hub_content_type = HubContentType::Model;
        h.hub_content_arn = h.hub_content_arn.replace("/ModelReference/", "/Model/");
        h.sagemaker_public_hub_content_arn = None;
        let req = run(&h, &settings()).unwrap();
        for c in &req.input_data_config {
            assert!(
                c.data_source.s3_data_source.hub_access_config.is_none(),
                "{}",
                c.channel_name
            );
        }
        assert_eq!(
            req.channel("model")
                .unwrap()
                .data_source
                .s3_data_source
                .model_access_config,
            Some(ModelAccessConfig { accept_eula: true })
        );
        assert_eq!(
            req.tag(TAG_HUB_CONTENT_ARN),
            Some(h.hub_content_arn.as_str())
        );
    }

    #[test]
    fn g4dn_variant_is_used() {
        let doc =
            HubDocument::from_json(&read("hub/meta-textgeneration-llama-2-13b-f.document.json"))
                .unwrap();
        let h = with_document(|d| *d = doc);
        let mut s = settings();
        s.instance_type = Some("ml.g4dn.12xlarge".into());
        s.hyperparameters.clear();
        let req = run(&h, &s).unwrap();
        assert_eq!(req.hyper_parameters["epoch"], "\"2\"");
        assert_eq!(req.hyper_parameters["int8_quantization"], "\"True\"");
        assert_eq!(req.hyper_parameters["enable_fsdp"], "\"False\"");
        assert_eq!(req.resource_config.volume_size_in_gb, 30);
        // The route still wins over the variant.
        s.hyperparameters.insert("epoch".into(), "5".into());
        assert_eq!(run(&h, &s).unwrap().hyper_parameters["epoch"], "\"5\"");
    }

    #[test]
    fn instance_type_defaults_to_the_document() {
        let mut s = settings();
        s.instance_type = None;
        assert_eq!(
            run(&hub(), &s).unwrap().resource_config.instance_type,
            "ml.g5.2xlarge"
        );
        let e = run(
            &with_document(|d| d.default_training_instance_type = None),
            &s,
        )
        .unwrap_err();
        assert_eq!(e.reason.as_str(), "instance_type_missing");
        assert!(
            e.message
                .contains("`instance_type` in [routes.support-bot]"),
            "{}",
            e.message
        );
        s.instance_type = Some("ml.p3.2xlarge".into());
        assert_eq!(
            run(&hub(), &s).unwrap_err().reason.as_str(),
            "instance_type_not_supported"
        );
    }

    #[test]
    fn hyperparameters_are_checked() {
        let mut s = settings();
        s.hyperparameters.insert("epoch".into(), "0".into());
        let e = run(&hub(), &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "bad_hyperparameter");
        assert!(
            e.message
                .contains("`hyperparameters.epoch` in [routes.support-bot] is \"0\""),
            "{}",
            e.message
        );
        assert!(e.message.contains("at least 1"), "{}", e.message);

        let mut s = settings();
        s.hyperparameters
            .insert("instruction_tuned".into(), "yes".into());
        let e = run(&hub(), &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "bad_hyperparameter");
        assert!(e.message.contains("one of: True, False"), "{}", e.message);

        let mut s = settings();
        s.hyperparameters.insert("epochs".into(), "3".into());
        let e = run(&hub(), &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "unknown_hyperparameter");
        assert!(
            e.message.contains("`hyperparameters.epochs`"),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("epoch, instruction_tuned"),
            "{}",
            e.message
        );
        // Container plumbing is not the route's to set.
        let mut s = settings();
        s.hyperparameters
            .insert("sagemaker_program".into(), "evil.py".into());
        assert_eq!(
            run(&hub(), &s).unwrap_err().reason.as_str(),
            "unknown_hyperparameter"
        );

        let mut s = settings();
        s.hyperparameters
            .insert("learning_rate".into(), "2e-5".into());
        s.hyperparameters.insert(
            "target_modules".into(),
            "q_proj,k_proj,v_proj,o_proj".into(),
        );
        let req = run(&hub(), &s).unwrap();
        assert_eq!(req.hyper_parameters["learning_rate"], "\"2e-5\"");
        assert_eq!(
            req.hyper_parameters["target_modules"],
            "\"q_proj,k_proj,v_proj,o_proj\""
        );
        assert_eq!(req.hyper_parameters["sagemaker_container_log_level"], "20");
    }

    #[test]
    fn caps_are_enforced() {
        let mut s = settings();
        s.instance_count = 4;
        s.max_instance_count = Some(2);
        let e = run(&hub(), &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "cap_exceeded");
        assert!(
            e.message
                .contains("`max_instance_count` in [routes.support-bot] (2)"),
            "{}",
            e.message
        );

        let mut s = settings();
        s.max_runtime_seconds = Some(200_000);
        s.max_runtime_cap_seconds = Some(100_000);
        let e = run(&hub(), &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "cap_exceeded");
        assert!(
            e.message
                .contains("`max_runtime_seconds` in [routes.support-bot] (200000)"),
            "{}",
            e.message
        );

        // The document's 360000 is only a default: the cap lowers it.
        s.max_runtime_seconds = None;
        assert_eq!(
            run(&hub(), &s)
                .unwrap()
                .stopping_condition
                .max_runtime_in_seconds,
            100_000
        );
        s.max_runtime_cap_seconds = None;
        s.max_runtime_seconds = Some(7200);
        assert_eq!(
            run(&hub(), &s)
                .unwrap()
                .stopping_condition
                .max_runtime_in_seconds,
            7200
        );
        let h = with_document(|d| d.max_runtime_in_seconds = None);
        s.max_runtime_seconds = None;
        assert_eq!(
            run(&h, &s)
                .unwrap()
                .stopping_condition
                .max_runtime_in_seconds,
            DEFAULT_MAX_RUNTIME_SECONDS
        );
    }

    #[test]
    fn long_uris_are_refused() {
        let mut s = settings();
        s.output_path = format!("s3://my-bucket/{}/", "a".repeat(1100))
            .parse()
            .unwrap();
        let e = run(&hub(), &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "uri_too_long");
        assert!(e.message.contains("output path"), "{}", e.message);
    }

    #[test]
    fn network_isolation_off_sends_no_code_channel() {
        let h = with_document(|d| d.training_enable_network_isolation = false);
        let req = run(&h, &settings()).unwrap();
        assert!(req.channel("code").is_none());
        assert!(!req.enable_network_isolation);
        assert_eq!(
            req.hyper_parameters["sagemaker_submit_directory"],
            "\"s3://jumpstart-cache-prod-us-east-1/source-directory-tarballs/training/meta-textgeneration/prepack/inference-meta-textgeneration/v1.2.0/sourcedir.tar.gz\""
        );
    }

    #[test]
    fn route_extras() {
        let mut s = settings();
        s.kms_key_id = Some("arn:aws:kms:us-east-1:111122223333:key/k".into());
        s.vpc = Some(VpcSettings {
            subnets: vec!["subnet-1".into()],
            security_group_ids: vec!["sg-1".into()],
        });
        s.spot = Some(SpotSettings {
            max_wait_seconds: 400_000,
            checkpoint_s3_uri: Some("s3://my-bucket/checkpoints/support-bot/".parse().unwrap()),
        });
        s.tags.insert("team".into(), "ml".into());
        s.environment.insert("EXTRA".into(), "1".into());
        s.volume_size_gb = Some(500);
        let req = run(&hub(), &s).unwrap();
        assert_eq!(req.output_data_config.kms_key_id, s.kms_key_id);
        assert_eq!(
            req.resource_config.volume_kms_key_id, None,
            "g5 has local storage: no volume key"
        );
        assert_eq!(req.resource_config.volume_size_in_gb, 500);
        assert_eq!(req.vpc_config.as_ref().unwrap().subnets, ["subnet-1"]);
        assert_eq!(req.enable_managed_spot_training, Some(true));
        assert_eq!(
            req.stopping_condition.max_wait_time_in_seconds,
            Some(400_000)
        );
        assert_eq!(
            req.checkpoint_config.as_ref().unwrap().s3_uri.to_string(),
            "s3://my-bucket/checkpoints/support-bot/"
        );
        assert_eq!(req.tag("team"), Some("ml"));
        assert_eq!(req.tag(TAG_ROUTE), Some("support-bot"));
        assert_eq!(req.environment["EXTRA"], "1");
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v["VpcConfig"],
            json!({"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]})
        );
        assert_eq!(v["ResourceConfig"]["VolumeSizeInGB"], 500);
        assert_eq!(
            v["CheckpointConfig"]["S3Uri"],
            "s3://my-bucket/checkpoints/support-bot/"
        );

        // An EBS instance gets the volume key.
        let h = with_document(|d| {
            d.supported_training_instance_types
                .push("ml.p3.16xlarge".into())
        });
        s.instance_type = Some("ml.p3.16xlarge".into());
        let req = run(&h, &s).unwrap();
        assert_eq!(req.resource_config.volume_kms_key_id, s.kms_key_id);

        // A spot wait shorter than the runtime is refused.
        s.spot.as_mut().unwrap().max_wait_seconds = 3600;
        let e = run(&h, &s).unwrap_err();
        assert_eq!(e.reason.as_str(), "bad_spot_settings");
        assert!(
            e.message
                .contains("`spot.max_wait_seconds` in [routes.support-bot]"),
            "{}",
            e.message
        );
    }

    #[test]
    fn too_many_tags() {
        let mut s = settings();
        for i in 0..46 {
            s.tags.insert(format!("t{i}"), "v".into());
        }
        assert_eq!(
            run(&hub(), &s).unwrap_err().reason.as_str(),
            "too_many_tags"
        );
    }

    #[test]
    fn alias_reference_tags_the_public_model_id() {
        let mut h = hub();
        h.hub_content_name = "our-llama".into();
        let req = run(&h, &settings()).unwrap();
        assert_eq!(
            req.tag(TAG_MODEL_ID),
            Some("meta-textgeneration-llama-3-2-1b")
        );
    }
}
