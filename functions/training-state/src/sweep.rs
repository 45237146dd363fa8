//! The scheduled repair: every record that is not completely done is brought up to date, slots of launches that
//! never happened are freed, and routes with waiting datasets and a free slot get a nudge.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hubtune::domain::config::{Config, Route};
use hubtune::domain::error::{ErrorClass, Result};
use hubtune::domain::events;
use hubtune::domain::route_queue::{QueueEntry, Slots};
use hubtune::domain::run::{RunRecord, SweepAction, SweepTiming};
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::batch::worst;
use hubtune::runtime::context::Context;
use hubtune::store::Decision;

use crate::reconcile::reconcile;

/// How long `Training Run Finished` may go unanswered (no publication) before the sweep sends it again.
pub const REPUBLISH_AFTER_SECONDS: i64 = 600;
/// How long a record may stay `Launching` with no job before the sweep gives it back to the queue.
pub const STUCK_LAUNCH_SECONDS: i64 = 900;

/// What one sweep did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub records: usize,
    pub reconciled: usize,
    pub republished: usize,
    pub requeued: usize,
    pub slots_freed_announced: usize,
    pub stale_slots_released: usize,
}

pub async fn sweep(ctx: &Context) -> Result<SweepReport> {
    sweep_with(ctx, REPUBLISH_AFTER_SECONDS).await
}

pub async fn sweep_with(ctx: &Context, republish_after_seconds: i64) -> Result<SweepReport> {
    let config = ctx.config().await?;
    let timing = SweepTiming {
        stuck_launch_seconds: STUCK_LAUNCH_SECONDS,
        republish_after_seconds,
    };
    let mut report = SweepReport::default();
    let now = ctx.now();
    let mut first_err = None;
    for k in ctx.store.list(&config.deployment.runs_prefix()).await? {
        report.records += 1;
        let key = config.deployment.state_prefix.with_key(k);
        if let Err(e) = repair(ctx, &config, &key, now, &timing, &mut report).await {
            tracing::warn!(record = %key, error = %e, "sweep could not repair this record; next sweep tries again");
            first_err = worst(first_err, e);
        }
    }
    // Slots of jobs that ended were released by reconcile above. A slot taken by a launch that crashed before its
    // run record was written, and whose message is gone, has no record and no job: freed once it is old enough
    // that no launch can still be on its way.
    for route in &config.routes {
        report.stale_slots_released += release_stale_slots(ctx, &config, &route.name, now).await?;
    }
    report.slots_freed_announced += nudge_queues(ctx, &config, now).await?;
    tracing::info!(?report, "sweep done");
    // A record that can never be repaired (a name SageMaker cannot have) is logged above; anything else brings the
    // sweep's message back, so an operator sees a deployment fault in the dead-letter queue.
    match first_err {
        Some(e) if e.class() != ErrorClass::Permanent => Err(e),
        _ => Ok(report),
    }
}

/// One record: what `RunRecord::sweep_action` decides, done.
async fn repair(
    ctx: &Context,
    config: &Config,
    key: &S3Uri,
    now: DateTime<Utc>,
    timing: &SweepTiming,
    report: &mut SweepReport,
) -> Result<()> {
    let Some(known) = ctx.store.read::<RunRecord>(key).await? else {
        return Ok(());
    };
    let r = &known.value;
    match r.sweep_action(now, timing) {
        SweepAction::Nothing => {}
        SweepAction::Reconcile => {
            reconcile(ctx, config, r.job_name.as_str()).await?;
            report.reconciled += 1;
        }
        SweepAction::RecoverLaunch => {
            // Launching with no job for a long time: the launch crashed and its message is gone. If SageMaker has
            // the job, adopt its state; if not, the dataset goes back to its route's queue.
            let has_job = reconcile(ctx, config, r.job_name.as_str()).await?.is_some();
            if let (false, Some(d)) = (has_job, &r.dataset) {
                // Its slot goes back with it (a one-slot route would otherwise wait behind a launch that is gone),
                // but only a slot as old as the stuck launch: one taken since is a retried launch under way.
                release_slot_taken_before(ctx, config, &r.route, r.job_name.as_str(), now, timing)
                    .await?;
                let entry = QueueEntry::new(
                    d.clone(),
                    "the launch did not finish; retried by the sweep",
                    now,
                );
                let rel = QueueEntry::key(d, &d.identity.hash(&config.deployment.name));
                let queued = ctx
                    .store
                    .create(&config.deployment.state_key(&rel), &entry)
                    .await?;
                // The wait starts over, so later sweeps leave the dataset to its queue instead of re-queuing it.
                ctx.store
                    .update_known(key, known.clone(), |r| Ok(r.requeued(now)))
                    .await?;
                if queued {
                    report.requeued += 1;
                }
            }
        }
        SweepAction::Republish => {
            // publish-artifact never confirmed: send the same event again (same event_id), and wait again from now.
            ctx.emit(config, &events::training_run_finished(r)).await?;
            ctx.store
                .update_known(key, known.clone(), |r| Ok(r.finished_resent(now)))
                .await?;
            report.republished += 1;
        }
    }
    Ok(())
}

/// Give back `job`'s slot on `route` if it was taken before the stuck-launch wait began. Returns whether it did.
async fn release_slot_taken_before(
    ctx: &Context,
    config: &Config,
    route: &str,
    job: &str,
    now: DateTime<Utc>,
    timing: &SweepTiming,
) -> Result<bool> {
    ctx.store
        .update::<Slots, bool, _>(&config.deployment.slots_key(route), |s| {
            let Some(mut s) = s else {
                return Ok(Decision::Keep(false));
            };
            let stale = s
                .holders
                .get(job)
                .is_some_and(|taken| (now - *taken).num_seconds() > timing.stuck_launch_seconds);
            Ok(if stale && s.release(job) {
                Decision::Write(s, true)
            } else {
                Decision::Keep(false)
            })
        })
        .await
}

async fn release_stale_slots(
    ctx: &Context,
    config: &Config,
    route: &str,
    now: DateTime<Utc>,
) -> Result<usize> {
    let key = config.deployment.slots_key(route);
    let Some(slots) = ctx.store.read::<Slots>(&key).await? else {
        return Ok(0);
    };
    let mut stale = Vec::new();
    for (job, taken) in &slots.value.holders {
        if (now - *taken).num_seconds() <= STUCK_LAUNCH_SECONDS {
            continue;
        }
        let run_key = config.deployment.run_key(job);
        let has_record = ctx.store.read::<RunRecord>(&run_key).await?.is_some();
        if !has_record && ctx.jobs.describe(job).await?.is_none() {
            stale.push(job.clone());
        }
    }
    if stale.is_empty() {
        return Ok(0);
    }
    tracing::warn!(route, jobs = ?stale, "releasing slots of launches that never happened");
    ctx.store
        .update::<Slots, usize, _>(&key, |s| {
            let Some(mut s) = s else {
                return Ok(Decision::Keep(0));
            };
            let n = stale.iter().filter(|j| s.release(j)).count();
            Ok(if n > 0 {
                Decision::Write(s, n)
            } else {
                Decision::Keep(0)
            })
        })
        .await
}

/// Every route with waiting datasets and a free slot gets a `Route Slot Freed`; so does a route no longer in the
/// routes file, whose waiting datasets the launcher then rejects instead of leaving them stranded. Returns how many
/// were sent.
async fn nudge_queues(ctx: &Context, config: &Config, now: DateTime<Utc>) -> Result<usize> {
    let queued = ctx
        .store
        .list(&config.deployment.state_key("queue/"))
        .await?;
    let queue_prefix = config.deployment.state_key("queue/");
    let routes: BTreeSet<&str> = queued
        .iter()
        .filter_map(|k| k.strip_prefix(queue_prefix.key())?.split_once('/'))
        .map(|(route, _)| route)
        .collect();
    let mut sent = 0;
    for name in routes {
        let free = match config.route(name) {
            Some(route) => free_slots(ctx, config, route).await?,
            None => 1,
        };
        if free == 0 {
            continue;
        }
        let key = format!("sweep-{}", now.timestamp_millis());
        ctx.emit(config, &events::route_slot_freed(name, &key))
            .await?;
        sent += 1;
    }
    Ok(sent)
}

async fn free_slots(ctx: &Context, config: &Config, route: &Route) -> Result<u32> {
    let slots = ctx
        .store
        .read::<Slots>(&config.deployment.slots_key(&route.name))
        .await?;
    Ok(slots
        .map(|s| s.value.free(route.max_concurrent_jobs))
        .unwrap_or(route.max_concurrent_jobs))
}
