//! Issue 14 item 2 on the local stack: `Model Published` carries the run's results (the final metrics SageMaker
//! reported, named and ordered by the hub document's metric definitions, training and billable seconds, instance
//! type and count, the estimated cost at the route's `hourly_price_usd`), and `Fine-tune Failed` the failure reason
//! and the stage the job failed in; both with the notification lines the topic's rule sends.

use std::time::Duration;

use hubtune_e2e::{repo, Env, Setup};
use serde_json::Value;

const T: Duration = Duration::from_secs(40);

/// The metric names of the example hub document (its `TrainingMetrics`), in its order.
fn document_metrics() -> Vec<String> {
    let path = repo().join("examples/hub/describe-hub-content.model-reference.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let doc: Value = serde_json::from_str(v["HubContentDocument"].as_str().unwrap()).unwrap();
    doc["TrainingMetrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn model_published_carries_the_metrics_times_instance_and_estimated_cost_of_the_run() {
    let env = Env::start(Setup::route_with("hourly_price_usd = 1.515")).await;
    env.drop_good("results").await;
    let ev = env.wait_for("Model Published", 1, T).await;
    let d = &ev[0]["detail"];
    assert_eq!(d["schema"], 2);
    let r = &d["results"];
    let metrics = r["final_metrics"].as_array().expect("final metrics");
    let names: Vec<&str> = metrics
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        document_metrics(),
        "the hub document's metrics, in its order"
    );
    assert!(
        metrics
            .iter()
            .all(|m| m["value"].as_f64().is_some_and(|v| v > 0.0)),
        "{r}"
    );
    let billable = r["billable_seconds"].as_i64().expect("billable seconds");
    assert!(billable >= 1);
    assert!(
        r["training_seconds"]
            .as_i64()
            .is_some_and(|t| t >= billable),
        "{r}"
    );
    assert_eq!(r["instance_type"], "ml.g5.2xlarge");
    assert_eq!(r["instance_count"], 1);
    assert!(r.get("spot").is_none(), "not a spot job: {r}");
    let cost = r["estimated_cost"]["usd"].as_f64().expect("an estimate");
    let expected = billable as f64 / 3600.0 * 1.515;
    assert!(
        (cost - (expected * 100.0).round() / 100.0).abs() < 1e-9,
        "{cost} vs {expected}"
    );
    // What the topic's rule puts in the message.
    let job = d["job_name"].as_str().unwrap();
    assert!(d["notification"]["subject"].as_str().unwrap().contains(job));
    let line = d["notification"]["results"].as_str().unwrap();
    assert!(
        line.starts_with(&format!("metrics: {}=", names[0])),
        "{line}"
    );
    assert!(
        line.contains(&format!("billed {billable} s on 1 × ml.g5.2xlarge")),
        "{line}"
    );
    // The run record keeps the same results, and Training Run Finished carried them.
    let record = env.record(job).await;
    let kept = serde_json::to_value(record.results.expect("results kept")).unwrap();
    assert_eq!(&kept, r);
    let finished = env.wait_for("Training Run Finished", 1, T).await;
    assert_eq!(&finished[0]["detail"]["results"], r);
    env.stop().await;
}

#[tokio::test]
async fn fine_tune_failed_carries_the_failure_reason_and_the_last_secondary_status() {
    let env = Env::start(Setup {
        in_progress_seconds: 1.0,
        ..Setup::default()
    })
    .await;
    env.stack
        .outcome(
            "/oom/",
            "Failed",
            Some("AlgorithmError: CUDA out of memory"),
        )
        .await
        .unwrap();
    env.drop_good("oom").await;
    let ev = env.wait_for("Fine-tune Failed", 1, T).await;
    let d = &ev[0]["detail"];
    assert_eq!(d["schema"], 2);
    let r = &d["results"];
    assert_eq!(r["failure_reason"], "AlgorithmError: CUDA out of memory");
    assert_eq!(r["last_secondary_status"]["status"], "Training");
    assert!(
        r["last_secondary_status"]["message"].as_str().is_some(),
        "{r}"
    );
    assert!(
        r["billable_seconds"].as_i64().is_some_and(|b| b >= 1),
        "{r}"
    );
    assert_eq!(r["instance_type"], "ml.g5.2xlarge");
    assert!(
        r.get("estimated_cost").is_none(),
        "the route names no price: {r}"
    );
    let line = d["notification"]["results"].as_str().unwrap();
    assert!(
        line.starts_with("reason: AlgorithmError: CUDA out of memory · last status: Training"),
        "{line}"
    );
    env.stop().await;
}
