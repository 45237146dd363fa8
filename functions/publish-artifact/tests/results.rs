//! Issue 14 item 2: `Model Published` and `Fine-tune Failed` carry the run's results (final metrics in the hub
//! document's order, training and billable seconds, the instance, spot savings, the failure reason and stage, the
//! estimated cost at the route's `hourly_price_usd`) and a notification a person reads: a subject and one line of
//! results.

mod support;

use chrono::Duration;
use hubtune::domain::events::{FINETUNE_FAILED, MODEL_PUBLISHED};
use hubtune::domain::job::JobStatus;
use hubtune::ports::TrainingJobs;
use serde_json::json;
use support::{finished, Ends, Harness, ARTIFACT_BYTES};

const METRICS: [&str; 3] = [
    "huggingface-textgeneration:eval-loss",
    "huggingface-textgeneration:eval-ppl",
    "huggingface-textgeneration:train-loss",
];

/// A completed run whose job trained an hour on spot and was billed 1,080 s (a record written before results were
/// kept: publish-artifact takes them from DescribeTrainingJob).
async fn spot_run(h: &Harness, label: &str) -> String {
    let job = h.completed(label).await;
    h.world.jobs.update(&job, |d| {
        d.managed_spot = true;
        d.training_seconds = Some(3600);
        d.billable_seconds = Some(1080);
    });
    job
}

#[tokio::test]
async fn model_published_carries_the_runs_metrics_times_instance_spot_and_estimated_cost() {
    let h = Harness::new();
    let job = spot_run(&h, "results").await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    let d = &published[0].detail;
    assert_eq!(d["schema"], 2);
    let r = &d["results"];
    let names: Vec<&str> = r["final_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, METRICS, "the hub document's metrics, in its order");
    assert_eq!(
        r["final_metrics"][0],
        json!({"name": METRICS[0], "value": 0.5})
    );
    assert_eq!(r["training_seconds"], 3600);
    assert_eq!(r["billable_seconds"], 1080);
    assert_eq!(r["instance_type"], "ml.g5.2xlarge");
    assert_eq!(r["instance_count"], 1);
    assert_eq!(r["spot"], json!({"savings_percent": 70.0}));
    // 1,080 s / 3,600 × 1 × $1.5.
    assert_eq!(r["estimated_cost"]["usd"], 0.45);
    assert!(r["estimated_cost"]["basis"]
        .as_str()
        .unwrap()
        .starts_with("estimate"));
    assert!(r.get("failure_reason").is_none_or(|v| v.is_null()));
    assert!(r.get("last_secondary_status").is_none());
    // The old field stays for existing consumers.
    assert_eq!(d["final_metrics"][METRICS[2]], json!(0.5 / 3.0));
    assert_eq!(d["artifact_bytes"], ARTIFACT_BYTES);

    let subject = d["notification"]["subject"].as_str().unwrap();
    assert_eq!(
        subject,
        format!("hubtune Model Published: route support-bot, job {job}")
    );
    let line = d["notification"]["results"].as_str().unwrap();
    assert!(
        line.starts_with(&format!("metrics: {}=0.5, ", METRICS[0])),
        "{line}"
    );
    for part in [
        "trained 3600 s, billed 1080 s on 1 × ml.g5.2xlarge",
        "spot saved 70%",
        "estimated cost $0.45",
    ] {
        assert!(line.contains(part), "{part} in {line}");
    }
}

#[tokio::test]
async fn the_results_training_state_kept_win_over_a_later_describe() {
    let h = Harness::new();
    let job = spot_run(&h, "kept").await;
    let mut record = h.record(&job);
    let desc = h.world.jobs.describe(&job).await.unwrap().unwrap();
    record.results = Some(record.results_from(Some(&desc), Some(1.5)));
    h.put_record(&record);
    // SageMaker's figures change afterwards (they never should; the record is what was announced).
    h.world.jobs.update(&job, |d| d.billable_seconds = Some(7));
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let d = &h.world.bus.of_type(MODEL_PUBLISHED)[0].detail;
    assert_eq!(d["results"]["billable_seconds"], 1080);
}

#[tokio::test]
async fn fine_tune_failed_carries_the_reason_and_the_last_secondary_status() {
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
    assert_eq!(d["schema"], 2);
    let r = &d["results"];
    assert_eq!(r["failure_reason"], "AlgorithmError: CUDA out of memory");
    assert_eq!(r["last_secondary_status"]["status"], "Training");
    assert_eq!(r["instance_type"], "ml.g5.2xlarge");
    assert!(r["billable_seconds"].is_i64());
    let line = d["notification"]["results"].as_str().unwrap();
    assert!(
        line.starts_with("reason: AlgorithmError: CUDA out of memory · last status: Training"),
        "{line}"
    );
}

#[tokio::test]
async fn an_artifact_deleted_before_publication_is_the_failure_reason_of_the_results() {
    let h = Harness::new();
    let job = h.run("deleted", Duration::hours(4), Ends::Completed).await;
    assert_eq!(
        h.world.jobs.get(&job).unwrap().description.status,
        JobStatus::Completed
    );
    h.world.clock.advance(Duration::seconds(
        publish_artifact::ARTIFACT_GRACE_SECONDS + 1,
    ));
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let d = &h.world.bus.of_type(FINETUNE_FAILED)[0].detail;
    let reason = d["results"]["failure_reason"].as_str().unwrap();
    assert!(
        reason.contains("was deleted before hubtune published it"),
        "{reason}"
    );
    assert_eq!(d["failure_reason"], reason);
}
