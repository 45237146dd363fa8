//! What a hub document says about serving the model: the inference image and its environment, read the way the
//! SDK's `JumpStartModel` reads them, for the model package publish-artifact registers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The hosting keys of a hub content document. Newer documents keep the image only in their inference
/// configurations (`InferenceConfigComponents`, ranked by `InferenceConfigRankings`); older ones at the top.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostingKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_ecr_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inference_environment_variables: Vec<InferenceVariable>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inference_config_components: BTreeMap<String, InferenceComponent>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inference_config_rankings: BTreeMap<String, InferenceRanking>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InferenceVariable {
    pub name: String,
    /// A number or a boolean in some documents: kept as the text the container reads.
    #[serde(default)]
    pub default: serde_json::Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InferenceComponent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_ecr_uri: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InferenceRanking {
    #[serde(default)]
    pub rankings: Vec<String>,
}

/// The container a registered model runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hosting {
    pub image: String,
    /// The container-scoped inference variables with their defaults (`SAGEMAKER_PROGRAM`, …).
    pub environment: BTreeMap<String, String>,
}

impl HostingKeys {
    /// `HostingEcrUri`, else that of the best-ranked inference configuration that has one (the `overall` ranking,
    /// as the SDK's default config). `None`: the document says nothing of serving the model.
    pub fn hosting(&self) -> Option<Hosting> {
        let ranked = self
            .inference_config_rankings
            .get("overall")
            .map(|r| r.rankings.as_slice())
            .unwrap_or_default();
        let image = self.hosting_ecr_uri.clone().or_else(|| {
            ranked
                .iter()
                .filter_map(|name| self.inference_config_components.get(name))
                .chain(self.inference_config_components.values())
                .find_map(|c| c.hosting_ecr_uri.clone())
        })?;
        let environment = self
            .inference_environment_variables
            .iter()
            .filter(|v| v.scope.as_deref().is_none_or(|s| s == "container"))
            .filter_map(|v| {
                let text = match &v.default {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => return None,
                    other => other.to_string(),
                };
                Some((v.name.clone(), text))
            })
            .collect();
        Some(Hosting { image, environment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::hub::HubDocument;

    #[test]
    fn the_fixtures_image_is_the_best_ranked_configurations() {
        let doc = HubDocument::from_json(include_str!(
            "../../../../fixtures/hub/meta-textgeneration-llama-3-2-1b.document.json"
        ))
        .unwrap();
        let h = doc.hosting.hosting().expect("the fixture can be served");
        assert!(
            h.image.contains("huggingface-pytorch-tgi-inference"),
            "{}",
            h.image
        );
        assert_eq!(h.environment["SAGEMAKER_PROGRAM"], "inference.py");
        assert_eq!(
            h.environment["ENDPOINT_SERVER_TIMEOUT"], "3600",
            "a number is kept as its text"
        );
    }

    #[test]
    fn a_top_level_image_wins_and_no_image_means_no_hosting() {
        let mut keys = HostingKeys {
            hosting_ecr_uri: Some("img:1".into()),
            ..Default::default()
        };
        keys.inference_config_components.insert(
            "a".into(),
            InferenceComponent {
                hosting_ecr_uri: Some("img:2".into()),
            },
        );
        assert_eq!(keys.hosting().unwrap().image, "img:1");
        keys.hosting_ecr_uri = None;
        assert_eq!(keys.hosting().unwrap().image, "img:2");
        assert_eq!(HostingKeys::default().hosting(), None);
    }
}
