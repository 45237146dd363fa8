//! From a located dataset to a running training job, idempotently.
//!
//! The order matters: checks and the plan first (no money spent), then a slot, the manifest and the run record
//! (`Launching`), then CreateTrainingJob with the deterministic name, then the record moves to `Launched` and
//! `Training Run Started` goes out. A crash between any two steps is repaired by the redelivery: the same name
//! answers `ResourceInUse`, which our record (and the job's tags) identify as "already launched".

use hubtune::domain::capacity::{self, LaunchAttempt};
use hubtune::domain::config::{Config, Route, TRAINING};
use hubtune::domain::dataset::{DatasetLanded, FrozenDataset};
use hubtune::domain::error::{Error, ErrorClass, Result};
use hubtune::domain::events::{self, EventContext};
use hubtune::domain::hub::HubContent;
use hubtune::domain::job::JobDescription;
use hubtune::domain::launch::{self, CreateFailure, Start};
use hubtune::domain::naming::{dataset_tag_value, JobName, HASH_HEX_LEN};
use hubtune::domain::plan::{
    self, CreateTrainingJobRequest, DataChannel, PlanInput, TrainingChannel, TAG_DATASET,
};
use hubtune::domain::rejection::{Problems, Rejection, RejectionReason};
use hubtune::domain::route_queue::{
    self, over_budget_message, request_hours, QueueReason, Slots, Take,
};
use hubtune::domain::run::{Applied, NewRun, OutboxFlag, RunRecord, RunStatus};
use hubtune::domain::s3uri::S3Uri;
use hubtune::domain::validate::{self, rules::Violation};
use hubtune::domain::versioned::Versioned;
use hubtune::runtime::context::Context;
use hubtune::runtime::faults::crash_point;
use hubtune::runtime::metrics;
use hubtune::runtime::outbox::{open_run, release_slot, work_outbox};
use hubtune::store::Decision;
use std::sync::Arc;
use tracing::Instrument;

use crate::checks::{changed_since_checks, check_dataset};
use crate::enqueue::{busy, enqueue, Queued};
use crate::outcome::{From, Outcome};
use crate::report::{mark_refused, reject};

/// Launch one dataset.
pub async fn launch_dataset(
    ctx: &Context,
    config: &Config,
    d: &DatasetLanded,
    from: From,
) -> Result<Outcome> {
    let Some(route) = config.route(&d.route) else {
        let ev = EventContext {
            route: d.route.clone(),
            dataset_uri: d.location.to_string(),
            ..Default::default()
        };
        let rej = Rejection::new(
            RejectionReason::UnknownRoute,
            format!("route {} is no longer in the routes file", d.route),
        );
        return reject(ctx, config, &ev, &d.identity.canonical(), rej).await;
    };
    let job = d.identity.job_name(config, &route.name);
    let span =
        tracing::info_span!("launch", job = %job, dataset = %d.location, route = %route.name);
    let launch = Launch {
        ctx,
        config,
        route,
        d,
        key: config.deployment.run_key(job.as_str()),
        ev: EventContext {
            route: route.name.clone(),
            dataset_uri: d.location.to_string(),
            job_name: Some(job.to_string()),
            ..Default::default()
        },
        job,
        from,
    };
    launch.run().instrument(span).await
}

/// One delivery of one dataset on its route.
struct Launch<'a> {
    ctx: &'a Context,
    config: &'a Config,
    route: &'a Route,
    d: &'a DatasetLanded,
    job: JobName,
    /// The run record's key.
    key: S3Uri,
    ev: EventContext,
    from: From,
}

/// What the checks and the plan produced, before anything is spent.
struct Planned {
    frozen: FrozenDataset,
    hub: Arc<HubContent>,
    /// One request per instance type, in the order they are tried (capacity fallback); never empty.
    requests: Vec<CreateTrainingJobRequest>,
    /// The training channel's manifest.
    manifest: S3Uri,
    /// Each other channel's manifest, in the order the request sends them.
    channel_manifests: Vec<(String, S3Uri)>,
}

impl Planned {
    /// The training hours a launch reserves of its route's day: the most any of its types would use.
    fn hours(&self) -> f64 {
        self.requests.iter().map(request_hours).fold(0.0, f64::max)
    }
}

impl Launch<'_> {
    fn is_from_queue(&self) -> bool {
        matches!(self.from, From::Queue(_))
    }

    async fn run(mut self) -> Result<Outcome> {
        let existing = self.ctx.store.read::<RunRecord>(&self.key).await?;
        if launch::start(existing.as_ref().map(|v| &v.value)) == Start::AlreadyLaunched {
            let v = existing.expect("a launched start has a record");
            tracing::info!(
                status = v.value.status.as_str(),
                "already launched (duplicate delivery)"
            );
            work_outbox(self.ctx, self.config, &self.key, v).await?;
            return Ok(Outcome::AlreadyLaunched {
                job: self.job.to_string(),
            });
        }
        let planned = match self.plan(existing.as_ref().map(|v| &v.value)).await? {
            Ok(p) => p,
            // An earlier delivery may have left a record (and a slot) behind: both end with the rejection.
            Err(problems) if existing.is_some() => {
                release_slot(self.ctx, self.config, &self.route.name, self.job.as_str()).await?;
                mark_refused(self.ctx, &self.key, problems.first()).await?;
                return self.reject(problems).await;
            }
            Err(problems) => return self.reject(problems).await,
        };
        let hours = planned.hours();
        let queued = Queued {
            d: self.d,
            ev: &self.ev,
            frozen: &planned.frozen,
            from_queue: self.is_from_queue(),
        };
        match self.take_slot(hours).await? {
            Take::Full => {
                let why = "the route has no free training slot";
                return busy(self.ctx, self.config, self.route, queued, why).await;
            }
            // Over the day's cap: it waits (whatever `busy_policy` says: nothing is lost), released by a sweep on
            // the next UTC day.
            Take::OverBudget(over) => {
                let why = over_budget_message(over, &self.route.name, &self.route.budget, hours);
                let (ctx, config) = (self.ctx, self.config);
                return enqueue(ctx, config, queued, QueueReason::Budget, &why).await;
            }
            Take::Taken | Take::AlreadyHeld => {}
        }
        let scope = format!("{} {}", self.job, self.d.location);
        let known = self.write_record(&planned, existing).await?;
        if let Some(refused) = self.refuse_if_changed(&planned.frozen).await? {
            return Ok(refused);
        }
        crash_point("launch.before_create", &scope)?;
        let (arn, instance_type, known) = match self.create_in_order(&planned, known).await? {
            Ok(created) => created,
            Err(outcome) => return Ok(outcome),
        };
        crash_point("launch.after_create", &scope)?;
        self.announce(known, &arn, &instance_type).await?;
        tracing::info!(job_arn = %arn, %instance_type, "training job launched");
        let deployment = &self.config.deployment.name;
        metrics::launched(self.ctx.now(), deployment, &self.route.name, self.d.time);
        Ok(Outcome::Launched {
            job: self.job.to_string(),
        })
    }

    /// The checks (unless an earlier delivery froze the contents already), the model reference and the plan.
    async fn plan(
        &mut self,
        existing: Option<&RunRecord>,
    ) -> Result<std::result::Result<Planned, Problems>> {
        // What is checked is what is trained: a record that exists, or the queue entry, already froze the contents.
        let frozen_before = existing
            .and_then(|r| r.frozen.clone())
            .or(match &self.from {
                From::Queue(entry) => entry.frozen.clone(),
                From::Landing => None,
            });
        let frozen = match frozen_before {
            Some(f) => f,
            None => match check_dataset(self.ctx, self.route, self.d).await? {
                Ok(f) => f,
                Err(problems) => {
                    return Ok(Err(
                        Problems::from_vec(problems).expect("a failed check names a problem")
                    ))
                }
            },
        };
        let hub = match self.resolve_model().await? {
            Ok(hub) => hub,
            Err(rej) => return Ok(Err(rej.into())),
        };
        self.ev.hub_content_arn = Some(hub.hub_content_arn.clone());
        self.ev.hub_content_version = Some(hub.hub_content_version.clone());
        let manifest = self.config.deployment.manifest_key(self.job.as_str());
        let channel_manifests = self.channel_manifests(&frozen);
        let mut requests = vec![];
        for instance_type in self.instance_types() {
            match self.plan_one(&hub, &manifest, &channel_manifests, instance_type) {
                Ok(request) => requests.push(request),
                Err(problems) => return Ok(Err(problems)),
            }
        }
        let planned = Planned {
            frozen,
            hub,
            requests,
            manifest,
            channel_manifests,
        };
        let (route, hours) = (&self.route.name, planned.hours());
        if let Some(rej) = route_queue::check_reservation(route, &self.route.budget, hours) {
            return Ok(Err(rej.into()));
        }
        Ok(Ok(planned))
    }

    /// The types this delivery tries, in order: the route's list (`None`: the hub document's default type); a
    /// relaunch after a failure at start begins at the type its entry names and comes round to the others.
    fn instance_types(&self) -> Vec<Option<String>> {
        let types = &self.route.instance_types;
        if types.is_empty() {
            return vec![None];
        }
        let start = match &self.from {
            From::Queue(entry) => entry.start_at_type.as_deref(),
            From::Landing => None,
        };
        capacity::rotated(types, start)
            .into_iter()
            .map(Some)
            .collect()
    }

    /// The attempts made for this dataset before this run (a relaunch carries them).
    fn earlier_attempts(&self) -> Vec<LaunchAttempt> {
        match &self.from {
            From::Queue(entry) => entry.launch_attempts.clone(),
            From::Landing => vec![],
        }
    }

    /// The request for one instance type (with the hub document's variant for it), valid before spend: what AWS
    /// would refuse is refused here, before a slot or a manifest.
    fn plan_one(
        &self,
        hub: &HubContent,
        manifest: &S3Uri,
        channel_manifests: &[(String, S3Uri)],
        instance_type: Option<String>,
    ) -> std::result::Result<CreateTrainingJobRequest, Problems> {
        let settings = plan::TrainingSettings {
            instance_type,
            ..self.route.training.clone()
        };
        let hash = self.d.identity.hash(&self.config.deployment.name);
        let request = plan::plan(&PlanInput {
            job_name: &self.job,
            region: &self.config.deployment.region,
            hub,
            settings: &settings,
            training_channel: TrainingChannel::Manifest(manifest.clone()),
            more_channels: channel_manifests
                .iter()
                .map(|(name, uri)| DataChannel {
                    name: name.clone(),
                    source: TrainingChannel::Manifest(uri.clone()),
                })
                .collect(),
            route: &self.route.name,
            dataset_tag: dataset_tag_value(&self.d.location.to_string(), &hash),
            deployment: &self.config.deployment.name,
        })?;
        let mut invalid = validate::training_job(&request);
        let channels: Vec<&str> = channel_manifests.iter().map(|(c, _)| c.as_str()).collect();
        invalid.extend(validate::state_keys(
            &self.config.deployment,
            self.job.as_str(),
            &channels,
        ));
        match Problems::from_vec(invalid.iter().map(invalid_request).collect()) {
            Some(problems) => Err(problems),
            None => Ok(request),
        }
    }

    /// CreateTrainingJob with each type in turn, while SageMaker refuses for quota or capacity and a type is left.
    /// Every refusal is kept in the record before the next type is tried. `Ok(Ok)`: the job, the type it runs on and
    /// the record as last written; `Ok(Err)`: the dataset ended here (queued once every type was refused, or
    /// rejected).
    async fn create_in_order(
        &self,
        p: &Planned,
        mut known: Option<Versioned<RunRecord>>,
    ) -> Result<std::result::Result<(String, String, Option<Versioned<RunRecord>>), Outcome>> {
        let fallback = p.requests.len() > 1;
        let mut requests = p.requests.iter().peekable();
        while let Some(request) = requests.next() {
            let instance_type = request.resource_config.instance_type.clone();
            let e = match self.ctx.jobs.create(request).await {
                Ok(arn) => return Ok(Ok((arn, instance_type, known))),
                Err(e) => e,
            };
            let next = requests
                .peek()
                .map(|r| r.resource_config.instance_type.as_str());
            let capacity = launch::create_failure(&e) == CreateFailure::Capacity;
            if capacity && fallback {
                tracing::warn!(error = %e, %instance_type, next = next.unwrap_or("none"), "SageMaker refused this instance type for quota or capacity");
                known = self
                    .note_refusal(known, &instance_type, next, e.to_string())
                    .await?;
            }
            if capacity && next.is_some() {
                continue;
            }
            return Ok(match self.after_create_failure(e, &p.frozen).await? {
                Ok((arn, running_on)) => Ok((arn, running_on.unwrap_or(instance_type), known)),
                Err(outcome) => Err(outcome),
            });
        }
        // `instance_types` always gives one type at least, and the last one's failure returns above.
        Err(Error::Invalid(
            "no CreateTrainingJob request was planned".into(),
        ))
    }

    /// A refused type goes into the record (and so into every event of the run) before the next is tried.
    async fn note_refusal(
        &self,
        known: Option<Versioned<RunRecord>>,
        instance_type: &str,
        next: Option<&str>,
        detail: String,
    ) -> Result<Option<Versioned<RunRecord>>> {
        let now = self.ctx.now();
        let refuse = |r: &mut RunRecord| {
            r.refused_on(instance_type, next, detail.clone(), now);
            Ok(true)
        };
        match known {
            Some(v) => Ok(Some(
                self.ctx.store.update_known(&self.key, v, refuse).await?,
            )),
            None => {
                let v = self.ctx.store.read_existing(&self.key).await?;
                Ok(Some(
                    self.ctx.store.update_known(&self.key, v, refuse).await?,
                ))
            }
        }
    }

    /// Every channel of the folder beside training is frozen in its own manifest, which the request names.
    fn channel_manifests(&self, frozen: &FrozenDataset) -> Vec<(String, S3Uri)> {
        let (d, job) = (&self.config.deployment, self.job.as_str());
        frozen
            .channel_names()
            .into_iter()
            .filter(|c| *c != TRAINING)
            .map(|c| (c.to_string(), d.channel_manifest_key(job, c)))
            .collect()
    }

    /// The model reference, as the SDK resolves it. A document hubtune cannot read is the dataset's rejection
    /// (it names the reference to fix); a hub that cannot be reached keeps the message.
    async fn resolve_model(&self) -> Result<std::result::Result<Arc<HubContent>, Rejection>> {
        let r = self.route;
        let version = r.model_version.as_deref();
        match self.ctx.hubs.resolve(self.ctx.hub.as_ref(), &r.hub, &r.model_id, version).await {
            Ok(Some(hub)) => Ok(Ok(hub)),
            Ok(None) => Ok(Err(Rejection::new(
                RejectionReason::ModelReferenceNotFound,
                format!(
                    "hub {} has no model reference (or model) named {}{}: check routes.{}.model_id and the hub's contents",
                    r.hub,
                    r.model_id,
                    version.map(|v| format!(" at version {v}")).unwrap_or_default(),
                    r.name
                ),
            ))),
            Err(e) if e.class() == ErrorClass::Permanent => Ok(Err(Rejection::new(RejectionReason::BadHubDocument, e.to_string()))),
            Err(e) => Err(e),
        }
    }

    /// A slot on the route, and `hours` and one job charged to the route's day, in one compare-and-swap.
    async fn take_slot(&self, hours: f64) -> Result<Take> {
        let (max, job, now) = (
            self.route.max_concurrent_jobs,
            self.job.to_string(),
            self.ctx.now(),
        );
        let budget = self.route.budget;
        let route = &self.route.name;
        self.ctx
            .store
            .update::<Slots, Take, _>(&self.config.deployment.slots_key(route), |s| {
                let mut s = s.unwrap_or_else(|| Slots {
                    route: route.clone(),
                    ..Default::default()
                });
                Ok(match s.take_within(&job, max, &budget, hours, now) {
                    Take::Taken => Decision::Write(s, Take::Taken),
                    other => Decision::Keep(other),
                })
            })
            .await
    }

    /// The record (`Launching`, with the frozen contents), then the frozen listing SageMaker reads, before the job
    /// exists. The record comes first: a crash between the two leaves the frozen contents in the record, and the
    /// redelivery writes the manifest from them instead of listing the folder again (a file added since would be
    /// trained). Returns the record as written, with its ETag, so the updates after the launch need not read it.
    async fn write_record(
        &self,
        p: &Planned,
        existing: Option<Versioned<RunRecord>>,
    ) -> Result<Option<Versioned<RunRecord>>> {
        let ctx = self.ctx;
        let now = ctx.now();
        let written = match existing {
            None => {
                // The marker first: a record without one would never be swept.
                open_run(ctx, self.config, self.job.as_str()).await?;
                let mut record = RunRecord::launching(
                    NewRun {
                        job: &self.job,
                        dataset: self.d,
                        frozen: &p.frozen,
                        manifest: &p.manifest,
                        channel_manifests: &p.channel_manifests,
                        model_id: &self.route.model_id,
                        hub: &p.hub,
                        request: &p.requests[0],
                    },
                    now,
                );
                record.launch_attempts = self.earlier_attempts();
                let etag = ctx.store.create_with_etag(&self.key, &record).await?;
                etag.map(|etag| Versioned {
                    value: record,
                    etag,
                })
            }
            Some(v) => Some(
                ctx.store
                    .update_known(&self.key, v, |r| {
                        Ok(r.advance(RunStatus::Launching, now, None) == Applied::Moved)
                    })
                    .await?,
            ),
        };
        ctx.store
            .put_idempotent(&p.manifest, p.frozen.manifest_json().into_bytes())
            .await?;
        for (channel, uri) in &p.channel_manifests {
            let body = p.frozen.channel_manifest_json(channel);
            ctx.store.put_idempotent(uri, body.into_bytes()).await?;
        }
        Ok(written)
    }

    /// CreateTrainingJob failed: `Ok(Ok((arn, type)))` when the job turns out to be ours after all (created by an
    /// earlier delivery, on the type it names), `Ok(Err(outcome))` when the dataset ended here (queued or rejected),
    /// `Err` when the message must come back.
    async fn after_create_failure(
        &self,
        e: Error,
        frozen: &FrozenDataset,
    ) -> Result<std::result::Result<(String, Option<String>), Outcome>> {
        let (ctx, config) = (self.ctx, self.config);
        match launch::create_failure(&e) {
            CreateFailure::KeepMessage => Err(e),
            CreateFailure::NameInUse => {
                if let Some(existing) = self.ours().await? {
                    tracing::info!(
                        "job already exists with our dataset's tags: finishing its record"
                    );
                    return Ok(Ok((existing.arn, existing.instance_type)));
                }
                release_slot(ctx, config, &self.route.name, self.job.as_str()).await?;
                let rej = Rejection::new(
                    RejectionReason::JobNameCollision,
                    format!("a training job named {} exists and was not launched for this dataset: hubtune will not touch it", self.job),
                );
                Ok(Err(self.refuse(rej).await?))
            }
            CreateFailure::Capacity => {
                tracing::warn!(error = %e, "SageMaker refused for quota or capacity: queueing");
                release_slot(ctx, config, &self.route.name, self.job.as_str()).await?;
                let now = ctx.now();
                let detail = e.to_string();
                let attempts = ctx
                    .store
                    .update::<RunRecord, _, _>(&self.key, |r| {
                        let Some(mut r) = r else {
                            return Ok(Decision::Keep(vec![]));
                        };
                        r.advance(RunStatus::Queued, now, Some(detail.clone()));
                        Ok(Decision::Write(r.clone(), r.launch_attempts))
                    })
                    .await?;
                let why = if attempts.is_empty() {
                    format!("SageMaker refused the launch: {e}")
                } else {
                    format!(
                        "SageMaker refused every instance type of the route ({}): {e}",
                        self.route.instance_types.join(", ")
                    )
                };
                let ev = EventContext {
                    launch_attempts: attempts,
                    ..self.ev.clone()
                };
                let queued = Queued {
                    d: self.d,
                    ev: &ev,
                    frozen,
                    from_queue: self.is_from_queue(),
                };
                let reason = QueueReason::Capacity;
                Ok(Err(enqueue(ctx, config, queued, reason, &why).await?))
            }
        }
    }

    /// The last look before money is spent: a frozen file overwritten or removed since the checks (say while the
    /// dataset waited in the queue) would be trained unchecked, so the dataset is refused (`changed_after_checks`),
    /// its record ends `Failed` and its slot is given back. Unless the job exists already (a crash after
    /// CreateTrainingJob, then this redelivery): SageMaker has the manifest, and refusing would orphan a running job.
    async fn refuse_if_changed(&self, frozen: &FrozenDataset) -> Result<Option<Outcome>> {
        let changed = changed_since_checks(self.ctx, self.route, frozen).await?;
        let Some(problems) = Problems::from_vec(changed) else {
            return Ok(None);
        };
        if self.ours().await?.is_some() {
            tracing::warn!(problems = ?problems, "files changed after the checks, but the job was created before: it stands");
            return Ok(None);
        }
        release_slot(self.ctx, self.config, &self.route.name, self.job.as_str()).await?;
        mark_refused(self.ctx, &self.key, problems.first()).await?;
        Ok(Some(self.reject(problems).await?))
    }

    /// A job with our name exists: is it this dataset's? Its `hubtune:dataset` tag starts with the identity hash.
    async fn ours(&self) -> Result<Option<JobDescription>> {
        let Some(desc) = self.ctx.jobs.describe(self.job.as_str()).await? else {
            return Ok(None);
        };
        let tags = self.ctx.jobs.tags(&desc.arn).await?;
        let hash = self.d.identity.hash(&self.config.deployment.name);
        Ok(tags
            .get(TAG_DATASET)
            .is_some_and(|v| v.starts_with(&hash[..HASH_HEX_LEN]))
            .then_some(desc))
    }

    /// The dataset will not be launched: its record (if any) ends with the rejection, and `Dataset Rejected` goes out.
    async fn refuse(&self, rej: Rejection) -> Result<Outcome> {
        mark_refused(self.ctx, &self.key, &rej).await?;
        let outcome = self.reject(rej.into()).await?;
        Ok(outcome)
    }

    async fn reject(&self, problems: Problems) -> Result<Outcome> {
        reject(
            self.ctx,
            self.config,
            &self.ev,
            &self.d.identity.canonical(),
            problems,
        )
        .await
    }

    /// The event, then the record: `Launched` and the outbox flag in one conditional write, made only after
    /// PutEvents accepted the entry. A crash in between leaves the record `Launching` while the job exists: the
    /// redelivery (ResourceInUse, and the job is ours) or the sweep finishes it, and the event goes out again with
    /// the same `event_id`.
    async fn announce(
        &self,
        known: Option<Versioned<RunRecord>>,
        arn: &str,
        instance_type: &str,
    ) -> Result<()> {
        let ctx = self.ctx;
        let current = match known {
            Some(v) => v,
            None => ctx.store.read_existing(&self.key).await?,
        };
        let at = ctx.now();
        let launched = |r: &mut RunRecord| {
            r.job_arn = Some(arn.to_string());
            r.launched_on(instance_type, at);
            r.advance(RunStatus::Launched, at, None);
        };
        let mut preview = current.value.clone();
        launched(&mut preview);
        if preview.owes().started {
            crash_point(
                "launch.before_started_event",
                &format!("{} {}", self.job, self.d.location),
            )?;
            ctx.emit(self.config, &events::training_run_started(&preview))
                .await?;
        }
        ctx.store
            .update_known(&self.key, current, |r| {
                launched(r);
                r.outbox.set(OutboxFlag::Started);
                Ok(true)
            })
            .await?;
        Ok(())
    }
}

/// A field of the planned request that AWS would refuse, as the dataset's rejection.
fn invalid_request(v: &Violation) -> Rejection {
    Rejection::new(
        RejectionReason::InvalidRequest,
        format!("the CreateTrainingJob request would be refused: {v}"),
    )
}

/// `hubtune rerun`: the same dataset again, on purpose, as a new attempt (a new job name).
pub async fn rerun(ctx: &Context, dataset_uri: &S3Uri) -> Result<Outcome> {
    let config = ctx.config().await?;
    let mut latest: Option<DatasetLanded> = None;
    for k in ctx.store.list(&config.deployment.runs_prefix()).await? {
        let uri = config.deployment.state_prefix.with_key(k);
        let Some(r) = ctx.store.read::<RunRecord>(&uri).await?.map(|v| v.value) else {
            continue;
        };
        let Some(d) = r
            .dataset
            .filter(|d| d.location == dataset_uri.as_prefix() || d.location == *dataset_uri)
        else {
            continue;
        };
        // The newest upload of the folder, and of it the highest attempt: the same answer in any listing order.
        if latest
            .as_ref()
            .is_none_or(|l| (d.time, d.identity.attempt) > (l.time, l.identity.attempt))
        {
            latest = Some(d);
        }
    }
    let mut d = latest.ok_or_else(|| {
        Error::Invalid(format!(
            "no run record names {dataset_uri}: only a dataset hubtune has seen can be rerun"
        ))
    })?;
    d.identity.attempt += 1;
    // A rerun must not collide with an attempt made before: find the first free attempt number.
    loop {
        let job = d.identity.job_name(&config, &d.route);
        if ctx
            .store
            .read::<RunRecord>(&config.deployment.run_key(job.as_str()))
            .await?
            .is_none()
        {
            break;
        }
        d.identity.attempt += 1;
    }
    launch_dataset(ctx, &config, &d, From::Landing).await
}
