//! A route's queue: `launch` adds a dataset when the route is full (or SageMaker refused for capacity), and a freed
//! slot drains it oldest first while slots last. Only launch-finetune launches: training-state and the sweep
//! announce `Route Slot Freed`.

use hubtune::domain::config::{BusyPolicy, Config, Route};
use hubtune::domain::dataset::DatasetLanded;
use hubtune::domain::error::Result;
use hubtune::domain::events::{self, EventContext};
use hubtune::domain::rejection::{Rejection, RejectionReason};
use hubtune::domain::route_queue::QueueEntry;
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::context::Context;
use hubtune::store::Decision;

use crate::launch::{launch_dataset, mark_refused, Outcome};
use crate::report::reject;

/// The route is full: queue the dataset, or reject it when the route says `busy_policy = "skip"`.
pub async fn busy(
    ctx: &Context,
    config: &Config,
    route: &Route,
    d: &DatasetLanded,
    ev: &EventContext,
    from_queue: bool,
    why: &str,
) -> Result<Outcome> {
    match route.busy_policy {
        BusyPolicy::Queue => enqueue(ctx, config, d, ev, from_queue, why).await,
        BusyPolicy::Skip => {
            let rej = Rejection::new(
                RejectionReason::RouteBusy,
                format!("route {} already runs {} job(s) (max_concurrent_jobs) and its busy_policy is skip", route.name, route.max_concurrent_jobs),
            );
            reject(ctx, config, ev, &d.identity.canonical(), rej).await
        }
    }
}

/// Put the dataset in its route's queue (once: the entry's key is its identity) and announce `Dataset Queued`.
pub async fn enqueue(
    ctx: &Context,
    config: &Config,
    d: &DatasetLanded,
    ev: &EventContext,
    from_queue: bool,
    why: &str,
) -> Result<Outcome> {
    if from_queue {
        return Ok(Outcome::StillQueued);
    }
    let hash = d.identity.hash(&config.deployment.name);
    let rel = QueueEntry::key(d, &hash);
    let entry = QueueEntry::new(d.clone(), why, ctx.now());
    ctx.store
        .create(&config.deployment.state_key(&rel), &entry)
        .await?;
    ctx.emit(
        config,
        &events::dataset_queued(ev, &d.identity.canonical(), why, &rel),
    )
    .await?;
    tracing::info!(entry = %rel, reason = why, "dataset queued");
    Ok(Outcome::Queued { entry: rel })
}

pub async fn drain(ctx: &Context, route_name: &str) -> Result<()> {
    let config = ctx.config().await?;
    let Some(route) = config.route(route_name) else {
        tracing::warn!(
            route = route_name,
            "slot freed on a route that is no longer configured"
        );
        return Ok(());
    };
    let mut keys = ctx
        .store
        .list(&config.deployment.queue_prefix(route_name))
        .await?;
    keys.sort();
    for k in keys {
        let key = config.deployment.state_prefix.with_key(k);
        let Some(entry) = claim(ctx, &key).await? else {
            continue;
        };
        if entry.is_expired(ctx.now(), route.queue_max_age) {
            give_up(ctx, &config, route, &entry).await?;
            ctx.store.delete(&key).await?;
            continue;
        }
        match launch_dataset(ctx, &config, &entry.dataset, true).await {
            Ok(Outcome::StillQueued) => {
                unclaim(ctx, &key).await?;
                break;
            }
            Ok(outcome) => {
                tracing::info!(entry = %key, ?outcome, "queue entry taken");
                ctx.store.delete(&key).await?;
            }
            Err(e) => {
                unclaim(ctx, &key).await?;
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Claim an entry by compare-and-swap, so two launchers never take the same one. `None`: gone, or claimed.
async fn claim(ctx: &Context, key: &S3Uri) -> Result<Option<QueueEntry>> {
    let now = ctx.now();
    ctx.store
        .update::<QueueEntry, Option<QueueEntry>, _>(key, |e| {
            let Some(mut e) = e else {
                return Ok(Decision::Keep(None));
            };
            if !e.claim(now) {
                return Ok(Decision::Keep(None));
            }
            let out = e.clone();
            Ok(Decision::Write(e, Some(out)))
        })
        .await
}

/// A dataset that waited longer than `queue_max_age`: its record (left `Queued` by a capacity refusal) ends with
/// the rejection, and `Dataset Rejected` goes out.
async fn give_up(ctx: &Context, config: &Config, route: &Route, entry: &QueueEntry) -> Result<()> {
    let d = &entry.dataset;
    let ev = EventContext {
        route: route.name.clone(),
        dataset_uri: d.location.to_string(),
        ..Default::default()
    };
    let rej = Rejection::new(
        RejectionReason::QueueMaxAge,
        format!(
            "waited in the queue since {} without a slot; route {} gives up after {}s (queue_max_age)",
            entry.enqueued_at,
            route.name,
            route.queue_max_age.as_secs()
        ),
    );
    let job = d.identity.job_name(config, &d.route);
    mark_refused(ctx, &config.deployment.run_key(job.as_str()), &rej).await?;
    reject(ctx, config, &ev, &d.identity.canonical(), rej).await?;
    Ok(())
}

async fn unclaim(ctx: &Context, key: &S3Uri) -> Result<()> {
    ctx.store
        .update::<QueueEntry, (), _>(key, |e| {
            let Some(mut e) = e else {
                return Ok(Decision::Keep(()));
            };
            e.claimed_at = None;
            Ok(Decision::Write(e, ()))
        })
        .await
}
