//! What a run record owes, worked off in order, each flag set only after its effect happened: the one place the
//! outbox of a run is handled, for the launcher, training-state and the sweep alike.

use crate::domain::config::Config;
use crate::domain::error::Result;
use crate::domain::events;
use crate::domain::route_queue::Slots;
use crate::domain::run::{OutboxFlag, RunRecord};
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

/// Give back `job`'s slot on `route`. Returns whether it held one.
pub async fn release_slot(ctx: &Context, config: &Config, route: &str, job: &str) -> Result<bool> {
    ctx.store
        .update::<Slots, bool, _>(&config.deployment.slots_key(route), |s| {
            let Some(mut s) = s else {
                return Ok(Decision::Keep(false));
            };
            Ok(if s.release(job) {
                Decision::Write(s, true)
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
        release_slot(ctx, config, &r.route, job).await?;
        known = set_flag(ctx, key, known, OutboxFlag::SlotReleased).await?;
    }
    if owed.slot_freed {
        ctx.emit(config, &events::route_slot_freed(&r.route, job))
            .await?;
        known = set_flag(ctx, key, known, OutboxFlag::SlotFreed).await?;
    }
    Ok(known)
}
