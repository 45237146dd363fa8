//! What runs the domain: the handler context, the SQS batch contract, the routes-file and hub caches, crash points
//! for tests, and logging. Asynchronous and stateful; no SDK types (those stay in `aws`).

pub mod batch;
pub mod config_cache;
pub mod context;
pub mod env;
pub mod faults;
pub mod hub_cache;
pub mod metrics;
pub mod outbox;
pub mod telemetry;
