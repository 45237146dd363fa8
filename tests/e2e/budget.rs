//! A route's daily spend cap on the local stack (issue 14 item 5): with `max_jobs_per_day = 1`, the second dataset
//! of the day waits in the route's queue (`Dataset Queued`, reason `budget`) even with slots free, and the first
//! sweep after the UTC day rolled over releases it. The handlers' clock is moved (`Env::advance`); the sweep's
//! tick goes through the template's schedule and `SweepQueue`, as deployed.

use std::collections::BTreeSet;
use std::time::Duration;

use hubtune::ports::Clock;
use hubtune_cli::local::SWEEP_RULE;
use hubtune_e2e::{Env, Setup};

const T: Duration = Duration::from_secs(60);

/// How far to move the handlers' clock to be a minute past the next UTC midnight.
fn to_next_midnight(env: &Env) -> Duration {
    let now = env.clock.now();
    let midnight = (now.date_naive() + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc();
    (midnight - now + chrono::Duration::seconds(60))
        .to_std()
        .expect("midnight is ahead")
}

async fn sweep(env: &Env) {
    assert_eq!(env.dispatcher.fire_schedule(SWEEP_RULE).await.unwrap(), 1);
    env.settle(T).await;
}

#[tokio::test]
async fn a_daily_job_cap_queues_the_second_dataset_with_reason_budget_until_the_next_utc_day() {
    let env = Env::start(Setup::route_with(
        "max_jobs_per_day = 1\nmax_concurrent_jobs = 5",
    ))
    .await;
    // Start a minute into a UTC day, so both datasets land on the same day however late the test runs.
    env.advance(to_next_midnight(&env));
    let day_one = env.clock.now().date_naive();
    env.drop_good("first").await;
    env.wait_for("Training Run Started", 1, T).await;
    env.drop_good("second").await;
    let queued = env.wait_for("Dataset Queued", 1, T).await;
    let d = &queued[0]["detail"];
    assert_eq!(d["reason"], "budget", "{d}");
    assert!(
        d["dataset_uri"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/second/"),
        "{d}"
    );
    assert!(
        d["message"]
            .as_str()
            .unwrap_or_default()
            .contains("max_jobs_per_day"),
        "{d}"
    );

    // The first job runs to its end and gives its slot back; its `Route Slot Freed` drains the queue, and a sweep
    // the same day looks again: the day is spent, the second still waits.
    env.wait_for("Model Published", 1, T).await;
    env.settle(T).await;
    sweep(&env).await;
    assert_eq!(env.clock.now().date_naive(), day_one);
    assert_eq!(env.jobs().await.len(), 1, "one job on the first day");
    assert_eq!(env.keys("hubtune/state/queue/support-bot/").await.len(), 1);

    // The UTC day rolls over: the next sweep releases the waiting dataset.
    env.advance(to_next_midnight(&env));
    sweep(&env).await;
    env.wait_for("Training Run Started", 2, T).await;
    env.wait_for("Model Published", 2, T).await;
    env.settle(T).await;
    assert_eq!(env.jobs().await.len(), 2, "exactly two jobs");
    assert!(env.keys("hubtune/state/queue/").await.is_empty());
    let ids: BTreeSet<String> = env
        .events("Dataset Queued")
        .iter()
        .map(|e| e["detail"]["event_id"].to_string())
        .collect();
    assert_eq!(ids.len(), 1, "one dataset waited");
    let started = env.events("Training Run Started");
    assert!(started.iter().any(|e| e["detail"]["dataset_uri"]
        .as_str()
        .unwrap_or_default()
        .ends_with("/second/")));
    env.stop().await;
}
