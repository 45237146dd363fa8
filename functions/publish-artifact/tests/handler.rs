//! The publish-artifact handler in-process, over the in-memory ports. Each test builds the world as the launcher
//! and training-state leave it (a job made through the jobs port, its terminal run record, its artifact in S3; see
//! `support`), then delivers `Training Run Finished` as SQS batches, or calls `publish_run`.

mod support;

use std::collections::BTreeMap;

use chrono::{Duration, SecondsFormat};
use hubtune::domain::error::ErrorClass;
use hubtune::domain::events::{self, FINETUNE_FAILED, MODEL_PUBLISHED};
use hubtune::domain::publication::{ArtifactManifest, Latest};
use hubtune::domain::run::RunStatus;
use hubtune::memory::{access_denied, server_error, throttled};
use hubtune::runtime::faults;
use publish_artifact::{Published, ARTIFACT_GRACE_SECONDS};
use serde_json::json;
use support::{
    envelope, finished, Ends, Harness, ARTIFACT_BYTES, BUCKET, DATASET_BYTES, MODEL, ROUTE,
};

const HUB_CONTENT_ARN: &str = "arn:aws:sagemaker:us-east-1:111122223333:hub-content/my-private-hub/ModelReference/meta-textgeneration-llama-3-2-1b/1.2.0";

fn millis(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn latest_of(h: &Harness) -> Latest {
    serde_json::from_value(h.latest().expect("latest.json")).expect("latest.json parses")
}

// ---------------------------------------------------------------------------------------------------------------
// A completed run
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_completed_run_gets_its_manifest_beside_the_artifact() {
    let h = Harness::new();
    let job = h.completed("manifest").await;
    let record = h.record(&job);
    let request = h.world.jobs.get(&job).unwrap().request;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let uri = h.manifest_uri(&job);
    assert_eq!(
        uri,
        format!("s3://{BUCKET}/hubtune/output/{ROUTE}/{job}/hubtune-manifest.json"),
        "beside the artifact: <output>/<job>/hubtune-manifest.json"
    );
    let m: ArtifactManifest =
        serde_json::from_value(h.world.objects.json(&uri).expect("the manifest")).unwrap();
    let dataset = record.dataset.as_ref().unwrap();
    assert_eq!(m.schema, 1);
    assert_eq!(m.route, ROUTE);
    assert_eq!(m.job_name, job);
    assert_eq!(m.job_arn, record.job_arn);
    assert_eq!(
        m.dataset_uri,
        format!("s3://{BUCKET}/datasets/{ROUTE}/manifest/")
    );
    assert_eq!(m.dataset_time, millis(dataset.time));
    assert_eq!(m.dataset_sort_key, dataset.sort_key());
    assert_eq!(m.dataset_files, 1);
    assert_eq!(m.dataset_bytes, DATASET_BYTES);
    assert_eq!(m.model_id, MODEL);
    assert_eq!(m.hub_content_arn.as_deref(), Some(HUB_CONTENT_ARN));
    assert_eq!(m.hub_content_version.as_deref(), Some("1.2.0"));
    assert_eq!(
        m.image.as_deref(),
        Some(request.algorithm_specification.training_image.as_str())
    );
    assert_eq!(m.instance_type, "ml.g5.2xlarge");
    assert_eq!(m.instance_count, 1);
    assert_eq!(m.hyperparameters, request.hyper_parameters);
    assert_eq!(m.training_end_time, Some(millis(h.now())));
    assert_eq!(m.artifact_uri, h.artifact_uri(&job));
    assert_eq!(
        m.artifact_uri,
        format!("{}output/model.tar.gz", h.job_dir(&job))
    );
    assert_eq!(m.artifact_bytes, ARTIFACT_BYTES as u64);
}

/// Lineage: the published manifest names each file the job was given (the run record's frozen contents, which the
/// launcher re-checked against S3 just before CreateTrainingJob) with its size, ETag and version, and no other.
#[tokio::test]
async fn the_published_manifest_lists_exactly_what_was_trained_with_size_etag_and_version() {
    let h = Harness::new();
    let job = h.completed("lineage").await;
    let frozen = h.record(&job).frozen.expect("the record's frozen contents");
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let published = h
        .world
        .objects
        .json(&h.manifest_uri(&job))
        .expect("the manifest");
    assert_eq!(
        published["dataset_contents"],
        json!([{
            "key": format!("datasets/{ROUTE}/lineage/train.jsonl"),
            "etag": "etag-train",
            "size": DATASET_BYTES,
            "version_id": "version-train",
            "channel": "training",
        }])
    );
    let m: ArtifactManifest = serde_json::from_value(published).unwrap();
    assert_eq!(m.dataset_contents, frozen.files);
    assert_eq!(m.dataset_files, m.dataset_contents.len());
}

/// The EMF metric of a publication (runtime::metrics): the time from the job's end to `Model Published`.
#[tokio::test]
async fn a_publication_emits_finish_to_publish_latency_on_its_route() {
    use hubtune::runtime::metrics::{Capture, FINISH_TO_PUBLISH};
    let h = Harness::new();
    let job = h.completed("latency").await;
    let c = Capture::start();
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published: Vec<_> = c
        .documents()
        .into_iter()
        .filter(|d| d.get(FINISH_TO_PUBLISH).is_some())
        .collect();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0]["Route"], ROUTE);
    assert!(published[0][FINISH_TO_PUBLISH]
        .as_f64()
        .is_some_and(|ms| ms >= 0.0));
}

#[tokio::test]
async fn a_completed_run_moves_latest_json_to_its_job() {
    let h = Harness::new();
    let job = h.completed("latest").await;
    assert!(h.latest().is_none());
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    assert_eq!(
        h.latest_uri(),
        format!("s3://{BUCKET}/hubtune/output/{ROUTE}/latest.json")
    );
    let latest = latest_of(&h);
    assert_eq!(latest.revision, 1, "created once");
    let p = &latest.pointer;
    assert_eq!(p.job_name, job);
    assert_eq!(p.route, ROUTE);
    assert_eq!(p.artifact_uri, h.artifact_uri(&job));
    assert_eq!(p.manifest_uri, h.manifest_uri(&job));
    assert_eq!(
        p.dataset_sort_key,
        h.record(&job).dataset.unwrap().sort_key()
    );
    assert_eq!(p.model_id, MODEL);
    assert_eq!(p.published_at, millis(h.now()));
}

#[tokio::test]
async fn a_completed_run_sends_one_model_published_with_artifact_bytes_and_latest_updated() {
    let h = Harness::new();
    let job = h.completed("event").await;
    let record = h.record(&job);
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    assert_eq!(h.world.bus.events().len(), 1, "nothing but Model Published");
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    let e = &published[0];
    assert_eq!(h.world.bus.buses(), ["hubtune"]);
    assert_eq!(e.source, "hubtune");
    assert_eq!(e.resources, vec![record.job_arn.clone().unwrap()]);
    let d = &e.detail;
    assert_eq!(d["schema"], 2, "schema 2: Model Published carries results");
    assert_eq!(e.event_id(), events::event_id(MODEL_PUBLISHED, &job));
    assert_eq!(d["job_name"], job.as_str());
    assert_eq!(d["job_arn"], record.job_arn.unwrap().as_str());
    assert_eq!(d["route"], ROUTE);
    assert_eq!(d["dataset_uri"], record.dataset_uri.as_str());
    assert_eq!(d["artifact_uri"], h.artifact_uri(&job).as_str());
    assert_eq!(d["artifact_bytes"], ARTIFACT_BYTES);
    assert_eq!(d["manifest_uri"], h.manifest_uri(&job).as_str());
    // The data channels the job read, each with its frozen manifest.
    assert_eq!(
        d["channels"],
        json!([{ "name": "training", "manifest_uri": record.manifest_uri.as_deref().unwrap(),
                 "file_count": 1, "total_bytes": DATASET_BYTES }])
    );
    assert_eq!(d["latest_updated"], true);
    assert_eq!(d["model_id"], MODEL);
    assert_eq!(d["hub_content_arn"], HUB_CONTENT_ARN);
}

#[tokio::test]
async fn a_completed_run_has_its_published_flag_set_and_nothing_else_of_its_record_changed() {
    let h = Harness::new();
    let job = h.completed("flag").await;
    let before = h.record(&job);
    assert!(!before.outbox.published);
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let after = h.record(&job);
    assert!(after.outbox.published);
    let mut expected = before.clone();
    expected.outbox.published = true;
    expected.revision += 1;
    assert_eq!(
        after, expected,
        "only the flag (and the revision of the write)"
    );
}

#[tokio::test]
async fn publish_run_reports_model_failure_already_done_and_ignored() {
    let h = Harness::new();
    let done = h.completed("outcome-done").await;
    let failed = h
        .run(
            "outcome-failed",
            Duration::hours(4),
            Ends::Failed(Some("boom")),
        )
        .await;
    let ctx = &h.ctx;
    assert_eq!(
        publish_artifact::publish_run(ctx, &done).await.unwrap(),
        Published::Model { latest_moved: true }
    );
    assert_eq!(
        publish_artifact::publish_run(ctx, &done).await.unwrap(),
        Published::AlreadyDone
    );
    assert_eq!(
        publish_artifact::publish_run(ctx, &failed).await.unwrap(),
        Published::Failure
    );
    assert_eq!(
        publish_artifact::publish_run(ctx, &Harness::job_name("outcome-none"))
            .await
            .unwrap(),
        Published::Ignored
    );
}

// ---------------------------------------------------------------------------------------------------------------
// Duplicates and order
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_same_event_twice_in_one_batch_publishes_once_and_writes_latest_once() {
    let h = Harness::new();
    let job = h.completed("dup-batch").await;
    assert!(h
        .deliver(&[finished(&job), finished(&job)])
        .await
        .is_empty());

    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1, "one Model Published: {published:?}");
    assert_eq!(
        published[0].event_id(),
        events::event_id(MODEL_PUBLISHED, &job)
    );
    assert_eq!(
        latest_of(&h).revision,
        1,
        "latest.json written once (every write bumps its revision)"
    );
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn the_same_event_in_two_batches_publishes_once_and_writes_latest_once() {
    let h = Harness::new();
    let job = h.completed("dup-two").await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let etag = h.latest_etag().await.expect("latest.json");
    let first = h.world.bus.of_type(MODEL_PUBLISHED);

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(
        published.len(),
        1,
        "the second batch sends no second Model Published: {published:?}"
    );
    assert_eq!(published, first);
    assert_eq!(
        published[0].event_id(),
        events::event_id(MODEL_PUBLISHED, &job)
    );
    assert_eq!(
        h.latest_etag().await.as_deref(),
        Some(etag.as_str()),
        "latest.json not written again"
    );
    assert_eq!(latest_of(&h).revision, 1);
}

#[tokio::test]
async fn an_older_dataset_finishing_after_a_newer_one_leaves_latest_on_the_newer() {
    let h = Harness::new();
    let older = h
        .run("order-older", Duration::hours(6), Ends::Completed)
        .await;
    h.put_artifact(&older, 10);
    let newer = h
        .run("order-newer", Duration::hours(4), Ends::Completed)
        .await;
    h.put_artifact(&newer, 20);

    assert!(h.deliver(&[finished(&newer)]).await.is_empty());
    let etag = h.latest_etag().await;
    assert!(h.deliver(&[finished(&older)]).await.is_empty());

    assert_eq!(latest_of(&h).pointer.job_name, newer);
    assert_eq!(
        h.latest_etag().await,
        etag,
        "the older run did not write latest.json"
    );
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 2);
    let by_job = |j: &str| {
        published
            .iter()
            .find(|e| e.detail["job_name"] == j)
            .unwrap()
            .detail
            .clone()
    };
    assert_eq!(by_job(&newer)["latest_updated"], true);
    assert_eq!(by_job(&older)["latest_updated"], false);
    assert!(
        h.world.objects.json(&h.manifest_uri(&older)).is_some(),
        "the older model is still published"
    );
    assert!(h.record(&older).outbox.published);
}

#[tokio::test]
async fn a_newer_dataset_finishing_after_an_older_one_moves_latest_to_the_newer() {
    let h = Harness::new();
    let older = h
        .run("forward-older", Duration::hours(6), Ends::Completed)
        .await;
    h.put_artifact(&older, 10);
    let newer = h
        .run("forward-newer", Duration::hours(4), Ends::Completed)
        .await;
    h.put_artifact(&newer, 20);

    assert!(h.deliver(&[finished(&older)]).await.is_empty());
    assert_eq!(latest_of(&h).pointer.job_name, older);
    assert!(h.deliver(&[finished(&newer)]).await.is_empty());

    let latest = latest_of(&h);
    assert_eq!(latest.pointer.job_name, newer);
    assert_eq!(latest.revision, 2, "created, then replaced once");
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 2);
    assert!(published.iter().all(|e| e.detail["latest_updated"] == true));
}

// ---------------------------------------------------------------------------------------------------------------
// Runs that produced no model
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_failed_run_sends_fine_tune_failed_with_its_reason_and_console_url_and_no_latest() {
    let h = Harness::new();
    let job = h
        .run(
            "failed",
            Duration::hours(4),
            Ends::Failed(Some("AlgorithmError: CUDA out of memory")),
        )
        .await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let failed = h.world.bus.of_type(FINETUNE_FAILED);
    assert_eq!(failed.len(), 1);
    let d = &failed[0].detail;
    assert_eq!(
        failed[0].event_id(),
        events::event_id(FINETUNE_FAILED, &job)
    );
    assert_eq!(d["job_name"], job.as_str());
    assert_eq!(d["status"], "Failed");
    assert_eq!(d["failure_reason"], "AlgorithmError: CUDA out of memory");
    assert_eq!(
        d["console_url"],
        format!(
            "https://us-east-1.console.aws.amazon.com/sagemaker/home?region=us-east-1#/jobs/{job}"
        )
    );
    assert!(h.world.bus.of_type(MODEL_PUBLISHED).is_empty());
    assert!(h.latest().is_none(), "no latest.json");
    assert!(
        h.world.objects.uris(&h.job_dir(&job)).is_empty(),
        "no manifest"
    );
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn a_stopped_run_without_a_reason_is_reported_as_ended_stopped() {
    let h = Harness::new();
    let job = h.run("stopped", Duration::hours(4), Ends::Stopped).await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let failed = h.world.bus.of_type(FINETUNE_FAILED);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail["status"], "Stopped");
    assert_eq!(failed[0].detail["failure_reason"], "the job ended Stopped");
    assert!(h.latest().is_none());
}

#[tokio::test]
async fn a_failed_run_whose_record_lacks_the_reason_takes_it_from_sagemaker() {
    let h = Harness::new();
    let job = h
        .run(
            "reason-from-describe",
            Duration::hours(4),
            Ends::Failed(Some("ClientError: bad hyperparameter")),
        )
        .await;
    let mut record = h.record(&job);
    record.failure_reason = None;
    h.put_record(&record);
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let failed = h.world.bus.of_type(FINETUNE_FAILED);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].detail["failure_reason"],
        "ClientError: bad hyperparameter"
    );
}

#[tokio::test]
async fn a_run_not_finished_yet_comes_back_and_nothing_is_sent_or_written() {
    let h = Harness::new();
    let job = h.run("running", Duration::hours(1), Ends::Running).await;
    let before = h.record(&job);
    assert_eq!(before.status, RunStatus::InProgress);

    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert!(h.world.bus.events().is_empty(), "nothing sent");
    assert!(h.latest().is_none());
    assert!(h.world.objects.uris(&h.job_dir(&job)).is_empty());
    assert_eq!(h.record(&job), before, "the record untouched");
}

#[tokio::test]
async fn a_finish_for_a_job_without_a_run_record_is_acknowledged_and_ignored() {
    let h = Harness::new();
    let job = Harness::job_name("no-record");
    let objects_before = h.world.objects.uris("s3://");
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    assert!(h.world.bus.events().is_empty());
    assert_eq!(
        h.world.objects.uris("s3://"),
        objects_before,
        "nothing written"
    );
    assert_eq!(
        h.world.calls().get("DescribeTrainingJob"),
        None,
        "not even SageMaker is asked"
    );
}

#[tokio::test]
async fn a_finish_without_job_name_comes_back_as_a_permanent_failure() {
    let h = Harness::new();
    let body = envelope(json!({ "status": "Completed" }));
    assert_eq!(h.deliver(std::slice::from_ref(&body)).await, ["m0"]);
    let e = publish_artifact::process(&h.ctx, &body).await.unwrap_err();
    assert_eq!(e.class(), ErrorClass::Permanent, "{e}");
    assert!(h.world.bus.events().is_empty());
}

#[tokio::test]
async fn only_the_unfinished_record_of_a_mixed_batch_comes_back() {
    let h = Harness::new();
    let done = h.completed("mixed-done").await;
    let running = h
        .run("mixed-running", Duration::hours(1), Ends::Running)
        .await;
    assert_eq!(
        h.deliver(&[finished(&done), finished(&running)]).await,
        ["m1"]
    );
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].detail["job_name"], done.as_str());
}

// ---------------------------------------------------------------------------------------------------------------
// The artifact: gone job, late artifact, deleted artifact, directory artifact
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_completed_job_deleted_from_sagemaker_is_published_from_its_record() {
    let h = Harness::new();
    let job = h.completed("deleted-job").await;
    let artifact = h.artifact_uri(&job);
    h.world.jobs.remove(&job);
    assert_eq!(
        h.record(&job).model_artifacts.as_deref(),
        Some(artifact.as_str())
    );

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].detail["artifact_uri"], artifact.as_str());
    assert_eq!(published[0].detail["artifact_bytes"], ARTIFACT_BYTES);
    assert_eq!(latest_of(&h).pointer.job_name, job);
    let m: ArtifactManifest =
        serde_json::from_value(h.world.objects.json(&h.manifest_uri(&job)).unwrap()).unwrap();
    assert_eq!(
        (m.image, m.hyperparameters, m.training_end_time),
        (None, BTreeMap::new(), None),
        "what only DescribeTrainingJob knew is missing"
    );
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn a_missing_artifact_comes_back_unpublished_then_publishes_once_when_it_appears() {
    let h = Harness::new();
    let job = h
        .run("late-artifact", Duration::hours(4), Ends::Completed)
        .await;

    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert!(h.world.bus.events().is_empty(), "not published");
    assert!(h.latest().is_none());
    assert!(h.world.objects.uris(&h.job_dir(&job)).is_empty());
    assert!(!h.record(&job).outbox.published);

    h.put_artifact(&job, 10);
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].detail["artifact_bytes"], 10);
    assert_eq!(latest_of(&h).pointer.job_name, job);
}

#[tokio::test]
async fn an_artifact_missing_past_the_grace_period_is_reported_failed_but_not_before() {
    let h = Harness::new();
    let job = h
        .run("artifact-gone", Duration::hours(4), Ends::Completed)
        .await;
    let artifact = h.artifact_uri(&job);

    h.world
        .clock
        .advance(Duration::seconds(ARTIFACT_GRACE_SECONDS - 1));
    assert_eq!(
        h.deliver(&[finished(&job)]).await,
        ["m0"],
        "within the grace period"
    );
    assert!(h.world.bus.events().is_empty());

    h.world.clock.advance(Duration::seconds(2));
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let failed = h.world.bus.of_type(FINETUNE_FAILED);
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].detail["failure_reason"],
        format!(
            "the job completed, but its model artifact {artifact} was deleted before hubtune published it"
        )
    );
    assert!(h.world.bus.of_type(MODEL_PUBLISHED).is_empty());
    assert!(h.latest().is_none());
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn a_directory_artifact_is_published_with_its_file_sizes_summed() {
    let h = Harness::new();
    let job = h
        .run("dir-artifact", Duration::hours(4), Ends::Completed)
        .await;
    let artifact = h.artifact_uri(&job);
    // Output compression off: no `.tar.gz` object, files under it as a prefix.
    h.world
        .objects
        .insert(&format!("{artifact}/model.safetensors"), vec![0u8; 10]);
    h.world
        .objects
        .insert(&format!("{artifact}/tokenizer/config.json"), vec![0u8; 5]);
    // Beside the prefix, not under it: not counted.
    h.world.objects.insert(
        &format!("{}output/other.bin", h.job_dir(&job)),
        vec![0u8; 100],
    );

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].detail["artifact_bytes"], 15);
    assert_eq!(published[0].detail["artifact_uri"], artifact.as_str());
    let m = h.world.objects.json(&h.manifest_uri(&job)).unwrap();
    assert_eq!(m["artifact_bytes"], 15);
}

// ---------------------------------------------------------------------------------------------------------------
// Every error class
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_throttled_head_object_comes_back_and_the_redelivery_publishes_once() {
    let h = Harness::new();
    let job = h.completed("throttled").await;
    h.world.objects.faults.fail(
        "HeadObject",
        "model.tar.gz",
        1,
        throttled("s3", "HeadObject"),
    );

    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert!(h.world.bus.events().is_empty());
    assert!(h.latest().is_none());
    assert!(!h.record(&job).outbox.published);

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn a_sagemaker_server_error_comes_back_and_the_redelivery_publishes_once() {
    let h = Harness::new();
    let job = h.completed("describe-5xx").await;
    h.world.jobs.faults.fail(
        "DescribeTrainingJob",
        &job,
        1,
        server_error("sagemaker", "DescribeTrainingJob"),
    );
    let e = publish_artifact::publish_run(&h.ctx, &job)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Retry, "{e}");
    assert!(h.world.bus.events().is_empty());

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn a_refused_put_events_entry_after_latest_moved_comes_back_and_the_redelivery_sends_once_without_moving_latest_again(
) {
    let h = Harness::new();
    let job = h.completed("refused").await;
    h.world.bus.refuse_next_entries(1);

    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert_eq!(
        latest_of(&h).pointer.job_name,
        job,
        "latest moved before the refusal"
    );
    assert!(h.world.bus.events().is_empty(), "the entry was refused");
    assert!(!h.record(&job).outbox.published);
    let etag = h.latest_etag().await;

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    assert_eq!(
        published[0].detail["latest_updated"], true,
        "latest names this job"
    );
    assert_eq!(
        h.latest_etag().await,
        etag,
        "latest.json not written a second time"
    );
    assert_eq!(latest_of(&h).revision, 1);
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn a_lost_published_flag_write_resends_model_published_with_the_same_event_id() {
    let h = Harness::new();
    let job = h.completed("flag-lost").await;
    // The record's write fails after EventBridge accepted Model Published.
    h.world.objects.faults.fail(
        "PutObject",
        &format!("runs/{job}.json"),
        1,
        server_error("s3", "PutObject"),
    );

    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
    assert!(!h.record(&job).outbox.published);
    let etag = h.latest_etag().await;

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 2, "at least once: sent again");
    assert_eq!(
        published[0].event_id(),
        published[1].event_id(),
        "consumers de-duplicate on it"
    );
    assert_eq!(published[0], published[1]);
    assert_eq!(h.latest_etag().await, etag, "latest.json not written again");
    assert!(h.record(&job).outbox.published);
}

#[tokio::test]
async fn access_denied_on_the_output_prefix_comes_back_as_a_deployment_fault_without_fine_tune_failed(
) {
    let h = Harness::new();
    let job = h.completed("denied").await;
    let output = h.config.deployment.route_output(ROUTE).to_string();
    for op in ["HeadObject", "ListObjectsV2", "PutObject", "GetObject"] {
        h.world
            .objects
            .faults
            .fail_always(op, &output, access_denied("s3", op));
    }
    // Past the grace period: a denied read must not pass for a deleted artifact.
    h.world
        .clock
        .advance(Duration::seconds(ARTIFACT_GRACE_SECONDS + 1));

    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    let e = publish_artifact::publish_run(&h.ctx, &job)
        .await
        .unwrap_err();
    assert_eq!(e.class(), ErrorClass::Deployment, "{e}");
    assert!(
        h.world.bus.of_type(FINETUNE_FAILED).is_empty(),
        "never reported as the run's failure"
    );
    assert!(h.world.bus.events().is_empty());
    assert!(!h.record(&job).outbox.published);

    h.world.heal();
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
    assert!(h.world.bus.of_type(FINETUNE_FAILED).is_empty());
}

#[tokio::test]
async fn a_crash_before_model_published_comes_back_and_the_redelivery_publishes_once() {
    let h = Harness::new();
    let job = h.completed("crash").await;
    let point = "publish.before_model_published";
    faults::arm(point, &job, 1);

    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert_eq!(faults::remaining(point, &job), 0, "the crash fired");
    assert!(h.world.bus.events().is_empty());
    assert!(h.world.objects.json(&h.manifest_uri(&job)).is_some());
    assert_eq!(latest_of(&h).pointer.job_name, job);
    assert!(!h.record(&job).outbox.published);
    let etag = h.latest_etag().await;

    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].detail["latest_updated"], true);
    assert_eq!(h.latest_etag().await, etag);
    assert!(h.record(&job).outbox.published);
}

// ---------------------------------------------------------------------------------------------------------------
// Call budgets
// ---------------------------------------------------------------------------------------------------------------

#[tokio::test]
async fn one_publication_costs_exactly_nine_calls() {
    let h = Harness::new();
    let job = h.completed("budget").await;
    h.world.reset_calls();
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let expected = BTreeMap::from([
        // The run record (GET); latest.json read for its compare-and-swap (GET, absent here).
        ("GetObject", 2),
        // The job's description: artifact location, image, hyperparameters, times.
        ("DescribeTrainingJob", 1),
        // The `.tar.gz` artifact exists: its size, and no listing.
        ("HeadObject", 1),
        // The manifest (unconditional); latest.json (If-None-Match); the record's `published` flag (If-Match from
        // the record as read, no second GET).
        ("PutObject", 3),
        // Model Published.
        ("PutEvents", 1),
        // `published` was the record's last flag: its open-run marker goes, so the sweep never reads it again.
        ("DeleteObject", 1),
    ]);
    assert_eq!(h.world.calls(), expected);
    assert_eq!(h.world.total_calls(), 9);
}

#[tokio::test]
async fn a_duplicate_delivery_costs_one_get_object() {
    let h = Harness::new();
    let job = h.completed("budget-dup").await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    h.world.reset_calls();
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    // The run record says it is published: nothing else is asked.
    assert_eq!(h.world.calls(), BTreeMap::from([("GetObject", 1)]));
}

#[tokio::test]
async fn a_failure_report_costs_exactly_five_calls() {
    let h = Harness::new();
    let job = h
        .run("budget-failed", Duration::hours(4), Ends::Failed(Some("x")))
        .await;
    h.world.reset_calls();
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let expected = BTreeMap::from([
        // The run record.
        ("GetObject", 1),
        // The secondary status history (and the reason, if the record lacks it).
        ("DescribeTrainingJob", 1),
        // Fine-tune Failed.
        ("PutEvents", 1),
        // The record's `published` flag; no manifest, no latest.json.
        ("PutObject", 1),
        // The last flag: the open-run marker goes.
        ("DeleteObject", 1),
    ]);
    assert_eq!(h.world.calls(), expected);
}

// ---- The handler and `hubtune inspect` agree ----

/// What the decision says publish-artifact does, in the terms the world shows.
fn expected_ending(h: &hubtune::domain::handling::Handling) -> String {
    use hubtune::domain::handling::{Handling, PublishHandling};
    match h {
        Handling::PublishArtifact(PublishHandling::Publish { job }) => format!("publish {job}"),
        Handling::PublishArtifact(PublishHandling::Ignore { .. }) => "ignored".into(),
        Handling::PublishArtifact(PublishHandling::Fail { .. }) => "failed".into(),
        other => panic!("not publish-artifact's decision: {other:?}"),
    }
}

/// Every fixture, replayed through `hubtune inspect`'s decision and through the handler on the in-memory world,
/// ends the same way, and that way is one of the four (docs/reliability.md). A publication is seen as the run
/// record read (the world has none for the fixture's job: nothing to publish, acknowledged).
#[tokio::test]
async fn every_event_fixture_ends_as_inspect_says() {
    use hubtune::domain::handling::{decide, Function};
    use hubtune::domain::inbound::{parse_message, Inbound};
    let mut endings = std::collections::BTreeMap::new();
    for (name, body) in hubtune::memory::event_fixtures() {
        let h = Harness::new();
        let inbound = parse_message(&body);
        assert_eq!(inbound.len(), 1, "{name}: one record per body");
        let decision = decide(
            Function::PublishArtifact,
            inbound[0].clone(),
            Some(&h.config),
            h.ctx.now(),
        )
        .expect("the routes are given");
        let came_back = h.deliver(std::slice::from_ref(&body)).await;
        let events = h.world.bus.events();
        let observed = if !came_back.is_empty() {
            assert!(events.is_empty(), "{name}: a failure sent {events:#?}");
            "failed".to_string()
        } else if events.is_empty() && h.world.total_calls() == 0 {
            "ignored".into()
        } else {
            let job = match &inbound[0] {
                Inbound::Hubtune { detail, .. } => detail["job_name"].as_str().unwrap_or_default(),
                other => panic!(
                    "{name}: none of the four endings for {other:?}: {:?}",
                    h.world.calls()
                ),
            };
            assert_eq!(
                h.world.calls().get("GetObject"),
                Some(&1),
                "{name}: the run record is read"
            );
            format!("publish {job}")
        };
        assert_eq!(
            observed,
            expected_ending(&decision),
            "{name}: inspect says `{decision}`"
        );
        endings.insert(name, observed);
    }
    for kind in ["publish ", "ignored", "failed"] {
        assert!(
            endings.values().any(|e| e.starts_with(kind)),
            "no fixture ends `{kind}`: {endings:#?}"
        );
    }
}
