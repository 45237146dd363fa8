//! The launch path against the local stack: a dataset landing in S3 starts exactly one hub-reference fine-tune.

use std::time::Duration;

use hubtune::domain::s3uri::S3Uri;
use hubtune_cli::local::FunctionName;
use hubtune_e2e::{Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(30);

async fn only_job(env: &Env) -> String {
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1, "expected exactly one job, got {jobs:?}");
    jobs[0].clone()
}

#[tokio::test]
async fn a_marker_drop_launches_exactly_the_planned_job() {
    let env = Env::start(Setup::default()).await;
    let uri = env.drop_good("2026-11-27").await;
    env.wait_for("Training Run Started", 1, T).await;
    let job = only_job(&env).await;
    assert!(job.starts_with("hubtune-support-bot-"), "{job}");

    // What SageMaker got is what `plan` says, read back with DescribeTrainingJob.
    let d = env
        .aws
        .sagemaker
        .describe_training_job()
        .training_job_name(&job)
        .send()
        .await
        .unwrap();
    let record = env.record(&job).await;
    assert_eq!(record.dataset_uri, uri);
    let route = env.config.route("support-bot").unwrap();
    let hub = env
        .ctx
        .hubs
        .resolve(&env.aws, &route.hub, &route.model_id, None)
        .await
        .unwrap()
        .unwrap();
    let manifest: S3Uri = record.manifest_uri.clone().unwrap().parse().unwrap();
    let planned = launch_finetune_plan(&env, &record, &hub, &manifest);
    let spec = d.algorithm_specification.unwrap();
    assert_eq!(
        spec.training_image.as_deref(),
        Some(
            planned["AlgorithmSpecification"]["TrainingImage"]
                .as_str()
                .unwrap()
        )
    );
    assert_eq!(d.role_arn.as_deref(), planned["RoleArn"].as_str());
    let hp = d.hyper_parameters.unwrap();
    let planned_hp: std::collections::HashMap<String, String> =
        serde_json::from_value(planned["HyperParameters"].clone()).unwrap();
    assert_eq!(hp, planned_hp);
    let channels = d.input_data_config.unwrap();
    let names: Vec<_> = channels
        .iter()
        .map(|c| c.channel_name.clone().unwrap())
        .collect();
    assert_eq!(names, ["training", "model", "code"]);
    let training = channels[0]
        .data_source
        .as_ref()
        .unwrap()
        .s3_data_source
        .as_ref()
        .unwrap();
    assert_eq!(
        training.s3_data_type.as_ref().unwrap().as_str(),
        "ManifestFile"
    );
    assert_eq!(
        training.s3_uri.as_deref(),
        Some(manifest.to_string().as_str())
    );
    let model = channels[1]
        .data_source
        .as_ref()
        .unwrap()
        .s3_data_source
        .as_ref()
        .unwrap();
    assert_eq!(
        model.hub_access_config.as_ref().unwrap().hub_content_arn(),
        Some(hub.hub_content_arn.as_str())
    );
    assert_eq!(
        model.model_access_config.as_ref().unwrap().accept_eula(),
        Some(true)
    );
    assert_eq!(d.enable_network_isolation, Some(true));
    let rc = d.resource_config.unwrap();
    assert_eq!(rc.instance_type.unwrap().as_str(), "ml.g5.2xlarge");
    assert_eq!(rc.volume_size_in_gb, Some(30));
    // The manifest lists exactly the checked file.
    let m: Value = serde_json::from_slice(&env.object(&manifest).await.unwrap()).unwrap();
    assert_eq!(m, json!([{ "prefix": uri }, "train.jsonl"]));
    assert!(record.outbox.started_emitted);
    env.stop().await;
}

fn launch_finetune_plan(
    env: &Env,
    record: &hubtune::domain::run::RunRecord,
    hub: &hubtune::domain::hub::HubContent,
    manifest: &S3Uri,
) -> Value {
    let route = env.config.route(&record.route).unwrap();
    let d = record.dataset.as_ref().unwrap();
    let req = hubtune::domain::plan::plan(&hubtune::domain::plan::PlanInput {
        job_name: &record.job_name,
        region: &env.config.deployment.region,
        hub,
        settings: &route.training,
        training_channel: hubtune::domain::plan::TrainingChannel::Manifest(manifest.clone()),
        more_channels: vec![],
        route: &route.name,
        dataset_tag: hubtune::domain::naming::dataset_tag_value(
            &d.location.to_string(),
            &d.identity.hash(&env.config.deployment.name),
        ),
        deployment: &env.config.deployment.name,
    })
    .unwrap();
    serde_json::to_value(req).unwrap()
}

#[tokio::test]
async fn the_same_event_five_times_is_one_job() {
    let env = Env::start(Setup::default()).await;
    env.drop_good("five").await;
    // Take the Object Created event off the queue and deliver it four more times.
    let mut bodies = Vec::new();
    for _ in 0..20 {
        bodies = env.peek("LaunchQueue").await;
        if !bodies.is_empty() {
            break;
        }
        // Polling the queue until the event arrives (at most 2 s).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let marker = bodies
        .iter()
        .find(|b| b.contains("_SUCCESS"))
        .expect("the marker's event reached the launch queue")
        .clone();
    for _ in 0..4 {
        env.send("LaunchQueue", &marker).await;
    }
    env.settle(T).await;
    // The five deliveries really reached the launcher...
    let delivered = env.deliveries(
        FunctionName::LaunchFinetune,
        &["datasets/support-bot/five/_SUCCESS"],
    );
    assert!(
        delivered >= 5,
        "the launcher got {delivered} of the 5 deliveries"
    );
    // ... and made one job.
    only_job(&env).await;
    assert_eq!(
        env.events("Training Run Started").len(),
        1,
        "one Training Run Started"
    );
    assert_eq!(
        env.calls()
            .await
            .get("sagemaker.CreateTrainingJob")
            .copied(),
        Some(1),
        "duplicates never reach CreateTrainingJob"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_new_marker_on_the_same_folder_is_a_second_job_and_late_files_are_not_trained() {
    let env = Env::start(Setup::default()).await;
    let uri = env
        .drop_dataset(
            "again",
            &[
                ("a.jsonl", "{\"x\":1}\n"),
                ("b.jsonl", "{\"x\":2}\n"),
                ("c.csv", "a,b\n1,2\n"),
            ],
        )
        .await;
    env.wait_for("Training Run Started", 1, T).await;
    // A file added after the marker is not in the frozen manifest of the first job.
    env.put(
        "datasets/support-bot/again/late.jsonl",
        b"{\"late\":true}\n",
    )
    .await;
    let first = only_job(&env).await;
    let r = env.record(&first).await;
    let keys: Vec<_> = r.frozen.unwrap().files.into_iter().map(|f| f.key).collect();
    assert_eq!(
        keys,
        [
            "datasets/support-bot/again/a.jsonl",
            "datasets/support-bot/again/b.jsonl",
            "datasets/support-bot/again/c.csv"
        ]
    );
    // What SageMaker trains on is the manifest, and the late file is not in it.
    let manifest: S3Uri = r.manifest_uri.unwrap().parse().unwrap();
    let m: Value = serde_json::from_slice(&env.object(&manifest).await.unwrap()).unwrap();
    assert_eq!(m, json!([{ "prefix": uri }, "a.jsonl", "b.jsonl", "c.csv"]));
    // The same folder uploaded again with a new marker: a second job, for the same folder, which does train the
    // file that came after the first marker.
    env.put("datasets/support-bot/again/_SUCCESS", b"").await;
    env.wait_for("Training Run Started", 2, T).await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let second = jobs.into_iter().find(|j| *j != first).unwrap();
    let r = env.record(&second).await;
    assert_eq!(r.dataset_uri, uri);
    let keys: Vec<_> = r.frozen.unwrap().files.into_iter().map(|f| f.key).collect();
    assert!(
        keys.contains(&"datasets/support-bot/again/late.jsonl".to_string()),
        "{keys:?}"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_file_without_a_marker_launches_nothing() {
    let env = Env::start(Setup::default()).await;
    env.put("datasets/support-bot/nomarker/train.jsonl", b"{\"x\":1}\n")
        .await;
    // A complete dataset after it, through the same pipeline: its launch proves the events flowed, so "no job for
    // the first folder" is an observation, not the absence of one.
    let complete = env.drop_good("complete").await;
    env.wait_for("Training Run Started", 1, T).await;
    // Whatever the pipeline still holds is handled before we look.
    env.settle(T).await;
    let job = only_job(&env).await;
    let record = env.record(&job).await;
    assert_eq!(record.dataset_uri, complete);
    // The job trains the second folder and names it: its manifest and its dataset tag.
    let manifest: S3Uri = record.manifest_uri.clone().unwrap().parse().unwrap();
    let m: Value = serde_json::from_slice(&env.object(&manifest).await.unwrap()).unwrap();
    assert_eq!(m, json!([{ "prefix": complete }, "train.jsonl"]));
    let tags = env
        .aws
        .list_training_job_tags(record.job_arn.as_deref().unwrap())
        .await
        .unwrap();
    assert!(
        tags["hubtune:dataset"].ends_with("/datasets/support-bot/complete/"),
        "{tags:?}"
    );
    // The data file alone is not a dataset: not launched, not rejected either.
    assert!(
        env.events("Dataset Rejected").is_empty(),
        "{:#?}",
        env.events("Dataset Rejected")
    );
    assert_eq!(env.events("Training Run Started").len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn a_gated_model_without_the_eula_is_rejected_before_any_sagemaker_call() {
    let env = Env::start(Setup {
        route_extra: String::new(),
        ..Setup::default()
    })
    .await;
    let uri = env.drop_good("no-eula").await;
    let ev = env.wait_for("Dataset Rejected", 1, T).await;
    let d = &ev[0]["detail"];
    assert_eq!(d["reason"], "eula_not_accepted");
    assert_eq!(d["dataset_uri"], uri);
    assert!(
        d["message"].as_str().unwrap().contains("accept_eula"),
        "{d}"
    );
    assert!(
        d["message"].as_str().unwrap().contains("llamaEula.txt"),
        "{d}"
    );
    // The only SageMaker call is the read of the hub document that says the model is gated: nothing is created.
    // (Counted before this test's own ListTrainingJobs below.)
    let calls = env.calls().await;
    let sagemaker: Vec<_> = calls
        .keys()
        .filter(|k| k.starts_with("sagemaker."))
        .collect();
    assert_eq!(sagemaker, ["sagemaker.DescribeHubContent"], "{calls:?}");
    assert!(env.jobs().await.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn two_throttles_then_success_is_one_job() {
    let env = Env::start(Setup::default()).await;
    env.fault(json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "throttling", "count": 2 })).await;
    env.drop_good("throttled").await;
    env.wait_for("Training Run Started", 1, T).await;
    only_job(&env).await;
    assert_eq!(
        env.calls()
            .await
            .get("sagemaker.CreateTrainingJob")
            .copied(),
        Some(3),
        "two throttled attempts and one success"
    );
    env.stop().await;
}

#[tokio::test]
async fn a_crash_between_create_and_the_record_update_is_repaired_by_the_redelivery() {
    let env = Env::start(Setup::default()).await;
    hubtune::runtime::faults::arm("launch.after_create", "/crash-after-create/", 1);
    env.drop_good("crash-after-create").await;
    env.wait_for("Training Run Started", 1, T).await;
    env.settle(T).await;
    assert_eq!(
        hubtune::runtime::faults::remaining("launch.after_create", "/crash-after-create/"),
        0,
        "the crash really happened"
    );
    let job = only_job(&env).await;
    let r = env.record(&job).await;
    assert!(
        !r.status.is_pre_launch(),
        "the record was finished: {:?}",
        r.status
    );
    assert!(r.job_arn.is_some());
    assert_eq!(env.events("Training Run Started").len(), 1);
    env.stop().await;
}

#[tokio::test]
async fn resource_limit_exceeded_queues_the_dataset() {
    let env = Env::start(Setup::default()).await;
    env.fault(json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "resource-limit", "count": 1 })).await;
    let uri = env.drop_good("quota").await;
    let ev = env.wait_for("Dataset Queued", 1, T).await;
    assert_eq!(ev[0]["detail"]["dataset_uri"], uri);
    assert_eq!(ev[0]["detail"]["reason"], "capacity");
    assert!(
        ev[0]["detail"]["message"]
            .as_str()
            .unwrap()
            .contains("ResourceLimitExceeded"),
        "{}",
        ev[0]["detail"]
    );
    let entries = env.keys("hubtune/state/queue/support-bot/").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(env.jobs().await.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn empty_and_malformed_datasets_are_rejected_with_file_and_line() {
    let env = Env::start(Setup::default()).await;
    env.drop_dataset("empty", &[]).await;
    env.drop_dataset(
        "broken",
        &[("train.jsonl", "{\"ok\": 1}\n{\"ok\": 2}\n{not json\n")],
    )
    .await;
    let ev = env.wait_for("Dataset Rejected", 2, T).await;
    let by_reason = |r: &str| {
        ev.iter()
            .find(|e| e["detail"]["reason"] == r)
            .unwrap_or_else(|| panic!("no {r} rejection in {ev:#?}"))
            .clone()
    };
    let empty = by_reason("empty_dataset");
    assert!(empty["detail"]["dataset_uri"]
        .as_str()
        .unwrap()
        .ends_with("/empty/"));
    let broken = by_reason("malformed_jsonl");
    assert_eq!(
        broken["detail"]["file"],
        "datasets/support-bot/broken/train.jsonl"
    );
    assert_eq!(broken["detail"]["line"], 3);
    assert!(env.jobs().await.is_empty());
    env.stop().await;
}

#[tokio::test]
async fn the_fixture_key_with_hash_and_space_gets_valid_tags() {
    let env = Env::start(Setup::default()).await;
    env.drop_dataset("2026-11-27 release#1", &[("train.jsonl", "{\"a\": 1}\n")])
        .await;
    env.wait_for("Training Run Started", 1, T).await;
    let job = only_job(&env).await;
    let arn = env.record(&job).await.job_arn.unwrap();
    let tags = env.aws.list_training_job_tags(&arn).await.unwrap();
    for (k, v) in &tags {
        assert!(
            v.len() <= 256
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)),
            "tag {k}={v:?} breaks SageMaker's tag rules"
        );
    }
    assert!(
        tags["hubtune:dataset"].contains("2026-11-27 release_1"),
        "{tags:?}"
    );
    assert_eq!(tags["hubtune:route"], "support-bot");
    assert_eq!(
        tags["sagemaker-sdk:jumpstart-model-id"],
        "meta-textgeneration-llama-3-2-1b"
    );
    env.stop().await;
}

#[tokio::test]
async fn the_shipped_eventbridge_fixture_is_launched_through_the_handler() {
    // The real-shaped fixture, pointed at this stack's bucket, delivered directly (not through SQS).
    let env = Env::start(Setup::default()).await;
    env.put(
        "datasets/support-bot/2026-11-27 release#1/train.jsonl",
        b"{\"a\": 1}\n",
    )
    .await;
    let mut ev: Value = serde_json::from_str(
        &std::fs::read_to_string(hubtune_e2e::fixture(
            "events/eventbridge-s3.object-created.json",
        ))
        .unwrap(),
    )
    .unwrap();
    ev["detail"]["bucket"]["name"] = json!(env.bucket());
    let out = launch_finetune::handle(&env.ctx, ev).await.unwrap();
    assert_eq!(out, Value::Null);
    let job = only_job(&env).await;
    assert_eq!(
        env.record(&job).await.dataset.unwrap().identity.version,
        "v:3HL4kqtJlcpXroDTDmjVBH40Nrjfkd"
    );
    // An unknown payload is answered without a crash, as the invocation's error: Lambda retries it and then sends
    // it to the failure destination, where a person sees it.
    let e = launch_finetune::handle(&env.ctx, json!({"what": "is this"}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not understand"), "{e}");
    env.stop().await;
}

#[tokio::test]
async fn a_launch_makes_the_calls_its_guarantees_need_and_no_more() {
    let env = Env::start(Setup::route_with("max_concurrent_jobs = 5")).await;
    env.put("datasets/support-bot/counted/train.jsonl", b"{\"a\":1}\n")
        .await;
    let ev = |seq: &str| {
        json!({ "version": "0", "detail-type": "Object Created", "source": "aws.s3", "time": "2026-11-27T09:14:03Z",
        "detail": { "bucket": { "name": "hubtune-local" }, "object": { "key": "datasets/support-bot/counted/_SUCCESS", "size": 0, "sequencer": seq } } })
    };
    // The first launch in this container also fetches the hub document (cached afterwards).
    launch_finetune::handle(&env.ctx, ev("01")).await.unwrap();
    let ctx = &env.ctx;
    let launch = |seq| async move {
        launch_finetune::handle(ctx, ev(seq)).await.unwrap();
    };
    let calls = env.calls_of(launch("02")).await;
    let want: std::collections::BTreeMap<String, u64> = [
        // The run record (does a launch exist?), the JSONL head, the slot object.
        ("s3.GetObject", 3),
        // The folder for the checks, and again just before CreateTrainingJob: a file overwritten since the checks
        // is refused (`changed_after_checks`), not trained unchecked.
        ("s3.ListObjectsV2", 2),
        // Slot, the open-run marker (before the record: the sweep reads open runs only), frozen manifest, record
        // `Launching`, record `Launched` with its outbox flag.
        ("s3.PutObject", 5),
        ("sagemaker.CreateTrainingJob", 1),
        ("events.PutEvents", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(calls, want);
    // A duplicate of the same event: one read of the record, and nothing else.
    let calls = env.calls_of(launch("02")).await;
    assert_eq!(calls.get("s3.GetObject"), Some(&1), "{calls:?}");
    assert_eq!(calls.values().sum::<u64>(), 1, "{calls:?}");
    env.stop().await;
}

// ---- Lineage: what is checked is what is trained, and the record says which version ----

/// On a versioned bucket the record keeps, for each file it froze, the size and ETag S3 listed and the version the
/// ranged GET of a `.jsonl` file's head read (`x-amz-version-id`, only on the wire); a file the checks only listed
/// (ListObjectsV2 names no version) has none.
#[tokio::test]
async fn on_a_versioned_bucket_the_record_keeps_each_checked_files_size_etag_and_version() {
    let env = Env::start(Setup::default()).await;
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    env.aws
        .s3
        .put_bucket_versioning()
        .bucket(env.bucket())
        .versioning_configuration(enabled)
        .send()
        .await
        .expect("PutBucketVersioning");
    let good = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n";
    env.drop_dataset(
        "versioned",
        &[("notes.csv", "a,b\n1,2\n"), ("train.jsonl", good)],
    )
    .await;
    env.wait_for("Training Run Started", 1, T).await;
    let job = only_job(&env).await;
    let frozen = env.record(&job).await.frozen.expect("the frozen contents");
    let mut versions = Vec::new();
    for f in &frozen.files {
        let head = env
            .aws
            .s3
            .head_object()
            .bucket(env.bucket())
            .key(&f.key)
            .send()
            .await
            .expect("HeadObject");
        assert_eq!(f.etag, head.e_tag().unwrap_or_default().trim_matches('"'));
        assert_eq!(Some(f.size as i64), head.content_length());
        versions.push((
            f.key.rsplit('/').next().unwrap_or_default().to_string(),
            f.version_id.clone(),
            head.version_id().map(str::to_string),
        ));
    }
    let (csv, jsonl) = (&versions[0], &versions[1]);
    assert_eq!(
        (csv.0.as_str(), &csv.1),
        ("notes.csv", &None),
        "{versions:?}"
    );
    assert_eq!(jsonl.0, "train.jsonl");
    assert!(jsonl.1.is_some(), "{versions:?}");
    assert_eq!(jsonl.1, jsonl.2, "the version read is the current one");
    env.stop().await;
}

/// A file overwritten after the checks, before the job is created (here: the first delivery crashed just before
/// CreateTrainingJob, with the record and manifest written), is refused at the redelivery, not trained unchecked.
#[tokio::test]
async fn a_file_overwritten_between_the_checks_and_the_launch_is_refused_not_trained() {
    let env = Env::start(Setup::default()).await;
    hubtune::runtime::faults::arm("launch.before_create", "/overwritten/", 1);
    env.drop_good("overwritten").await;
    let start = std::time::Instant::now();
    // Pump until the first delivery checked the dataset and crashed (the dispatcher moves only when pumped).
    while hubtune::runtime::faults::remaining("launch.before_create", "/overwritten/") > 0 {
        assert!(
            start.elapsed() < T,
            "the first delivery never reached CreateTrainingJob"
        );
        if env.pump().await.is_empty() {
            // Polling the queues (a deadline above), not waiting for time to pass.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    env.put(
        "datasets/support-bot/overwritten/train.jsonl",
        b"{\"unchecked\": true}\n",
    )
    .await;
    env.settle(T).await;
    assert!(env.jobs().await.is_empty(), "{:?}", env.jobs().await);
    let rejected = env.events("Dataset Rejected");
    assert_eq!(rejected.len(), 1, "{rejected:#?}");
    assert_eq!(rejected[0]["detail"]["reason"], "changed_after_checks");
    assert_eq!(
        rejected[0]["detail"]["file"],
        "datasets/support-bot/overwritten/train.jsonl"
    );
    env.stop().await;
}
