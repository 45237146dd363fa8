//! The SDK input for a planned CreateTrainingJob request, field for field. Every struct of `plan` is destructured
//! without `..`, so a field added there fails to compile here until it is sent.

use aws_sdk_sagemaker::operation::create_training_job::builders::CreateTrainingJobInputBuilder;
use aws_sdk_sagemaker::operation::create_training_job::CreateTrainingJobInput;
use aws_sdk_sagemaker::types as sm;

use crate::domain::error::{Error, ErrorClass, Result};
use crate::domain::hub;
use crate::domain::plan::{self, CreateTrainingJobRequest};

const SAGEMAKER: &str = "sagemaker";

fn to_i32(value: u32, field: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::Aws {
        service: SAGEMAKER,
        operation: "CreateTrainingJob",
        code: None,
        message: format!("{field} {value} is out of range"),
        class: ErrorClass::Permanent,
    })
}

/// The SDK input for a planned request, field for field.
pub(crate) fn training_job_input(
    req: &CreateTrainingJobRequest,
) -> Result<CreateTrainingJobInputBuilder> {
    let CreateTrainingJobRequest {
        training_job_name,
        algorithm_specification,
        role_arn,
        input_data_config,
        output_data_config,
        resource_config,
        stopping_condition,
        hyper_parameters,
        environment,
        tags,
        enable_network_isolation,
        vpc_config,
        enable_managed_spot_training,
        checkpoint_config,
    } = req;
    let tags = tags
        .iter()
        .map(|plan::Tag { key, value }| sm::Tag::builder().key(key).value(value).build())
        .collect();
    Ok(CreateTrainingJobInput::builder()
        .training_job_name(training_job_name)
        .algorithm_specification(sdk_algorithm(algorithm_specification))
        .role_arn(role_arn)
        .set_input_data_config(Some(input_data_config.iter().map(sdk_channel).collect()))
        .output_data_config(sdk_output(output_data_config))
        .resource_config(sdk_resources(resource_config)?)
        .stopping_condition(sdk_stopping(stopping_condition)?)
        .set_hyper_parameters(Some(hyper_parameters.clone().into_iter().collect()))
        .set_environment(Some(environment.clone().into_iter().collect()))
        .set_tags(Some(tags))
        .enable_network_isolation(*enable_network_isolation)
        .set_vpc_config(vpc_config.as_ref().map(sdk_vpc))
        .set_enable_managed_spot_training(*enable_managed_spot_training)
        .set_checkpoint_config(checkpoint_config.as_ref().map(sdk_checkpoint)))
}

fn sdk_algorithm(a: &plan::AlgorithmSpecification) -> sm::AlgorithmSpecification {
    let plan::AlgorithmSpecification {
        training_image,
        training_input_mode,
        metric_definitions,
    } = a;
    sm::AlgorithmSpecification::builder()
        .training_image(training_image)
        .training_input_mode(sdk_input_mode(*training_input_mode))
        .set_metric_definitions((!metric_definitions.is_empty()).then(|| {
            metric_definitions
                .iter()
                .map(|hub::MetricDefinition { name, regex }| {
                    sm::MetricDefinition::builder()
                        .name(name)
                        .regex(regex)
                        .build()
                })
                .collect()
        }))
        .build()
}

fn sdk_output(o: &plan::OutputDataConfig) -> sm::OutputDataConfig {
    let plan::OutputDataConfig {
        s3_output_path,
        kms_key_id,
    } = o;
    sm::OutputDataConfig::builder()
        .s3_output_path(s3_output_path.to_string())
        .set_kms_key_id(kms_key_id.clone())
        .build()
}

fn sdk_resources(r: &plan::ResourceConfig) -> Result<sm::ResourceConfig> {
    let plan::ResourceConfig {
        instance_type,
        instance_count,
        volume_size_in_gb,
        volume_kms_key_id,
    } = r;
    Ok(sm::ResourceConfig::builder()
        .instance_type(sm::TrainingInstanceType::from(instance_type.as_str()))
        .instance_count(to_i32(*instance_count, "InstanceCount")?)
        .volume_size_in_gb(to_i32(*volume_size_in_gb, "VolumeSizeInGB")?)
        .set_volume_kms_key_id(volume_kms_key_id.clone())
        .build())
}

fn sdk_stopping(s: &plan::StoppingCondition) -> Result<sm::StoppingCondition> {
    let plan::StoppingCondition {
        max_runtime_in_seconds,
        max_wait_time_in_seconds,
    } = s;
    Ok(sm::StoppingCondition::builder()
        .max_runtime_in_seconds(to_i32(*max_runtime_in_seconds, "MaxRuntimeInSeconds")?)
        .set_max_wait_time_in_seconds(
            max_wait_time_in_seconds
                .map(|v| to_i32(v, "MaxWaitTimeInSeconds"))
                .transpose()?,
        )
        .build())
}

fn sdk_vpc(v: &plan::VpcConfig) -> sm::VpcConfig {
    let plan::VpcConfig {
        security_group_ids,
        subnets,
    } = v;
    sm::VpcConfig::builder()
        .set_security_group_ids(Some(security_group_ids.clone()))
        .set_subnets(Some(subnets.clone()))
        .build()
}

fn sdk_checkpoint(c: &plan::CheckpointConfig) -> sm::CheckpointConfig {
    let plan::CheckpointConfig { s3_uri } = c;
    sm::CheckpointConfig::builder()
        .s3_uri(s3_uri.to_string())
        .build()
}

fn sdk_channel(channel: &plan::Channel) -> sm::Channel {
    let plan::Channel {
        channel_name,
        data_source,
        content_type,
        input_mode,
        compression_type,
    } = channel;
    let plan::DataSource { s3_data_source } = data_source;
    let plan::S3DataSource {
        s3_data_type,
        s3_uri,
        s3_data_distribution_type,
        hub_access_config,
        model_access_config,
    } = s3_data_source;
    let s3 = sm::S3DataSource::builder()
        .s3_data_type(match s3_data_type {
            plan::S3DataType::S3Prefix => sm::S3DataType::S3Prefix,
            plan::S3DataType::ManifestFile => sm::S3DataType::ManifestFile,
        })
        .s3_uri(s3_uri.to_string())
        .s3_data_distribution_type(match s3_data_distribution_type {
            plan::S3DataDistributionType::FullyReplicated => {
                sm::S3DataDistribution::FullyReplicated
            }
            plan::S3DataDistributionType::ShardedByS3Key => sm::S3DataDistribution::ShardedByS3Key,
        })
        .set_hub_access_config(hub_access_config.as_ref().map(
            |plan::HubAccessConfig { hub_content_arn }| {
                sm::HubAccessConfig::builder()
                    .hub_content_arn(hub_content_arn)
                    .build()
            },
        ))
        .set_model_access_config(model_access_config.as_ref().map(
            |plan::ModelAccessConfig { accept_eula }| {
                sm::ModelAccessConfig::builder()
                    .accept_eula(*accept_eula)
                    .build()
            },
        ))
        .build();
    sm::Channel::builder()
        .channel_name(channel_name)
        .data_source(sm::DataSource::builder().s3_data_source(s3).build())
        .set_content_type(content_type.clone())
        .set_input_mode(input_mode.map(sdk_input_mode))
        .set_compression_type(compression_type.map(|c| match c {
            hub::CompressionType::None => sm::CompressionType::None,
            hub::CompressionType::Gzip => sm::CompressionType::Gzip,
        }))
        .build()
}

fn sdk_input_mode(mode: plan::TrainingInputMode) -> sm::TrainingInputMode {
    match mode {
        plan::TrainingInputMode::File => sm::TrainingInputMode::File,
        plan::TrainingInputMode::Pipe => sm::TrainingInputMode::Pipe,
        plan::TrainingInputMode::FastFile => sm::TrainingInputMode::Fastfile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Map, Value};

    fn fixture_request() -> (CreateTrainingJobRequest, Value) {
        let text = include_str!("../../../fixtures/sdk/create_training_job.accept_eula.json");
        let raw: Value = serde_json::from_str(text).unwrap();
        (serde_json::from_str(text).unwrap(), raw)
    }

    fn insert(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
        if let Some(v) = v {
            m.insert(key.to_string(), v);
        }
    }

    fn string_map(m: Option<&std::collections::HashMap<String, String>>) -> Option<Value> {
        m.map(|m| Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect()))
    }

    /// The SDK input read back in the API's JSON shape, for the fields `plan` can set.
    fn wire_json(i: &CreateTrainingJobInput) -> Value {
        let mut m = Map::new();
        insert(
            &mut m,
            "TrainingJobName",
            i.training_job_name().map(|v| json!(v)),
        );
        insert(
            &mut m,
            "AlgorithmSpecification",
            i.algorithm_specification().map(|a| {
                let mut o = Map::new();
                insert(
                    &mut o,
                    "TrainingImage",
                    a.training_image().map(|v| json!(v)),
                );
                insert(
                    &mut o,
                    "TrainingInputMode",
                    a.training_input_mode().map(|v| json!(v.as_str())),
                );
                if !a.metric_definitions().is_empty() {
                    let defs = a
                        .metric_definitions()
                        .iter()
                        .map(|d| json!({"Name": d.name(), "Regex": d.regex()}))
                        .collect();
                    o.insert("MetricDefinitions".into(), Value::Array(defs));
                }
                Value::Object(o)
            }),
        );
        insert(&mut m, "RoleArn", i.role_arn().map(|v| json!(v)));
        let channels = i
            .input_data_config()
            .iter()
            .map(|c| {
                let s = c.data_source().unwrap().s3_data_source().unwrap();
                let mut s3 = Map::new();
                insert(
                    &mut s3,
                    "S3DataType",
                    s.s3_data_type().map(|v| json!(v.as_str())),
                );
                insert(&mut s3, "S3Uri", s.s3_uri().map(|v| json!(v)));
                insert(
                    &mut s3,
                    "S3DataDistributionType",
                    s.s3_data_distribution_type().map(|v| json!(v.as_str())),
                );
                insert(
                    &mut s3,
                    "HubAccessConfig",
                    s.hub_access_config()
                        .map(|h| json!({"HubContentArn": h.hub_content_arn()})),
                );
                insert(
                    &mut s3,
                    "ModelAccessConfig",
                    s.model_access_config()
                        .map(|h| json!({"AcceptEula": h.accept_eula()})),
                );
                let mut o = Map::new();
                insert(&mut o, "ChannelName", c.channel_name().map(|v| json!(v)));
                o.insert("DataSource".into(), json!({"S3DataSource": s3}));
                insert(&mut o, "ContentType", c.content_type().map(|v| json!(v)));
                insert(
                    &mut o,
                    "InputMode",
                    c.input_mode().map(|v| json!(v.as_str())),
                );
                insert(
                    &mut o,
                    "CompressionType",
                    c.compression_type().map(|v| json!(v.as_str())),
                );
                Value::Object(o)
            })
            .collect();
        m.insert("InputDataConfig".into(), Value::Array(channels));
        insert(
            &mut m,
            "OutputDataConfig",
            i.output_data_config().map(|o| {
                let mut v = Map::new();
                insert(&mut v, "S3OutputPath", o.s3_output_path().map(|x| json!(x)));
                insert(&mut v, "KmsKeyId", o.kms_key_id().map(|x| json!(x)));
                Value::Object(v)
            }),
        );
        insert(
            &mut m,
            "ResourceConfig",
            i.resource_config().map(|r| {
                let mut v = Map::new();
                insert(
                    &mut v,
                    "InstanceType",
                    r.instance_type().map(|x| json!(x.as_str())),
                );
                insert(
                    &mut v,
                    "InstanceCount",
                    r.instance_count().map(|x| json!(x)),
                );
                insert(
                    &mut v,
                    "VolumeSizeInGB",
                    r.volume_size_in_gb().map(|x| json!(x)),
                );
                insert(
                    &mut v,
                    "VolumeKmsKeyId",
                    r.volume_kms_key_id().map(|x| json!(x)),
                );
                Value::Object(v)
            }),
        );
        insert(
            &mut m,
            "StoppingCondition",
            i.stopping_condition().map(|s| {
                let mut v = Map::new();
                insert(
                    &mut v,
                    "MaxRuntimeInSeconds",
                    s.max_runtime_in_seconds().map(|x| json!(x)),
                );
                insert(
                    &mut v,
                    "MaxWaitTimeInSeconds",
                    s.max_wait_time_in_seconds().map(|x| json!(x)),
                );
                Value::Object(v)
            }),
        );
        insert(&mut m, "HyperParameters", string_map(i.hyper_parameters()));
        insert(&mut m, "Environment", string_map(i.environment()));
        let tags = i
            .tags()
            .iter()
            .map(|t| json!({"Key": t.key(), "Value": t.value()}))
            .collect();
        m.insert("Tags".into(), Value::Array(tags));
        insert(
            &mut m,
            "EnableNetworkIsolation",
            i.enable_network_isolation().map(|v| json!(v)),
        );
        insert(
            &mut m,
            "VpcConfig",
            i.vpc_config().map(
                |v| json!({"SecurityGroupIds": v.security_group_ids(), "Subnets": v.subnets()}),
            ),
        );
        insert(
            &mut m,
            "EnableManagedSpotTraining",
            i.enable_managed_spot_training().map(|v| json!(v)),
        );
        insert(
            &mut m,
            "CheckpointConfig",
            i.checkpoint_config().map(|c| json!({"S3Uri": c.s3_uri()})),
        );
        Value::Object(m)
    }

    #[test]
    fn request_mapping_matches_the_sdk_fixture() {
        let (req, mut raw) = fixture_request();
        let input = training_job_input(&req).unwrap().build().unwrap();

        // Spot checks of what matters most on the hub path.
        let model = input
            .input_data_config()
            .iter()
            .find(|c| c.channel_name() == Some("model"))
            .unwrap();
        let s3 = model.data_source().unwrap().s3_data_source().unwrap();
        assert_eq!(
            s3.hub_access_config().unwrap().hub_content_arn(),
            Some(
                "arn:aws:sagemaker:us-east-1:111122223333:hub-content/my-private-hub/ModelReference/\
                 meta-textgeneration-llama-3-2-1b/1.2.0"
            )
        );
        assert_eq!(s3.model_access_config().unwrap().accept_eula(), Some(true));
        assert_eq!(model.content_type(), Some("application/x-sagemaker-model"));
        assert_eq!(model.input_mode(), Some(&sm::TrainingInputMode::File));
        assert_eq!(
            input
                .algorithm_specification()
                .unwrap()
                .metric_definitions()
                .len(),
            3
        );
        assert_eq!(input.enable_network_isolation(), Some(true));
        assert_eq!(
            input.resource_config().unwrap().instance_type(),
            Some(&sm::TrainingInstanceType::MlG52Xlarge)
        );
        assert_eq!(
            input.hyper_parameters().unwrap()["sagemaker_submit_directory"],
            "\"/opt/ml/input/data/code/sourcedir.tar.gz\""
        );
        // Nothing hubtune does not plan.
        assert!(input.debug_hook_config().is_none());
        assert!(input.profiler_config().is_none());

        // Everything the plan holds reaches the SDK input, and it is exactly the SDK's request (less the
        // debugger/profiler configs hubtune leaves out on purpose).
        let wire = wire_json(&input);
        assert_eq!(wire, serde_json::to_value(&req).unwrap());
        let raw = raw.as_object_mut().unwrap();
        raw.remove("DebugHookConfig");
        raw.remove("ProfilerConfig");
        assert_eq!(wire, Value::Object(raw.clone()));
    }

    #[test]
    fn request_mapping_carries_every_optional_field() {
        let (mut req, _) = fixture_request();
        let training = req
            .input_data_config
            .iter_mut()
            .find(|c| c.channel_name == "training")
            .unwrap();
        training.data_source.s3_data_source.s3_data_type = plan::S3DataType::ManifestFile;
        training.data_source.s3_data_source.s3_uri =
            "s3://my-bucket/hubtune-state/manifests/job.manifest"
                .parse()
                .unwrap();
        training
            .data_source
            .s3_data_source
            .s3_data_distribution_type = plan::S3DataDistributionType::ShardedByS3Key;
        training.input_mode = Some(plan::TrainingInputMode::FastFile);
        training.compression_type = Some(hub::CompressionType::Gzip);
        training.content_type = Some("application/jsonlines".into());
        req.output_data_config.kms_key_id =
            Some("arn:aws:kms:us-east-1:111122223333:key/out".into());
        req.resource_config.volume_kms_key_id =
            Some("arn:aws:kms:us-east-1:111122223333:key/vol".into());
        req.resource_config.instance_count = 2;
        req.stopping_condition.max_wait_time_in_seconds = Some(172_800);
        req.environment
            .insert("NCCL_P2P_DISABLE".into(), "1".into());
        req.vpc_config = Some(plan::VpcConfig {
            security_group_ids: vec!["sg-0123".into()],
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
        });
        req.enable_managed_spot_training = Some(true);
        req.checkpoint_config = Some(plan::CheckpointConfig {
            s3_uri: "s3://my-bucket/checkpoints/job/".parse().unwrap(),
        });
        req.algorithm_specification.training_input_mode = plan::TrainingInputMode::Pipe;

        let input = training_job_input(&req).unwrap().build().unwrap();
        let wire = wire_json(&input);
        assert_eq!(wire, serde_json::to_value(&req).unwrap());
        assert_eq!(
            wire["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"],
            "ManifestFile"
        );
        assert_eq!(wire["InputDataConfig"][0]["InputMode"], "FastFile");
        assert_eq!(wire["StoppingCondition"]["MaxWaitTimeInSeconds"], 172_800);
        assert_eq!(
            wire["CheckpointConfig"]["S3Uri"],
            "s3://my-bucket/checkpoints/job/"
        );
    }

    #[test]
    fn request_mapping_refuses_out_of_range_numbers() {
        let (mut req, _) = fixture_request();
        req.stopping_condition.max_runtime_in_seconds = u32::MAX;
        let err = training_job_input(&req).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert!(err.to_string().contains("MaxRuntimeInSeconds"), "{err}");
    }
}
