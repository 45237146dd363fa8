//! The scheduled repair: every record that is not completely done is brought up to date, slots of launches that
//! never happened are freed, and routes with waiting datasets and a free slot get a nudge.
//!
//! It reads open runs only: each run has a marker under `open/` from just before its record is written until the
//! record is closed (`RunRecord::is_closed`), so a sweep costs what is open, not what was ever run. A deployment
//! whose records predate the index has no `open/.built`: its first sweep lists every record once and gives each
//! open one its marker.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hubtune::domain::config::{Config, Route};
use hubtune::domain::error::{Error, ErrorClass, Result};
use hubtune::domain::events;
use hubtune::domain::route_queue::{QueueEntry, Slots};
use hubtune::domain::run::{OpenRun, RunRecord, SweepAction, SweepTiming};
use hubtune::domain::s3uri::S3Uri;
use hubtune::domain::versioned::Versioned;
use hubtune::runtime::batch::worst;
use hubtune::runtime::context::Context;
use hubtune::runtime::outbox::{close_if_done, open_run};
use hubtune::store::Decision;
use std::time::{Duration, Instant};

use crate::reconcile::reconcile_from;

/// How long `Training Run Finished` may go unanswered (no publication) before the sweep sends it again.
pub const REPUBLISH_AFTER_SECONDS: i64 = 600;
/// How long a record may stay `Launching` with no job before the sweep gives it back to the queue.
pub const STUCK_LAUNCH_SECONDS: i64 = 900;

/// The most records one sweep reads; the rest wait for the next sweep (which starts elsewhere in the list).
pub const MAX_RECORDS_PER_SWEEP: usize = 500;
/// Time kept back for the slots and queues after the records: no record is started with less left.
pub const SWEEP_RESERVE: Duration = Duration::from_secs(8);

/// What one sweep did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SweepReport {
    pub records: usize,
    pub reconciled: usize,
    pub republished: usize,
    pub requeued: usize,
    pub slots_freed_announced: usize,
    pub stale_slots_released: usize,
    /// Markers of closed records, or of records never written, taken out of the index.
    pub markers_dropped: usize,
    /// Open runs not read this time (record budget or deadline): the next sweep reads them.
    pub left_for_next: usize,
    /// This sweep listed every record once, to give each open one written before the index its marker.
    pub rebuilt_index: bool,
}

pub async fn sweep(ctx: &Context) -> Result<SweepReport> {
    sweep_until(ctx, REPUBLISH_AFTER_SECONDS, None).await
}

pub async fn sweep_with(ctx: &Context, republish_after_seconds: i64) -> Result<SweepReport> {
    sweep_until(ctx, republish_after_seconds, None).await
}

/// The sweep, reading only open runs (the index under `open/`) and starting no record once `deadline` is near.
pub async fn sweep_until(
    ctx: &Context,
    republish_after_seconds: i64,
    deadline: Option<Instant>,
) -> Result<SweepReport> {
    let config = ctx.config().await?;
    let timing = SweepTiming {
        stuck_launch_seconds: STUCK_LAUNCH_SECONDS,
        republish_after_seconds,
    };
    let mut report = SweepReport::default();
    let now = ctx.now();
    let (jobs, rebuilding) = open_jobs(ctx, &config).await?;
    report.rebuilt_index = rebuilding;
    let mut first_err = None;
    let mut indexed_all = true;
    // Start where the clock says, so a backlog larger than one sweep's budget is read in turn, not its head only.
    let offset = if jobs.is_empty() {
        0
    } else {
        (now.timestamp() / 60).unsigned_abs() as usize % jobs.len()
    };
    for (i, job) in jobs
        .iter()
        .cycle()
        .skip(offset)
        .take(jobs.len())
        .enumerate()
    {
        let out_of_time =
            deadline.is_some_and(|d| d.saturating_duration_since(Instant::now()) < SWEEP_RESERVE);
        if out_of_time || (!rebuilding && i >= MAX_RECORDS_PER_SWEEP) {
            report.left_for_next = jobs.len() - i;
            indexed_all = false;
            tracing::warn!(
                left = report.left_for_next,
                out_of_time,
                "sweep stops here; the next sweep reads the rest"
            );
            break;
        }
        report.records += 1;
        let one = SweepOne {
            ctx,
            config: &config,
            job,
            now,
            timing: &timing,
            rebuilding,
        };
        if let Err(e) = one.run(&mut report).await {
            tracing::warn!(job, error = %e.error, "sweep could not repair this run; next sweep tries again");
            indexed_all &= !e.before_marker;
            first_err = worst(first_err, e.error);
        }
    }
    if rebuilding && indexed_all {
        ctx.store
            .create(
                &config.deployment.open_index_built_key(),
                &serde_json::json!({"built_at": now}),
            )
            .await?;
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

/// The jobs to look at: every open-run marker; or, while the index was never built (records written before it
/// existed have no marker), every run record, once (`true`).
async fn open_jobs(ctx: &Context, config: &Config) -> Result<(Vec<String>, bool)> {
    let d = &config.deployment;
    let open = ctx.store.list(&d.open_runs_prefix()).await?;
    let built = d.open_index_built_key();
    if open.iter().any(|k| k == built.key()) {
        let prefix = d.open_runs_prefix();
        let jobs = open
            .iter()
            .filter(|k| *k != built.key())
            .filter_map(|k| k.strip_prefix(prefix.key()))
            .map(str::to_string)
            .collect();
        return Ok((jobs, false));
    }
    let prefix = d.runs_prefix();
    let jobs = ctx
        .store
        .list(&prefix)
        .await?
        .iter()
        .filter_map(|k| k.strip_prefix(prefix.key())?.strip_suffix(".json"))
        .map(str::to_string)
        .collect();
    Ok((jobs, true))
}

/// A failure of one run, and whether it came before the run's marker was sure to exist (then the index is not
/// complete and the rebuild runs again).
struct Failed {
    error: Error,
    before_marker: bool,
}

/// One open run of one sweep.
struct SweepOne<'a> {
    ctx: &'a Context,
    config: &'a Config,
    job: &'a str,
    now: DateTime<Utc>,
    timing: &'a SweepTiming,
    rebuilding: bool,
}

impl SweepOne<'_> {
    async fn run(&self, report: &mut SweepReport) -> std::result::Result<(), Failed> {
        let before = |error| Failed {
            error,
            before_marker: true,
        };
        let after = |error| Failed {
            error,
            before_marker: false,
        };
        let (ctx, config) = (self.ctx, self.config);
        let key = config.deployment.run_key(self.job);
        let read = match ctx.store.read::<RunRecord>(&key).await {
            Ok(read) => read,
            // Unreadable (or not read this time): while rebuilding, it is given a marker all the same, so every
            // sweep reads it (and reports it) until it can be closed, and one broken object does not keep the index
            // from being built.
            Err(error) if self.rebuilding => {
                let marked = open_run(ctx, config, self.job).await.is_ok();
                return Err(Failed {
                    error,
                    before_marker: !marked,
                });
            }
            Err(error) => return Err(after(error)),
        };
        let Some(known) = read else {
            if !self.rebuilding {
                report.markers_dropped += self.drop_if_stale().await.map_err(after)? as usize;
            }
            return Ok(());
        };
        if known.value.is_closed() {
            // Closed, its marker left by a crash before the delete (or a refusal): nothing more to do, ever.
            if !self.rebuilding {
                close_if_done(ctx, config, &known.value)
                    .await
                    .map_err(after)?;
                report.markers_dropped += 1;
            }
            return Ok(());
        }
        if self.rebuilding {
            open_run(ctx, config, self.job).await.map_err(before)?;
        }
        repair(ctx, config, &key, known, self.now, self.timing, report)
            .await
            .map_err(after)
    }

    /// A marker with no record: the launch (or adoption) crashed between the two writes. Dropped once no launch can
    /// still be on its way; a redelivery later writes the marker again before the record.
    async fn drop_if_stale(&self) -> Result<bool> {
        let (ctx, config) = (self.ctx, self.config);
        let marker_key = config.deployment.open_run_key(self.job);
        let opened = ctx.store.read::<OpenRun>(&marker_key).await?;
        let stale = opened.is_none_or(|m| {
            (self.now - m.value.opened_at).num_seconds() > self.timing.stuck_launch_seconds
        });
        if stale {
            tracing::warn!(
                job = self.job,
                "dropping the open-run marker of a run with no record"
            );
            ctx.store.delete(&marker_key).await?;
        }
        Ok(stale)
    }
}

/// One record: what `RunRecord::sweep_action` decides, done.
async fn repair(
    ctx: &Context,
    config: &Config,
    key: &S3Uri,
    known: Versioned<RunRecord>,
    now: DateTime<Utc>,
    timing: &SweepTiming,
    report: &mut SweepReport,
) -> Result<()> {
    let r = &known.value;
    match r.sweep_action(now, timing) {
        SweepAction::Nothing => {}
        SweepAction::Reconcile => {
            reconcile_from(ctx, config, r.job_name.as_str(), Some(known.clone())).await?;
            report.reconciled += 1;
        }
        SweepAction::RecoverLaunch => {
            // Launching with no job for a long time: the launch crashed and its message is gone. If SageMaker has
            // the job, adopt its state; if not, the dataset goes back to its route's queue.
            let has_job = reconcile_from(ctx, config, r.job_name.as_str(), Some(known.clone()))
                .await?
                .is_some();
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

/// Every route with waiting datasets, a free slot and room left in its day gets a `Route Slot Freed`; so does a
/// route no longer in the routes file, whose waiting datasets the launcher then rejects instead of leaving them
/// stranded. This is what releases datasets queued for the daily cap (`budget`): the first sweep of a new UTC day
/// finds the day open, and the drain launches them in order. Returns how many were sent.
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
            Some(route) => free_slots(ctx, config, route, now).await?,
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

/// The route's free slots, none while its day's cap is reached (a drain could launch nothing).
async fn free_slots(
    ctx: &Context,
    config: &Config,
    route: &Route,
    now: DateTime<Utc>,
) -> Result<u32> {
    let slots = ctx
        .store
        .read::<Slots>(&config.deployment.slots_key(&route.name))
        .await?;
    Ok(match slots {
        Some(s) if !s.value.budget_open(&route.budget, now) => 0,
        Some(s) => s.value.free(route.max_concurrent_jobs),
        None => route.max_concurrent_jobs,
    })
}
