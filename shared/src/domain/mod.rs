//! The pure core: what hubtune decides, given what was read. Nothing here does I/O, reads a clock (time is passed
//! in) or names an SDK type; `scripts/check-structure` keeps it so.

pub mod capacity;
pub mod channels;
pub mod config;
pub mod dataset;
pub mod error;
pub mod event_size;
pub mod events;
pub mod handling;
pub mod hub;
pub mod inbound;
pub mod job;
pub mod launch;
pub mod naming;
pub mod plan;
pub mod publication;
pub mod registry;
pub mod rejection;
pub mod results;
pub mod route_queue;
pub mod run;
mod run_attempts;
pub mod s3uri;
pub mod validate;
pub mod versioned;
