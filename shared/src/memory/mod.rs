//! In-memory twins of every port, for tests that run the real handlers in-process (feature `test-util`).
//!
//! Each twin keeps what it was asked (calls per operation, the requests, the events), answers as AWS would
//! (conditional writes, `ResourceInUse`, entry-level PutEvents results) and fails on demand: arm a `Faults` entry
//! with the operation, a target (any part of the URI, job name or bus; empty for all) and the error to return.

mod bus;
mod clock;
mod faults;
mod fixtures;
mod hub;
mod jobs;
mod objects;
mod registry;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use bus::MemoryBus;
pub use clock::ManualClock;
pub use faults::{access_denied, capacity_refusal, server_error, throttled, Calls, Faults};
pub use fixtures::event_fixtures;
pub use hub::MemoryHub;
pub use jobs::MemoryJobs;
pub use objects::MemoryObjects;
pub use registry::MemoryRegistry;

use crate::domain::config::{self, Config, DeploymentEnv};
use crate::ports::Ports;
use crate::runtime::config_cache::ConfigSource;
use crate::runtime::context::Context;

/// One in-memory AWS: an object store, training jobs, an event bus, a hub, a model registry and a clock that only moves when told.
#[derive(Clone)]
pub struct World {
    pub objects: Arc<MemoryObjects>,
    pub jobs: Arc<MemoryJobs>,
    pub bus: Arc<MemoryBus>,
    pub hub: Arc<MemoryHub>,
    pub registry: Arc<MemoryRegistry>,
    pub clock: Arc<ManualClock>,
}

impl Default for World {
    fn default() -> Self {
        Self::new()
    }
}

impl World {
    pub fn new() -> Self {
        let clock = Arc::new(ManualClock::default());
        Self {
            objects: Arc::new(MemoryObjects::default()),
            jobs: Arc::new(MemoryJobs::new(clock.clone())),
            bus: Arc::new(MemoryBus::default()),
            hub: Arc::new(MemoryHub::default()),
            registry: Arc::new(MemoryRegistry::default()),
            clock,
        }
    }

    /// The ports a `Context` is built from.
    pub fn ports(&self) -> Ports {
        Ports {
            objects: self.objects.clone(),
            jobs: self.jobs.clone(),
            bus: self.bus.clone(),
            hub: self.hub.clone(),
            registry: self.registry.clone(),
            clock: self.clock.clone(),
        }
    }

    /// A handler's context over this world, serving `routes` (a routes file, as TOML) with no deployment
    /// environment, and the parsed routes beside it. Panics on a routes file that does not parse: a test's own.
    pub fn context(&self, routes: &str) -> (Arc<Config>, Context) {
        let config = Arc::new(
            config::parse(routes, &DeploymentEnv::default(), None)
                .expect("the test routes file is valid"),
        );
        let ctx = Context::new(
            self.ports(),
            ConfigSource::Inline(config.clone()),
            DeploymentEnv::default(),
        );
        (config, ctx)
    }

    /// Every call made to any port so far, by operation name (`GetObject`, `CreateTrainingJob`, …).
    pub fn calls(&self) -> BTreeMap<&'static str, u32> {
        let mut all = self.objects.calls.snapshot();
        for other in [
            self.jobs.calls.snapshot(),
            self.bus.calls.snapshot(),
            self.hub.calls.snapshot(),
            self.registry.calls.snapshot(),
        ] {
            for (op, n) in other {
                *all.entry(op).or_default() += n;
            }
        }
        all
    }

    /// The number of calls to all ports together.
    pub fn total_calls(&self) -> u32 {
        self.calls().values().sum()
    }

    /// Forget the calls made so far (to count those of one invocation).
    pub fn reset_calls(&self) {
        self.objects.calls.reset();
        self.jobs.calls.reset();
        self.bus.calls.reset();
        self.hub.calls.reset();
        self.registry.calls.reset();
    }

    /// Disarm every fault of every port.
    pub fn heal(&self) {
        self.objects.faults.clear();
        self.jobs.faults.clear();
        self.bus.faults.clear();
        self.hub.faults.clear();
        self.registry.faults.clear();
    }
}
