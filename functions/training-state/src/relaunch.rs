//! Capacity fallback after the launch: a job SageMaker accepted and then failed at start for capacity
//! (`CapacityError: Unable to provision requested ML compute capacity`) is relaunched on the route's next instance
//! type. Only the launcher launches, so its dataset goes back to the route's queue as a new attempt (a new
//! deterministic job name), first in line, starting at that type, with the frozen contents and the attempts so far;
//! the failed run then ends as any failed run does, and its `Route Slot Freed` drains the queue.

use hubtune::domain::capacity::Relaunch;
use hubtune::domain::config::Config;
use hubtune::domain::dataset::DatasetLanded;
use hubtune::domain::error::{Error, Result};
use hubtune::domain::events::{self, EventContext};
use hubtune::domain::job::JobDescription;
use hubtune::domain::route_queue::{QueueEntry, QueueReason};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::domain::versioned::Versioned;
use hubtune::runtime::context::Context;

/// Give the dataset of `known` back to its route's queue as a new attempt on `instance_type`. The decision (which
/// attempt, which job) is kept in the record before the entry is written: a repeated state change, or the sweep,
/// makes the same entry (the create is conditional), and a re-created entry whose job exists ends as
/// "already launched". Returns the record as written.
pub async fn relaunch(
    ctx: &Context,
    config: &Config,
    key: &S3Uri,
    known: Versioned<RunRecord>,
    desc: &JobDescription,
    instance_type: String,
) -> Result<Versioned<RunRecord>> {
    let Some(dataset) = known.value.dataset.clone() else {
        return Ok(known);
    };
    let candidate = match known.value.relaunched_as.clone() {
        Some(decided) => decided,
        None => free_attempt(ctx, config, &dataset, instance_type).await?,
    };
    let known = ctx
        .store
        .update_known(key, known, |r: &mut RunRecord| {
            // Another invocation may have decided first: its decision stands.
            if r.relaunched_as.is_some() {
                return Ok(false);
            }
            r.relaunched_as = Some(candidate.clone());
            Ok(true)
        })
        .await?;
    let decided = known.value.relaunched_as.clone().unwrap_or(candidate);
    let r = &known.value;
    let mut next = dataset;
    next.identity.attempt = decided.attempt;
    let rel = QueueEntry::key(&next, &next.identity.hash(&config.deployment.name));
    let why = format!(
        "training job {} failed at start for capacity on {}: relaunching on {} as job {}",
        r.job_name,
        desc.instance_type.as_deref().unwrap_or(&r.instance_type),
        decided.instance_type,
        decided.job_name
    );
    let mut entry = QueueEntry::new(next.clone(), &why, ctx.now());
    entry.frozen = r.frozen.clone();
    entry.start_at_type = Some(decided.instance_type.clone());
    entry.launch_attempts = r.attempts_with_failure(desc, ctx.now());
    ctx.store
        .create(&config.deployment.state_key(&rel), &entry)
        .await?;
    let ev = EventContext {
        route: r.route.clone(),
        dataset_uri: r.dataset_uri.clone(),
        job_name: Some(decided.job_name.clone()),
        launch_attempts: entry.launch_attempts.clone(),
        ..EventContext::default()
    };
    let canonical = next.identity.canonical();
    ctx.emit(
        config,
        &events::dataset_queued(&ev, &canonical, QueueReason::Capacity, &why, &rel),
    )
    .await?;
    tracing::warn!(job = %r.job_name, relaunch = %decided.job_name, instance_type = %decided.instance_type, "failed at start for capacity: relaunching on the route's next instance type");
    Ok(known)
}

/// The first attempt number after the dataset's own with no run record (a `hubtune rerun` may have taken one).
async fn free_attempt(
    ctx: &Context,
    config: &Config,
    dataset: &DatasetLanded,
    instance_type: String,
) -> Result<Relaunch> {
    let mut identity = dataset.identity.clone();
    for _ in 0..1000 {
        identity.attempt += 1;
        let job = identity.job_name(config, &dataset.route);
        let key = config.deployment.run_key(job.as_str());
        if ctx.store.read::<RunRecord>(&key).await?.is_none() {
            return Ok(Relaunch {
                attempt: identity.attempt,
                job_name: job.to_string(),
                instance_type,
            });
        }
    }
    Err(Error::Invalid(format!(
        "no free attempt number after {} for dataset {}",
        dataset.identity.attempt, dataset.location
    )))
}
