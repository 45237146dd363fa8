//! Out of a route's queue: a freed slot drains it oldest first while slots last. Only launch-finetune launches:
//! training-state and the sweep announce `Route Slot Freed`.

use hubtune::domain::config::{Config, Route};
use hubtune::domain::error::Result;
use hubtune::domain::events::EventContext;
use hubtune::domain::rejection::{Rejection, RejectionReason};
use hubtune::domain::route_queue::QueueEntry;
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::batch::worst;
use hubtune::runtime::context::Context;
use hubtune::store::Decision;

use crate::launch::launch_dataset;
use crate::outcome::{From, Outcome};
use crate::report::{mark_refused, reject};

/// A slot was freed on `route_name`: launch its queued datasets oldest first while slots last. A route no longer in
/// the routes file has its entries rejected (`unknown_route`) rather than stranded; an entry that cannot be read is
/// skipped, so the ones behind it still launch, and the message comes back to try it again.
pub async fn drain(ctx: &Context, route_name: &str) -> Result<()> {
    let config = ctx.config().await?;
    let route = config.route(route_name);
    if route.is_none() {
        tracing::warn!(
            route = route_name,
            "slot freed on a route that is no longer configured: its queue is rejected"
        );
    }
    let mut keys = ctx
        .store
        .list(&config.deployment.queue_prefix(route_name))
        .await?;
    keys.sort();
    let mut unreadable = None;
    for k in keys {
        let key = config.deployment.state_prefix.with_key(k);
        let entry = match claim(ctx, &key).await {
            Ok(Some(entry)) => entry,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(entry = %key, error = %e, "a queue entry cannot be taken; the ones behind it go on");
                unreadable = worst(unreadable, e);
                continue;
            }
        };
        if let Some(r) = route.filter(|r| entry.is_expired(ctx.now(), r.queue_max_age)) {
            give_up(ctx, &config, r, &entry).await?;
            ctx.store.delete(&key).await?;
            continue;
        }
        let from = From::Queue(Box::new(entry.clone()));
        match launch_dataset(ctx, &config, &entry.dataset, from).await {
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
    unreadable.map_or(Ok(()), Err)
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
