//! The hub content as DescribeHubContent returns it: its type, the response, and the parsed content.

use serde::{Deserialize, Serialize};

use crate::domain::hub::arn::{parse_hub_content_arn, HubContentType};
use crate::domain::hub::document::{HubDocument, HubError};

/// The public hub every reference points into.
pub const PUBLIC_HUB_NAME: &str = "SageMakerPublicHub";

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
