//! publish-artifact: a training run finished, so say where the model is (or why there is none).
//!
//! On `Completed`: the artifact must exist; a manifest is written beside it; the route's `latest.json` moves to it
//! by compare-and-swap, only if this run's dataset is newer than the one it names; `Model Published` goes out. On
//! `Failed`/`Stopped`: `Fine-tune Failed` with the reason, the secondary status history and a console link. The
//! record's `published` flag is set only after EventBridge accepted the event, so a crash leads to a resend with
//! the same `event_id`, never to silence, and never to a second publication.

use chrono::{SecondsFormat, Utc};
use hubtune::aws::JobDescription;
use hubtune::config::Config;
use hubtune::context::Context;
use hubtune::error::{Error, Result};
use hubtune::event::{parse_message, Inbound, JobStatus};
use hubtune::faults::crash_point;
use hubtune::publish::{self, ArtifactManifest, LatestPointer, TRAINING_RUN_FINISHED};
use hubtune::run::{RunRecord, RunStatus};
use hubtune::s3uri::S3Uri;
use hubtune::store::{Decision, Revisioned};
use serde_json::{json, Value};

/// What a publication did, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    Model { latest_moved: bool },
    Failure,
    AlreadyDone,
    Ignored,
}

pub async fn handle(ctx: &Context, payload: Value) -> Result<Value, Error> {
    hubtune::batch::run(payload, |body| async move { process(ctx, &body).await }).await
}

pub async fn process(ctx: &Context, body: &Value) -> Result<()> {
    let mut first_err = None;
    for inbound in parse_message(body) {
        let r = match inbound {
            Inbound::Hubtune {
                detail_type,
                detail,
            } if detail_type == TRAINING_RUN_FINISHED => match detail["job_name"].as_str() {
                Some(job) => publish_run(ctx, job).await.map(|_| ()),
                None => {
                    tracing::warn!("Training Run Finished without job_name; ignored");
                    Ok(())
                }
            },
            Inbound::Unrecognized { shape } => {
                tracing::warn!(%shape, "payload not understood; ignored");
                Ok(())
            }
            _ => {
                tracing::warn!("not an input of publish-artifact; ignored");
                Ok(())
            }
        };
        if let Err(e) = r {
            first_err = hubtune::batch::worst(first_err, e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Latest {
    revision: u64,
    #[serde(flatten)]
    pointer: LatestPointer,
}

impl Revisioned for Latest {
    fn revision(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

pub fn latest_key(config: &Config, route: &str) -> S3Uri {
    config
        .deployment
        .output_prefix
        .join(&format!("{route}/latest.json"))
}

pub async fn publish_run(ctx: &Context, job: &str) -> Result<Published> {
    let config = ctx.config.get(&ctx.aws).await?;
    let key = config.deployment.state_key(&format!("runs/{job}.json"));
    let span = tracing::info_span!("publish", job);
    let _e = span.enter();
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
        return Err(Error::Other(format!(
            "run {job} is {} and not finished yet",
            record.status.as_str()
        )));
    }
    // A job deleted after it completed (`Deleting`, then not found) is still published from the run record, which
    // holds the artifact location; only the details that DescribeTrainingJob alone knows are missing then.
    let desc = ctx
        .aws
        .describe_training_job(job)
        .await?
        .filter(|d| d.status != JobStatus::Deleting);
    let out = if record.status == RunStatus::Completed {
        if desc.is_none() {
            tracing::warn!(
                "SageMaker no longer describes the job: publishing from the run record alone"
            );
        }
        publish_model(ctx, &config, record, desc.as_ref()).await?
    } else {
        let history: Vec<Value> = desc
            .as_ref()
            .map(|d| d.secondary_transitions.iter().map(|t| json!({"status": t.status, "start": t.start, "end": t.end, "message": t.message})).collect())
            .unwrap_or_default();
        let mut r = record.clone();
        if r.failure_reason.is_none() {
            r.failure_reason = desc.as_ref().and_then(|d| d.failure_reason.clone());
        }
        ctx.emit(
            &config.deployment.event_bus,
            &publish::finetune_failed(
                &r,
                &history,
                &publish::console_url(&config.deployment.region, job),
            ),
        )
        .await?;
        Published::Failure
    };
    // From the record as read above: no second read unless someone wrote it meanwhile (then the 412 re-reads).
    ctx.store
        .update_from::<RunRecord, (), _>(&key, known, |r| {
            let Some(mut r) = r else {
                return Ok(Decision::Keep(()));
            };
            if r.outbox.published {
                return Ok(Decision::Keep(()));
            }
            r.outbox.published = true;
            Ok(Decision::Write(r, ()))
        })
        .await?;
    tracing::info!(outcome = ?out, "published");
    Ok(out)
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
            Error::Other(format!(
                "job {} completed without ModelArtifacts",
                r.job_name
            ))
        })?;
    let artifact: S3Uri = artifact_uri
        .parse()
        .map_err(|e: hubtune::s3uri::S3UriError| Error::Other(e.to_string()))?;
    // A `.tar.gz` object, or with output compression off, a prefix of files.
    let artifact_bytes = match ctx
        .aws
        .head_object(artifact.bucket(), artifact.key())
        .await?
    {
        Some(h) => h.size,
        None => {
            let files = ctx
                .aws
                .list_objects(artifact.bucket(), artifact.as_prefix().key(), 100_000)
                .await?;
            if files.is_empty() {
                // Retryable: S3 may lag behind SageMaker's status for a moment; the DLQ catches a real absence.
                return Err(Error::Other(format!(
                    "the artifact {artifact} does not exist (yet)"
                )));
            }
            files.iter().map(|f| f.size).sum()
        }
    };
    let job = r.job_name.as_str();
    let manifest_uri = artifact_dir(&artifact, job).join("hubtune-manifest.json");
    let d = r.dataset.as_ref();
    let manifest = ArtifactManifest {
        schema: publish::SCHEMA,
        route: r.route.clone(),
        job_name: job.to_string(),
        job_arn: r.job_arn.clone(),
        dataset_uri: r.dataset_uri.clone(),
        dataset_marker_etag: None,
        dataset_time: d
            .map(|d| d.time.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_default(),
        dataset_sort_key: d.map(|d| d.sort_key()).unwrap_or_default(),
        dataset_files: r.frozen.as_ref().map(|f| f.files.len()).unwrap_or(0),
        dataset_bytes: r.frozen.as_ref().map(|f| f.total_bytes).unwrap_or(0),
        model_id: r.model_id.clone(),
        hub_content_arn: r.hub_content_arn.clone(),
        hub_content_version: r.hub_content_version.clone(),
        public_hub_content_arn: r.public_hub_content_arn.clone(),
        image: desc.and_then(|d| d.image.clone()),
        instance_type: r.instance_type.clone(),
        instance_count: r.instance_count,
        hyperparameters: desc.map(|d| d.hyperparameters.clone()).unwrap_or_default(),
        billable_seconds: desc.and_then(|d| d.billable_seconds),
        training_start_time: desc
            .and_then(|d| d.training_start_time)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        training_end_time: desc
            .and_then(|d| d.training_end_time)
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true)),
        final_metrics: desc.map(|d| d.final_metrics.clone()).unwrap_or_default(),
        artifact_uri: artifact.to_string(),
        artifact_bytes,
    };
    // The same job always writes the same manifest: an unconditional write is idempotent.
    ctx.store
        .put_idempotent(
            &manifest_uri,
            serde_json::to_vec_pretty(&manifest).expect("serializable"),
        )
        .await?;

    let candidate = LatestPointer {
        schema: publish::SCHEMA,
        route: r.route.clone(),
        job_name: job.to_string(),
        dataset_uri: r.dataset_uri.clone(),
        dataset_sort_key: manifest.dataset_sort_key.clone(),
        artifact_uri: artifact.to_string(),
        manifest_uri: manifest_uri.to_string(),
        model_id: r.model_id.clone(),
        published_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
    };
    let latest_moved = ctx
        .store
        .update::<Latest, bool, _>(&latest_key(config, &r.route), |cur| {
            Ok(match cur {
                Some(cur) if cur.pointer.job_name == candidate.job_name => Decision::Keep(true),
                Some(cur) if !cur.pointer.is_replaced_by(&candidate) => Decision::Keep(false),
                Some(cur) => Decision::Write(
                    Latest {
                        revision: cur.revision,
                        pointer: candidate.clone(),
                    },
                    true,
                ),
                None => Decision::Write(
                    Latest {
                        revision: 0,
                        pointer: candidate.clone(),
                    },
                    true,
                ),
            })
        })
        .await?;
    crash_point(
        "publish.before_model_published",
        &format!("{job} {}", r.dataset_uri),
    )?;
    ctx.emit(
        &config.deployment.event_bus,
        &publish::model_published(r, &manifest, &manifest_uri.to_string(), latest_moved),
    )
    .await?;
    Ok(Published::Model { latest_moved })
}

/// `s3://out/route/JOB/output/model.tar.gz` → `s3://out/route/JOB/`: the manifest sits beside the job's output.
fn artifact_dir(artifact: &S3Uri, job: &str) -> S3Uri {
    let key = artifact.key();
    match key.find(&format!("{job}/")) {
        Some(i) => S3Uri::new(artifact.bucket(), &key[..i + job.len() + 1]).expect("same bucket"),
        None => S3Uri::new(
            artifact.bucket(),
            key.rsplit_once('/')
                .map(|(d, _)| format!("{d}/"))
                .unwrap_or_default(),
        )
        .expect("same bucket"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_sits_in_the_job_folder() {
        let a: S3Uri = "s3://bkt/hubtune/output/r/hubtune-r-1/output/model.tar.gz"
            .parse()
            .unwrap();
        assert_eq!(
            artifact_dir(&a, "hubtune-r-1").to_string(),
            "s3://bkt/hubtune/output/r/hubtune-r-1/"
        );
        let other: S3Uri = "s3://bkt/x/model.tar.gz".parse().unwrap();
        assert_eq!(artifact_dir(&other, "job").to_string(), "s3://bkt/x/");
    }
}
