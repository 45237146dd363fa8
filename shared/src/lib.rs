//! hubtune's common crate: everything the three Lambda functions and the CLI share, with no Lambda runtime in it.
//!
//! Layers, each depending only on those above it in this list:
//! - `domain`: the pure core. Routes config, hub documents and the training plan, dataset identity and checks,
//!   naming, run/queue/slot state and its transitions, the events in and out. No I/O, no clock, no SDK.
//! - `ports`: the traits through which the handlers reach the outside world (object store, training jobs, event
//!   bus, hub, clock).
//! - `store`: state objects over the object-store port, written by compare-and-swap.
//! - `runtime`: the handler context, the SQS batch contract, caches, logging.
//! - `aws` (feature `aws`): the ports implemented with the AWS SDK.
//! - `memory` (feature `test-util`): the ports implemented in memory, with fault injection, for tests.

pub mod domain;
pub mod ports;
pub mod runtime;
pub mod store;

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
