//! training-state: follows every job of this deployment to its end.
//!
//! A state-change event is a hint; DescribeTrainingJob is the truth. The run record moves forward only, and on a
//! terminal state the outbox is worked off: `Training Run Finished`, the route slot released, `Route Slot Freed`.
//! The scheduled sweep runs the same repair over every record that is not finished, so a lost event or a crash
//! delays a publication but never loses it.

use chrono::Utc;
use hubtune::aws::JobDescription;
use hubtune::config::Config;
use hubtune::context::Context;
use hubtune::error::{Error, Result};
use hubtune::event::{parse_message, Inbound, TrainingUpdate};
use hubtune::faults::crash_point;
use hubtune::naming::JobName;
use hubtune::publish;
use hubtune::queue::Slots;
use hubtune::run::{Outbox, RunRecord, RunStatus, StatusChange, RUN_SCHEMA};
use hubtune::s3uri::S3Uri;
use hubtune::store::{Decision, Versioned};
use serde_json::Value;

/// How long `Training Run Finished` may go unanswered (no publication) before the sweep sends it again.
pub const REPUBLISH_AFTER_SECONDS: i64 = 600;
/// How long a record may stay `Launching` with no job before the sweep gives it back to the queue.
pub const STUCK_LAUNCH_SECONDS: i64 = 900;
/// How long a launched job may be unknown to DescribeTrainingJob before its run ends as gone. Not at once: a
/// describe right after CreateTrainingJob is not promised to see the new job.
pub const GONE_AFTER_SECONDS: i64 = 600;

pub async fn handle(ctx: &Context, payload: Value) -> Result<Value, Error> {
    hubtune::batch::run(payload, |body| async move { process(ctx, &body).await }).await
}

pub async fn process(ctx: &Context, body: &Value) -> Result<()> {
    for inbound in parse_message(body) {
        match inbound {
            Inbound::TrainingUpdate(u) => on_update(ctx, &u).await?,
            Inbound::Sweep => {
                sweep(ctx).await?;
            }
            Inbound::Unrecognized { shape } => {
                tracing::warn!(%shape, "payload not understood; ignored")
            }
            _ => tracing::warn!("not an input of training-state; ignored"),
        }
    }
    Ok(())
}

fn run_key(config: &Config, job: &str) -> S3Uri {
    config.deployment.state_key(&format!("runs/{job}.json"))
}

pub async fn on_update(ctx: &Context, u: &TrainingUpdate) -> Result<()> {
    let config = ctx.config.get(&ctx.aws).await?;
    // Cheap filter: another team's jobs on the default bus cost one string comparison.
    if !config.deployment.job_prefix.owns(&u.job_name) {
        tracing::debug!(job = %u.job_name, "not this deployment's job; ignored");
        return Ok(());
    }
    let span = tracing::info_span!("training_state", job = %u.job_name, hint = u.status.as_str());
    let _e = span.enter();
    reconcile(ctx, &config, &u.job_name).await.map(|_| ())
}

/// Bring one job's record up to date with SageMaker and work off its outbox. Returns the record's status.
pub async fn reconcile(ctx: &Context, config: &Config, job: &str) -> Result<Option<RunStatus>> {
    let described = ctx.aws.describe_training_job(job).await?;
    let Some((desc, observed)) = described
        .as_ref()
        .and_then(|d| Some((d, RunStatus::observed(d.status)?)))
    else {
        return job_gone(ctx, config, job, described.is_some()).await;
    };
    let key = run_key(config, job);
    let known = match ctx.store.read::<RunRecord>(&key).await? {
        Some(v) => v,
        None => adopt(ctx, &key, desc).await?,
    };
    let known = ctx
        .store
        .update_known(&key, known, |r: &mut RunRecord| {
            let mut changed = false;
            if r.job_arn.is_none() {
                r.job_arn = Some(desc.arn.clone());
                changed = true;
            }
            if r.status.is_pre_launch() {
                // The job exists: whatever the record says, it was launched (a crash after CreateTrainingJob).
                r.advance(
                    RunStatus::Launched,
                    Utc::now(),
                    Some("found running".into()),
                );
                changed = true;
            }
            let at = desc.last_modified_time.unwrap_or_else(Utc::now);
            if r.advance(observed, at, desc.secondary_status.clone())
                == hubtune::run::Applied::Moved
            {
                r.failure_reason = desc.failure_reason.clone();
                r.model_artifacts = desc.model_artifacts.clone();
                changed = true;
            }
            Ok(changed)
        })
        .await?;
    let status = known.value.status;
    tracing::info!(status = status.as_str(), "run record up to date");
    work_outbox(ctx, config, &key, Some(known)).await?;
    Ok(Some(status))
}

/// SageMaker does not know the job, or is deleting it. A record still waiting for the job's end would wait for ever
/// and hold its route's slot: it ends `Failed` with the reason, so the slot is freed and the route's subscribers hear
/// of it. `Deleting` is final at once (only an ended job can be deleted); a job merely not found is given
/// `GONE_AFTER_SECONDS` from the record's last change. Records before the launch are the launch path's (and the
/// sweep's re-queue): `None` tells the caller there is no job.
async fn job_gone(
    ctx: &Context,
    config: &Config,
    job: &str,
    deleting: bool,
) -> Result<Option<RunStatus>> {
    let key = run_key(config, job);
    let Some(mut known) = ctx.store.read::<RunRecord>(&key).await? else {
        tracing::warn!(
            job,
            deleting,
            "SageMaker does not have this job and hubtune has no record of it: nothing to do"
        );
        return Ok(None);
    };
    let r = &known.value;
    if r.status.is_pre_launch() {
        return Ok(None);
    }
    if !r.status.is_terminal() {
        let waited = (Utc::now() - r.updated_at).num_seconds();
        if !deleting && waited < GONE_AFTER_SECONDS {
            tracing::warn!(
                job,
                waited,
                "SageMaker does not describe this launched job (yet); the sweep looks again"
            );
            return Ok(Some(r.status));
        }
        let reason = if deleting {
            format!("training job {job} was deleted (DeleteTrainingJob) before hubtune saw how it ended; nothing was published")
        } else {
            format!("SageMaker no longer knows training job {job} (deleted?) and hubtune never saw how it ended; nothing was published")
        };
        tracing::warn!(job, %reason, "ending the run as Failed");
        known = ctx
            .store
            .update_known(&key, known, |r: &mut RunRecord| {
                let moved = r.advance(RunStatus::Failed, Utc::now(), Some("job gone".into()))
                    == hubtune::run::Applied::Moved;
                if moved {
                    r.failure_reason = Some(reason.clone());
                }
                Ok(moved)
            })
            .await?;
    }
    // The outbox changes flags, never the status.
    let status = known.value.status;
    work_outbox(ctx, config, &key, Some(known)).await?;
    Ok(Some(status))
}

/// A prefixed job with no record (the launcher's record write was lost, or the job predates the state prefix):
/// build the record from DescribeTrainingJob and the job's tags. Returns the record as it now stands.
async fn adopt(ctx: &Context, key: &S3Uri, d: &JobDescription) -> Result<Versioned<RunRecord>> {
    let tags = ctx.aws.list_training_job_tags(&d.arn).await?;
    let now = Utc::now();
    let record = RunRecord {
        schema: RUN_SCHEMA,
        revision: 0,
        job_name: JobName::parse(&d.name).map_err(|e| Error::Other(e.to_string()))?,
        job_arn: Some(d.arn.clone()),
        route: tags
            .get("hubtune:route")
            .cloned()
            .unwrap_or_else(|| "unknown".into()),
        dataset_uri: d
            .training_input
            .clone()
            .or_else(|| tags.get("hubtune:dataset").cloned())
            .unwrap_or_default(),
        dataset: None,
        frozen: None,
        manifest_uri: d.training_input.clone(),
        model_id: tags
            .get("sagemaker-sdk:jumpstart-model-id")
            .cloned()
            .unwrap_or_default(),
        hub_content_arn: tags.get("sagemaker-sdk:hub-content-arn").cloned(),
        hub_content_version: tags.get("sagemaker-sdk:jumpstart-model-version").cloned(),
        public_hub_content_arn: None,
        instance_type: d.instance_type.clone().unwrap_or_default(),
        instance_count: d.instance_count.unwrap_or(1).max(1) as u32,
        status: RunStatus::Launched,
        history: vec![StatusChange {
            status: RunStatus::Launched,
            at: d.creation_time.unwrap_or(now),
            detail: Some("adopted".into()),
        }],
        failure_reason: None,
        model_artifacts: None,
        // The launcher's `Training Run Started` may or may not have gone out; a second one is harmless (same id).
        outbox: Outbox::default(),
        created_at: now,
        updated_at: now,
    };
    tracing::warn!(job = %d.name, route = %record.route, "adopting a job with no run record");
    match ctx.store.create_with_etag(key, &record).await? {
        Some(etag) => Ok(Versioned {
            value: record,
            etag,
        }),
        // Someone else wrote it in between: theirs stands.
        None => ctx.store.read_existing(key).await,
    }
}

/// Set one outbox flag, starting from the record as last known (no read unless a race is lost).
async fn set_flag(
    ctx: &Context,
    key: &S3Uri,
    known: Versioned<RunRecord>,
    f: fn(&mut Outbox) -> &mut bool,
) -> Result<Versioned<RunRecord>> {
    ctx.store
        .update_known(key, known, |r: &mut RunRecord| {
            let flag = f(&mut r.outbox);
            Ok(!std::mem::replace(flag, true))
        })
        .await
}

/// Send what the record owes, each flag set only after its effect happened. `known` is the record as the caller
/// last read or wrote it; `None` reads it.
pub async fn work_outbox(
    ctx: &Context,
    config: &Config,
    key: &S3Uri,
    known: Option<Versioned<RunRecord>>,
) -> Result<()> {
    let mut known = match known {
        Some(v) => v,
        None => match ctx.store.read::<RunRecord>(key).await? {
            Some(v) => v,
            None => return Ok(()),
        },
    };
    let r = known.value.clone();
    let owed = r.owes();
    let bus = &config.deployment.event_bus;
    let job = r.job_name.as_str();
    if owed.started {
        ctx.emit(bus, &publish::training_run_started(&r)).await?;
        known = set_flag(ctx, key, known, |o| &mut o.started_emitted).await?;
    }
    if owed.finished {
        crash_point(
            "state.before_finished_event",
            &format!("{job} {}", r.dataset_uri),
        )?;
        ctx.emit(bus, &publish::training_run_finished(&r)).await?;
        known = set_flag(ctx, key, known, |o| &mut o.finished_emitted).await?;
    }
    if owed.release_slot {
        let slots = config
            .deployment
            .state_key(&format!("slots/{}.json", r.route));
        ctx.store
            .update::<Slots, (), _>(&slots, |s| {
                let Some(mut s) = s else {
                    return Ok(Decision::Keep(()));
                };
                Ok(if s.release(job) {
                    Decision::Write(s, ())
                } else {
                    Decision::Keep(())
                })
            })
            .await?;
        known = set_flag(ctx, key, known, |o| &mut o.slot_released).await?;
    }
    if owed.slot_freed {
        ctx.emit(bus, &publish::route_slot_freed(&r.route, job))
            .await?;
        set_flag(ctx, key, known, |o| &mut o.slot_freed_emitted).await?;
    }
    Ok(())
}

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

async fn release_stale_slots(
    ctx: &Context,
    config: &Config,
    route: &str,
    now: chrono::DateTime<Utc>,
) -> Result<usize> {
    let key = config.deployment.state_key(&format!("slots/{route}.json"));
    let Some(slots) = ctx.store.read::<Slots>(&key).await? else {
        return Ok(0);
    };
    let mut stale = Vec::new();
    for (job, taken) in &slots.value.holders {
        if (now - *taken).num_seconds() <= STUCK_LAUNCH_SECONDS {
            continue;
        }
        let has_record = ctx
            .store
            .read::<RunRecord>(&run_key(config, job))
            .await?
            .is_some();
        if !has_record && ctx.aws.describe_training_job(job).await?.is_none() {
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

/// The scheduled repair: every record that is not completely done is brought up to date.
pub async fn sweep(ctx: &Context) -> Result<SweepReport> {
    sweep_with(ctx, REPUBLISH_AFTER_SECONDS).await
}

pub async fn sweep_with(ctx: &Context, republish_after_seconds: i64) -> Result<SweepReport> {
    let config = ctx.config.get(&ctx.aws).await?;
    let mut report = SweepReport::default();
    let keys = ctx
        .store
        .list(&config.deployment.state_key("runs/"))
        .await?;
    let now = Utc::now();
    let mut first_err = None;
    for k in keys {
        report.records += 1;
        let key =
            S3Uri::new(config.deployment.bucket.clone(), k).expect("listed from a valid bucket");
        let Some(r) = ctx.store.read::<RunRecord>(&key).await?.map(|v| v.value) else {
            continue;
        };
        let done = r.status.is_terminal() && !r.owes().any();
        let result: Result<()> = async {
            if !done && !r.status.is_pre_launch() {
                reconcile(ctx, &config, r.job_name.as_str()).await?;
                report.reconciled += 1;
            } else if r.status == RunStatus::Launching
                && (now - r.updated_at).num_seconds() > STUCK_LAUNCH_SECONDS
            {
                // Launching with no job for a long time: the launch crashed and its message is gone. If SageMaker has
                // the job, adopt its state; if not, the dataset goes back to its route's queue.
                if reconcile(ctx, &config, r.job_name.as_str())
                    .await?
                    .is_none()
                {
                    if let Some(d) = &r.dataset {
                        let entry = hubtune::queue::QueueEntry {
                            revision: 0,
                            dataset: d.clone(),
                            reason: "the launch did not finish; retried by the sweep".into(),
                            enqueued_at: now,
                            claimed_at: None,
                            attempts: 0,
                        };
                        let rel = hubtune::queue::QueueEntry::key(
                            d,
                            &d.identity.hash(&config.deployment.name),
                        );
                        ctx.store
                            .create(&config.deployment.state_key(&rel), &entry)
                            .await?;
                        report.requeued += 1;
                    }
                }
            } else if done && !r.outbox.published && r.outbox.finished_emitted {
                let finished_at = r
                    .history
                    .iter()
                    .rev()
                    .find(|c| c.status.is_terminal())
                    .map(|c| c.at)
                    .unwrap_or(r.updated_at);
                if (now - finished_at).num_seconds() >= republish_after_seconds {
                    // publish-artifact never confirmed: send the same event again (same event_id).
                    ctx.emit(
                        &config.deployment.event_bus,
                        &publish::training_run_finished(&r),
                    )
                    .await?;
                    report.republished += 1;
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(record = %key, error = %e, "sweep could not repair this record; next sweep tries again");
            first_err.get_or_insert(e);
        }
    }
    // Slots of jobs that ended were released by reconcile above. A slot taken by a launch that crashed before its
    // run record was written, and whose message is gone, has no record and no job: freed once it is old enough
    // that no launch can still be on its way.
    for route in &config.routes {
        report.stale_slots_released += release_stale_slots(ctx, &config, &route.name, now).await?;
    }
    // Routes with waiting datasets and a free slot get a nudge.
    for route in &config.routes {
        let queued = ctx
            .store
            .list(
                &config
                    .deployment
                    .state_key(&format!("queue/{}/", route.name)),
            )
            .await?;
        if queued.is_empty() {
            continue;
        }
        let slots = ctx
            .store
            .read::<Slots>(
                &config
                    .deployment
                    .state_key(&format!("slots/{}.json", route.name)),
            )
            .await?;
        let free = slots
            .map(|s| s.value.free(route.max_concurrent_jobs))
            .unwrap_or(route.max_concurrent_jobs);
        if free > 0 {
            ctx.emit(
                &config.deployment.event_bus,
                &publish::route_slot_freed(
                    &route.name,
                    &format!("sweep-{}", now.timestamp_millis()),
                ),
            )
            .await?;
            report.slots_freed_announced += 1;
        }
    }
    tracing::info!(?report, "sweep done");
    match first_err {
        Some(e) if e.is_retryable() => Err(e),
        _ => Ok(report),
    }
}
