//! DescribeHubContent results, cached per warm container: the model reference changes rarely and a launch should not
//! pay for it every time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::domain::error::Result;
use crate::domain::hub::{HubContent, HubContentType};
use crate::ports::Hub;

/// Default lifetime of a cached hub document in a warm container.
pub const DEFAULT_HUB_CACHE_TTL: Duration = Duration::from_secs(15 * 60);

/// (hub, content name, pinned version)
type HubKey = (String, String, Option<String>);

/// DescribeHubContent results per warm container.
pub struct HubCache {
    ttl: Duration,
    entries: Mutex<HashMap<HubKey, (Instant, Arc<HubContent>)>>,
}

impl HubCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The model reference as the SDK resolves it: `ModelReference` first, then `Model` (a model imported straight
    /// into the hub). `Ok(None)` when neither exists.
    pub async fn resolve(
        &self,
        hub_port: &dyn Hub,
        hub: &str,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<Arc<HubContent>>> {
        let key = (
            hub.to_string(),
            name.to_string(),
            version.map(str::to_string),
        );
        if let Some((at, c)) = self.entries.lock().await.get(&key) {
            if at.elapsed() < self.ttl {
                return Ok(Some(c.clone()));
            }
        }
        let mut found = None;
        for t in [HubContentType::ModelReference, HubContentType::Model] {
            if let Some(c) = hub_port.describe_content(hub, t, name, version).await? {
                found = Some(Arc::new(c));
                break;
            }
        }
        if let Some(c) = &found {
            self.entries
                .lock()
                .await
                .insert(key, (Instant::now(), c.clone()));
        }
        Ok(found)
    }
}
