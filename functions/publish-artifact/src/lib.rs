//! publish-artifact: a training run finished, so say where the model is (or why there is none).
//!
//! On `Completed`: the artifact must exist; a manifest is written beside it; the route's `latest.json` moves to it
//! by compare-and-swap, only if this run's dataset is newer than the one it names; `Model Published` goes out. On
//! `Failed`/`Stopped`: `Fine-tune Failed` with the reason, the secondary status history and a console link. The
//! record's `published` flag is set only after EventBridge accepted the event, so a crash leads to a resend with
//! the same `event_id`, never to silence, and never to a second publication.

use hubtune::domain::config::Config;
use hubtune::domain::error::{Error, Result};
use hubtune::domain::events;
use hubtune::domain::handling::{self, PublishHandling};
use hubtune::domain::inbound::parse_message;
use hubtune::domain::job::{JobDescription, JobStatus};
use hubtune::domain::publication::{artifact_dir, next_latest, ArtifactManifest, Latest};
use hubtune::domain::registry::ModelData;
use hubtune::domain::run::{OutboxFlag, RunRecord, RunStatus};
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::batch::worst;
use hubtune::runtime::context::Context;
use hubtune::runtime::faults::crash_point;
use hubtune::runtime::metrics;
use hubtune::runtime::outbox::close_if_done;
use hubtune::store::Decision;
use serde_json::{json, Value};
use tracing::Instrument;

mod register;

/// What a publication did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    Model { latest_moved: bool },
    Failure,
    AlreadyDone,
    Ignored,
}

/// The Lambda entry point: an SQS batch, or a single event.
pub async fn handle(ctx: &Context, payload: Value) -> Result<Value, Error> {
    handle_until(ctx, payload, || None).await
}

/// `handle`, starting no record that the time left (`remaining`) would not cover: those come back at once.
pub async fn handle_until(
    ctx: &Context,
    payload: Value,
    remaining: impl FnMut() -> Option<std::time::Duration>,
) -> Result<Value, Error> {
    hubtune::runtime::batch::run_until(payload, remaining, |body| async move {
        process(ctx, &body).await
    })
    .await
}

pub async fn process(ctx: &Context, body: &Value) -> Result<()> {
    let mut first_err = None;
    for inbound in parse_message(body) {
        // As `handling` decides it: the decision `hubtune inspect` prints.
        let r = match handling::publish_artifact(inbound) {
            PublishHandling::Publish { job } => publish_run(ctx, &job).await.map(|_| ()),
            PublishHandling::Ignore { reason } => {
                tracing::debug!(%reason, "ignored");
                Ok(())
            }
            PublishHandling::Fail { why } => Err(Error::Invalid(why)),
        };
        if let Err(e) = r {
            first_err = worst(first_err, e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

pub async fn publish_run(ctx: &Context, job: &str) -> Result<Published> {
    let span = tracing::info_span!("publish", job);
    publish_job(ctx, job).instrument(span).await
}

async fn publish_job(ctx: &Context, job: &str) -> Result<Published> {
    let config = ctx.config().await?;
    let key = config.deployment.run_key(job);
    let Some(known) = ctx.store.read::<RunRecord>(&key).await? else {
        tracing::warn!("no run record for this job; ignored");
        return Ok(Published::Ignored);
    };
    let record = &known.value;
    if record.outbox.published {
        tracing::info!("already published (duplicate delivery)");
        return Ok(Published::AlreadyDone);
    }
    if !record.status.is_terminal() {
        // A `Training Run Finished` that overtook the record's update cannot happen (the record is written first),
        // but a hand-sent event could: let it come back.
        return Err(Error::NotYet(format!(
            "run {job} is {} and not finished yet",
            record.status.as_str()
        )));
    }
    // A job deleted after it completed (`Deleting`, then not found) is still published from the run record, which
    // holds the artifact location; only the details that DescribeTrainingJob alone knows are missing then.
    let desc = ctx
        .jobs
        .describe(job)
        .await?
        .filter(|d| d.status != JobStatus::Deleting);
    let with_results = with_results(&config, record, desc.as_ref());
    let record = &with_results;
    let out = if record.status == RunStatus::Completed {
        if desc.is_none() {
            tracing::warn!(
                "SageMaker no longer describes the job: publishing from the run record alone"
            );
        }
        publish_model(ctx, &config, record, desc.as_ref()).await?
    } else {
        publish_failure(ctx, &config, record, desc.as_ref()).await?
    };
    // From the record as read above: no second read unless someone wrote it meanwhile (then the 412 re-reads).
    let written = ctx
        .store
        .update_known(&key, known, |r| Ok(r.outbox.set(OutboxFlag::Published)))
        .await?;
    // Usually the last flag: the run leaves the index of open runs, so the sweep no longer reads it.
    close_if_done(ctx, &config, &written.value).await?;
    tracing::info!(outcome = ?out, "published");
    Ok(out)
}

/// The record with its results: those training-state kept when the run ended, else (a record written before
/// results were kept) what this description and the route's price give.
fn with_results(config: &Config, record: &RunRecord, desc: Option<&JobDescription>) -> RunRecord {
    let mut r = record.clone();
    if r.results.is_none() {
        r.results = Some(r.results_from(desc, config.hourly_price(&r.route)));
    }
    r
}

async fn publish_failure(
    ctx: &Context,
    config: &Config,
    record: &RunRecord,
    desc: Option<&JobDescription>,
) -> Result<Published> {
    let history: Vec<Value> = desc
        .map(|d| {
            d.secondary_transitions
                .iter()
                .map(|t| json!({"status": t.status, "start": t.start, "end": t.end, "message": t.message}))
                .collect()
        })
        .unwrap_or_default();
    let mut r = record.clone();
    if r.failure_reason.is_none() {
        r.failure_reason = desc.and_then(|d| d.failure_reason.clone());
    }
    let job = r.job_name.as_str();
    ctx.emit(
        config,
        &events::finetune_failed(
            &r,
            &history,
            &events::console_url(&config.deployment.region, job),
        ),
    )
    .await?;
    Ok(Published::Failure)
}

/// How long after a run ended its artifact may be missing before the run is reported failed: S3 can lag behind
/// SageMaker's status for a moment, but an artifact deleted before publication never comes back.
pub const ARTIFACT_GRACE_SECONDS: i64 = 900;

/// The artifact's size and form: a `.tar.gz` object, or with output compression off, a prefix of files. `None`: not
/// there.
async fn artifact_bytes(ctx: &Context, artifact: &S3Uri) -> Result<Option<(u64, ModelData)>> {
    if let Some(h) = ctx.objects.head(artifact).await? {
        return Ok(Some((h.size, ModelData::Archive(artifact.to_string()))));
    }
    // Every file of the artifact counts: a cut listing would undercount what was published.
    let prefix = artifact.as_prefix();
    let listing = ctx.objects.list(&prefix, usize::MAX).await?;
    Ok((!listing.objects.is_empty()).then(|| {
        let size = listing.objects.iter().map(|f| f.size).sum();
        (size, ModelData::Prefix(prefix.to_string()))
    }))
}

async fn publish_model(
    ctx: &Context,
    config: &Config,
    r: &RunRecord,
    desc: Option<&JobDescription>,
) -> Result<Published> {
    let artifact_uri = desc
        .and_then(|d| d.model_artifacts.clone())
        .or_else(|| r.model_artifacts.clone())
        .ok_or_else(|| {
            Error::NotYet(format!(
                "job {} completed without ModelArtifacts",
                r.job_name
            ))
        })?;
    let artifact: S3Uri = artifact_uri
        .parse()
        .map_err(|e: hubtune::domain::s3uri::S3UriError| Error::Invalid(e.to_string()))?;
    let Some((bytes, model_data)) = artifact_bytes(ctx, &artifact).await? else {
        let ended = r.finished_at().unwrap_or(r.updated_at);
        if (ctx.now() - ended).num_seconds() < ARTIFACT_GRACE_SECONDS {
            return Err(Error::NotYet(format!(
                "the artifact {artifact} does not exist (yet)"
            )));
        }
        // Deleted before it was published: the run's subscribers hear that there is no model.
        let mut gone = r.clone();
        gone.status = RunStatus::Failed;
        gone.failure_reason = Some(format!(
            "the job completed, but its model artifact {artifact} was deleted before hubtune published it"
        ));
        return publish_failure(ctx, config, &gone, desc).await;
    };
    let job = r.job_name.as_str();
    let manifest_uri = artifact_dir(&artifact, job).join("hubtune-manifest.json");
    let manifest = ArtifactManifest::of_run(r, desc, &artifact, bytes);
    // The same job always writes the same manifest: an unconditional write is idempotent.
    let body = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::State {
        key: manifest_uri.to_string(),
        message: e.to_string(),
    })?;
    ctx.store.put_idempotent(&manifest_uri, body).await?;

    let candidate = manifest.pointer(&manifest_uri, ctx.now());
    let latest_moved = ctx
        .store
        .update::<Latest, bool, _>(&config.deployment.latest_key(&r.route), |cur| {
            Ok(match next_latest(cur.as_ref(), &candidate) {
                (Some(next), moved) => Decision::Write(next, moved),
                (None, moved) => Decision::Keep(moved),
            })
        })
        .await?;
    // Registered before the announcement, so `Model Published` can name the version (and never before it exists).
    let mut r = r.clone();
    r.model_package_arn = register::model_package(ctx, config, &r, model_data).await?;
    let r = &r;
    crash_point(
        "publish.before_model_published",
        &format!("{job} {}", r.dataset_uri),
    )?;
    ctx.emit(
        config,
        &events::model_published(r, &manifest, &manifest_uri.to_string(), latest_moved),
    )
    .await?;
    let ended = r.finished_at().unwrap_or(r.updated_at);
    metrics::published(ctx.now(), &config.deployment.name, &r.route, ended);
    Ok(Published::Model { latest_moved })
}
