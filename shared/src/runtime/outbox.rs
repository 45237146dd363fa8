//! What a run record owes, worked off in order, each flag set only after its effect happened: the one place the
//! outbox of a run is handled, for the launcher, training-state and the sweep alike.

use crate::domain::config::Config;
use crate::domain::error::Result;
use crate::domain::events;
use crate::domain::route_queue::Slots;
use crate::domain::run::{OpenRun, OutboxFlag, RunRecord};
use crate::domain::s3uri::S3Uri;
use crate::domain::versioned::Versioned;
use crate::runtime::context::Context;
use crate::runtime::faults::crash_point;
use crate::store::Decision;

/// Set one outbox flag, starting from the record as last known (no read unless a race is lost).
pub async fn set_flag(
    ctx: &Context,
    key: &S3Uri,
    known: Versioned<RunRecord>,
    flag: OutboxFlag,
) -> Result<Versioned<RunRecord>> {
    let now = ctx.now();
    ctx.store
        .update_known(key, known, |r: &mut RunRecord| Ok(r.mark_sent(flag, now)))
        .await
}

/// Put `job` in the index of open runs. Called BEFORE its record is created: a crash in between leaves a marker
/// without a record (the sweep drops it once old), never a record without a marker (which no sweep would read).
/// A marker already there stands (a redelivery, or the sweep's rebuild).
pub async fn open_run(ctx: &Context, config: &Config, job: &str) -> Result<()> {
    let marker = OpenRun {
        job: job.to_string(),
        opened_at: ctx.now(),
    };
    ctx.store
        .create(&config.deployment.open_run_key(job), &marker)
        .await?;
    Ok(())
}

/// Take a closed record out of the index of open runs (`false`: not closed, nothing done). Deleting an absent marker
/// succeeds, so whoever wrote the last flag may call it, and a crash before it leaves a marker the sweep deletes.
pub async fn close_if_done(ctx: &Context, config: &Config, r: &RunRecord) -> Result<bool> {
    if !r.is_closed() {
        return Ok(false);
    }
    ctx.store
        .delete(&config.deployment.open_run_key(r.job_name.as_str()))
        .await?;
    Ok(true)
}

/// A launch of `job` that did not happen: its slot on `route` and its charge to today go back (`Slots::give_back`).
/// Returns whether anything changed.
pub async fn release_slot(ctx: &Context, config: &Config, route: &str, job: &str) -> Result<bool> {
    let now = ctx.now();
    ctx.store
        .update::<Slots, bool, _>(&config.deployment.slots_key(route), |s| {
            let Some(mut s) = s else {
                return Ok(Decision::Keep(false));
            };
            Ok(if s.give_back(job, now) {
                Decision::Write(s, true)
            } else {
                Decision::Keep(false)
            })
        })
        .await
}

/// Give back an ended run's slot and, in the same write, charge its route's day what the job used instead of what
/// it reserved (when SageMaker said, and the job was charged today).
async fn release_run_slot(ctx: &Context, config: &Config, r: &RunRecord) -> Result<bool> {
    let (job, used, now) = (r.job_name.as_str(), r.used_hours(), ctx.now());
    ctx.store
        .update::<Slots, bool, _>(&config.deployment.slots_key(&r.route), |s| {
            let Some(mut s) = s else {
                return Ok(Decision::Keep(false));
            };
            let released = s.release(job);
            let settled = used.is_some_and(|h| s.settle(job, h, now));
            Ok(if released || settled {
                Decision::Write(s, released)
            } else {
                Decision::Keep(false)
            })
        })
        .await
}

/// Send what the record owes (`Training Run Started`, `Training Run Finished`, the slot, `Route Slot Freed`), each
/// flag set only once its effect happened. `known` is the record as the caller last read or wrote it. Returns the
/// record as it now stands.
pub async fn work_outbox(
    ctx: &Context,
    config: &Config,
    key: &S3Uri,
    mut known: Versioned<RunRecord>,
) -> Result<Versioned<RunRecord>> {
    let r = known.value.clone();
    let owed = r.owes();
    let job = r.job_name.as_str();
    let scope = format!("{job} {}", r.dataset_uri);
    if owed.started {
        crash_point("launch.before_started_event", &scope)?;
        ctx.emit(config, &events::training_run_started(&r)).await?;
        known = set_flag(ctx, key, known, OutboxFlag::Started).await?;
    }
    if owed.finished {
        crash_point("state.before_finished_event", &scope)?;
        ctx.emit(config, &events::training_run_finished(&r)).await?;
        known = set_flag(ctx, key, known, OutboxFlag::Finished).await?;
    }
    if owed.release_slot {
        release_run_slot(ctx, config, &r).await?;
        known = set_flag(ctx, key, known, OutboxFlag::SlotReleased).await?;
    }
    if owed.slot_freed {
        ctx.emit(config, &events::route_slot_freed(&r.route, job))
            .await?;
        known = set_flag(ctx, key, known, OutboxFlag::SlotFreed).await?;
    }
    // This call wrote a flag: if that closed the record (publish-artifact got there first), its marker goes. The
    // record as written here includes any flag set meanwhile (a lost compare-and-swap re-reads).
    if owed.any() {
        close_if_done(ctx, config, &known.value).await?;
    }
    Ok(known)
}
