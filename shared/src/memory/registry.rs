use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{lock, Calls, Faults};
use crate::domain::error::{Error, ErrorClass, Result};
use crate::domain::registry::{violations, CreateModelPackageRequest};
use crate::ports::ModelRegistry;

/// A model registry in memory: groups must exist (unless `any_group`), versions count from 1 per group, and a
/// `ClientToken` seen before answers its version again, as SageMaker does.
#[derive(Default)]
pub struct MemoryRegistry {
    state: Mutex<State>,
    pub faults: Faults,
    pub calls: Calls,
}

#[derive(Default)]
struct State {
    groups: Vec<String>,
    /// (token, ARN, request), in the order they were made.
    versions: Vec<(String, String, CreateModelPackageRequest)>,
}

/// The ARN SageMaker gives version `n` of `group`.
pub fn package_arn(group: &str, n: usize) -> String {
    format!("arn:aws:sagemaker:us-east-1:111122223333:model-package/{group}/{n}")
}

impl MemoryRegistry {
    pub fn create_group(&self, name: &str) {
        lock(&self.state).groups.push(name.to_string());
    }

    /// Every version made, in order.
    pub fn versions(&self) -> Vec<(String, CreateModelPackageRequest)> {
        lock(&self.state)
            .versions
            .iter()
            .map(|(_, arn, req)| (arn.clone(), req.clone()))
            .collect()
    }
}

#[async_trait]
impl ModelRegistry for MemoryRegistry {
    async fn create_model_package(&self, req: &CreateModelPackageRequest) -> Result<String> {
        self.calls.count("CreateModelPackage");
        let group = req
            .model_package_group_name
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        self.faults.check("CreateModelPackage", &group)?;
        let refused = |message: String, class| Error::Aws {
            service: "sagemaker",
            operation: "CreateModelPackage",
            code: Some("ValidationException".into()),
            message,
            class,
        };
        if let Some(v) = violations(req).into_iter().next() {
            return Err(refused(v.to_string(), ErrorClass::Permanent));
        }
        let mut st = lock(&self.state);
        if let Some((_, arn, _)) = st.versions.iter().find(|(t, ..)| *t == req.client_token) {
            return Ok(arn.clone());
        }
        if !st.groups.contains(&group) {
            // As the SDK adapter classes SageMaker's answer: the deployment's to fix.
            return Err(refused(
                format!("Model Package Group {group} does not exist."),
                ErrorClass::Deployment,
            ));
        }
        let n = 1 + st
            .versions
            .iter()
            .filter(|(_, arn, _)| arn.contains(&format!("model-package/{group}/")))
            .count();
        let arn = package_arn(&group, n);
        st.versions
            .push((req.client_token.clone(), arn.clone(), req.clone()));
        Ok(arn)
    }
}
