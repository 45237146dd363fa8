//! What a function does with one input: the decision each handler dispatches on, and what `hubtune inspect`
//! prints. One decision for both, so the CLI cannot say one thing while a Lambda does another.
//!
//! Every input ends in one of four ways (docs/reliability.md): its effect, a documented ignore, a `Dataset
//! Rejected`, or a failure that brings the message back (and after the receive count, the dead-letter queue).
//! Only what can be told from the input and the routes file is decided here; what only a read can tell (a
//! dataset's files, a job's status in DescribeTrainingJob, a run record) stays with the handler, and the decision
//! says what it reads next.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};

use crate::domain::config::Config;
use crate::domain::dataset::{self, DatasetLanded, Located};
use crate::domain::events::TRAINING_RUN_FINISHED;
use crate::domain::inbound::{Inbound, ObjectLanded, TrainingUpdate};
use crate::domain::job::JobStatus;
use crate::domain::rejection::{Rejection, RejectionReason};

/// The function an input is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Function {
    LaunchFinetune,
    TrainingState,
    PublishArtifact,
}

impl Function {
    pub const ALL: [Function; 3] = [
        Function::LaunchFinetune,
        Function::TrainingState,
        Function::PublishArtifact,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Function::LaunchFinetune => "launch-finetune",
            Function::TrainingState => "training-state",
            Function::PublishArtifact => "publish-artifact",
        }
    }

    pub fn parse(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The function hubtune's wiring gives this input to; `None` when no function takes it (a stranger's
    /// payload, an event hubtune sends for its subscribers).
    pub fn for_input(inbound: &Inbound) -> Option<Function> {
        match inbound {
            Inbound::ObjectLanded(_)
            | Inbound::S3TestEvent
            | Inbound::SlotFreed { .. }
            | Inbound::Unusable { .. }
            // Only S3 envelopes are read into a deliberate ignore (an object removed, another S3 event).
            | Inbound::Ignored { .. } => Some(Function::LaunchFinetune),
            Inbound::TrainingUpdate(_) | Inbound::Sweep => Some(Function::TrainingState),
            Inbound::Hubtune { detail_type, .. } if detail_type == TRAINING_RUN_FINISHED => {
                Some(Function::PublishArtifact)
            }
            Inbound::Hubtune { .. } | Inbound::Unrecognized { .. } => None,
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A deliberate ignore: understood, and nothing to do. Each is a row of docs/reliability.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignore {
    /// S3 sends it when a notification is configured.
    S3TestEvent,
    /// An S3 event that is not a created object (a removal, a restore, …): the parser's reason.
    NotCreated(String),
    /// A created object that is no trigger (a data file waiting for its marker, a folder placeholder, hubtune's
    /// own object): `dataset::locate`'s reason.
    NotATrigger(String),
    /// A training job outside this deployment's job prefix (another team's, on the default bus).
    OtherDeploymentsJob { job: String, prefix: String },
}

impl fmt::Display for Ignore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ignore::S3TestEvent => f.write_str("s3 test event"),
            Ignore::NotCreated(reason) | Ignore::NotATrigger(reason) => f.write_str(reason),
            Ignore::OtherDeploymentsJob { job, prefix } => write!(
                f,
                "another deployment's job: {job} is not under the job prefix `{prefix}`"
            ),
        }
    }
}

impl Serialize for Ignore {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A `Dataset Rejected`, decided before any read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reject {
    pub rejection: Rejection,
    /// The object the event names (`None`: the notification named none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_uri: Option<String>,
    /// What the event's id is derived from, so a redelivery sends the same event.
    #[serde(skip)]
    pub id_key: String,
}

/// launch-finetune's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LaunchHandling {
    /// Read the dataset, check it, plan, then create this job (or queue it, if its route is full).
    Launch { job: String, dataset: DatasetLanded },
    /// A slot was freed on the route: take its queued datasets, oldest first.
    Drain { route: String },
    #[serde(rename = "ignored")]
    Ignore { reason: Ignore },
    #[serde(rename = "rejected")]
    Reject(Reject),
    /// Not this function's input: the message comes back, then goes to the dead-letter queue.
    #[serde(rename = "failed")]
    Fail { why: String },
}

/// training-state's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StateHandling {
    /// Describe the job (the event is a hint) and move its run record forward.
    Reconcile {
        job: String,
        /// The status the event reports.
        status: JobStatus,
        secondary_status: Option<String>,
        creation: Option<DateTime<Utc>>,
        end: Option<DateTime<Utc>>,
        failure_reason: Option<String>,
    },
    /// The scheduled repair over every unfinished run, stale slot and waiting queue.
    Sweep,
    #[serde(rename = "ignored")]
    Ignore { reason: Ignore },
    #[serde(rename = "failed")]
    Fail { why: String },
}

/// publish-artifact's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum PublishHandling {
    /// Read the job's run record and publish it once (a model, or why there is none).
    Publish { job: String },
    #[serde(rename = "ignored")]
    Ignore { reason: Ignore },
    #[serde(rename = "failed")]
    Fail { why: String },
}

/// A decision that may need the routes file first (the handlers read it only then).
#[derive(Debug, Clone, PartialEq)]
pub enum Triage<H, P> {
    Decided(H),
    /// Decide with `launch_object` or `training_update` once the routes file is read.
    NeedsRoutes(P),
}

fn fail(function: Function, inbound: &Inbound) -> String {
    inbound.why_not_for(function.name())
}

/// What launch-finetune does with an input; an object landing needs the routes file (`launch_object`).
pub fn launch_finetune(inbound: Inbound) -> Triage<LaunchHandling, ObjectLanded> {
    Triage::Decided(match inbound {
        Inbound::ObjectLanded(o) => return Triage::NeedsRoutes(o),
        Inbound::SlotFreed { route } => LaunchHandling::Drain { route },
        Inbound::S3TestEvent => LaunchHandling::Ignore {
            reason: Ignore::S3TestEvent,
        },
        Inbound::Ignored { reason } => LaunchHandling::Ignore {
            reason: Ignore::NotCreated(reason),
        },
        // A dataset may be behind it: reported, never dropped. Its id comes from the problem, so a redelivery
        // sends the same event.
        Inbound::Unusable { problem } => LaunchHandling::Reject(Reject {
            rejection: Rejection::new(
                RejectionReason::UnusableNotification,
                format!("{problem}: hubtune cannot tell which dataset it announces"),
            ),
            dataset_uri: None,
            id_key: format!("unusable\0{problem}"),
        }),
        other => LaunchHandling::Fail {
            why: fail(Function::LaunchFinetune, &other),
        },
    })
}

/// Which dataset an object that landed announces, and so what launch-finetune does with it. `now` stands in for
/// an envelope without a time.
pub fn launch_object(config: &Config, o: &ObjectLanded, now: DateTime<Utc>) -> LaunchHandling {
    let object_uri = format!("s3://{}/{}", o.bucket, o.key);
    let reject = |rejection, id_key| {
        LaunchHandling::Reject(Reject {
            rejection,
            dataset_uri: Some(object_uri.clone()),
            id_key,
        })
    };
    match dataset::locate(config, o, now) {
        Err(rej) => reject(rej, format!("{}\0{}", o.bucket, o.key)),
        Ok(Located::Dataset(d)) => LaunchHandling::Launch {
            job: d.identity.job_name(config, &d.route).to_string(),
            dataset: d,
        },
        Ok(Located::Ignored { reason }) => LaunchHandling::Ignore {
            reason: Ignore::NotATrigger(reason),
        },
        Ok(Located::NoRoute { object }) => {
            // One rejection per upload of the object: the sequencer (or version) tells two uploads apart.
            let delivery = o.sequencer.clone().or(o.version_id.clone());
            let rej = Rejection::new(
                RejectionReason::UnknownRoute,
                format!("no route's prefix holds {object}: add a route for it to the routes file"),
            );
            reject(rej, format!("{object}\0{}", delivery.unwrap_or_default()))
        }
    }
}

/// What training-state does with an input; a state change needs the routes file (`training_update`).
pub fn training_state(inbound: Inbound) -> Triage<StateHandling, TrainingUpdate> {
    Triage::Decided(match inbound {
        Inbound::TrainingUpdate(u) => return Triage::NeedsRoutes(u),
        Inbound::Sweep => StateHandling::Sweep,
        Inbound::Ignored { reason } => StateHandling::Ignore {
            reason: Ignore::NotCreated(reason),
        },
        other => StateHandling::Fail {
            why: fail(Function::TrainingState, &other),
        },
    })
}

/// A state change: this deployment's job is reconciled; another's costs one string comparison.
pub fn training_update(config: &Config, u: TrainingUpdate) -> StateHandling {
    let prefix = &config.deployment.job_prefix;
    if !prefix.owns(&u.job_name) {
        return StateHandling::Ignore {
            reason: Ignore::OtherDeploymentsJob {
                job: u.job_name,
                prefix: prefix.to_string(),
            },
        };
    }
    StateHandling::Reconcile {
        job: u.job_name,
        status: u.status,
        secondary_status: u.secondary_status,
        creation: u.creation_time,
        end: u.end_time,
        failure_reason: u.failure_reason,
    }
}

/// What publish-artifact does with an input.
pub fn publish_artifact(inbound: Inbound) -> PublishHandling {
    match inbound {
        Inbound::Hubtune {
            detail_type,
            detail,
        } if detail_type == TRAINING_RUN_FINISHED => match detail["job_name"].as_str() {
            Some(job) => PublishHandling::Publish {
                job: job.to_string(),
            },
            None => PublishHandling::Fail {
                why: "Training Run Finished without job_name".into(),
            },
        },
        Inbound::Ignored { reason } => PublishHandling::Ignore {
            reason: Ignore::NotCreated(reason),
        },
        other => PublishHandling::Fail {
            why: fail(Function::PublishArtifact, &other),
        },
    }
}

/// Any function's decision (what `hubtune inspect` shows).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Handling {
    LaunchFinetune(LaunchHandling),
    TrainingState(StateHandling),
    PublishArtifact(PublishHandling),
}

/// The decision needs the routes file, and none was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{function} needs the routes file to decide what it does with this input")]
pub struct NeedsRoutes {
    pub function: Function,
}

/// What `function` does with `inbound`, decided as its handler decides it. `routes` is read only where the
/// decision needs it.
pub fn decide(
    function: Function,
    inbound: Inbound,
    routes: Option<&Config>,
    now: DateTime<Utc>,
) -> Result<Handling, NeedsRoutes> {
    let needs = NeedsRoutes { function };
    Ok(match function {
        Function::LaunchFinetune => Handling::LaunchFinetune(match launch_finetune(inbound) {
            Triage::Decided(h) => h,
            Triage::NeedsRoutes(o) => launch_object(routes.ok_or(needs)?, &o, now),
        }),
        Function::TrainingState => Handling::TrainingState(match training_state(inbound) {
            Triage::Decided(h) => h,
            Triage::NeedsRoutes(u) => training_update(routes.ok_or(needs)?, u),
        }),
        Function::PublishArtifact => Handling::PublishArtifact(publish_artifact(inbound)),
    })
}

/// The four endings of docs/reliability.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// A job, a record moved forward, a publication (or, after the reads the decision names, what they tell).
    Effect,
    Ignore,
    Rejected,
    /// The message comes back; after the receive count, the dead-letter queue.
    Failure,
}

impl Handling {
    pub fn ending(&self) -> Ending {
        match self {
            Handling::LaunchFinetune(LaunchHandling::Ignore { .. })
            | Handling::TrainingState(StateHandling::Ignore { .. })
            | Handling::PublishArtifact(PublishHandling::Ignore { .. }) => Ending::Ignore,
            Handling::LaunchFinetune(LaunchHandling::Reject(_)) => Ending::Rejected,
            Handling::LaunchFinetune(LaunchHandling::Fail { .. })
            | Handling::TrainingState(StateHandling::Fail { .. })
            | Handling::PublishArtifact(PublishHandling::Fail { .. }) => Ending::Failure,
            _ => Ending::Effect,
        }
    }
}

fn time(t: &Option<DateTime<Utc>>) -> String {
    t.map_or_else(|| "not given".into(), |t| t.to_rfc3339())
}

/// The handler's words: `ignored: s3 test event`, `rejected: marker_outside_folder (…)`, `launch: …`.
impl fmt::Display for Handling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const BACK: &str = "the message comes back, then goes to the dead-letter queue";
        match self {
            Handling::LaunchFinetune(h) => match h {
                LaunchHandling::Launch { job, dataset } => write!(
                    f,
                    "launch: job {job} on route {}: reads the dataset {}, checks it, then creates the job (or queues it if the route is full)",
                    dataset.route, dataset.location
                ),
                LaunchHandling::Drain { route } => write!(
                    f,
                    "drain: launches route {route}'s queued datasets, oldest first, while it has free slots"
                ),
                LaunchHandling::Ignore { reason } => write!(f, "ignored: {reason}"),
                LaunchHandling::Reject(r) => write!(
                    f,
                    "rejected: {} ({}): a Dataset Rejected event",
                    r.rejection.reason, r.rejection.message
                ),
                LaunchHandling::Fail { why } => write!(f, "failed: {why}: {BACK}"),
            },
            Handling::TrainingState(h) => match h {
                StateHandling::Reconcile {
                    job,
                    status,
                    creation,
                    end,
                    failure_reason,
                    ..
                } => write!(
                    f,
                    "reconcile: job {job} reported {}, created {}, ended {}, failure reason {}: describes the job, then moves its run record forward",
                    status.as_str(),
                    time(creation),
                    time(end),
                    failure_reason.as_deref().unwrap_or("none")
                ),
                StateHandling::Sweep => f.write_str(
                    "sweep: reconciles every unfinished run, frees stale slots, nudges waiting queues",
                ),
                StateHandling::Ignore { reason } => write!(f, "ignored: {reason}"),
                StateHandling::Fail { why } => write!(f, "failed: {why}: {BACK}"),
            },
            Handling::PublishArtifact(h) => match h {
                PublishHandling::Publish { job } => write!(
                    f,
                    "publish: job {job}: reads its run record, then publishes it once (ignored if there is none)"
                ),
                PublishHandling::Ignore { reason } => write!(f, "ignored: {reason}"),
                PublishHandling::Fail { why } => write!(f, "failed: {why}: {BACK}"),
            },
        }
    }
}

#[cfg(test)]
mod tests;
