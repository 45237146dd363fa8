//! Taking datasets off a route's queue when a slot is freed. Only launch-finetune launches: training-state and the
//! sweep announce `Route Slot Freed`, and this drains the queue oldest first while slots last.

use chrono::Utc;
use hubtune::context::Context;
use hubtune::error::{Rejection, Result};
use hubtune::publish::{self, EventContext};
use hubtune::queue::QueueEntry;
use hubtune::s3uri::S3Uri;
use hubtune::store::Decision;

use crate::launch::{end_queued_run, launch_dataset, Outcome};

pub async fn drain(ctx: &Context, route_name: &str) -> Result<()> {
    let config = ctx.config.get(&ctx.aws).await?;
    let Some(route) = config.route(route_name) else {
        tracing::warn!(
            route = route_name,
            "slot freed on a route that is no longer configured"
        );
        return Ok(());
    };
    let prefix = config.deployment.state_key(&format!("queue/{route_name}/"));
    let mut keys = ctx.store.list(&prefix).await?;
    keys.sort();
    for k in keys {
        let key =
            S3Uri::new(config.deployment.bucket.clone(), k).expect("listed from a valid bucket");
        let now = Utc::now();
        // Claim: a compare-and-swap on the entry, so two launchers never take the same one.
        let claimed = ctx
            .store
            .update::<QueueEntry, Option<QueueEntry>, _>(&key, |e| {
                let Some(mut e) = e else {
                    return Ok(Decision::Keep(None));
                };
                if !e.is_claimable(now) {
                    return Ok(Decision::Keep(None));
                }
                e.claimed_at = Some(now);
                e.attempts += 1;
                let out = e.clone();
                Ok(Decision::Write(e, Some(out)))
            })
            .await?;
        let Some(entry) = claimed else { continue };
        let d = &entry.dataset;
        if entry.is_expired(now, route.queue_max_age) {
            let ev = EventContext {
                route: route.name.clone(),
                dataset_uri: d.location.to_string(),
                ..Default::default()
            };
            let rej = Rejection::new(
                "queue_max_age",
                format!("waited in the queue since {} without a slot; route {} gives up after {}s (queue_max_age)", entry.enqueued_at, route.name, route.queue_max_age.as_secs()),
            );
            end_queued_run(ctx, &config, d, &rej).await?;
            ctx.emit(
                &config.deployment.event_bus,
                &publish::dataset_rejected(&ev, &d.identity.canonical(), &[rej]),
            )
            .await?;
            ctx.store.delete(&key).await?;
            continue;
        }
        match launch_dataset(ctx, &config, d, true).await {
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
