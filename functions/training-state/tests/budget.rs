//! A route's daily spend cap seen from training-state (issue 14 item 5): the sweep nudges a route whose datasets
//! wait for the cap only once the UTC day has rolled over, and the launcher's drain then launches them in order; an
//! ended job's day is charged what SageMaker billed instead of what it reserved.

mod support;

use chrono::{DateTime, Duration, Utc};
use hubtune::domain::events::{OutgoingEvent, DATASET_QUEUED, ROUTE_SLOT_FREED};
use hubtune::domain::job::JobStatus;
use hubtune::ports::Clock;
use launch_finetune::{From, Outcome};
use serde_json::{json, Value};
use support::{hub_content, state_change, Harness, BUCKET, ROUTE};

const GOOD_JSONL: &str = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n";

/// The dataset `label` lands and the launcher takes it, as an upload's marker event would make it.
async fn land(h: &Harness, label: &str) -> Outcome {
    let folder = format!("s3://{BUCKET}/datasets/{ROUTE}/{label}/");
    h.world
        .objects
        .insert(&format!("{folder}train.jsonl"), GOOD_JSONL.as_bytes());
    h.world.objects.insert(&format!("{folder}_SUCCESS"), "");
    launch_finetune::launch_dataset(&h.ctx, &h.config, &h.dataset(label), From::Landing)
        .await
        .expect("the launch ends")
}

/// Hand every `Route Slot Freed` the bus holds from `from` on to the launcher, as the deployment's rule does.
async fn deliver_slot_freed(h: &Harness, from: usize) {
    let freed: Vec<OutgoingEvent> = h.world.bus.of_type(ROUTE_SLOT_FREED);
    for e in &freed[from..] {
        let body: Value = json!({
            "version": "0", "id": "freed", "detail-type": ROUTE_SLOT_FREED, "source": "hubtune",
            "account": "111122223333", "time": "2026-01-15T12:00:00Z", "region": "us-east-1",
            "resources": [], "detail": e.detail,
        });
        launch_finetune::process(&h.ctx, &body)
            .await
            .expect("the drain ends");
    }
}

fn next_day(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    let midnight = (t.date_naive() + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    midnight + Duration::seconds(secs)
}

fn launched(o: &Outcome) -> bool {
    matches!(o, Outcome::Launched { .. })
}

#[tokio::test]
async fn the_first_sweep_of_a_new_utc_day_releases_the_datasets_waiting_for_the_cap_in_order() {
    let h = Harness::with_route("max_jobs_per_day = 1\nmax_concurrent_jobs = 5");
    h.world.hub.insert(hub_content());
    assert!(launched(&land(&h, "first").await));
    h.world.clock.advance(Duration::seconds(1));
    assert!(matches!(land(&h, "second").await, Outcome::Queued { .. }));
    h.world.clock.advance(Duration::seconds(1));
    assert!(matches!(land(&h, "third").await, Outcome::Queued { .. }));
    let queued = h.world.bus.of_type(DATASET_QUEUED);
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|e| e.detail["reason"] == "budget"));

    // The same day: free slots, but the day is spent: no nudge, nothing launches.
    let report = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(report.slots_freed_announced, 0);
    assert_eq!(h.world.jobs.count(), 1);

    // The next UTC day: the sweep nudges the route, the drain launches the oldest waiting dataset, and the day's
    // cap holds the one behind it.
    h.world.clock.set(next_day(h.world.clock.now(), 60));
    let report = training_state::sweep(&h.ctx).await.unwrap();
    assert_eq!(report.slots_freed_announced, 1);
    deliver_slot_freed(&h, 0).await;
    let names: Vec<String> = h
        .world
        .jobs
        .all()
        .into_iter()
        .map(|j| j.request.training_job_name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&h.job_name("second").to_string()),
        "{names:?}"
    );
    assert_eq!(h.queue_uris().len(), 1, "the third waits for the day after");

    // A second sweep the same day sends nothing more; the day after, the third goes.
    let before = h.world.bus.of_type(ROUTE_SLOT_FREED).len();
    assert_eq!(
        training_state::sweep(&h.ctx)
            .await
            .unwrap()
            .slots_freed_announced,
        0
    );
    h.world.clock.set(next_day(h.world.clock.now(), 60));
    assert_eq!(
        training_state::sweep(&h.ctx)
            .await
            .unwrap()
            .slots_freed_announced,
        1
    );
    deliver_slot_freed(&h, before).await;
    assert_eq!(h.world.jobs.count(), 3);
    assert!(h.queue_uris().is_empty());
}

#[tokio::test]
async fn an_ended_job_charges_its_day_what_sagemaker_billed_instead_of_what_it_reserved() {
    // 10 hours reserved a job, 15 a day: the second waits until the first turns out to have used one hour.
    let h = Harness::with_route(
        "max_training_hours_per_day = 15\nmax_runtime_seconds = 36000\nmax_concurrent_jobs = 5",
    );
    h.world.hub.insert(hub_content());
    assert!(launched(&land(&h, "first").await));
    assert!(matches!(land(&h, "second").await, Outcome::Queued { .. }));
    let first = h.job_name("first").to_string();

    h.world.jobs.set_status(&first, JobStatus::Completed, None);
    h.world.jobs.set_billable_seconds(&first, 3600);
    assert!(h
        .deliver(&[state_change(&first, "Completed")])
        .await
        .is_empty());
    let today = h.slots().and_then(|s| s.today).expect("the day's ledger");
    assert_eq!(today.jobs.get(&first), Some(&1.0));
    assert!(h.holders().is_empty());

    // The job's own `Route Slot Freed` drains the queue: 1 + 10 fits 15.
    deliver_slot_freed(&h, 0).await;
    assert_eq!(h.world.jobs.count(), 2);
    assert!(h.queue_uris().is_empty());
}
