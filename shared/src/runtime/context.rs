//! What a handler works with: the ports, the state store over them, the routes file (reloaded when it changes) and
//! the hub document cache. Built once per cold start and shared by every invocation of a warm container.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::config::{Config, DeploymentEnv};
use crate::domain::error::{Error, ErrorClass, Result};
use crate::domain::event_size;
use crate::domain::events::OutgoingEvent;
use crate::ports::{Clock, EventBus, Hub, ModelRegistry, ObjectStore, Ports, TrainingJobs};
use crate::runtime::config_cache::{ConfigCache, ConfigSource};
use crate::runtime::hub_cache::{HubCache, DEFAULT_HUB_CACHE_TTL};
use crate::store::Store;

/// Everything a handler needs, shared across the invocations of a warm container.
pub struct Context {
    pub objects: Arc<dyn ObjectStore>,
    pub jobs: Arc<dyn TrainingJobs>,
    pub bus: Arc<dyn EventBus>,
    pub hub: Arc<dyn Hub>,
    pub registry: Arc<dyn ModelRegistry>,
    pub clock: Arc<dyn Clock>,
    pub store: Store,
    pub config: ConfigCache,
    pub hubs: HubCache,
}

impl Context {
    pub fn new(ports: Ports, source: ConfigSource, env: DeploymentEnv) -> Self {
        Self::with_hub_ttl(ports, source, env, DEFAULT_HUB_CACHE_TTL)
    }

    pub fn with_hub_ttl(
        ports: Ports,
        source: ConfigSource,
        env: DeploymentEnv,
        hub_ttl: Duration,
    ) -> Self {
        let Ports {
            objects,
            jobs,
            bus,
            hub,
            registry,
            clock,
        } = ports;
        Self {
            store: Store::new(objects.clone()),
            objects,
            jobs,
            bus,
            hub,
            registry,
            clock,
            config: ConfigCache::new(source, env),
            hubs: HubCache::new(hub_ttl),
        }
    }

    /// The routes file as it stands (re-read when it changed).
    pub async fn config(&self) -> Result<Arc<Config>> {
        self.config.get(self.objects.as_ref()).await
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Load the routes file during init, so the first event does not pay for it and a broken file shows in the
    /// logs at once. A failure is logged, not fatal: every event would report it, and a fixed file is picked up
    /// without a redeploy.
    pub async fn prime(&self) {
        match self.config().await {
            Ok(c) => tracing::info!(routes = c.routes.len(), "ready"),
            Err(e) => tracing::error!(error = %e, "the routes file cannot be used yet"),
        }
    }

    /// Send one event to the deployment's bus and say whether EventBridge accepted it (an entry-level failure is a
    /// retryable error). An event over EventBridge's entry limit is shrunk to fit, its whole detail written first
    /// under `<state_prefix>events/<event_id>.json`, which the event names as `detail_uri`.
    pub async fn emit(&self, config: &Config, event: &OutgoingEvent) -> Result<()> {
        let full_detail = config
            .deployment
            .state_key(&format!("events/{}.json", event.event_id()));
        let fitted = event_size::fit(event, &full_detail.to_string());
        if fitted.is_some() {
            let body = serde_json::to_vec(&event.detail).map_err(|e| Error::State {
                key: full_detail.to_string(),
                message: e.to_string(),
            })?;
            self.store.put_idempotent(&full_detail, body).await?;
        }
        let sent = fitted.as_ref().unwrap_or(event);
        let results = self
            .bus
            .put_events(&config.deployment.event_bus, std::slice::from_ref(sent))
            .await?;
        let refused = |message: String| Error::Aws {
            service: "eventbridge",
            operation: "PutEvents",
            code: Some("EntryFailed".into()),
            message,
            class: ErrorClass::Retry,
        };
        match results.into_iter().next() {
            Some(Ok(())) => {
                tracing::info!(detail_type = %event.detail_type, event_id = %event.event_id(), "event accepted");
                Ok(())
            }
            Some(Err(e)) => Err(refused(format!(
                "{} was not accepted: {e}",
                event.detail_type
            ))),
            None => Err(refused("PutEvents returned no entry result".into())),
        }
    }
}
