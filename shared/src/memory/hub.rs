use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{lock, Calls, Faults};
use crate::domain::error::Result;
use crate::domain::hub::{hub_name, HubContent, HubContentType};
use crate::ports::Hub;

/// A private hub in memory.
#[derive(Default)]
pub struct MemoryHub {
    contents: Mutex<Vec<HubContent>>,
    pub faults: Faults,
    pub calls: Calls,
}

impl MemoryHub {
    pub fn insert(&self, content: HubContent) {
        lock(&self.contents).push(content);
    }
}

#[async_trait]
impl Hub for MemoryHub {
    async fn describe_content(
        &self,
        hub: &str,
        content_type: HubContentType,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<HubContent>> {
        self.calls.count("DescribeHubContent");
        self.faults.check("DescribeHubContent", name)?;
        let hub = hub_name(hub);
        // The latest version is the last one inserted, as a test seeds them in order.
        Ok(lock(&self.contents)
            .iter()
            .rev()
            .find(|c| {
                c.hub_name == hub
                    && c.hub_content_type == content_type
                    && c.hub_content_name == name
                    && version.is_none_or(|v| c.hub_content_version == v)
            })
            .cloned())
    }
}
