//! The model registry through the SDK (`ModelRegistry` port): CreateModelPackage.

use async_trait::async_trait;
use aws_sdk_sagemaker::types as sm;

use super::errors::sdk_error;
use super::Aws;
use crate::domain::error::{Error, ErrorClass, Result};
use crate::domain::registry::{ApprovalStatus, CreateModelPackageRequest};
use crate::ports::ModelRegistry;

const SAGEMAKER: &str = "sagemaker";
const OP: &str = "CreateModelPackage";

fn approval(s: ApprovalStatus) -> sm::ModelApprovalStatus {
    match s {
        ApprovalStatus::Approved => sm::ModelApprovalStatus::Approved,
        ApprovalStatus::Rejected => sm::ModelApprovalStatus::Rejected,
        ApprovalStatus::PendingManualApproval => sm::ModelApprovalStatus::PendingManualApproval,
    }
}

/// A group that does not exist is the deployment's to fix (create it, or correct the route): the publication waits
/// on its queue, alarmed, instead of going to the dead-letter queue.
pub(crate) fn reclass(e: Error) -> Error {
    match e {
        Error::Aws {
            service,
            operation,
            code,
            message,
            class: ErrorClass::Permanent,
        } if message.contains("does not exist") => Error::Aws {
            service,
            operation,
            code,
            message,
            class: ErrorClass::Deployment,
        },
        other => other,
    }
}

#[async_trait]
impl ModelRegistry for Aws {
    async fn create_model_package(&self, req: &CreateModelPackageRequest) -> Result<String> {
        let containers = req
            .inference_specification
            .containers
            .iter()
            .map(|c| {
                let source = c.model_data_source.as_ref().map(|m| {
                    let s = &m.s3_data_source;
                    sm::ModelDataSource::builder()
                        .s3_data_source(
                            sm::S3ModelDataSource::builder()
                                .s3_uri(&s.s3_uri)
                                .s3_data_type(sm::S3ModelDataType::from(s.s3_data_type.as_str()))
                                .compression_type(sm::ModelCompressionType::from(
                                    s.compression_type.as_str(),
                                ))
                                .build(),
                        )
                        .build()
                });
                sm::ModelPackageContainerDefinition::builder()
                    .image(&c.image)
                    .set_model_data_url(c.model_data_url.clone())
                    .set_model_data_source(source)
                    .set_environment((!c.environment.is_empty()).then(|| {
                        c.environment
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    }))
                    .build()
            })
            .collect();
        let out = self
            .sagemaker
            .create_model_package()
            .model_package_group_name(&req.model_package_group_name)
            .model_package_description(&req.model_package_description)
            .inference_specification(
                sm::InferenceSpecification::builder()
                    .set_containers(Some(containers))
                    .build(),
            )
            .model_approval_status(approval(req.model_approval_status))
            .client_token(&req.client_token)
            .set_customer_metadata_properties(Some(
                req.customer_metadata_properties
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| reclass(sdk_error(SAGEMAKER, OP, &e)))?;
        out.model_package_arn()
            .map(str::to_string)
            .ok_or_else(|| Error::Aws {
                service: SAGEMAKER,
                operation: OP,
                code: None,
                message: "the response has no ModelPackageArn".into(),
                class: ErrorClass::Retry,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_group_is_the_deployments_fault_other_refusals_stay_permanent() {
        let aws = |message: &str, class| Error::Aws {
            service: SAGEMAKER,
            operation: OP,
            code: Some("ValidationException".into()),
            message: message.into(),
            class,
        };
        let missing = aws(
            "Model Package Group g does not exist.",
            ErrorClass::Permanent,
        );
        assert_eq!(reclass(missing).class(), ErrorClass::Deployment);
        let bad = aws("1 validation error detected", ErrorClass::Permanent);
        assert_eq!(reclass(bad).class(), ErrorClass::Permanent);
        let slow = aws("does not exist", ErrorClass::Retry);
        assert_eq!(reclass(slow).class(), ErrorClass::Retry);
    }
}
