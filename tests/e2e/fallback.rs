//! Capacity fallback on the local stack (issue 14 item 3): the route lists `instance_types`; the stand-in refuses
//! CreateTrainingJob for one type (`instance_type` in its fault, as SageMaker answers a type with no quota), and the
//! launcher goes on to the next type, or queues the dataset once every type was refused.

use std::time::Duration;

use hubtune::domain::capacity::AttemptOutcome;
use hubtune::domain::run::RunStatus;
use hubtune_cli::local::SWEEP_RULE;
use hubtune_e2e::{Env, Setup};
use serde_json::json;

const T: Duration = Duration::from_secs(60);
const TYPES: &str = "instance_types = [\"ml.g5.2xlarge\", \"ml.g5.4xlarge\"]";

/// SageMaker refuses `instance_type` for quota `count` times.
async fn refuse(env: &Env, instance_type: &str, count: u32) {
    env.fault(
        json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "resource-limit",
                      "instance_type": instance_type, "count": count }),
    )
    .await;
}

fn tried(env_record: &hubtune::domain::run::RunRecord) -> Vec<(String, AttemptOutcome)> {
    env_record
        .launch_attempts
        .iter()
        .map(|a| (a.instance_type.clone(), a.outcome))
        .collect()
}

#[tokio::test]
async fn a_quota_refusal_on_the_first_type_launches_on_the_second_and_the_run_ends_published() {
    let env = Env::start(Setup::route_with(TYPES)).await;
    refuse(&env, "ml.g5.2xlarge", 10).await;
    let uri = env.drop_good("fallback").await;

    let started = env.wait_for("Training Run Started", 1, T).await;
    let d = &started[0]["detail"];
    assert_eq!(d["dataset_uri"], uri);
    assert_eq!(d["instance_type"], "ml.g5.4xlarge", "{d}");
    assert_eq!(d["launch_attempts"][0]["instance_type"], "ml.g5.2xlarge");
    assert_eq!(d["launch_attempts"][0]["outcome"], "refused");
    assert!(d["launch_attempts"][0]["detail"]
        .as_str()
        .unwrap_or_default()
        .contains("ResourceLimitExceeded"));
    assert_eq!(d["launch_attempts"][1]["outcome"], "launched");

    let published = env.wait_for("Model Published", 1, T).await;
    assert_eq!(
        published[0]["detail"]["launch_attempts"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1, "one job: the refused type made none");
    let desc = env
        .aws
        .sagemaker
        .describe_training_job()
        .training_job_name(&jobs[0])
        .send()
        .await
        .expect("DescribeTrainingJob");
    let on = desc.resource_config().and_then(|r| r.instance_type());
    assert_eq!(on.map(|t| t.as_str()), Some("ml.g5.4xlarge"));
    let r = env.record(&jobs[0]).await;
    assert_eq!(r.status, RunStatus::Completed);
    assert_eq!(
        tried(&r),
        [
            ("ml.g5.2xlarge".to_string(), AttemptOutcome::Refused),
            ("ml.g5.4xlarge".to_string(), AttemptOutcome::Launched)
        ]
    );
    assert!(env.events("Dataset Queued").is_empty());
    env.stop().await;
}

#[tokio::test]
async fn every_type_refused_queues_the_dataset_and_it_launches_later_when_capacity_returns() {
    let env = Env::start(Setup::route_with(TYPES)).await;
    refuse(&env, "ml.g5.2xlarge", 1).await;
    refuse(&env, "ml.g5.4xlarge", 1).await;
    env.drop_good("no-capacity").await;

    let queued = env.wait_for("Dataset Queued", 1, T).await;
    let d = &queued[0]["detail"];
    assert_eq!(d["reason"], "capacity", "{d}");
    assert_eq!(
        d["launch_attempts"].as_array().map(Vec::len),
        Some(2),
        "{d}"
    );
    env.settle(T).await;
    assert!(env.jobs().await.is_empty());
    assert_eq!(env.keys("hubtune/state/queue/support-bot/").await.len(), 1);

    // The refusals are used up (capacity is back): the next sweep releases the queue, from the first type.
    assert_eq!(env.dispatcher.fire_schedule(SWEEP_RULE).await.unwrap(), 1);
    env.settle(T).await;
    let started = env.wait_for("Training Run Started", 1, T).await;
    assert_eq!(started[0]["detail"]["instance_type"], "ml.g5.2xlarge");
    env.wait_for("Model Published", 1, T).await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert!(env.keys("hubtune/state/queue/").await.is_empty());
    let r = env.record(&jobs[0]).await;
    assert_eq!(
        tried(&r),
        [
            ("ml.g5.2xlarge".to_string(), AttemptOutcome::Refused),
            ("ml.g5.4xlarge".to_string(), AttemptOutcome::Refused),
            ("ml.g5.2xlarge".to_string(), AttemptOutcome::Launched)
        ]
    );
    env.stop().await;
}

#[tokio::test]
async fn a_job_failed_at_start_for_capacity_is_relaunched_on_the_next_type_and_published_once() {
    let env = Env::start(Setup::route_with(TYPES)).await;
    // SageMaker accepts ml.g5.2xlarge, then cannot provision it.
    env.stack
        .outcome(
            "ml.g5.2xlarge",
            "Failed",
            Some("CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."),
        )
        .await
        .expect("outcome rule accepted");
    let uri = env.drop_good("no-gpus").await;

    let published = env.wait_for("Model Published", 1, T).await;
    env.settle(T).await;
    let failed = env.events("Fine-tune Failed");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    let relaunch = &failed[0]["detail"]["relaunched_as"];
    assert_eq!(relaunch["instance_type"], "ml.g5.4xlarge", "{}", failed[0]);
    let d = &published[0]["detail"];
    assert_eq!(d["dataset_uri"], uri);
    assert_eq!(d["job_name"], relaunch["job_name"]);
    assert_eq!(d["results"]["instance_type"], "ml.g5.4xlarge", "{d}");
    assert_eq!(d["launch_attempts"][0]["outcome"], "failed_to_start", "{d}");
    assert_eq!(
        d["launch_attempts"][0]["job_name"],
        failed[0]["detail"]["job_name"]
    );
    assert_eq!(d["launch_attempts"][1]["outcome"], "launched");
    assert_eq!(env.jobs().await.len(), 2, "the failed job and its relaunch");
    assert_eq!(env.events("Model Published").len(), 1);
    assert!(env.keys("hubtune/state/queue/").await.is_empty());
    env.stop().await;
}
