//! One job's run record brought up to date with SageMaker, and its outbox worked off.

use hubtune::domain::config::Config;
use hubtune::domain::error::{Error, Result};
use hubtune::domain::job::{JobDescription, JobStatus};
use hubtune::domain::run::{RunRecord, RunStatus};
use hubtune::domain::s3uri::S3Uri;
use hubtune::domain::versioned::Versioned;
use hubtune::runtime::context::Context;
use hubtune::runtime::outbox::{open_run, work_outbox};

use crate::relaunch::relaunch;

/// How long a launched job may be unknown to DescribeTrainingJob before its run ends as gone. Not at once: a
/// describe right after CreateTrainingJob is not promised to see the new job.
pub const GONE_AFTER_SECONDS: i64 = 600;

/// Bring one job's record up to date with SageMaker and work off its outbox. Returns the record's status; `None`
/// when there is no job (the record, if any, is before its launch: the launch path's and the sweep's).
pub async fn reconcile(ctx: &Context, config: &Config, job: &str) -> Result<Option<RunStatus>> {
    reconcile_from(ctx, config, job, None).await
}

/// `reconcile`, starting from the record as the caller just read it (the sweep): no second read unless a write
/// finds it changed (the compare-and-swap re-reads then).
pub async fn reconcile_from(
    ctx: &Context,
    config: &Config,
    job: &str,
    read: Option<Versioned<RunRecord>>,
) -> Result<Option<RunStatus>> {
    let described = ctx.jobs.describe(job).await?;
    let desc = match described {
        Some(d) if d.status != JobStatus::Deleting => d,
        other => return job_gone(ctx, config, job, other.is_some(), read).await,
    };
    let key = config.deployment.run_key(job);
    let read = match read {
        Some(v) => Some(v),
        None => ctx.store.read::<RunRecord>(&key).await?,
    };
    let mut known = match read {
        Some(v) => v,
        None => match adopt(ctx, config, &key, &desc).await? {
            Some(v) => v,
            None => return Ok(None),
        },
    };
    // Failed at start for capacity, with a type left on the route: the dataset is relaunched before the failure is
    // kept (a crash in between repeats the relaunch, never skips it).
    let types = config
        .route(&known.value.route)
        .map(|r| r.instance_types.as_slice());
    if let Some(next) = types.and_then(|t| known.value.relaunch_type(&desc, t)) {
        known = relaunch(ctx, config, &key, known, &desc, next).await?;
    }
    let now = ctx.now();
    let known = ctx
        .store
        .update_known(&key, known, |r: &mut RunRecord| {
            // Both, in this order: the results are kept once the record has reached the end the job reports.
            let observed = r.observe(&desc, now);
            let kept = r.keep_results(Some(&desc), config.hourly_price(&r.route));
            Ok(observed || kept)
        })
        .await?;
    let status = known.value.status;
    tracing::info!(status = status.as_str(), "run record up to date");
    work_outbox(ctx, config, &key, known).await?;
    Ok(Some(status))
}

/// SageMaker does not know the job, or is deleting it. A record still waiting for the job's end would wait for ever
/// and hold its route's slot: it ends `Failed` with the reason, so the slot is freed and the route's subscribers hear
/// of it. `Deleting` is final at once (only an ended job can be deleted); a job merely not found is given
/// `GONE_AFTER_SECONDS` from the record's last change.
async fn job_gone(
    ctx: &Context,
    config: &Config,
    job: &str,
    deleting: bool,
    read: Option<Versioned<RunRecord>>,
) -> Result<Option<RunStatus>> {
    let key = config.deployment.run_key(job);
    let read = match read {
        Some(v) => Some(v),
        None => ctx.store.read::<RunRecord>(&key).await?,
    };
    let Some(mut known) = read else {
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
    let now = ctx.now();
    if !r.status.is_terminal() {
        let waited = (now - r.updated_at).num_seconds();
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
                let ended = r.end_gone(reason.clone(), now);
                // SageMaker knows nothing of the job any more: the results are what the record holds.
                let kept = r.keep_results(None, config.hourly_price(&r.route));
                Ok(ended || kept)
            })
            .await?;
    }
    // The outbox changes flags, never the status.
    let status = known.value.status;
    work_outbox(ctx, config, &key, known).await?;
    Ok(Some(status))
}

/// A prefixed job with no record (the launcher's record write was lost, or the job predates the state prefix):
/// build the record from DescribeTrainingJob and the job's tags. Returns the record as it now stands, or `None` for a
/// job another deployment launched (same prefix, another `hubtune:deployment` tag): never ours to follow.
async fn adopt(
    ctx: &Context,
    config: &Config,
    key: &S3Uri,
    d: &JobDescription,
) -> Result<Option<Versioned<RunRecord>>> {
    let tags = ctx.jobs.tags(&d.arn).await?;
    if !RunRecord::launched_by(&tags, &config.deployment.name) {
        tracing::info!(job = %d.name, "ignored: a job under this prefix that another deployment launched");
        return Ok(None);
    }
    let record =
        RunRecord::adopted(d, &tags, ctx.now()).map_err(|e| Error::Invalid(e.to_string()))?;
    tracing::warn!(job = %d.name, route = %record.route, "adopting a job with no run record");
    // The marker first: a record without one would never be swept.
    open_run(ctx, config, &d.name).await?;
    match ctx.store.create_with_etag(key, &record).await? {
        Some(etag) => Ok(Some(Versioned {
            value: record,
            etag,
        })),
        // Someone else wrote it in between: theirs stands.
        None => ctx.store.read_existing(key).await.map(Some),
    }
}
