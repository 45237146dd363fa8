//! How a delivery of a dataset ended, and where a launch comes from.

use hubtune::domain::rejection::RejectionReason;
use hubtune::domain::route_queue::QueueEntry;

/// How a dataset ended (for this delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Launched {
        job: String,
    },
    AlreadyLaunched {
        job: String,
    },
    Queued {
        entry: String,
    },
    /// The route is full and the dataset is already in the queue (a drain found no slot).
    StillQueued,
    Rejected {
        reason: RejectionReason,
    },
    Ignored {
        reason: String,
    },
    /// A freed slot's queue was drained: each entry taken ended on its own.
    Drained,
}

/// Where a launch comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum From {
    /// The dataset just landed (or is rerun).
    Landing,
    /// A queue entry being taken: a full route leaves it there, what it froze when it was queued is what trains, and
    /// a relaunch after a failure at start for capacity starts at the type it names, with the attempts it carries.
    Queue(Box<QueueEntry>),
}
