//! hubtune's common crate: everything the three Lambda functions and the CLI share, with no Lambda runtime in it.
//!
//! Pure modules (`config`, `event`, `dataset`, `hub`, `plan`, `naming`, `run`, `queue`, `publish`) know nothing of
//! I/O; `aws` is the only module that talks to AWS and `store` the only one that writes state.

pub mod aws;
pub mod batch;
pub mod config;
pub mod context;
pub mod dataset;
pub mod error;
pub mod event;
pub mod faults;
pub mod hub;
pub mod naming;
pub mod plan;
pub mod publish;
pub mod queue;
pub mod run;
pub mod s3uri;
pub mod store;
pub mod telemetry;

pub use error::{Error, ErrorClass, Rejection, Result};
