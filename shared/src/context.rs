//! What a handler works with: the AWS clients, the state store, the routes file (reloaded when it changes) and the
//! hub document cache. Built once per cold start and shared by every invocation of a warm container.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::aws::Aws;
use crate::config::{self, Config, ConfigError, DeploymentEnv};
use crate::error::{Error, Result};
use crate::hub::{HubContent, HubContentType};
use crate::publish::OutgoingEvent;
use crate::s3uri::S3Uri;
use crate::store::Store;

/// The routes file is checked for changes at most this often.
pub const CONFIG_CHECK_INTERVAL: Duration = Duration::from_secs(60);
/// Default lifetime of a cached hub document in a warm container.
pub const DEFAULT_HUB_CACHE_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, Clone)]
pub enum ConfigSource {
    File(std::path::PathBuf),
    S3(S3Uri),
    /// Given whole (tests, the CLI).
    Inline(Arc<Config>),
}

impl ConfigSource {
    /// From `HUBTUNE_CONFIG`: a path or an `s3://` URI.
    pub fn from_env() -> Result<Self> {
        let v = std::env::var("HUBTUNE_CONFIG").map_err(|_| {
            Error::Config(ConfigError::Unreadable {
                source_name: "HUBTUNE_CONFIG".into(),
                message: "not set: point it at the routes file (a path or an s3:// URI)".into(),
            })
        })?;
        Self::parse(&v)
    }

    pub fn parse(v: &str) -> Result<Self> {
        if v.starts_with("s3://") {
            let uri = v.parse::<S3Uri>().map_err(|e| {
                Error::Config(ConfigError::Unreadable {
                    source_name: v.into(),
                    message: e.to_string(),
                })
            })?;
            Ok(Self::S3(uri))
        } else {
            Ok(Self::File(v.into()))
        }
    }
}

struct CachedConfig {
    config: Arc<Config>,
    etag: String,
    checked: Instant,
}

/// The routes file, reloaded when its ETag (or file contents) changes, checked at most once a minute.
pub struct ConfigCache {
    source: ConfigSource,
    env: DeploymentEnv,
    cached: Mutex<Option<CachedConfig>>,
}

impl ConfigCache {
    pub fn new(source: ConfigSource, env: DeploymentEnv) -> Self {
        Self {
            source,
            env,
            cached: Mutex::new(None),
        }
    }

    pub async fn get(&self, aws: &Aws) -> Result<Arc<Config>> {
        if let ConfigSource::Inline(c) = &self.source {
            return Ok(c.clone());
        }
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if c.checked.elapsed() < CONFIG_CHECK_INTERVAL {
                return Ok(c.config.clone());
            }
        }
        let (text, etag, s3) = match &self.source {
            ConfigSource::File(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| {
                    Error::Config(ConfigError::Unreadable {
                        source_name: p.display().to_string(),
                        message: e.to_string(),
                    })
                })?;
                let etag = crate::naming::identity_hash("", &text);
                (text, etag, None)
            }
            ConfigSource::S3(uri) => {
                let (bytes, etag) =
                    aws.get_object(uri.bucket(), uri.key())
                        .await?
                        .ok_or_else(|| {
                            Error::Config(ConfigError::Unreadable {
                                source_name: uri.to_string(),
                                message: "no such object".into(),
                            })
                        })?;
                let text = String::from_utf8(bytes).map_err(|e| {
                    Error::Config(ConfigError::Unreadable {
                        source_name: uri.to_string(),
                        message: e.to_string(),
                    })
                })?;
                (text, etag, Some(uri.clone()))
            }
            ConfigSource::Inline(_) => unreachable!(),
        };
        if let Some(c) = cached.as_mut() {
            if c.etag == etag {
                c.checked = Instant::now();
                return Ok(c.config.clone());
            }
        }
        let config = Arc::new(config::parse(&text, &self.env, s3)?);
        tracing::info!(routes = config.routes.len(), etag = %etag, "routes file loaded");
        *cached = Some(CachedConfig {
            config: config.clone(),
            etag,
            checked: Instant::now(),
        });
        Ok(config)
    }
}

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
        aws: &Aws,
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
            if let Some(c) = aws.describe_hub_content(hub, t, name, version).await? {
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

/// Everything a handler needs, shared across the invocations of a warm container.
pub struct Context {
    pub aws: Aws,
    pub store: Store<Aws>,
    pub config: ConfigCache,
    pub hubs: HubCache,
}

impl Context {
    pub fn new(aws: Aws, source: ConfigSource, env: DeploymentEnv) -> Self {
        let ttl = std::env::var("HUBTUNE_HUB_CACHE_TTL_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_HUB_CACHE_TTL);
        Self {
            store: Store::new(aws.clone()),
            aws,
            config: ConfigCache::new(source, env),
            hubs: HubCache::new(ttl),
        }
    }

    /// The Lambda's context: clients from the environment, the routes file from `HUBTUNE_CONFIG`.
    pub async fn from_env() -> Result<Self> {
        let aws = Aws::from_env().await;
        Ok(Self::new(
            aws,
            ConfigSource::from_env()?,
            DeploymentEnv::from_env(),
        ))
    }

    /// Load the routes file during init, so the first event does not pay for it and a broken file shows in the
    /// logs at once. A failure is logged, not fatal: every event would report it, and a fixed file is picked up
    /// without a redeploy.
    pub async fn prime(&self) {
        match self.config.get(&self.aws).await {
            Ok(c) => tracing::info!(routes = c.routes.len(), "ready"),
            Err(e) => tracing::error!(error = %e, "the routes file cannot be used yet"),
        }
    }

    /// Send one event and say whether EventBridge accepted it (an entry-level failure is a retryable error).
    pub async fn emit(&self, bus: &str, event: &OutgoingEvent) -> Result<()> {
        let results = self
            .aws
            .put_events(bus, std::slice::from_ref(event))
            .await?;
        match results.into_iter().next() {
            Some(Ok(())) => {
                tracing::info!(detail_type = %event.detail_type, event_id = %event.event_id(), "event accepted");
                Ok(())
            }
            Some(Err(e)) => Err(Error::Aws {
                service: "eventbridge",
                operation: "PutEvents",
                code: Some("EntryFailed".into()),
                message: format!("{} was not accepted: {e}", event.detail_type),
                class: crate::error::ErrorClass::Retryable,
            }),
            None => Err(Error::Other("PutEvents returned no entry result".into())),
        }
    }
}
