//! The sweep on its own schedule and queue (issue 13 item 8). The template's `SweepScheduleRule` targets
//! `SweepQueue`, which training-state reads through its own event source mapping: a tick is handled however many
//! state changes wait on `TrainingStateQueue`, and a sweep that keeps failing dead-letters in `SweepDeadLetterQueue`,
//! apart from the state changes, where `hubtune redrive` replays it.
//!
//! The local stack plans the schedule's target from the template itself (`StackInfo::schedules`) and the dispatcher
//! fires it (`Dispatcher::fire_schedule`), so pointing the rule back at `TrainingStateQueue` turns these tests red.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use hubtune::domain::run::RunStatus;
use hubtune_cli::local::{FunctionName, SWEEP_RULE};
use hubtune_e2e::{fixture, Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(40);
/// State changes waiting when the tick comes: more than three of the dispatcher's batches of 10.
const BACKLOG: usize = 35;

#[tokio::test]
async fn a_sweep_tick_is_handled_at_once_while_state_changes_wait_and_repairs_the_run() {
    let env = Env::start(Setup::default()).await;
    let job = swallowed_run(&env, "/backlogged/").await;
    // A backlog of state changes (another deployment's job: training-state ignores them), then the tick.
    let other = std::fs::read_to_string(fixture(
        "events/sagemaker-training-state-change.aws-docs-sample.json",
    ))
    .expect("the fixture");
    for _ in 0..BACKLOG {
        env.send("TrainingStateQueue", &other).await;
    }
    assert_eq!(env.dispatcher.fire_schedule(SWEEP_RULE).await.unwrap(), 1);

    // One pass: one batch from each queue, as two event source mappings would poll.
    let pass = env.pump().await;
    let sweeps: Vec<_> = pass
        .iter()
        .filter(|d| d.function == FunctionName::TrainingState && d.bodies.iter().any(is_tick))
        .collect();
    assert_eq!(
        sweeps.len(),
        1,
        "the tick was not handled in the first pass: {pass:#?}"
    );
    assert_eq!(sweeps[0].bodies.len(), 1, "a batch of the tick alone");
    assert_eq!((sweeps[0].failed, &sweeps[0].error), (0, &None));
    let waiting = waiting(&env, "TrainingStateQueue").await;
    assert!(
        waiting >= BACKLOG - 10,
        "the state changes were not still waiting: {waiting} left"
    );
    // What the sweep repaired, before any of the backlog behind it was read.
    assert_eq!(env.record(&job).await.status, RunStatus::Completed);
    env.wait_for("Model Published", 1, T).await;
    env.settle(T).await;
    assert_eq!(
        env.deliveries(FunctionName::TrainingState, &["Scheduled Event"]),
        1
    );
    env.stop().await;
}

#[tokio::test]
async fn a_failing_sweep_dead_letters_in_its_own_queue_and_redrive_replays_it() {
    let env = Env::start(Setup::default()).await;
    let job = swallowed_run(&env, "/dead-sweep/").await;
    // The sweep cannot list the open runs: every receive of its tick fails.
    env.fault(json!({ "service": "s3", "operation": "ListObjectsV2", "error": "access-denied", "count": 1000 }))
        .await;
    env.dispatcher.fire_schedule(SWEEP_RULE).await.unwrap();
    let sweep = env.stack.info.queue("SweepQueue").clone();
    let sweep_dlq = sweep.dlq_url.clone().expect("the sweep queue has a DLQ");
    deliver_until(&env, "the tick dead-lettered", || async {
        dead(&env, &sweep_dlq).await == 1
    })
    .await;
    assert_eq!(
        env.deliveries(FunctionName::TrainingState, &["Scheduled Event"]),
        5,
        "received maxReceiveCount times"
    );
    let state_dlq = env.stack.info.queue("TrainingStateQueue").dlq_url.clone();
    assert_eq!(
        dead(&env, &state_dlq.expect("a DLQ")).await,
        0,
        "not among the state changes"
    );
    assert_ne!(env.record(&job).await.status, RunStatus::Completed);

    // Fixed, then replayed with the real binary, as an operator would from the stack's outputs.
    env.stack
        .control("DELETE", "/_hubtune/faults", &json!({}))
        .await
        .expect("the faults cleared");
    let out = redrive(&env, &format!("{sweep_dlq}={}", sweep.url));
    assert!(
        out.contains(&format!(
            "1 message(s) moved from {sweep_dlq} back to {}",
            sweep.url
        )),
        "{out}"
    );
    env.wait_for("Model Published", 1, T).await;
    env.settle(T).await;
    assert_eq!(env.record(&job).await.status, RunStatus::Completed);
    assert_eq!(dead(&env, &sweep_dlq).await, 0);
    assert_eq!(
        env.deliveries(FunctionName::TrainingState, &["Scheduled Event"]),
        6
    );
    env.stop().await;
}

/// A run whose `Completed` event SageMaker never sent: only a sweep can finish it. Returns its job.
async fn swallowed_run(env: &Env, needle: &str) -> String {
    env.stack
        .control(
            "POST",
            "/_hubtune/drop-events",
            &json!({ "match": needle, "status": "Completed", "count": 1 }),
        )
        .await
        .unwrap();
    env.drop_good(needle.trim_matches('/')).await;
    let started = env.wait_for("Training Run Started", 1, T).await;
    let job = started[0]["detail"]["job_name"]
        .as_str()
        .unwrap()
        .to_string();
    let start = Instant::now();
    loop {
        let d = env.aws.describe_training_job(&job).await.unwrap().unwrap();
        if d.status == hubtune::domain::job::JobStatus::Completed {
            break;
        }
        assert!(start.elapsed() < T, "{job} did not complete");
        // Polling the stand-in's job timer (the deadline above).
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    env.settle(T).await;
    assert_ne!(
        env.record(&job).await.status,
        RunStatus::Completed,
        "nothing without the event"
    );
    assert!(env.events("Model Published").is_empty());
    job
}

fn is_tick(body: &Value) -> bool {
    body["source"] == "aws.events" && body["detail-type"] == "Scheduled Event"
}

/// Messages visible in a queue (not in flight).
async fn waiting(env: &Env, logical: &str) -> usize {
    let url = &env.stack.info.queue(logical).url;
    env.dispatcher
        .dead_letters(url)
        .await
        .expect("GetQueueAttributes")
}

async fn dead(env: &Env, dlq_url: &str) -> usize {
    env.dispatcher
        .dead_letters(dlq_url)
        .await
        .expect("GetQueueAttributes")
}

/// Pump until `done` (polls under a deadline: a failed message is visible again after `RETRY_VISIBILITY_SECONDS`).
async fn deliver_until<F, Fut>(env: &Env, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !done().await {
        assert!(start.elapsed() < T, "not {what} after {T:?}");
        if env.pump().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// `hubtune redrive --pair PAIR`, the binary (`cargo build -p hubtune-cli --bin hubtune`). Returns its output.
fn redrive(env: &Env, pair: &str) -> String {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| hubtune_e2e::repo().join("target"));
    let info = &env.stack.info;
    let o = Command::new(target.join("debug/hubtune"))
        .current_dir(hubtune_e2e::repo())
        .args(["redrive", "--pair", pair])
        .env("AWS_ENDPOINT_URL", &info.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", &info.region)
        .output()
        .expect("hubtune runs");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}
