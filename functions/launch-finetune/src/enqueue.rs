//! Into a route's queue: `launch` adds a dataset when the route is full (or SageMaker refused for capacity), with
//! the contents it froze when it was checked. `drain` takes it out again.

use hubtune::domain::config::{BusyPolicy, Config, Route};
use hubtune::domain::dataset::{DatasetLanded, FrozenDataset};
use hubtune::domain::error::Result;
use hubtune::domain::events::{self, EventContext};
use hubtune::domain::rejection::{Rejection, RejectionReason};
use hubtune::domain::route_queue::{QueueEntry, QueueReason};
use hubtune::runtime::context::Context;
use hubtune::runtime::metrics;

use crate::outcome::Outcome;
use crate::report::reject;

/// A dataset on its way into the queue: what it is, what its events name, and the contents it froze when checked
/// (what is checked is what is trained, however long it waits).
pub struct Queued<'a> {
    pub d: &'a DatasetLanded,
    pub ev: &'a EventContext,
    pub frozen: &'a FrozenDataset,
    /// It is a queue entry being taken already: it stays where it is.
    pub from_queue: bool,
}

/// The route is full: queue the dataset, or reject it when the route says `busy_policy = "skip"`.
pub async fn busy(
    ctx: &Context,
    config: &Config,
    route: &Route,
    q: Queued<'_>,
    why: &str,
) -> Result<Outcome> {
    let (d, ev) = (q.d, q.ev);
    match route.busy_policy {
        BusyPolicy::Queue => enqueue(ctx, config, q, QueueReason::RouteFull, why).await,
        BusyPolicy::Skip => {
            let rej = Rejection::new(
                RejectionReason::RouteBusy,
                format!("route {} already runs {} job(s) (max_concurrent_jobs) and its busy_policy is skip", route.name, route.max_concurrent_jobs),
            );
            reject(ctx, config, ev, &d.identity.canonical(), rej).await
        }
    }
}

/// Put the dataset in its route's queue (once: the entry's key is its identity) and announce `Dataset Queued`, with
/// `reason` its code and `why` its words.
pub async fn enqueue(
    ctx: &Context,
    config: &Config,
    q: Queued<'_>,
    reason: QueueReason,
    why: &str,
) -> Result<Outcome> {
    if q.from_queue {
        return Ok(Outcome::StillQueued);
    }
    let (d, ev) = (q.d, q.ev);
    let hash = d.identity.hash(&config.deployment.name);
    let rel = QueueEntry::key(d, &hash);
    let mut entry = QueueEntry::new(d.clone(), why, ctx.now());
    entry.frozen = Some(q.frozen.clone());
    ctx.store
        .create(&config.deployment.state_key(&rel), &entry)
        .await?;
    ctx.emit(
        config,
        &events::dataset_queued(ev, &d.identity.canonical(), reason, why, &rel),
    )
    .await?;
    tracing::info!(entry = %rel, reason = reason.as_str(), why, "dataset queued");
    let (deployment, now) = (&config.deployment.name, ctx.now());
    metrics::dataset(now, deployment, &d.route, metrics::DATASETS_QUEUED);
    Ok(Outcome::Queued { entry: rel })
}
