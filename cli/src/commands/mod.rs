//! The commands behind `hubtune`'s subcommands, one module per family. Each returns an exit code; errors print to
//! stderr with exit 2. Shared helpers live in `common` and `local_dataset`, which the families import by full path.

mod bucket;
mod check;
mod common;
mod demo;
mod doctor;
mod inspect;
mod local_dataset;
mod plan;
mod queues;
mod runs;
mod upload;

pub use bucket::enable_eventbridge;
pub use check::{config_check, validate};
pub use demo::{demo, local};
pub use doctor::doctor;
pub use inspect::inspect;
pub use plan::{plan, PlanTarget};
pub use queues::redrive;
pub use runs::{rerun, status, stop};
pub use upload::upload;
