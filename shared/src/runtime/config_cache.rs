//! The routes file, read once per cold start and re-read when it changes (an `s3://` source by its ETag, a file by
//! its contents), checked at most once a minute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use crate::domain::config::{self, Config, ConfigError, DeploymentEnv};
use crate::domain::error::{Error, Result};
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
    check_interval: Duration,
    cached: Mutex<Option<CachedConfig>>,
}

impl ConfigCache {
    pub fn new(source: ConfigSource, env: DeploymentEnv) -> Self {
        Self::with_check_interval(source, env, CONFIG_CHECK_INTERVAL)
    }

    /// A cache that looks for a changed file at most once per `check_interval`.
    pub fn with_check_interval(
        source: ConfigSource,
        env: DeploymentEnv,
        check_interval: Duration,
    ) -> Self {
        Self {
            source,
            env,
            check_interval,
            cached: Mutex::new(None),
        }
    }

    /// The routes file as it stands. A file that cannot be read or parsed any more does not stop a warm container:
    /// it keeps serving the last file that parsed, and says so in its logs at every check, until a valid one
    /// appears. Only a container that never had a valid file fails (the message stays on its queue).
    pub async fn get(&self, objects: &dyn ObjectStore) -> Result<Arc<Config>> {
        if let ConfigSource::Inline(c) = &self.source {
            return Ok(c.clone());
        }
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref() {
            if c.checked.elapsed() < self.check_interval {
                return Ok(c.config.clone());
            }
        }
        let loaded = self.load(objects, cached.as_ref()).await;
        match (loaded, cached.as_mut()) {
            (Ok(None), Some(c)) => {
                c.checked = Instant::now();
                Ok(c.config.clone())
            }
            (Ok(Some(fresh)), _) => {
                tracing::info!(routes = fresh.config.routes.len(), etag = %fresh.etag, "routes file loaded");
                let config = fresh.config.clone();
                *cached = Some(fresh);
                Ok(config)
            }
            (Err(e), Some(c)) => {
                tracing::error!(error = %e, serving_etag = %c.etag, fault = "deployment", "the routes file cannot be used: still serving the last one that parsed");
                c.checked = Instant::now();
                Ok(c.config.clone())
            }
            (Err(e), None) => Err(e),
            // `load` answers "unchanged" only when there is a cached file to compare with.
            (Ok(None), None) => Err(unreadable(&self.source_name(), "nothing loaded yet")),
        }
    }

    fn source_name(&self) -> String {
        match &self.source {
            ConfigSource::File(p) => p.display().to_string(),
            ConfigSource::S3(uri) => uri.to_string(),
            ConfigSource::Inline(_) => "inline".into(),
        }
    }

    /// Read and parse the source: `None` when it is the version already cached.
    async fn load(
        &self,
        objects: &dyn ObjectStore,
        cached: Option<&CachedConfig>,
    ) -> Result<Option<CachedConfig>> {
        let (text, etag, s3) = match &self.source {
            ConfigSource::File(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| unreadable(&p.display(), e))?;
                // A local file has no ETag: its contents' SipHash tells a changed file (no collision to fear
                // between two versions of one file, and it costs a cold start nothing, unlike SHA-256).
                let etag = {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::hash::DefaultHasher::new();
                    text.hash(&mut h);
                    format!("{:016x}", h.finish())
                };
                (text, etag, None)
            }
            ConfigSource::S3(uri) => {
                let object = objects
                    .get(uri)
                    .await?
                    .ok_or_else(|| unreadable(uri, "no such object"))?;
                let text = String::from_utf8(object.body).map_err(|e| unreadable(uri, e))?;
                (text, object.etag, Some(uri.clone()))
            }
            ConfigSource::Inline(c) => {
                return Ok(Some(CachedConfig::new(c.clone(), String::new())))
            }
        };
        if cached.is_some_and(|c| c.etag == etag) {
            return Ok(None);
        }
        let config = Arc::new(config::parse(&text, &self.env, s3)?);
        Ok(Some(CachedConfig::new(config, etag)))
    }
}

impl CachedConfig {
    fn new(config: Arc<Config>, etag: String) -> Self {
        Self {
            config,
            etag,
            checked: Instant::now(),
        }
    }
}

fn unreadable(source: &impl std::fmt::Display, e: impl std::fmt::Display) -> Error {
    Error::Config(ConfigError::Unreadable {
        source_name: source.to_string(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::ErrorClass;
    use crate::memory::MemoryObjects;

    const URI: &str = "s3://cfg-bucket/hubtune.toml";

    fn routes(n: usize) -> String {
        let mut t = "[deployment]\nbucket = \"cfg-bucket\"\n[defaults]\nhub = \"h\"\nrole_arn = \"arn:aws:iam::123456789012:role/r\"\n".to_string();
        for i in 0..n {
            t.push_str(&format!(
                "[routes.r{i}]\nprefix = \"datasets/r{i}/\"\nmodel_id = \"m\"\n"
            ));
        }
        t
    }

    fn cache() -> ConfigCache {
        ConfigCache::with_check_interval(
            ConfigSource::parse(URI).unwrap(),
            DeploymentEnv::default(),
            Duration::ZERO,
        )
    }

    #[tokio::test]
    async fn a_broken_file_keeps_the_last_one_that_parsed_until_a_valid_one_appears() {
        let objects = MemoryObjects::default();
        let cache = cache();
        objects.insert(URI, routes(1));
        assert_eq!(cache.get(&objects).await.unwrap().routes.len(), 1);
        objects.insert(URI, "[deployment\nbroken");
        assert_eq!(
            cache.get(&objects).await.unwrap().routes.len(),
            1,
            "still the last good file"
        );
        objects.remove(URI);
        assert_eq!(
            cache.get(&objects).await.unwrap().routes.len(),
            1,
            "a vanished file too"
        );
        objects.insert(URI, routes(2));
        assert_eq!(
            cache.get(&objects).await.unwrap().routes.len(),
            2,
            "the fixed file is picked up"
        );
    }

    #[tokio::test]
    async fn a_cold_start_without_a_valid_file_is_a_deployment_fault() {
        let objects = MemoryObjects::default();
        let e = cache().get(&objects).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Deployment, "{e}");
        objects.insert(URI, "routes = 7");
        let e = cache().get(&objects).await.unwrap_err();
        assert_eq!(e.class(), ErrorClass::Deployment, "{e}");
    }

    #[tokio::test]
    async fn an_unchanged_file_is_not_parsed_again() {
        let objects = MemoryObjects::default();
        let cache = cache();
        objects.insert(URI, routes(1));
        let first = cache.get(&objects).await.unwrap();
        let again = cache.get(&objects).await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(
            objects.calls.get("GetObject"),
            2,
            "looked at twice, parsed once"
        );
    }
}
