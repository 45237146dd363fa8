//! Channels on the local stack: a dataset folder with `train/` and `validation/` subfolders is one job that reads
//! two data channels, each its own frozen manifest, and the events list both.

use std::time::Duration;

use hubtune::domain::s3uri::S3Uri;
use hubtune_e2e::{Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(30);
const LINE: &str = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n";

async fn read(env: &Env, m: &S3Uri) -> Value {
    serde_json::from_slice(&env.object(m).await.expect("the manifest")).unwrap()
}

#[tokio::test]
async fn a_train_and_validation_folder_is_one_job_with_two_manifest_channels_listed_in_the_events()
{
    let env = Env::start(Setup::default()).await;
    let uri = env
        .drop_dataset(
            "two-channels",
            &[
                ("train/a.jsonl", LINE),
                ("train/b.jsonl", LINE),
                ("validation/v.jsonl", LINE),
            ],
        )
        .await;
    let started = env.wait_for("Training Run Started", 1, T).await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let job = &jobs[0];

    // What the stand-in SageMaker received, read back with DescribeTrainingJob.
    let d = env
        .aws
        .sagemaker
        .describe_training_job()
        .training_job_name(job)
        .send()
        .await
        .unwrap();
    let channels = d.input_data_config.unwrap();
    let names: Vec<_> = channels
        .iter()
        .map(|c| c.channel_name.clone().unwrap())
        .collect();
    assert_eq!(names, ["training", "validation", "model", "code"]);
    let source = |i: usize| {
        let s = channels[i]
            .data_source
            .as_ref()
            .unwrap()
            .s3_data_source
            .as_ref()
            .unwrap();
        (
            s.s3_data_type.as_ref().unwrap().as_str().to_string(),
            s.s3_uri.clone().unwrap(),
        )
    };
    let dep = &env.config.deployment;
    let (train_manifest, val_manifest) = (
        dep.manifest_key(job),
        dep.channel_manifest_key(job, "validation"),
    );
    assert_eq!(
        source(0),
        ("ManifestFile".into(), train_manifest.to_string())
    );
    assert_eq!(source(1), ("ManifestFile".into(), val_manifest.to_string()));

    // Each manifest lists its channel's files, and only them.
    assert_eq!(
        read(&env, &train_manifest).await,
        json!([{ "prefix": format!("{uri}train/") }, "a.jsonl", "b.jsonl"])
    );
    assert_eq!(
        read(&env, &val_manifest).await,
        json!([{ "prefix": format!("{uri}validation/") }, "v.jsonl"])
    );

    // The run record and both events list the two channels with their manifests.
    let want = json!([
        { "name": "training", "manifest_uri": train_manifest.to_string(), "file_count": 2,
          "total_bytes": 2 * LINE.len() },
        { "name": "validation", "manifest_uri": val_manifest.to_string(), "file_count": 1,
          "total_bytes": LINE.len() },
    ]);
    let record = env.record(job).await;
    assert_eq!(serde_json::to_value(&record.channels).unwrap(), want);
    assert_eq!(started[0]["detail"]["schema"], 1);
    assert_eq!(started[0]["detail"]["channels"], want);
    let published = env.wait_for("Model Published", 1, T).await;
    assert_eq!(published[0]["detail"]["schema"], 2);
    assert_eq!(published[0]["detail"]["channels"], want);
    env.stop().await;
}
