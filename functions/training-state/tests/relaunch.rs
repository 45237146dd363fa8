//! Capacity fallback after the launch, in-process: a job SageMaker accepted and then failed at start for capacity
//! goes back to its route's queue as a new attempt on the route's next instance type, exactly once, whatever is
//! repeated; a job that failed for any other reason, or on the route's last type, ends as before.

mod support;

use hubtune::domain::capacity::AttemptOutcome;
use hubtune::domain::events::{DATASET_QUEUED, ROUTE_SLOT_FREED};
use hubtune::domain::job::JobStatus;
use hubtune::domain::route_queue::QueueEntry;
use hubtune::domain::run::RunStatus;
use support::{state_change, sweep_event, Harness};

const CAPACITY: &str = "CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.";

#[tokio::test]
async fn a_job_failed_at_start_for_capacity_is_relaunched_once_on_the_next_type() {
    let h = Harness::with_instance_types(&["ml.g5.2xlarge", "ml.g5.4xlarge"]);
    let job = h.launched("no-gpus").await;
    h.world
        .jobs
        .set_status(&job, JobStatus::Failed, Some(CAPACITY));

    // The state change, then the same again and a sweep: one relaunch.
    assert!(h.deliver(&[state_change(&job, "Failed")]).await.is_empty());
    assert!(h.deliver(&[state_change(&job, "Failed")]).await.is_empty());
    assert!(h.deliver(&[sweep_event()]).await.is_empty());

    let r = h.record(&job);
    assert_eq!(r.status, RunStatus::Failed);
    let relaunch = r.relaunched_as.clone().expect("relaunched");
    assert_eq!(relaunch.instance_type, "ml.g5.4xlarge");
    assert_eq!(relaunch.attempt, 1);
    assert_ne!(relaunch.job_name, job);
    let entries = h.queue_uris();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let entry: QueueEntry =
        serde_json::from_value(h.world.objects.json(&entries[0]).expect("the entry"))
            .expect("a queue entry");
    assert_eq!(entry.dataset.identity.attempt, 1);
    assert_eq!(entry.start_at_type.as_deref(), Some("ml.g5.4xlarge"));
    assert_eq!(entry.frozen, r.frozen, "what trains is what was checked");
    assert_eq!(entry.launch_attempts.len(), 1);
    assert_eq!(entry.launch_attempts[0].job_name, job);
    assert_eq!(entry.launch_attempts[0].instance_type, "ml.g5.2xlarge");
    assert_eq!(
        entry.launch_attempts[0].outcome,
        AttemptOutcome::FailedToStart
    );
    // Announced (the same event id each time), and the slot freed so the launcher drains the queue.
    let queued = h.world.bus.of_type(DATASET_QUEUED);
    assert!(!queued.is_empty());
    assert!(queued.iter().all(|e| e.event_id() == queued[0].event_id()));
    assert_eq!(queued[0].detail["reason"], "capacity");
    assert_eq!(queued[0].detail["job_name"], relaunch.job_name.as_str());
    // The job's end frees its slot; the sweep, finding the entry waiting and a slot free, nudges the route again.
    assert!(h.count(ROUTE_SLOT_FREED) >= 1);
    assert!(h.holders().is_empty());
}

#[tokio::test]
async fn other_failures_and_the_last_type_are_not_relaunched() {
    let h = Harness::with_instance_types(&["ml.g5.2xlarge", "ml.g5.4xlarge"]);
    let oom = h.launched("oom").await;
    h.world.jobs.set_status(
        &oom,
        JobStatus::Failed,
        Some(
            "AlgorithmError: ExecuteUserScriptError: CUDA out of memory (22.20 GiB total capacity)",
        ),
    );
    assert!(h.deliver(&[state_change(&oom, "Failed")]).await.is_empty());
    assert_eq!(h.record(&oom).relaunched_as, None);

    // A route with one type has nowhere to go.
    let single = Harness::new();
    let job = single.launched("only-type").await;
    single
        .world
        .jobs
        .set_status(&job, JobStatus::Failed, Some(CAPACITY));
    assert!(single
        .deliver(&[state_change(&job, "Failed")])
        .await
        .is_empty());
    assert_eq!(single.record(&job).relaunched_as, None);
    assert_eq!(single.record(&job).status, RunStatus::Failed);
    assert!(h.queue_uris().is_empty() && single.queue_uris().is_empty());
}
