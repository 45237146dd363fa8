//! Issue 14 item 2: when a job ends, training-state keeps its results in the run record (once) and
//! `Training Run Finished` carries them: the final metrics in the hub document's order, training and billable
//! seconds, the instance, spot savings when spot was used, the failure reason and stage, and an estimated cost when
//! the route names `hourly_price_usd`.

mod support;

use chrono::Duration;
use hubtune::domain::events::TRAINING_RUN_FINISHED;
use hubtune::domain::job::JobStatus;
use serde_json::json;
use support::{state_change, Harness};

/// The fixture hub document's training metric definitions, in its order.
const METRICS: [&str; 3] = [
    "huggingface-textgeneration:eval-loss",
    "huggingface-textgeneration:eval-ppl",
    "huggingface-textgeneration:train-loss",
];

#[tokio::test]
async fn a_completed_job_keeps_its_results_and_finished_carries_them_with_the_estimated_cost() {
    let h = Harness::with_route("hourly_price_usd = 1.5");
    let job = h.launched("results").await;
    h.world.clock.advance(Duration::hours(1));
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());

    let r = h
        .record(&job)
        .results
        .expect("the record keeps the results");
    let names: Vec<&str> = r.final_metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, METRICS, "the document's metrics, in its order");
    assert_eq!(
        (r.training_seconds, r.billable_seconds),
        (Some(3600), Some(3600))
    );
    assert_eq!(
        (r.instance_type.as_str(), r.instance_count),
        ("ml.g5.2xlarge", 1)
    );
    assert_eq!(r.spot, None, "no spot: no savings");
    assert_eq!(r.last_secondary_status, None);
    assert_eq!(r.estimated_cost.as_ref().map(|c| c.usd), Some(1.5));

    let sent = h.sent(TRAINING_RUN_FINISHED, &job);
    assert_eq!(sent.len(), 1);
    let d = &sent[0].detail;
    assert_eq!(d["schema"], 2);
    assert_eq!(d["results"]["billable_seconds"], 3600);
    assert_eq!(
        d["results"]["final_metrics"][0],
        json!({"name": METRICS[0], "value": 0.5})
    );
    assert_eq!(d["results"]["estimated_cost"]["usd"], 1.5);
    let line = d["notification"]["results"].as_str().unwrap();
    assert!(line.contains(&format!("{}=0.5", METRICS[0])), "{line}");
    assert!(line.contains("estimated cost $1.50"), "{line}");
    assert!(d["notification"]["subject"]
        .as_str()
        .unwrap()
        .contains(&job));
}

#[tokio::test]
async fn spot_savings_are_reported_only_for_a_spot_job() {
    let h = Harness::new();
    let job = h.launched("spot").await;
    h.world.jobs.update(&job, |d| d.managed_spot = true);
    h.world.clock.advance(Duration::hours(1));
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());

    let r = h.record(&job).results.unwrap();
    assert_eq!(r.billable_seconds, Some(1080));
    assert_eq!(r.spot.and_then(|s| s.savings_percent), Some(70.0));
    assert_eq!(r.estimated_cost, None, "the route names no price");
    let d = &h.sent(TRAINING_RUN_FINISHED, &job)[0].detail;
    assert_eq!(d["results"]["spot"]["savings_percent"], 70.0);
}

#[tokio::test]
async fn a_failed_job_keeps_its_reason_and_the_stage_it_failed_in() {
    let h = Harness::new();
    let job = h.launched("failed").await;
    h.world.clock.advance(Duration::minutes(10));
    h.world.jobs.set_status(
        &job,
        JobStatus::Failed,
        Some("AlgorithmError: CUDA out of memory"),
    );
    assert!(h.deliver(&[state_change(&job, "Failed")]).await.is_empty());

    let r = h.record(&job).results.unwrap();
    assert_eq!(
        r.failure_reason.as_deref(),
        Some("AlgorithmError: CUDA out of memory")
    );
    let stage = r.last_secondary_status.unwrap();
    assert_eq!(stage.status, "Training");
    assert!(r.final_metrics.is_empty());
    assert_eq!(r.training_seconds, Some(600));
}

#[tokio::test]
async fn results_are_kept_once_and_a_later_describe_does_not_change_them() {
    let h = Harness::with_route("hourly_price_usd = 1.5");
    let job = h.launched("once").await;
    h.world.clock.advance(Duration::hours(1));
    h.world.jobs.set_status(&job, JobStatus::Completed, None);
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let kept = h.record(&job);

    h.world.jobs.update(&job, |d| d.billable_seconds = Some(1));
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());
    let again = h.record(&job);
    assert_eq!(again.results, kept.results);
    assert_eq!(again.revision, kept.revision, "nothing written");
}

#[tokio::test]
async fn a_job_gone_before_its_end_was_seen_has_results_from_the_record() {
    let h = Harness::new();
    let job = h.launched("gone").await;
    h.world.jobs.remove(&job);
    h.world
        .clock
        .advance(Duration::seconds(training_state::GONE_AFTER_SECONDS + 1));
    assert!(h
        .deliver(&[state_change(&job, "Completed")])
        .await
        .is_empty());

    let r = h
        .record(&job)
        .results
        .expect("results from the record alone");
    assert_eq!(
        (r.instance_type.as_str(), r.instance_count),
        ("ml.g5.2xlarge", 1)
    );
    assert!(r.failure_reason.unwrap().contains("no longer knows"));
    assert_eq!(r.billable_seconds, None);
}
