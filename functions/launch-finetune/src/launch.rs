//! From a located dataset to a running training job, idempotently.
//!
//! The order matters: checks and the plan first (no money spent), then a slot, the manifest and the run record
//! (`Launching`), then CreateTrainingJob with the deterministic name, then the record moves to `Launched` and
//! `Training Run Started` goes out. A crash between any two steps is repaired by the redelivery: the same name
//! answers `ResourceInUse`, which our record (and the job's tags) identify as "already launched".

use std::sync::Arc;

use chrono::Utc;
use hubtune::aws::JobDescription;
use hubtune::config::{BusyPolicy, Config, Route};
use hubtune::context::Context;
use hubtune::dataset::{self, DatasetFile, DatasetLanded, FrozenDataset, Located};
use hubtune::error::{Error, ErrorClass, Rejection, Result};
use hubtune::event::ObjectLanded;
use hubtune::faults::crash_point;
use hubtune::hub::HubContent;
use hubtune::naming::{dataset_tag_value, JobName};
use hubtune::plan::{self, CreateTrainingJobRequest, PlanInput, TrainingChannel};
use hubtune::publish::{self, EventContext};
use hubtune::queue::{QueueEntry, Slots, Take};
use hubtune::run::{Outbox, RunRecord, RunStatus, RUN_SCHEMA};
use hubtune::s3uri::S3Uri;
use hubtune::store::{Decision, Versioned};

/// How a dataset ended (for this delivery).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Launched {
        job: String,
    },
    AlreadyLaunched {
        job: String,
    },
    Queued {
        entry: String,
    },
    /// The route is full and the dataset is already in the queue (a drain found no slot).
    StillQueued,
    Rejected {
        code: String,
    },
    Ignored {
        reason: String,
    },
}

pub async fn on_object(ctx: &Context, o: &ObjectLanded) -> Result<Outcome> {
    let config = ctx.config.get(&ctx.aws).await?;
    let located = match dataset::locate(&config, o) {
        Ok(l) => l,
        Err(rej) => {
            let ctx_ev = EventContext {
                dataset_uri: format!("s3://{}/{}", o.bucket, o.key),
                ..Default::default()
            };
            return reject(
                ctx,
                &config,
                &ctx_ev,
                &format!("{}\0{}", o.bucket, o.key),
                vec![rej],
            )
            .await;
        }
    };
    match located {
        Located::Dataset(d) => launch_dataset(ctx, &config, &d, false).await,
        Located::Ignored { reason } => {
            tracing::debug!(key = %o.key, %reason, "object ignored");
            Ok(Outcome::Ignored { reason })
        }
        Located::NoRoute { object } => {
            let ev = EventContext {
                dataset_uri: object.clone(),
                ..Default::default()
            };
            let key = format!(
                "{object}\0{}",
                o.sequencer
                    .clone()
                    .or(o.version_id.clone())
                    .unwrap_or_default()
            );
            let rej = Rejection::new(
                "unknown_route",
                format!("no route's prefix holds {object}: add a route for it to the routes file"),
            );
            reject(ctx, &config, &ev, &key, vec![rej]).await
        }
    }
}

fn run_key(config: &Config, job: &JobName) -> S3Uri {
    config.deployment.state_key(&format!("runs/{job}.json"))
}

fn slots_key(config: &Config, route: &str) -> S3Uri {
    config.deployment.state_key(&format!("slots/{route}.json"))
}

async fn reject(
    ctx: &Context,
    config: &Config,
    ev: &EventContext,
    id_key: &str,
    problems: Vec<Rejection>,
) -> Result<Outcome> {
    let code = problems.first().map(|p| p.code.clone()).unwrap_or_default();
    tracing::warn!(route = %ev.route, dataset = %ev.dataset_uri, reason = %code, problems = ?problems, "dataset rejected");
    ctx.emit(
        &config.deployment.event_bus,
        &publish::dataset_rejected(ev, id_key, &problems),
    )
    .await?;
    Ok(Outcome::Rejected { code })
}

/// Launch one dataset. `from_queue`: the dataset is a queue entry being taken, so a full route leaves it there.
pub async fn launch_dataset(
    ctx: &Context,
    config: &Config,
    d: &DatasetLanded,
    from_queue: bool,
) -> Result<Outcome> {
    let folder_uri = d.location.to_string();
    let id_key = d.identity.canonical();
    let Some(route) = config.route(&d.route) else {
        let ev = EventContext {
            route: d.route.clone(),
            dataset_uri: folder_uri,
            ..Default::default()
        };
        let rej = Rejection::new(
            "unknown_route",
            format!("route {} is no longer in the routes file", d.route),
        );
        return reject(ctx, config, &ev, &id_key, vec![rej]).await;
    };
    let job = d.identity.job_name(config, &route.name);
    let span =
        tracing::info_span!("launch", job = %job, dataset = %folder_uri, route = %route.name);
    let _enter = span.enter();
    let key = run_key(config, &job);
    let existing = ctx.store.read::<RunRecord>(&key).await?;
    if let Some(v) = existing
        .as_ref()
        .filter(|v| !v.value.status.is_pre_launch())
    {
        tracing::info!(
            status = v.value.status.as_str(),
            "already launched (duplicate delivery)"
        );
        finish_started(ctx, config, &key, v.clone()).await?;
        return Ok(Outcome::AlreadyLaunched {
            job: job.to_string(),
        });
    }
    let mut ev = EventContext {
        route: route.name.clone(),
        dataset_uri: folder_uri.clone(),
        job_name: Some(job.to_string()),
        ..Default::default()
    };

    // 1. What is checked is what is trained: a record that exists already froze the contents.
    let frozen = match existing.as_ref().and_then(|v| v.value.frozen.clone()) {
        Some(f) => f,
        None => match check_dataset(ctx, route, d).await? {
            Ok(f) => f,
            Err(problems) => return reject(ctx, config, &ev, &id_key, problems).await,
        },
    };

    // 2. The model reference and the plan: permanent problems end here, before any money is spent.
    let Some(hub) = ctx
        .hubs
        .resolve(
            &ctx.aws,
            &route.hub,
            &route.model_id,
            route.model_version.as_deref(),
        )
        .await?
    else {
        let rej = Rejection::new(
            "model_reference_not_found",
            format!(
                "hub {} has no model reference (or model) named {}{}: check routes.{}.model_id and the hub's contents",
                route.hub,
                route.model_id,
                route.model_version.as_deref().map(|v| format!(" at version {v}")).unwrap_or_default(),
                route.name
            ),
        );
        return reject(ctx, config, &ev, &id_key, vec![rej]).await;
    };
    ev.hub_content_arn = Some(hub.hub_content_arn.clone());
    ev.hub_content_version = Some(hub.hub_content_version.clone());
    let manifest_uri = config
        .deployment
        .state_key(&format!("manifests/{job}.json"));
    let request = match plan_for(config, route, &job, &hub, d, &manifest_uri) {
        Ok(r) => r,
        Err(rej) => return reject(ctx, config, &ev, &id_key, vec![rej]).await,
    };

    // 3. A slot on the route, by compare-and-swap.
    let max = route.max_concurrent_jobs;
    let job_s = job.to_string();
    let take = ctx
        .store
        .update::<Slots, Take, _>(&slots_key(config, &route.name), |s| {
            let mut s = s.unwrap_or_else(|| Slots {
                route: route.name.clone(),
                ..Default::default()
            });
            Ok(match s.take(&job_s, max, Utc::now()) {
                Take::Taken => Decision::Write(s, Take::Taken),
                other => Decision::Keep(other),
            })
        })
        .await?;
    if take == Take::Full {
        return busy(
            ctx,
            config,
            route,
            d,
            &ev,
            from_queue,
            "the route has no free training slot",
        )
        .await;
    }

    // 4. The frozen listing SageMaker reads, and the record, before the job exists.
    ctx.store
        .put_idempotent(&manifest_uri, frozen.manifest_json().into_bytes())
        .await?;
    let now = Utc::now();
    // The record as last written, with its ETag, so that the updates below need not read it back.
    let known = match existing {
        None => {
            let record = RunRecord {
                schema: RUN_SCHEMA,
                revision: 0,
                job_name: job.clone(),
                job_arn: None,
                route: route.name.clone(),
                dataset_uri: folder_uri.clone(),
                dataset: Some(d.clone()),
                frozen: Some(frozen.clone()),
                manifest_uri: Some(manifest_uri.to_string()),
                model_id: route.model_id.clone(),
                hub_content_arn: Some(hub.hub_content_arn.clone()),
                hub_content_version: Some(hub.hub_content_version.clone()),
                public_hub_content_arn: hub.sagemaker_public_hub_content_arn.clone(),
                instance_type: request.resource_config.instance_type.clone(),
                instance_count: request.resource_config.instance_count,
                status: RunStatus::Launching,
                history: vec![hubtune::run::StatusChange {
                    status: RunStatus::Launching,
                    at: now,
                    detail: None,
                }],
                failure_reason: None,
                model_artifacts: None,
                outbox: Outbox::default(),
                created_at: now,
                updated_at: now,
            };
            ctx.store
                .create_with_etag(&key, &record)
                .await?
                .map(|etag| Versioned {
                    value: record,
                    etag,
                })
        }
        Some(v) => Some(
            ctx.store
                .update_known(&key, v, |r| {
                    Ok(r.advance(RunStatus::Launching, now, None) == hubtune::run::Applied::Moved)
                })
                .await?,
        ),
    };
    crash_point("launch.before_create", &format!("{job} {folder_uri}"))?;

    // 5. The job. Its name is the idempotency key.
    let arn = match ctx.aws.create_training_job(&request).await {
        Ok(arn) => arn,
        Err(e) if e.aws_code() == Some("ResourceInUse") => {
            match ours(ctx, &job, &d.identity.hash(&config.deployment.name)).await? {
                Some(existing) => {
                    tracing::info!(
                        "job already exists with our dataset's tags: finishing its record"
                    );
                    existing.arn
                }
                None => {
                    release_slot(ctx, config, &route.name, &job).await?;
                    let rej = Rejection::new(
                    "job_name_collision",
                    format!("a training job named {job} exists and was not launched for this dataset: hubtune will not touch it"),
                );
                    mark_refused(ctx, &key, &rej).await?;
                    return reject(ctx, config, &ev, &id_key, vec![rej]).await;
                }
            }
        }
        Err(e) if e.class() == ErrorClass::Capacity => {
            tracing::warn!(error = %e, "SageMaker refused for quota or capacity: queueing");
            release_slot(ctx, config, &route.name, &job).await?;
            ctx.store
                .update::<RunRecord, (), _>(&key, |r| {
                    let Some(mut r) = r else {
                        return Ok(Decision::Keep(()));
                    };
                    r.advance(RunStatus::Queued, Utc::now(), Some(e.to_string()));
                    Ok(Decision::Write(r, ()))
                })
                .await?;
            return enqueue(
                ctx,
                config,
                d,
                &ev,
                from_queue,
                &format!("SageMaker refused the launch: {e}"),
            )
            .await;
        }
        Err(e) if e.class() == ErrorClass::Permanent => {
            release_slot(ctx, config, &route.name, &job).await?;
            let rej = Rejection::new(
                "launch_refused",
                format!("CreateTrainingJob was refused: {e}"),
            );
            mark_refused(ctx, &key, &rej).await?;
            return reject(ctx, config, &ev, &id_key, vec![rej]).await;
        }
        Err(e) => return Err(e),
    };
    crash_point("launch.after_create", &format!("{job} {folder_uri}"))?;

    // 6. The event, then the record: `Launched` and the outbox flag in one conditional write, made only after
    // PutEvents accepted the entry. A crash in between leaves the record `Launching` while the job exists: the
    // redelivery (ResourceInUse, and the job is ours) or the sweep finishes it, and the event goes out again with the
    // same `event_id`.
    let current = match known {
        Some(v) => v,
        None => ctx.store.read_existing(&key).await?,
    };
    let at = Utc::now();
    let launched = |r: &mut RunRecord| {
        r.job_arn = Some(arn.clone());
        r.advance(RunStatus::Launched, at, None);
    };
    let mut preview = current.value.clone();
    launched(&mut preview);
    if preview.owes().started {
        crash_point(
            "launch.before_started_event",
            &format!("{job} {folder_uri}"),
        )?;
        ctx.emit(
            &config.deployment.event_bus,
            &publish::training_run_started(&preview),
        )
        .await?;
    }
    ctx.store
        .update_known(&key, current, |r| {
            launched(r);
            r.outbox.started_emitted = true;
            Ok(true)
        })
        .await?;
    tracing::info!(job_arn = %arn, instance_type = %request.resource_config.instance_type, "training job launched");
    Ok(Outcome::Launched {
        job: job.to_string(),
    })
}

/// Send `Training Run Started` unless the outbox says it went out; set the flag only once it was accepted.
/// `known` is the record as just read.
pub async fn finish_started(
    ctx: &Context,
    config: &Config,
    key: &S3Uri,
    known: Versioned<RunRecord>,
) -> Result<()> {
    let r = &known.value;
    if !r.owes().started {
        return Ok(());
    }
    crash_point(
        "launch.before_started_event",
        &format!("{} {}", r.job_name, r.dataset_uri),
    )?;
    ctx.emit(
        &config.deployment.event_bus,
        &publish::training_run_started(r),
    )
    .await?;
    ctx.store
        .update_from(key, known, |r| {
            let Some(mut r) = r else {
                return Ok(Decision::Keep(()));
            };
            if r.outbox.started_emitted {
                return Ok(Decision::Keep(()));
            }
            r.outbox.started_emitted = true;
            Ok(Decision::Write(r, ()))
        })
        .await
}

/// A job with our name exists: is it this dataset's? Its `hubtune:dataset` tag starts with the identity hash.
async fn ours(ctx: &Context, job: &JobName, hash: &str) -> Result<Option<JobDescription>> {
    let Some(desc) = ctx.aws.describe_training_job(job.as_str()).await? else {
        return Ok(None);
    };
    let tags = ctx.aws.list_training_job_tags(&desc.arn).await?;
    let prefix = &hash[..hubtune::naming::HASH_HEX_LEN];
    Ok(tags
        .get("hubtune:dataset")
        .is_some_and(|v| v.starts_with(prefix))
        .then_some(desc))
}

/// A dataset that will not be launched: its record (if any, and only while no job exists) ends `Failed` with the
/// rejection and every outbox flag set, since there is no job, no slot and nothing to publish (the `Dataset
/// Rejected` event is the report).
async fn mark_refused(ctx: &Context, key: &S3Uri, rej: &Rejection) -> Result<()> {
    ctx.store
        .update::<RunRecord, (), _>(key, |r| {
            let Some(mut r) = r.filter(|r| r.status.is_pre_launch()) else {
                return Ok(Decision::Keep(()));
            };
            r.failure_reason = Some(rej.message.clone());
            r.advance(RunStatus::Failed, Utc::now(), Some(rej.code.clone()));
            r.outbox = Outbox {
                started_emitted: true,
                finished_emitted: true,
                slot_released: true,
                slot_freed_emitted: true,
                published: true,
            };
            Ok(Decision::Write(r, ()))
        })
        .await
}

/// A queued dataset that gave up waiting (`queue_max_age`): a record that a launch refused for capacity left
/// `Queued` ends with the rejection instead of staying `Queued` for ever.
pub(crate) async fn end_queued_run(
    ctx: &Context,
    config: &Config,
    d: &DatasetLanded,
    rej: &Rejection,
) -> Result<()> {
    let job = d.identity.job_name(config, &d.route);
    mark_refused(ctx, &run_key(config, &job), rej).await
}

pub async fn release_slot(
    ctx: &Context,
    config: &Config,
    route: &str,
    job: &JobName,
) -> Result<bool> {
    ctx.store
        .update::<Slots, bool, _>(&slots_key(config, route), |s| {
            let Some(mut s) = s else {
                return Ok(Decision::Keep(false));
            };
            Ok(if s.release(job.as_str()) {
                Decision::Write(s, true)
            } else {
                Decision::Keep(false)
            })
        })
        .await
}

async fn busy(
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
                "route_busy",
                format!("route {} already runs {} job(s) (max_concurrent_jobs) and its busy_policy is skip", route.name, route.max_concurrent_jobs),
            );
            reject(ctx, config, ev, &d.identity.canonical(), vec![rej]).await
        }
    }
}

async fn enqueue(
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
    let entry = QueueEntry {
        revision: 0,
        dataset: d.clone(),
        reason: why.to_string(),
        enqueued_at: Utc::now(),
        claimed_at: None,
        attempts: 0,
    };
    ctx.store
        .create(&config.deployment.state_key(&rel), &entry)
        .await?;
    ctx.emit(
        &config.deployment.event_bus,
        &publish::dataset_queued(ev, &d.identity.canonical(), why, &rel),
    )
    .await?;
    tracing::info!(entry = %rel, reason = why, "dataset queued");
    Ok(Outcome::Queued { entry: rel })
}

/// The dataset checks, reading only what they need: the listing, and the first 64 KiB of each `.jsonl` file.
pub async fn check_dataset(
    ctx: &Context,
    route: &Route,
    d: &DatasetLanded,
) -> Result<std::result::Result<FrozenDataset, Vec<Rejection>>> {
    let loc = &d.location;
    let listing: Vec<DatasetFile> = if d.is_folder() {
        // The marker and `_`/`.` files are listed too: allow a few beyond max_files before refusing.
        match ctx
            .aws
            .list_objects(loc.bucket(), loc.key(), route.dataset.max_files + 10)
            .await
        {
            Ok(l) => l,
            Err(e) if e.aws_code() == Some(hubtune::aws::TOO_MANY_OBJECTS) => {
                return Ok(Err(vec![Rejection::new(
                    "too_many_files",
                    format!(
                        "more than {} files; route {} allows at most {} (max_files)",
                        route.dataset.max_files, route.name, route.dataset.max_files
                    ),
                )
                .at(loc.to_string(), None)]))
            }
            Err(e) => return Err(e),
        }
    } else {
        match ctx.aws.head_object(loc.bucket(), loc.key()).await? {
            Some(h) => vec![DatasetFile {
                key: loc.key().to_string(),
                etag: h.etag,
                size: h.size,
            }],
            None => vec![],
        }
    };
    let frozen = match dataset::check_listing(route, loc, &listing) {
        Ok(f) => f,
        Err(problems) => return Ok(Err(problems)),
    };
    let mut problems = Vec::new();
    for f in frozen
        .files
        .iter()
        .filter(|f| dataset::needs_content_check(&f.key))
    {
        let (head, truncated) = ctx
            .aws
            .get_object_head(loc.bucket(), &f.key, dataset::JSONL_CHECK_BYTES)
            .await?;
        if let Err(p) = dataset::check_jsonl_head(&f.key, &head, truncated) {
            problems.push(p);
        }
    }
    Ok(if problems.is_empty() {
        Ok(frozen)
    } else {
        Err(problems)
    })
}

pub fn plan_for(
    config: &Config,
    route: &Route,
    job: &JobName,
    hub: &Arc<HubContent>,
    d: &DatasetLanded,
    manifest_uri: &S3Uri,
) -> std::result::Result<CreateTrainingJobRequest, Rejection> {
    let hash = d.identity.hash(&config.deployment.name);
    plan::plan(&PlanInput {
        job_name: job,
        region: &config.deployment.region,
        hub,
        settings: &route.training,
        training_channel: TrainingChannel::Manifest(manifest_uri.clone()),
        route: &route.name,
        dataset_tag: dataset_tag_value(&d.location.to_string(), &hash),
    })
}

/// `hubtune rerun`: the same dataset again, on purpose, as a new attempt (a new job name).
pub async fn rerun(ctx: &Context, dataset_uri: &S3Uri) -> Result<Outcome> {
    let config = ctx.config.get(&ctx.aws).await?;
    let runs = ctx
        .store
        .list(&config.deployment.state_key("runs/"))
        .await?;
    let mut latest: Option<DatasetLanded> = None;
    for k in runs {
        let uri = S3Uri::new(config.deployment.bucket.clone(), k)
            .map_err(|e| Error::Other(e.to_string()))?;
        if let Some(r) = ctx.store.read::<RunRecord>(&uri).await?.map(|v| v.value) {
            if let Some(d) = r
                .dataset
                .filter(|d| d.location == dataset_uri.as_prefix() || d.location == *dataset_uri)
            {
                if latest
                    .as_ref()
                    .is_none_or(|l| d.identity.attempt > l.identity.attempt || d.time > l.time)
                {
                    latest = Some(d);
                }
            }
        }
    }
    let mut d = latest.ok_or_else(|| {
        Error::rejected(
            "unknown_dataset",
            format!(
                "no run record names {dataset_uri}: only a dataset hubtune has seen can be rerun"
            ),
        )
    })?;
    d.identity.attempt += 1;
    // A rerun must not collide with an attempt made before: find the first free attempt number.
    loop {
        let job = d.identity.job_name(&config, &d.route);
        if ctx
            .store
            .read::<RunRecord>(&run_key(&config, &job))
            .await?
            .is_none()
        {
            break;
        }
        d.identity.attempt += 1;
    }
    launch_dataset(ctx, &config, &d, false).await
}
