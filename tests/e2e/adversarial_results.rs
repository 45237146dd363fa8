//! Inputs real deployments produce that once gave a wrong result (what was trained, what `latest.json` names, what a re-upload does), on the local stack.
//!
//! Each test drives the real handlers through moto and the stand-in over HTTP. Which fix each one guards, and the
//! line that was reverted to see it fail, is in the test's comment.

use std::time::{Duration, Instant};

use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
use hubtune::domain::dataset::DatasetIdentity;
use hubtune::domain::inbound::{parse_message, Inbound, ObjectLanded};
use hubtune::domain::job::JobStatus;
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune_cli::local::FunctionName;
use hubtune_e2e::{Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(40);
const ROUTE: &str = "support-bot";
const GOOD: &str = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n";

fn folder_key(name: &str) -> String {
    format!("datasets/{ROUTE}/{name}/")
}

fn marker_key(name: &str) -> String {
    format!("{}_SUCCESS", folder_key(name))
}

async fn latest(env: &Env) -> Value {
    let key = env.config.deployment.latest_key(ROUTE);
    serde_json::from_slice(&env.object(&key).await.expect("latest.json exists")).expect("JSON")
}

/// The run record of every job, in job-name order.
async fn records(env: &Env) -> Vec<RunRecord> {
    let mut out = Vec::new();
    for job in env.jobs().await {
        out.push(env.record(&job).await);
    }
    out
}

/// The one job that trains dataset folder `name`.
async fn job_of(env: &Env, name: &str) -> RunRecord {
    let folder = format!("/{}", folder_key(name));
    let mut of_folder: Vec<_> = records(env)
        .await
        .into_iter()
        .filter(|r| r.dataset_uri.ends_with(&folder))
        .collect();
    assert_eq!(of_folder.len(), 1, "one job for {name}: {of_folder:#?}");
    of_folder.remove(0)
}

/// What SageMaker trains on: the manifest the job's training channel names, as its file names (after the prefix).
async fn trained_files(env: &Env, r: &RunRecord) -> Vec<String> {
    let d = env
        .aws
        .sagemaker
        .describe_training_job()
        .training_job_name(r.job_name.as_str())
        .send()
        .await
        .expect("DescribeTrainingJob");
    let channel = d
        .input_data_config
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.channel_name.as_deref() == Some("training"))
        .expect("a training channel");
    let source = channel
        .data_source
        .and_then(|s| s.s3_data_source)
        .expect("an S3 data source");
    assert_eq!(
        source
            .s3_data_type
            .map(|t| t.as_str().to_string())
            .as_deref(),
        Some("ManifestFile")
    );
    let manifest: S3Uri = source.s3_uri.expect("an S3 URI").parse().expect("a URI");
    assert_eq!(
        Some(manifest.to_string()),
        r.manifest_uri,
        "the manifest the record froze"
    );
    let body: Value =
        serde_json::from_slice(&env.object(&manifest).await.expect("the manifest")).expect("JSON");
    let entries = body.as_array().expect("a manifest is a list");
    assert_eq!(entries[0], json!({ "prefix": r.dataset_uri }));
    entries[1..]
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// The keys the record froze when the dataset was checked.
fn frozen_keys(r: &RunRecord) -> Vec<String> {
    r.frozen
        .as_ref()
        .expect("frozen contents")
        .files
        .iter()
        .map(|f| f.key.clone())
        .collect()
}

/// Jobs whose name, tags or inputs contain `matching` stay `InProgress` for `seconds`, then complete.
async fn completes_after(env: &Env, matching: &str, seconds: f64) {
    let rule = json!({ "match": matching, "status": "Completed", "in_progress_seconds": seconds });
    env.stack
        .control("POST", "/_hubtune/outcomes", &rule)
        .await
        .expect("outcome rule accepted");
}

/// Real time, on purpose: S3 stamps each marker's event with the local stack's clock in whole seconds (not the
/// handlers' clock), so two uploads meant to share a second start just after one begins.
async fn at_the_start_of_a_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    let to_next = Duration::from_nanos(1_000_000_000 - u64::from(now.subsec_nanos()));
    tokio::time::sleep(to_next + Duration::from_millis(20)).await;
}

/// The `n` uploads of `key` whose events wait in the launch queue, as hubtune reads them, oldest upload first (by
/// sequencer, which grows with every write of one key).
async fn waiting_uploads(env: &Env, key: &str, n: usize) -> Vec<ObjectLanded> {
    let start = Instant::now();
    loop {
        let mut uploads: Vec<ObjectLanded> = env
            .peek("LaunchQueue")
            .await
            .iter()
            .filter_map(|b| serde_json::from_str::<Value>(b).ok())
            .flat_map(|body| parse_message(&body))
            .filter_map(|i| match i {
                Inbound::ObjectLanded(o) if o.key == key => Some(o),
                _ => None,
            })
            .collect();
        uploads.sort_by(|a, b| a.sequencer.cmp(&b.sequencer));
        uploads.dedup_by(|a, b| a.sequencer == b.sequencer);
        if uploads.len() >= n {
            return uploads;
        }
        assert!(
            start.elapsed() < T,
            "{n} events of {key} never reached the launch queue"
        );
        // Polling the queue (the deadline above).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The job hubtune names for this upload.
fn job_for_upload(env: &Env, o: &ObjectLanded) -> String {
    let identity = DatasetIdentity::from_landing(o).expect("an upload with an identity");
    identity.job_name(&env.config, ROUTE).to_string()
}

/// The two records came from uploads within one second, `newer` with the larger sequencer: the case under test.
fn assert_same_second(older: &RunRecord, newer: &RunRecord) {
    let (o, n) = (
        older.dataset.as_ref().expect("dataset"),
        newer.dataset.as_ref().expect("dataset"),
    );
    assert_eq!(
        o.time, n.time,
        "the two markers did not land in the same second"
    );
    assert!(
        n.sequencer > o.sequencer,
        "{:?} !> {:?}",
        n.sequencer,
        o.sequencer
    );
}

fn published_job(e: &Value) -> String {
    e["detail"]["job_name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

// Guard: functions/launch-finetune/src/drain.rs, `let from = From::Queue(Box::new(entry.clone()));` (the queue entry's
// frozen contents). With the entry's `frozen` set to `None` the launch re-lists the folder and trains `late.jsonl`: this test fails.
#[tokio::test]
async fn a_file_added_while_the_dataset_waits_in_the_route_queue_is_not_trained() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 1")).await;
    // The holder keeps the only slot until it is stopped.
    completes_after(&env, "/holder/", 600.0).await;
    env.drop_good("holder").await;
    env.wait_for("Training Run Started", 1, T).await;
    let holder = job_of(&env, "holder").await;
    env.drop_good("waits").await;
    let queued = env.wait_for("Dataset Queued", 1, T).await;
    assert!(queued[0]["detail"]["dataset_uri"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/waits/"));
    // Uploaded after the marker, while the dataset waits for the slot.
    env.put(
        &format!("{}late.jsonl", folder_key("waits")),
        GOOD.as_bytes(),
    )
    .await;
    env.aws
        .stop_training_job(holder.job_name.as_str())
        .await
        .expect("StopTrainingJob");
    env.wait_for("Training Run Started", 2, T).await;
    env.settle(T).await;

    let waits = job_of(&env, "waits").await;
    assert_eq!(
        frozen_keys(&waits),
        [format!("{}train.jsonl", folder_key("waits"))]
    );
    assert_eq!(trained_files(&env, &waits).await, ["train.jsonl"]);
    assert!(
        env.keys("hubtune/state/queue/").await.is_empty(),
        "the entry was taken"
    );
    env.stop().await;
}

/// A dataset whose first delivery failed, then got a file, was launched by a redelivery that trained what the
/// first delivery checked.
async fn assert_trained_as_first_checked(env: &Env, name: &str) {
    assert!(
        env.deliveries(FunctionName::LaunchFinetune, &[&marker_key(name)]) >= 2,
        "a redelivery launched {name}"
    );
    let r = job_of(env, name).await;
    assert_eq!(
        frozen_keys(&r),
        [format!("{}train.jsonl", folder_key(name))]
    );
    assert_eq!(trained_files(env, &r).await, ["train.jsonl"], "{name}");
}

// Guards, functions/launch-finetune/src/launch.rs:
// - `retried` (CreateTrainingJob fails, after the record and the manifest): `Launch::plan`'s
//   `existing.and_then(|r| r.frozen.clone())`, the record's frozen contents. Without it the redelivery re-lists the
//   folder and rewrites the manifest with `late.jsonl`: this test fails.
// - `torn` (the manifest write fails): `Launch::write_record`'s order, the record before the manifest. With the
//   manifest written first (a `put_idempotent` of it inserted before the record), the first delivery leaves no
//   record, the redelivery checks the folder again and trains `late.jsonl`: this test fails.
#[tokio::test]
async fn a_file_added_after_a_failed_first_delivery_is_not_trained_by_the_redelivery() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 2")).await;
    // As many 500s as the SDK's standard retry makes attempts, so each first delivery fails.
    env.fault(json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "server", "count": 3, "match": "/retried/" })).await;
    // Only the manifest's body names a `prefix` (the run record names the manifest's key, so the key would not do).
    let torn_manifest = format!(
        "{{\"prefix\":\"s3://{}/{}\"}}",
        env.bucket(),
        folder_key("torn")
    );
    env.fault(json!({ "service": "s3", "operation": "PutObject", "error": "server", "count": 3, "match": torn_manifest })).await;
    env.drop_good("retried").await;
    env.drop_good("torn").await;
    // Both markers wait before the first pump, so both first deliveries fail before any redelivery is due.
    for name in ["retried", "torn"] {
        waiting_uploads(&env, &marker_key(name), 1).await;
    }
    let start = Instant::now();
    while !env.faults_pending().await.is_empty() {
        assert!(
            start.elapsed() < T,
            "the faults never happened: {:?}",
            env.faults_pending().await
        );
        env.pump().await;
        // Polling (the deadline above).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Both first deliveries failed: only `retried` got as far as its manifest, and there is no job yet.
    assert_eq!(env.keys("hubtune/state/manifests/").await.len(), 1);
    assert!(env.jobs().await.is_empty());
    // Before the redeliveries (their messages are invisible for a second, and nothing pumps meanwhile).
    for name in ["retried", "torn"] {
        env.put(&format!("{}late.jsonl", folder_key(name)), GOOD.as_bytes())
            .await;
    }
    env.wait_for("Training Run Started", 2, T).await;
    env.settle(T).await;

    assert_trained_as_first_checked(&env, "retried").await;
    assert_trained_as_first_checked(&env, "torn").await;
    assert_eq!(
        env.calls()
            .await
            .get("sagemaker.CreateTrainingJob")
            .copied(),
        Some(5),
        "three refused for `retried`, then one per dataset"
    );
    env.stop().await;
}

/// Two uploads of `name`'s marker within one second; the older one's job stays `InProgress` for `older_seconds`,
/// the newer one's for `newer_seconds`. Returns the (older, newer) records once both are published.
async fn two_uploads_in_one_second(
    env: &Env,
    name: &str,
    older_seconds: f64,
    newer_seconds: f64,
) -> (RunRecord, RunRecord) {
    let key = marker_key(name);
    at_the_start_of_a_second().await;
    env.put(&key, b"").await;
    env.put(&key, b"").await;
    // Nothing has pumped the launch queue yet: the jobs' names are known before they exist.
    let uploads = waiting_uploads(env, &key, 2).await;
    let (older, newer) = (
        job_for_upload(env, &uploads[0]),
        job_for_upload(env, &uploads[1]),
    );
    completes_after(env, &older, older_seconds).await;
    completes_after(env, &newer, newer_seconds).await;
    let published = env.events("Model Published").len();
    env.wait_for("Model Published", published + 2, T).await;
    env.settle(T).await;
    let (older, newer) = (env.record(&older).await, env.record(&newer).await);
    assert_same_second(&older, &newer);
    (older, newer)
}

/// The job names of the `Model Published` events so far, in the order they were seen.
fn publication_order(env: &Env) -> Vec<String> {
    env.events("Model Published")
        .iter()
        .map(published_job)
        .collect()
}

/// The `Model Published` of `job`.
fn publication_of(env: &Env, job: &str) -> Value {
    env.events("Model Published")
        .into_iter()
        .find(|e| published_job(e) == job)
        .unwrap_or_else(|| panic!("{job} was not published"))
}

// Guard: shared/src/domain/dataset.rs, `DatasetLanded::sort_key`: the sequencer in the key. With an empty string in
// its place both uploads sort equal, `latest.json` stays on whichever job finished first, and round 1 fails.
#[tokio::test]
async fn two_uploads_of_one_marker_in_one_second_leave_latest_on_the_newer_whatever_finishes_first()
{
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 2")).await;
    env.put(
        &format!("{}train.jsonl", folder_key("twice")),
        GOOD.as_bytes(),
    )
    .await;
    // The data file's event is handled (ignored) before the uploads, so the launch queue holds only markers.
    env.settle(T).await;

    // Round 1: the older upload's job finishes first, the newer one's after it.
    let (older, newer) = two_uploads_in_one_second(&env, "twice", 0.3, 2.5).await;
    let order = publication_order(&env);
    assert_eq!(
        order,
        [older.job_name.to_string(), newer.job_name.to_string()]
    );
    assert_eq!(
        latest(&env).await["job_name"],
        newer.job_name.as_str(),
        "round 1"
    );
    assert_eq!(
        publication_of(&env, newer.job_name.as_str())["detail"]["latest_updated"],
        true
    );

    // Round 2, a later second: the newer upload's job finishes first; the older one finishing after it leaves
    // latest.json alone.
    let (older, newer) = two_uploads_in_one_second(&env, "twice", 2.5, 0.3).await;
    let order = publication_order(&env);
    assert_eq!(
        order[2..],
        [newer.job_name.to_string(), older.job_name.to_string()]
    );
    assert_eq!(
        latest(&env).await["job_name"],
        newer.job_name.as_str(),
        "round 2"
    );
    assert_eq!(
        publication_of(&env, older.job_name.as_str())["detail"]["latest_updated"],
        false
    );
    assert_eq!(env.jobs().await.len(), 4);
    env.stop().await;
}

// Guard: the same sequencer in `DatasetLanded::sort_key`. Without it the key breaks the tie and `z-first` (the
// older upload, whose key sorts last) replaces `a-second`: this test fails.
#[tokio::test]
async fn two_folders_whose_markers_land_in_one_second_leave_latest_on_the_newer() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 2")).await;
    for name in ["z-first", "a-second"] {
        env.put(&format!("{}train.jsonl", folder_key(name)), GOOD.as_bytes())
            .await;
    }
    env.settle(T).await;
    // The older dataset trains longer: its job finishes last, and tries to move latest.json back.
    completes_after(&env, "/z-first/", 2.5).await;
    completes_after(&env, "/a-second/", 0.3).await;
    at_the_start_of_a_second().await;
    env.put(&marker_key("z-first"), b"").await;
    let newer_uri = format!("s3://{}/{}", env.bucket(), folder_key("a-second"));
    env.put(&marker_key("a-second"), b"").await;
    env.wait_for("Model Published", 2, T).await;
    env.settle(T).await;

    let (older, newer) = (
        job_of(&env, "z-first").await,
        job_of(&env, "a-second").await,
    );
    assert_same_second(&older, &newer);
    assert_eq!(
        publication_order(&env),
        [newer.job_name.to_string(), older.job_name.to_string()]
    );
    let l = latest(&env).await;
    assert_eq!(
        (l["job_name"].as_str(), l["dataset_uri"].as_str()),
        (Some(newer.job_name.as_str()), Some(newer_uri.as_str()))
    );
    assert_eq!(
        publication_of(&env, older.job_name.as_str())["detail"]["latest_updated"],
        false
    );
    env.stop().await;
}

// Guard: shared/src/domain/dataset.rs, `DatasetIdentity::from_landing`: `.filter(|v| *v != "null")`. Without it
// both uploads are `v:null`, the second is a duplicate (`AlreadyLaunched`), and this test fails.
#[tokio::test]
async fn with_versioning_suspended_uploading_the_marker_again_retrains() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 2")).await;
    let suspended = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Suspended)
        .build();
    env.aws
        .s3
        .put_bucket_versioning()
        .bucket(env.bucket())
        .versioning_configuration(suspended)
        .send()
        .await
        .expect("PutBucketVersioning");
    let uri = env.drop_good("suspended").await;
    env.wait_for("Training Run Started", 1, T).await;
    env.put(&marker_key("suspended"), b"").await;
    env.wait_for("Training Run Started", 2, T).await;
    env.settle(T).await;

    // Both notifications said `version-id: null`, as S3 does on a suspended bucket...
    let null_version = env.deliveries(
        FunctionName::LaunchFinetune,
        &[&marker_key("suspended"), "\"version-id\":\"null\""],
    );
    assert!(
        null_version >= 2,
        "{null_version} marker events with version-id null"
    );
    // ... and each upload is its own dataset, told apart by its sequencer.
    let runs = records(&env).await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    for r in &runs {
        assert_eq!(r.dataset_uri, uri);
        let version = &r.dataset.as_ref().expect("dataset").identity.version;
        assert!(version.starts_with("s:"), "{version}");
    }
    env.stop().await;
}

/// The job named by the one `Training Run Started`, once SageMaker says it has ended `Completed`.
async fn completed_job(env: &Env) -> String {
    let started = env.wait_for("Training Run Started", 1, T).await;
    let job = published_job(&started[0]);
    let start = Instant::now();
    loop {
        let d = env.aws.describe_training_job(&job).await.expect("describe");
        if d.is_some_and(|d| d.status == JobStatus::Completed) {
            return job;
        }
        assert!(start.elapsed() < T, "{job} did not complete");
        // Polling the stand-in's job (the deadline above).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// Guard: functions/publish-artifact/src/lib.rs, `publish_model`: the `return publish_failure(...)` after the grace
// period. With `return Err(Error::NotYet(..))` in its place (the artifact "not there yet" for ever) the message
// comes back until the dead-letter queue and no event ever says so: this test fails.
#[tokio::test]
async fn a_completed_job_whose_artifact_was_deleted_before_publication_ends_fine_tune_failed() {
    let env = Env::start(Setup::default()).await;
    // SageMaker's Completed event is swallowed, so nothing publishes before the artifact is gone.
    let drop = json!({ "match": "/artifact-gone/", "status": "Completed", "count": 1 });
    env.stack
        .control("POST", "/_hubtune/drop-events", &drop)
        .await
        .expect("drop rule accepted");
    env.drop_good("artifact-gone").await;
    let job = completed_job(&env).await;
    let desc = env
        .aws
        .describe_training_job(&job)
        .await
        .expect("describe")
        .expect("the job");
    let artifact: S3Uri = desc
        .model_artifacts
        .expect("ModelArtifacts")
        .parse()
        .expect("a URI");
    assert!(
        env.object(&artifact).await.is_some(),
        "the stand-in wrote the artifact"
    );
    env.aws
        .delete_object(artifact.bucket(), artifact.key())
        .await
        .expect("DeleteObject");

    // The sweep finds the job completed; publish-artifact finds no artifact and, within the grace period, waits.
    let report = training_state::sweep_with(&env.ctx, 0)
        .await
        .expect("sweep");
    assert!(report.reconciled >= 1, "{report:?}");
    let start = Instant::now();
    while env.deliveries(FunctionName::PublishArtifact, &[&job]) == 0 {
        assert!(
            start.elapsed() < T,
            "Training Run Finished never reached publish-artifact"
        );
        env.pump().await;
        // Polling (the deadline above).
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        env.events("Fine-tune Failed").is_empty(),
        "not within the grace period"
    );
    assert!(env.events("Model Published").is_empty());
    assert!(!env.record(&job).await.outbox.published);

    // Past the grace period (the handlers' clock), the message's next delivery ends the run.
    env.advance(Duration::from_secs(
        publish_artifact::ARTIFACT_GRACE_SECONDS as u64 + 1,
    ));
    let failed = env.wait_for("Fine-tune Failed", 1, T).await;
    env.settle(T).await;
    assert_eq!(failed[0]["detail"]["job_name"], job.as_str());
    assert_eq!(
        failed[0]["detail"]["failure_reason"],
        format!("the job completed, but its model artifact {artifact} was deleted before hubtune published it")
    );
    assert_eq!(env.events("Fine-tune Failed").len(), 1);
    assert!(
        env.events("Model Published").is_empty(),
        "never Model Published"
    );
    let key = env.config.deployment.latest_key(ROUTE);
    assert!(env.object(&key).await.is_none(), "no latest.json");
    assert!(env.record(&job).await.outbox.published);
    env.stop().await;
}
