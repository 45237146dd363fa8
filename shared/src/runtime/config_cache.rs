//! The routes file, read once per cold start and re-read when it changes (an `s3://` source by its ETag, a file by
//! its contents), checked at most once a minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::domain::config::{self, Config, ConfigError, DeploymentEnv};
use crate::domain::error::{Error, Result};
use crate::domain::naming::identity_hash;
use crate::domain::s3uri::S3Uri;
use crate::ports::ObjectStore;

/// The routes file is checked for changes at most this often.
pub const CONFIG_CHECK_INTERVAL: Duration = Duration::from_secs(60);

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

    pub async fn get(&self, objects: &dyn ObjectStore) -> Result<Arc<Config>> {
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
                let etag = identity_hash("", &text);
                (text, etag, None)
            }
            ConfigSource::S3(uri) => {
                let object = objects.get(uri).await?.ok_or_else(|| {
                    Error::Config(ConfigError::Unreadable {
                        source_name: uri.to_string(),
                        message: "no such object".into(),
                    })
                })?;
                let text = String::from_utf8(object.body).map_err(|e| {
                    Error::Config(ConfigError::Unreadable {
                        source_name: uri.to_string(),
                        message: e.to_string(),
                    })
                })?;
                (text, object.etag, Some(uri.clone()))
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
