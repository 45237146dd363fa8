//! Inputs real deployments produce that once lost a dataset or left work stuck, each run through the real handlers on the local stack.
//!
//! One test per finding of the adversarial review (issue 12, "lost datasets" and "stuck work"). The fixes have
//! in-process tests on the in-memory ports; these run the same inputs over HTTP: moto and the stand-in, the real
//! SQS redelivery and dead-letter queues, the real sweep.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubtune::domain::config::{self, DeploymentEnv};
use hubtune::domain::run::RunStatus;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_cli::local::{Dispatcher, FunctionName};
use hubtune_e2e::{routes_toml, Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(40);
/// Long enough for five deliveries, each with the SDK's own retries and backoff, to reach the dead-letter queue.
const TO_THE_DLQ: Duration = Duration::from_secs(120);

/// The routes file changed under a running deployment (a redeploy): new handlers' context and dispatcher over the
/// same stack, the same clock.
fn redeploy(env: &mut Env, toml: &str) {
    let config = Arc::new(
        config::parse(toml, &DeploymentEnv::default(), None).expect("the new routes file is valid"),
    );
    let mut ports = env.aws.ports();
    ports.clock = env.clock.clone();
    let ctx = Arc::new(Context::new(
        ports,
        ConfigSource::Inline(config.clone()),
        DeploymentEnv::default(),
    ));
    env.dispatcher = Dispatcher::new(&env.stack.info, ctx.clone());
    env.config = config;
    env.ctx = ctx;
}

/// The dataset folder each existing job trains, one entry per job.
async fn trained(env: &Env) -> Vec<String> {
    let mut out = Vec::new();
    for job in env.jobs().await {
        out.push(env.record(&job).await.dataset_uri);
    }
    out.sort();
    out
}

/// Messages in the launch queue's dead-letter queue.
async fn launch_dead_letters(env: &Env) -> usize {
    let dlq = env.stack.info.queue("LaunchQueue").dlq_url.clone();
    let dlq = dlq.expect("the launch queue has a dead-letter queue");
    env.dispatcher
        .dead_letters(&dlq)
        .await
        .expect("GetQueueAttributes")
}

/// What `hubtune redrive` does: every dead-lettered launch message back onto the launch queue.
async fn redrive_launches(env: &Env) -> usize {
    let dlq = env.stack.info.queue("LaunchQueue").dlq_url.clone().unwrap();
    let sqs = &env.dispatcher.sqs;
    let mut moved = 0;
    loop {
        let r = sqs
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("receive from the dead-letter queue");
        let msgs = r.messages.unwrap_or_default();
        if msgs.is_empty() {
            return moved;
        }
        for m in msgs {
            env.send("LaunchQueue", m.body.as_deref().unwrap_or_default())
                .await;
            sqs.delete_message()
                .queue_url(&dlq)
                .set_receipt_handle(m.receipt_handle)
                .send()
                .await
                .expect("delete from the dead-letter queue");
            moved += 1;
        }
    }
}

/// One S3 notification record as a hand-written publisher sends it: the fields hubtune uses, nothing else (no
/// `userIdentity`, `requestParameters`, `responseElements`, `ownerIdentity`, no `eventTime`).
fn bare_record(bucket: &str, key: &str, sequencer: &str) -> Value {
    json!({ "eventName": "ObjectCreated:Put",
            "s3": { "bucket": { "name": bucket }, "object": { "key": key, "size": 0, "sequencer": sequencer } } })
}

fn marker(name: &str) -> String {
    format!("datasets/support-bot/{name}/_SUCCESS")
}

/// The bucket stops announcing its objects (no EventBridge notification): what the launcher hears of them is only
/// what the test publishes.
async fn silence_bucket(env: &Env) {
    env.aws
        .s3
        .put_bucket_notification_configuration()
        .bucket(env.bucket())
        .notification_configuration(aws_sdk_s3::types::NotificationConfiguration::builder().build())
        .send()
        .await
        .expect("PutBucketNotificationConfiguration");
}

#[tokio::test]
async fn s3_notifications_as_other_publishers_send_them_launch_every_good_record_and_reject_the_odd_one(
) {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 5")).await;
    silence_bucket(&env).await;
    let mut folders = Vec::new();
    for name in ["bare", "prefixed", "replicated"] {
        folders.push(env.drop_good(name).await);
    }
    let b = env.bucket();
    // A bare record, and beside it one with no object key.
    let mut no_key = bare_record(b, &marker("x"), "0000000000000000A2");
    no_key["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    let first =
        json!({ "Records": [bare_record(b, &marker("bare"), "0000000000000000A1"), no_key] });
    // `s3:ObjectCreated:Put` as MinIO spells it; a replication tool's record with a version id and no sequencer; a
    // record whose `object` is not an object at all.
    let mut prefixed = bare_record(b, &marker("prefixed"), "0000000000000000A3");
    prefixed["eventName"] = json!("s3:ObjectCreated:Put");
    prefixed["eventSource"] = json!("minio:s3");
    prefixed["eventTime"] = json!("2026-11-27T09:14:03.000Z");
    let mut replicated = bare_record(b, &marker("replicated"), "");
    replicated["eventName"] = json!("s3:ObjectCreated:Put");
    replicated["s3"]["object"]["versionId"] = json!("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd");
    let unreadable = json!({ "eventSource": "aws:s3", "eventName": "s3:ObjectCreated:Put",
                             "s3": { "bucket": { "name": b }, "object": "not an object" } });
    let second = json!({ "Records": [prefixed, replicated, unreadable] });
    env.send("LaunchQueue", &first.to_string()).await;
    env.send("LaunchQueue", &second.to_string()).await;
    env.settle(T).await;
    // The two notifications were all the launcher heard (the bucket itself was silent)...
    let launcher = |n: &[&str]| env.deliveries(FunctionName::LaunchFinetune, n);
    assert_eq!(launcher(&["Records"]), 2);
    assert_eq!(launcher(&["Object Created"]), 0);
    // ... each good record launched its dataset, once...
    folders.sort();
    assert_eq!(trained(&env).await, folders);
    assert_eq!(env.events("Training Run Started").len(), 3);
    // ... and each odd one ended as a rejection the route's subscribers see: nothing acknowledged silently.
    let rejected = env.events("Dataset Rejected");
    assert_eq!(rejected.len(), 2, "{rejected:#?}");
    for r in &rejected {
        assert_eq!(r["detail"]["reason"], "unusable_notification", "{r}");
    }
    assert_eq!(launch_dead_letters(&env).await, 0);
    env.stop().await;
}

/// Enough bad files that the list of their problems passes EventBridge's 256 KiB entry limit.
const BAD_FILES: usize = 400;

#[tokio::test]
async fn a_rejection_listing_more_problems_than_an_event_holds_is_sent_and_its_whole_list_kept_in_s3(
) {
    let env = Env::start(Setup::default()).await;
    // Long names (still valid S3 keys, under SageMaker's URI limit), in a type the route does not allow.
    let folder = "datasets/support-bot/many-bad/";
    let pad = "x".repeat(700);
    let mut keys = BTreeSet::new();
    for i in 0..BAD_FILES {
        let key = format!("{folder}{pad}-{i:04}.bin");
        env.put(&key, b"\0").await;
        keys.insert(key);
    }
    env.put(&format!("{folder}_SUCCESS"), b"").await;
    let ev = env.wait_for("Dataset Rejected", 1, T).await;
    let d = &ev[0]["detail"];
    assert_eq!(d["reason"], "file_type_not_allowed", "{d}");
    assert_eq!(d["problem_count"], BAD_FILES, "{d}");
    // Sent, so it fitted; the entry as the bus delivered it is under the limit.
    let sent = ev[0]["detail"].to_string().len();
    assert!(
        sent <= hubtune::domain::event_size::MAX_ENTRY_BYTES,
        "{sent}"
    );
    // The event names where its whole detail is, and that holds every problem.
    let uri: hubtune::domain::s3uri::S3Uri = d["detail_uri"]
        .as_str()
        .unwrap_or_else(|| {
            let fields: Vec<_> = d.as_object().into_iter().flat_map(|o| o.keys()).collect();
            let listed = d["problems"].as_array().map_or(0, Vec::len);
            panic!("no detail_uri; the event lists {listed} of {BAD_FILES} problems; its fields: {fields:?}")
        })
        .parse()
        .unwrap();
    let full: Value = serde_json::from_slice(&env.object(&uri).await.expect("the full detail"))
        .expect("the full detail is JSON");
    let listed: BTreeSet<String> = full["problems"]
        .as_array()
        .expect("the full detail lists the problems")
        .iter()
        .filter_map(|p| p["file"].as_str().map(str::to_string))
        .collect();
    assert_eq!(listed, keys);
    assert!(env.jobs().await.is_empty());
    env.stop().await;
}

/// The SQS batch Lambda hands the function for these messages (as the dispatcher builds it).
fn sqs_batch(env: &Env, messages: &[(String, String)]) -> Value {
    let arn = &env.stack.info.queue("LaunchQueue").arn;
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| json!({ "messageId": id, "body": body, "eventSource": "aws:sqs", "eventSourceARN": arn,
                                  "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {} }))
        .collect();
    json!({ "Records": records })
}

/// Receive `n` messages of the launch queue, left in flight for a minute: (message id, receipt handle, body).
async fn receive_launch_messages(env: &Env, n: usize) -> Vec<(String, String, String)> {
    let url = &env.stack.info.queue("LaunchQueue").url;
    let start = Instant::now();
    let mut got = Vec::new();
    while got.len() < n {
        assert!(
            start.elapsed() < T,
            "only {} of {n} messages arrived",
            got.len()
        );
        let r = env
            .dispatcher
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(60)
            .send()
            .await
            .expect("receive");
        for m in r.messages.unwrap_or_default() {
            got.push((
                m.message_id.unwrap_or_default(),
                m.receipt_handle.unwrap_or_default(),
                m.body.unwrap_or_default(),
            ));
        }
        // Polling the queue until S3's events arrive (the deadline above).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

#[tokio::test]
async fn records_a_batch_has_no_time_left_for_come_back_and_launch_at_their_next_delivery() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 5")).await;
    let mut folders = Vec::new();
    for name in ["first", "second", "third"] {
        folders.push(env.drop_good(name).await);
    }
    // The three markers' events (the rule forwards markers only) in one batch, the first dataset's first.
    let mut messages = receive_launch_messages(&env, 3).await;
    messages.sort_by_key(|(_, _, body)| !body.contains(&marker("first")));
    let batch: Vec<(String, String)> = messages
        .iter()
        .map(|(id, _, body)| (id.clone(), body.clone()))
        .collect();
    // The invocation's deadline: time enough for the first record, then 1 s left (less than a record needs).
    let mut asked = 0;
    let remaining = move || {
        asked += 1;
        Some(Duration::from_secs(if asked == 1 { 60 } else { 1 }))
    };
    let out = launch_finetune::handle_until(&env.ctx, sqs_batch(&env, &batch), remaining)
        .await
        .expect("a batch response");
    let failed: BTreeSet<String> = out["batchItemFailures"]
        .as_array()
        .expect("the records not started")
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_string())
        .collect();
    let not_started: BTreeSet<String> = batch[1..].iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(failed, not_started);
    // Only the first dataset was touched: the others have no job, no run record, no slot.
    assert_eq!(trained(&env).await, &folders[..1]);
    assert_eq!(env.keys("hubtune/state/runs/").await.len(), 1);
    // As the event source mapping does: the record that succeeded is deleted, the others are visible again now.
    let sqs = &env.dispatcher.sqs;
    let url = &env.stack.info.queue("LaunchQueue").url;
    for (id, handle, _) in &messages {
        if failed.contains(id) {
            let r = sqs.change_message_visibility().queue_url(url);
            r.receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
        } else {
            let r = sqs.delete_message().queue_url(url);
            r.receipt_handle(handle).send().await.unwrap();
        }
    }
    env.settle(T).await;
    folders.sort();
    assert_eq!(trained(&env).await, folders, "one job per dataset");
    env.stop().await;
}

#[tokio::test]
async fn a_marker_directly_in_the_route_prefix_is_rejected_as_marker_outside_folder() {
    let env = Env::start(Setup::default()).await;
    // Data under the route with no folder of its own: what a prefix-wide "dataset" would sweep up and train.
    env.put("datasets/support-bot/loose/train.jsonl", b"{\"a\": 1}\n")
        .await;
    let key = "datasets/support-bot/_SUCCESS";
    env.put(key, b"").await;
    let ev = env.wait_for("Dataset Rejected", 1, T).await;
    env.settle(T).await;
    let d = &ev[0]["detail"];
    assert_eq!(d["reason"], "marker_outside_folder", "{d}");
    assert_eq!(d["file"], format!("s3://{}/{key}", env.bucket()));
    assert!(env.jobs().await.is_empty());
    assert_eq!(launch_dead_letters(&env).await, 0);
    env.stop().await;
}

#[tokio::test]
async fn a_data_file_in_an_archive_storage_class_is_rejected_as_archived_object_not_lost() {
    let env = Env::start(Setup::default()).await;
    let file = "datasets/support-bot/archived/train.jsonl";
    env.aws
        .s3
        .put_object()
        .bucket(env.bucket())
        .key(file)
        .body(b"{\"a\": 1}\n".to_vec().into())
        .storage_class(aws_sdk_s3::types::StorageClass::Glacier)
        .send()
        .await
        .expect("PutObject to GLACIER");
    env.put("datasets/support-bot/archived/_SUCCESS", b"").await;
    let ev = env.wait_for("Dataset Rejected", 1, T).await;
    env.settle(T).await;
    let d = &ev[0]["detail"];
    assert_eq!(d["reason"], "archived_object", "{d}");
    assert_eq!(d["file"], file);
    assert!(env.jobs().await.is_empty());
    // Ended by the rejection, not retried into the dead-letter queue.
    assert_eq!(launch_dead_letters(&env).await, 0);
    env.stop().await;
}

#[tokio::test]
async fn datasets_waiting_on_a_route_removed_from_the_routes_file_end_rejected_not_stranded() {
    let mut env = Env::start(Setup {
        // The running job outlasts the test: only the sweep can free the waiting dataset.
        in_progress_seconds: 60.0,
        ..Setup::route_with("max_concurrent_jobs = 1")
    })
    .await;
    env.drop_good("running").await;
    env.wait_for("Training Run Started", 1, T).await;
    let stranded = env.drop_good("stranded").await;
    env.wait_for("Dataset Queued", 1, T).await;
    // The route is renamed in the routes file and the stack redeployed, while a dataset waits in its queue.
    let renamed = routes_toml(
        env.bucket(),
        "accept_eula = true\nmax_concurrent_jobs = 1\n",
    )
    .replace("[routes.support-bot]", "[routes.renamed]");
    redeploy(&mut env, &renamed);
    let report = training_state::sweep_with(&env.ctx, 0).await.unwrap();
    assert_eq!(report.slots_freed_announced, 1, "{report:?}");
    let ev = env.wait_for("Dataset Rejected", 1, T).await;
    env.settle(T).await;
    let d = &ev[0]["detail"];
    assert_eq!(d["reason"], "unknown_route", "{d}");
    assert_eq!(d["dataset_uri"], stranded);
    assert!(env.keys("hubtune/state/queue/").await.is_empty());
    assert_eq!(env.jobs().await.len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_launch_failing_with_5xx_into_the_dead_letter_queue_is_relaunched_once_by_the_sweep_and_frees_its_route(
) {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 1")).await;
    env.fault(json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "server", "count": 1000 }))
        .await;
    let stuck = env.drop_good("stuck").await;
    env.settle(TO_THE_DLQ).await;
    assert_eq!(
        launch_dead_letters(&env).await,
        1,
        "the marker's message dead-lettered"
    );
    let runs = env.keys("hubtune/state/runs/").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(env.jobs().await.is_empty());
    // SageMaker recovers; long enough later, the sweep finds the launch that never finished.
    env.stack
        .control("DELETE", "/_hubtune/faults", &json!({}))
        .await
        .expect("faults cleared");
    env.advance(Duration::from_secs(
        training_state::STUCK_LAUNCH_SECONDS as u64 + 1,
    ));
    let report = training_state::sweep_with(&env.ctx, 0).await.unwrap();
    assert_eq!(report.requeued, 1, "{report:?}");
    env.wait_for("Training Run Started", 1, T).await;
    // An operator who also replays the dead-letter queue adds no second job.
    assert_eq!(redrive_launches(&env).await, 1);
    env.settle(T).await;
    assert_eq!(trained(&env).await, std::slice::from_ref(&stuck));
    // The one slot was given back: the next dataset launches after the relaunched one.
    let next = env.drop_good("next").await;
    env.wait_for("Training Run Started", 2, T).await;
    let mut want = vec![stuck, next];
    want.sort();
    assert_eq!(trained(&env).await, want);
    assert_eq!(env.events("Training Run Started").len(), 2);
    env.stop().await;
}

#[tokio::test]
async fn an_unreadable_run_record_does_not_stop_the_sweep_from_publishing_a_run_whose_completed_event_was_lost(
) {
    let env = Env::start(Setup::default()).await;
    env.stack
        .control(
            "POST",
            "/_hubtune/drop-events",
            &json!({ "match": "/lost-end/", "status": "Completed", "count": 1 }),
        )
        .await
        .unwrap();
    env.drop_good("lost-end").await;
    let started = env.wait_for("Training Run Started", 1, T).await;
    let job = started[0]["detail"]["job_name"].as_str().unwrap();
    let begun = Instant::now();
    while env
        .aws
        .describe_training_job(job)
        .await
        .unwrap()
        .unwrap()
        .status
        != hubtune::domain::job::JobStatus::Completed
    {
        assert!(begun.elapsed() < T, "{job} did not complete");
        // Polling the stand-in's job (the deadline above).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.settle(T).await;
    assert!(env.events("Model Published").is_empty());
    // An object under the run records that is not one, listed before the real record.
    env.put("hubtune/state/runs/0-unreadable.json", b"not json")
        .await;
    let swept = training_state::sweep_with(&env.ctx, 0).await;
    // The sweep's message comes back for the broken object (someone must look at it)...
    let err = swept.expect_err("the unreadable object is reported");
    assert!(err.to_string().contains("0-unreadable.json"), "{err}");
    // ... and the lost ending was repaired all the same.
    let ev = env.wait_for("Model Published", 1, T).await;
    assert_eq!(ev[0]["detail"]["job_name"], job);
    assert_eq!(env.record(job).await.status, RunStatus::Completed);
    env.stop().await;
}

#[tokio::test]
async fn an_unreadable_queue_entry_does_not_block_the_datasets_queued_behind_it() {
    let env = Env::start(Setup {
        in_progress_seconds: 3.0,
        ..Setup::route_with("max_concurrent_jobs = 1")
    })
    .await;
    // An entry that sorts before any real one and is not an entry at all.
    let broken = env
        .config
        .deployment
        .queue_prefix("support-bot")
        .join("00000000T000000Z-unreadable.json");
    env.put(broken.key(), b"{not json").await;
    env.drop_good("running").await;
    env.wait_for("Training Run Started", 1, T).await;
    let behind = env.drop_good("behind").await;
    env.wait_for("Dataset Queued", 1, T).await;
    // The first job ends; its freed slot goes to the dataset behind the broken entry.
    let started = env.wait_for("Training Run Started", 2, T).await;
    assert!(
        started.iter().any(|e| e["detail"]["dataset_uri"] == behind),
        "{started:#?}"
    );
    env.settle(TO_THE_DLQ).await;
    assert_eq!(env.jobs().await.len(), 2);
    // The broken entry is left for a person, and a message that could not take it is in the dead-letter queue
    // (each freed slot's drain meets it: one per job that ended so far).
    assert_eq!(
        env.keys("hubtune/state/queue/").await,
        [broken.key().to_string()]
    );
    assert!(launch_dead_letters(&env).await >= 1);
    env.stop().await;
}

#[tokio::test]
async fn with_its_state_in_another_bucket_a_one_slot_route_launches_its_second_dataset_after_the_first(
) {
    let mut env = Env::start(Setup {
        in_progress_seconds: 3.0,
        ..Setup::route_with("max_concurrent_jobs = 1")
    })
    .await;
    let state_bucket = "hubtune-state-elsewhere";
    env.aws
        .s3
        .create_bucket()
        .bucket(state_bucket)
        .send()
        .await
        .expect("CreateBucket");
    let toml = routes_toml(
        env.bucket(),
        "accept_eula = true\nmax_concurrent_jobs = 1\n",
    )
    .replace(
        "[deployment]\n",
        &format!("[deployment]\nstate_prefix = \"s3://{state_bucket}/hubtune/state/\"\n"),
    );
    redeploy(&mut env, &toml);
    let first = env.drop_good("first").await;
    let second = env.drop_good("second").await;
    env.wait_for("Model Published", 2, Duration::from_secs(60))
        .await;
    assert_eq!(
        env.events("Dataset Queued").len(),
        1,
        "the second waited for the slot"
    );
    assert_eq!(trained(&env).await, [first, second]);
    // The state lives where the routes file says, none of it in the datasets bucket.
    let runs = env
        .aws
        .list_objects(state_bucket, "hubtune/state/runs/", 100)
        .await
        .unwrap();
    assert_eq!(runs.objects.len(), 2, "{:?}", runs.objects);
    assert!(env.keys("hubtune/state/").await.is_empty());
    env.stop().await;
}
