#![recursion_limit = "256"]

//! End-to-end tests, one test crate (one binary linking the SDK) with a module per capability. Each test starts
//! its own local stack on loopback and stops it at the end.

mod adversarial_lost;
mod adversarial_results;
mod budget;
mod channels;
mod cli;
mod conformance;
mod fallback;
mod faults;
mod isolation;
mod launch;
mod lifecycle;
mod limits;
mod operate;
mod registry;
mod results;
mod standin;
mod sweep;
mod triggers;
