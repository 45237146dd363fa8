//! SageMaker through the SDK: the private hub (`Hub` port) and training jobs (`TrainingJobs` port).

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types as sm;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};

use super::errors::{is_training_job_not_found, sdk_error};
use super::training_input::training_job_input;
use super::Aws;
use crate::domain::error::{Error, ErrorClass, Result};
use crate::domain::hub::{self, DescribeHubContentResponse, HubContent, HubContentType};
use crate::domain::job::{JobDescription, JobStatus, StatusTransition};
use crate::domain::plan::CreateTrainingJobRequest;
use crate::ports::{Hub, TrainingJobs};

const SAGEMAKER: &str = "sagemaker";

impl Aws {
    /// `Ok(None)` when the hub or the content does not exist (ResourceNotFound).
    pub async fn describe_hub_content(
        &self,
        hub: &str,
        content_type: HubContentType,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<HubContent>> {
        const OP: &str = "DescribeHubContent";
        let sent = self
            .sagemaker
            .describe_hub_content()
            .hub_name(hub)
            .hub_content_type(sdk_hub_content_type(content_type))
            .hub_content_name(name)
            .set_hub_content_version(version.map(str::to_string))
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) if e.code() == Some("ResourceNotFound") => return Ok(None),
            Err(e) => return Err(sdk_error(SAGEMAKER, OP, &e)),
        };
        let missing = |field: &str| Error::Aws {
            service: SAGEMAKER,
            operation: OP,
            code: None,
            message: format!(
                "the response for {content_type} `{name}` in hub `{hub}` has no {field}"
            ),
            class: ErrorClass::Retry,
        };
        let response = DescribeHubContentResponse {
            hub_content_name: out.hub_content_name().unwrap_or(name).to_string(),
            hub_content_arn: out
                .hub_content_arn()
                .ok_or_else(|| missing("HubContentArn"))?
                .to_string(),
            hub_content_version: out
                .hub_content_version()
                .ok_or_else(|| missing("HubContentVersion"))?
                .to_string(),
            hub_content_type: match out.hub_content_type() {
                Some(sm::HubContentType::Model) => HubContentType::Model,
                Some(sm::HubContentType::ModelReference) => HubContentType::ModelReference,
                _ => content_type,
            },
            hub_name: out.hub_name().unwrap_or(hub::hub_name(hub)).to_string(),
            hub_arn: out
                .hub_arn()
                .or_else(|| hub.starts_with("arn:").then_some(hub))
                .unwrap_or_default()
                .to_string(),
            sage_maker_public_hub_content_arn: out
                .sage_maker_public_hub_content_arn()
                .map(str::to_string),
            reference_min_version: out.reference_min_version().map(str::to_string),
            hub_content_document: out
                .hub_content_document()
                .ok_or_else(|| missing("HubContentDocument"))?
                .to_string(),
        };
        // A document hubtune cannot read will not become readable by asking again.
        HubContent::from_response(response)
            .map(Some)
            .map_err(|e| Error::Aws {
                service: SAGEMAKER,
                operation: OP,
                code: None,
                message: e.to_string(),
                class: ErrorClass::Permanent,
            })
    }

    /// Returns the job ARN. `ResourceInUse` comes back as `Error::Aws { code: Some("ResourceInUse"), class:
    /// Permanent }`; ResourceLimitExceeded and capacity refusals with `class: Capacity`.
    pub async fn create_training_job(&self, req: &CreateTrainingJobRequest) -> Result<String> {
        const OP: &str = "CreateTrainingJob";
        let out = training_job_input(req)?
            .send_with(&self.sagemaker)
            .await
            .map_err(|e| sdk_error(SAGEMAKER, OP, &e))?;
        out.training_job_arn()
            .map(str::to_string)
            .ok_or_else(|| Error::Aws {
                service: SAGEMAKER,
                operation: OP,
                code: None,
                message: format!(
                    "the response for `{}` has no TrainingJobArn",
                    req.training_job_name
                ),
                class: ErrorClass::Retry,
            })
    }

    /// `Ok(None)` when no job has that name.
    pub async fn describe_training_job(&self, name: &str) -> Result<Option<JobDescription>> {
        match self
            .sagemaker
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
        {
            Ok(out) => job_description(name, &out).map(Some),
            Err(e) if is_training_job_not_found(&e, name) => Ok(None),
            Err(e) => Err(sdk_error(SAGEMAKER, "DescribeTrainingJob", &e)),
        }
    }

    /// ListTags on the job's ARN, all pages.
    pub async fn list_training_job_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        let mut pages = self
            .sagemaker
            .list_tags()
            .resource_arn(arn)
            .into_paginator()
            .send();
        let mut tags = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(SAGEMAKER, "ListTags", &e))?;
            for tag in page.tags() {
                if let Some(key) = tag.key() {
                    tags.insert(key.to_string(), tag.value().unwrap_or_default().to_string());
                }
            }
        }
        Ok(tags)
    }

    pub async fn stop_training_job(&self, name: &str) -> Result<()> {
        self.sagemaker
            .stop_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| sdk_error(SAGEMAKER, "StopTrainingJob", &e))?;
        Ok(())
    }
}

#[async_trait]
impl Hub for Aws {
    async fn describe_content(
        &self,
        hub: &str,
        content_type: HubContentType,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<HubContent>> {
        self.describe_hub_content(hub, content_type, name, version)
            .await
    }
}

#[async_trait]
impl TrainingJobs for Aws {
    async fn create(&self, request: &CreateTrainingJobRequest) -> Result<String> {
        self.create_training_job(request).await
    }
    async fn describe(&self, name: &str) -> Result<Option<JobDescription>> {
        self.describe_training_job(name).await
    }
    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        self.list_training_job_tags(arn).await
    }
    async fn stop(&self, name: &str) -> Result<()> {
        self.stop_training_job(name).await
    }
}

fn sdk_hub_content_type(t: HubContentType) -> sm::HubContentType {
    match t {
        HubContentType::ModelReference => sm::HubContentType::ModelReference,
        HubContentType::Model => sm::HubContentType::Model,
    }
}

fn to_utc(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// SageMaker reports metrics as 32-bit floats; widening through their shortest decimal keeps `0.1` as `0.1`.
fn metric_value(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// The names of `AlgorithmSpecification.MetricDefinitions`, in their order.
fn metric_names(out: &DescribeTrainingJobOutput) -> Vec<String> {
    out.algorithm_specification()
        .map(|a| {
            a.metric_definitions()
                .iter()
                .filter_map(|m| m.name().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn secondary_transitions(out: &DescribeTrainingJobOutput) -> Vec<StatusTransition> {
    out.secondary_status_transitions()
        .iter()
        .map(|t| StatusTransition {
            status: t
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            start: to_utc(t.start_time()),
            end: to_utc(t.end_time()),
            message: t.status_message().map(str::to_string),
        })
        .collect()
}

/// The parts of DescribeTrainingJob hubtune uses. `name` stands in for a response that omits it.
fn job_description(name: &str, out: &DescribeTrainingJobOutput) -> Result<JobDescription> {
    let status_text = out
        .training_job_status()
        .map(|s| s.as_str())
        .unwrap_or_default();
    let status = JobStatus::parse(status_text).ok_or_else(|| Error::Aws {
        service: SAGEMAKER,
        operation: "DescribeTrainingJob",
        code: None,
        message: format!("training job `{name}` has an unknown TrainingJobStatus `{status_text}`"),
        class: ErrorClass::Retry,
    })?;
    let resources = out.resource_config();
    Ok(JobDescription {
        name: out.training_job_name().unwrap_or(name).to_string(),
        arn: out.training_job_arn().unwrap_or_default().to_string(),
        status,
        secondary_status: out.secondary_status().map(|s| s.as_str().to_string()),
        failure_reason: out.failure_reason().map(str::to_string),
        model_artifacts: out
            .model_artifacts()
            .and_then(|m| m.s3_model_artifacts())
            .map(str::to_string),
        creation_time: to_utc(out.creation_time()),
        training_start_time: to_utc(out.training_start_time()),
        training_end_time: to_utc(out.training_end_time()),
        last_modified_time: to_utc(out.last_modified_time()),
        training_seconds: out.training_time_in_seconds().map(i64::from),
        billable_seconds: out.billable_time_in_seconds().map(i64::from),
        managed_spot: out.enable_managed_spot_training().unwrap_or(false),
        metric_names: metric_names(out),
        final_metrics: out
            .final_metric_data_list()
            .iter()
            .filter_map(|m| Some((m.metric_name()?.to_string(), metric_value(m.value()?))))
            .collect(),
        secondary_transitions: secondary_transitions(out),
        hyperparameters: out
            .hyper_parameters()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        image: out
            .algorithm_specification()
            .and_then(|a| a.training_image())
            .map(str::to_string),
        instance_type: resources
            .and_then(|r| r.instance_type())
            .map(|t| t.as_str().to_string()),
        instance_count: resources.and_then(|r| r.instance_count()),
        output_path: out
            .output_data_config()
            .and_then(|o| o.s3_output_path())
            .map(str::to_string),
        training_input: out
            .input_data_config()
            .iter()
            .find(|c| c.channel_name() == Some("training"))
            .and_then(|c| c.data_source())
            .and_then(|d| d.s3_data_source())
            .and_then(|s| s.s3_uri())
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_output_becomes_a_job_description() {
        use aws_smithy_types::DateTime as SmithyTime;
        let t = |secs: i64| SmithyTime::from_secs_and_nanos(secs, 500_000_000);
        let out = DescribeTrainingJobOutput::builder()
            .training_job_name("hubtune-support-bot-0123456789abcdef")
            .training_job_arn("arn:aws:sagemaker:us-east-1:111122223333:training-job/hubtune-support-bot-0123456789abcdef")
            .training_job_status(sm::TrainingJobStatus::Completed)
            .secondary_status(sm::SecondaryStatus::Completed)
            .model_artifacts(
                sm::ModelArtifacts::builder()
                    .s3_model_artifacts("s3://my-bucket/out/job/output/model.tar.gz")
                    .build(),
            )
            .creation_time(t(1_748_779_200))
            .training_start_time(t(1_748_779_260))
            .training_end_time(t(1_748_782_800))
            .last_modified_time(t(1_748_782_810))
            .training_time_in_seconds(3600)
            .billable_time_in_seconds(3540)
            .enable_managed_spot_training(true)
            .final_metric_data_list(
                sm::MetricData::builder()
                    .metric_name("huggingface-textgeneration:train-loss")
                    .value(0.1)
                    .build(),
            )
            .secondary_status_transitions(
                sm::SecondaryStatusTransition::builder()
                    .status(sm::SecondaryStatus::Training)
                    .start_time(t(1_748_779_260))
                    .end_time(t(1_748_782_800))
                    .status_message("Training image download completed.")
                    .build(),
            )
            .hyper_parameters("epoch", "\"2\"")
            .algorithm_specification(
                sm::AlgorithmSpecification::builder()
                    .training_image("763104351884.dkr.ecr.us-east-1.amazonaws.com/hf:latest")
                    .metric_definitions(
                        sm::MetricDefinition::builder()
                            .name("huggingface-textgeneration:eval-loss")
                            .regex("eval_epoch_loss=([0-9.]+)")
                            .build(),
                    )
                    .metric_definitions(
                        sm::MetricDefinition::builder()
                            .name("huggingface-textgeneration:train-loss")
                            .regex("train_epoch_loss=([0-9.]+)")
                            .build(),
                    )
                    .build(),
            )
            .resource_config(
                sm::ResourceConfig::builder()
                    .instance_type(sm::TrainingInstanceType::MlG52Xlarge)
                    .instance_count(1)
                    .build(),
            )
            .output_data_config(sm::OutputDataConfig::builder().s3_output_path("s3://my-bucket/out/").build())
            .input_data_config(
                sm::Channel::builder()
                    .channel_name("model")
                    .data_source(
                        sm::DataSource::builder()
                            .s3_data_source(sm::S3DataSource::builder().s3_uri("s3://jumpstart/model.tar.gz").build())
                            .build(),
                    )
                    .build(),
            )
            .input_data_config(
                sm::Channel::builder()
                    .channel_name("training")
                    .data_source(
                        sm::DataSource::builder()
                            .s3_data_source(sm::S3DataSource::builder().s3_uri("s3://my-bucket/state/m.manifest").build())
                            .build(),
                    )
                    .build(),
            )
            .build();
        let d = job_description("ignored", &out).unwrap();
        assert_eq!(d.name, "hubtune-support-bot-0123456789abcdef");
        assert_eq!(d.status, JobStatus::Completed);
        assert_eq!(d.secondary_status.as_deref(), Some("Completed"));
        assert_eq!(
            d.model_artifacts.as_deref(),
            Some("s3://my-bucket/out/job/output/model.tar.gz")
        );
        assert_eq!(
            d.creation_time.unwrap().to_rfc3339(),
            "2025-06-01T12:00:00.500+00:00"
        );
        assert_eq!(d.training_seconds, Some(3600));
        assert_eq!(d.billable_seconds, Some(3540));
        assert!(d.managed_spot);
        assert_eq!(
            d.metric_names,
            [
                "huggingface-textgeneration:eval-loss",
                "huggingface-textgeneration:train-loss"
            ]
        );
        assert_eq!(
            d.final_metrics["huggingface-textgeneration:train-loss"],
            0.1
        );
        assert_eq!(d.secondary_transitions.len(), 1);
        assert_eq!(d.secondary_transitions[0].status, "Training");
        assert_eq!(
            d.secondary_transitions[0].message.as_deref(),
            Some("Training image download completed.")
        );
        assert_eq!(d.hyperparameters["epoch"], "\"2\"");
        assert_eq!(
            d.image.as_deref(),
            Some("763104351884.dkr.ecr.us-east-1.amazonaws.com/hf:latest")
        );
        assert_eq!(d.instance_type.as_deref(), Some("ml.g5.2xlarge"));
        assert_eq!(d.instance_count, Some(1));
        assert_eq!(d.output_path.as_deref(), Some("s3://my-bucket/out/"));
        assert_eq!(
            d.training_input.as_deref(),
            Some("s3://my-bucket/state/m.manifest")
        );

        let unknown = DescribeTrainingJobOutput::builder()
            .training_job_status(sm::TrainingJobStatus::from("Paused"))
            .build();
        assert_eq!(
            job_description("j", &unknown).unwrap_err().class(),
            ErrorClass::Retry
        );
    }

    #[test]
    fn hub_content_types_map_to_the_sdk() {
        assert_eq!(
            sdk_hub_content_type(HubContentType::ModelReference).as_str(),
            HubContentType::ModelReference.as_str()
        );
        assert_eq!(
            sdk_hub_content_type(HubContentType::Model).as_str(),
            HubContentType::Model.as_str()
        );
    }
}
