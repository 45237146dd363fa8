//! Deployment-wide faults, one per permanent error class: the fault is injected, the dataset waits or dead-letters, the fault is fixed, and after `hubtune redrive` exactly one job runs for it.
//!
//! Each test runs on its own local stack with the queues' real redrive policy (from infra/template.yaml): a failed
//! message comes back after `RETRY_VISIBILITY_SECONDS` and, after `maxReceiveCount` receives, moto moves it to the
//! dead-letter queue. The fix is what an operator does (clear the fault, write a valid routes file), the replay is
//! the real `hubtune redrive` binary.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubtune::domain::config::DeploymentEnv;
use hubtune::runtime::config_cache::{ConfigCache, ConfigSource, CONFIG_CHECK_INTERVAL};
use hubtune::runtime::context::Context;
use hubtune_cli::local::{Delivery, Dispatcher, FunctionName};
use hubtune_e2e::{routes_toml, Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(60);
/// Where the functions read the routes file (the template's `RoutesFileUri`): outside the dataset prefix, so writing
/// it starts no launch.
const ROUTES_KEY: &str = "hubtune/hubtune.toml";
/// Large enough to outlast every receive of the message (the queues' `maxReceiveCount` is 5): only the fix ends it.
const FOREVER: u32 = 1000;
/// The route as the tests' routes file has it (two slots: the broken-file test launches two datasets).
const ROUTE: &str = "accept_eula = true\nmax_concurrent_jobs = 2\n";
const LAUNCH: &str = "LaunchQueue";
/// Only the dataset's own message waits.
const ONLY_THE_DATASET: &[(&str, usize)] = &[(LAUNCH, 1)];

// ---- the fault scenarios ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_broken_routes_file_on_a_cold_launcher_dead_letters_each_dataset_and_redrive_launches_one_job_each(
) {
    let env = Env::start(Setup::default()).await;
    let launcher = launcher_reading_routes(&env, CONFIG_CHECK_INTERVAL);
    // Not TOML at all.
    env.put(ROUTES_KEY, b"[deployment\nbucket = ").await;
    let first = env.drop_good("while-not-toml").await;
    deliver_until_dead_lettered(&env, &launcher, &[(LAUNCH, 1)]).await;
    assert_waiting(&env, "while-not-toml", 1, 0).await;
    // TOML, but a route with an invalid field.
    let invalid = routes_toml(
        env.bucket(),
        "accept_eula = true\nmax_concurrent_jobs = 0\n",
    );
    env.put(ROUTES_KEY, invalid.as_bytes()).await;
    let second = env.drop_good("while-invalid-field").await;
    deliver_until_dead_lettered(&env, &launcher, &[(LAUNCH, 2)]).await;
    assert_waiting(&env, "while-invalid-field", 2, 0).await;

    write_valid_routes(&env).await;
    assert_eq!(redrive(&env)[LAUNCH], 2);
    deliver_until_published(&env, &launcher, 2).await;
    assert_one_job_each(&env, &[first, second]).await;
    env.stop().await;
}

#[tokio::test]
async fn a_missing_routes_file_dead_letters_the_dataset_and_redrive_launches_one_job() {
    let env = Env::start(Setup::default()).await;
    let launcher = launcher_reading_routes(&env, CONFIG_CHECK_INTERVAL);
    let uri = env.drop_good("while-missing").await;
    deliver_until_dead_lettered(&env, &launcher, &[(LAUNCH, 1)]).await;
    assert_waiting(&env, "while-missing", 1, 0).await;

    write_valid_routes(&env).await;
    assert_eq!(redrive(&env)[LAUNCH], 1);
    deliver_until_published(&env, &launcher, 1).await;
    assert_one_job_each(&env, &[uri]).await;
    env.stop().await;
}

#[tokio::test]
async fn access_denied_on_the_data_prefix_dead_letters_the_dataset_and_redrive_launches_one_job() {
    // The launcher's role may not read the datasets (its uploads are someone else's: PutObject still works).
    let denied = |operation: &str| {
        json!({ "service": "s3", "operation": operation, "error": "access-denied",
                "count": FOREVER, "match": "datasets/support-bot/" })
    };
    fault_fix_redrive(
        json!([denied("ListObjectsV2"), denied("GetObject")]),
        0,
        ONLY_THE_DATASET,
    )
    .await;
}

#[tokio::test]
async fn access_denied_on_the_state_prefix_dead_letters_the_dataset_and_redrive_launches_one_job() {
    // The run record, the slot and the manifest cannot be written.
    let faults = json!({ "service": "s3", "operation": "PutObject", "error": "access-denied",
                         "count": FOREVER, "match": "hubtune/state/" });
    fault_fix_redrive(faults, 0, ONLY_THE_DATASET).await;
}

#[tokio::test]
async fn a_kms_key_the_role_cannot_use_on_the_data_prefix_dead_letters_the_dataset_and_redrive_launches_one_job(
) {
    // S3 answers 403 AccessDenied (kms:Decrypt not allowed) on the reads of the files; the uploader, another
    // principal, may still use the key.
    let faults = json!({ "service": "s3", "operation": "GetObject", "error": "kms",
                         "count": FOREVER, "match": "datasets/support-bot/" });
    fault_fix_redrive(faults, 0, ONLY_THE_DATASET).await;
}

#[tokio::test]
async fn a_disabled_kms_key_on_the_state_prefix_dead_letters_the_dataset_and_redrive_launches_one_job(
) {
    // Writes need a data key from a key that is disabled: KMS.DisabledException. (A read of a missing object needs
    // no key, so only the writes fail, as in AWS.)
    let faults = json!({ "service": "s3", "operation": "PutObject", "error": "kms-disabled",
                         "count": FOREVER, "match": "hubtune/state/" });
    fault_fix_redrive(faults, 0, ONLY_THE_DATASET).await;
}

#[tokio::test]
async fn create_training_job_denied_dead_letters_the_dataset_and_redrive_launches_one_job() {
    // The launcher's role may not pass the training role (iam:PassRole): SageMaker answers AccessDeniedException
    // after the slot, the manifest and the run record were written; the redelivery resumes from them.
    let faults = json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "access-denied",
                         "count": FOREVER });
    fault_fix_redrive(faults, 0, ONLY_THE_DATASET).await;
}

/// A training role SageMaker cannot assume (its trust policy lacks sagemaker.amazonaws.com, or it was deleted) is a
/// fault of the deployment, which SageMaker reports as a plain `ValidationException` (the code of a malformed request
/// too). It once rejected the dataset (`launch_refused`), losing it; a refusal of a request that passed the validator
/// now keeps the message (`domain::launch::create_failure`).
#[tokio::test]
async fn a_training_role_sagemaker_cannot_assume_dead_letters_the_dataset_and_redrive_launches_one_job(
) {
    let faults = json!({ "service": "sagemaker", "operation": "CreateTrainingJob", "error": "role-not-assumable",
                         "count": FOREVER });
    fault_fix_redrive(faults, 0, ONLY_THE_DATASET).await;
}

#[tokio::test]
async fn put_events_denied_on_the_hubtune_bus_dead_letters_and_redrive_finishes_the_one_job() {
    // The job is created before the first event is due: it is the one job, and the redrive finishes what it owes.
    let faults = json!({ "service": "events", "operation": "PutEvents", "error": "access-denied",
                         "count": FOREVER, "match": "\"EventBusName\":\"hubtune\"" });
    // The job's two state changes (InProgress, Completed) owe events too: they wait in training-state's
    // dead-letter queue and are replayed with the dataset's message.
    fault_fix_redrive(faults, 1, &[(LAUNCH, 1), ("TrainingStateQueue", 2)]).await;
}

#[tokio::test]
async fn a_warm_launcher_keeps_launching_from_the_last_good_routes_file_when_it_breaks() {
    let env = Env::start(Setup::default()).await;
    // The real cache re-reads at most once a minute of real time (not the handlers' clock): here at every delivery,
    // so the broken file is really read by the launch that follows it.
    let launcher = launcher_reading_routes(&env, Duration::ZERO);
    let three_slots = "accept_eula = true\nmax_concurrent_jobs = 3\n";
    env.put(
        ROUTES_KEY,
        routes_toml(env.bucket(), three_slots).as_bytes(),
    )
    .await;
    let before = env.drop_good("before-the-break").await;
    deliver_until_started(&env, &launcher, 1).await;

    env.put(ROUTES_KEY, b"[deployment\nbucket = ").await;
    let during = env.drop_good("while-broken").await;
    deliver_until_started(&env, &launcher, 2).await;
    settle(&env, &launcher).await;
    assert!(env.events("Dataset Rejected").is_empty());
    assert_eq!(dead_letters(&env, LAUNCH).await, 0);

    // A valid change is picked up at the next delivery: the launch during the break did read the file.
    let changed = routes_toml(env.bucket(), three_slots).replace("epoch = 2", "epoch = 3");
    env.put(ROUTES_KEY, changed.as_bytes()).await;
    let after = env.drop_good("after-the-fix").await;
    deliver_until_started(&env, &launcher, 3).await;
    let epochs = [(&before, "2"), (&during, "2"), (&after, "3")];
    for (uri, epoch) in epochs {
        let job = job_of(&env, uri).await;
        // The planned request JSON-encodes every hyperparameter value, as the SageMaker Python SDK does.
        assert_eq!(
            hyperparameter(&env, &job, "epoch").await,
            format!("\"{epoch}\""),
            "{uri}"
        );
    }
    assert_eq!(env.jobs().await.len(), 3);
    env.stop().await;
}

/// The scenario of the access and key faults: the fault is injected, a dataset lands and dead-letters (`jobs_while`
/// jobs exist meanwhile; `dead` messages in all wait in the dead-letter queues), the fault is cleared, `hubtune
/// redrive` replays them all, and the dataset ends as one published job.
async fn fault_fix_redrive(faults: Value, jobs_while: usize, dead: &[(&str, usize)]) {
    let env = Env::start(Setup::default()).await;
    env.fault(faults).await;
    let armed = faults_left(&env).await;
    let uri = env.drop_good("during-the-fault").await;
    deliver_until_dead_lettered(&env, &env.dispatcher, dead).await;
    assert_waiting(&env, "during-the-fault", 1, jobs_while).await;
    assert!(
        faults_left(&env).await < armed,
        "the fault never happened: the dataset failed for another reason"
    );

    env.stack
        .control("DELETE", "/_hubtune/faults", &json!({}))
        .await
        .expect("the faults cleared");
    let moved = redrive(&env);
    for (queue, n) in dead {
        assert_eq!(moved[*queue], *n, "{queue}: {moved:?}");
    }
    assert_eq!(
        moved.values().sum::<usize>(),
        dead.iter().map(|(_, n)| n).sum::<usize>()
    );
    deliver_until_published(&env, &env.dispatcher, 1).await;
    assert_one_job_each(&env, &[uri]).await;
    env.stop().await;
}

// ---- the launcher, the deliveries and the redrive ----------------------------------------------------------------

/// A launcher as Lambda runs it: the routes file read from S3 (`HUBTUNE_CONFIG=s3://...`), cold (nothing loaded),
/// looking for a changed file at most every `check_interval`.
fn launcher_reading_routes(env: &Env, check_interval: Duration) -> Dispatcher {
    let mut ports = env.aws.ports();
    ports.clock = env.clock.clone();
    let uri = format!("s3://{}/{ROUTES_KEY}", env.bucket());
    let source = ConfigSource::parse(&uri).expect("an s3 routes file");
    let mut ctx = Context::new(ports, source.clone(), DeploymentEnv::default());
    ctx.config = ConfigCache::with_check_interval(source, DeploymentEnv::default(), check_interval);
    Dispatcher::new(&env.stack.info, Arc::new(ctx))
}

async fn write_valid_routes(env: &Env) {
    env.put(ROUTES_KEY, routes_toml(env.bucket(), ROUTE).as_bytes())
        .await;
}

/// One pass of `launcher`, logged in `env.delivered` and the observed events collected (as `Env::pump`).
async fn pump(env: &Env, launcher: &Dispatcher) -> Vec<Delivery> {
    let got = launcher.pump_once().await.expect("dispatch");
    env.delivered.lock().unwrap().extend(
        got.iter()
            .flat_map(|d| d.bodies.iter().map(|b| (d.function, b.clone()))),
    );
    env.collect().await;
    got
}

/// Deliver until `done` holds and every function queue is empty (nothing waiting, nothing in flight). Polls under
/// a deadline: a failed message is visible again only after `RETRY_VISIBILITY_SECONDS` of real time.
async fn deliver_until<F, Fut>(env: &Env, launcher: &Dispatcher, what: &str, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        let got = pump(env, launcher).await;
        if got.is_empty() && env.queued().await == 0 && done().await {
            return;
        }
        if start.elapsed() >= T {
            // What a reader of the failure needs: was the message acknowledged (lost), rejected, or still coming back?
            let delivered = env.delivered.lock().unwrap().len();
            let (dead, queued) = (dead_letters(env, LAUNCH).await, env.queued().await);
            let rejected = env.events("Dataset Rejected").len();
            panic!("not {what} after {T:?}: {delivered} message(s) delivered, {queued} in the function queues, {dead} in the launch dead-letter queue, {rejected} `Dataset Rejected`");
        }
        if got.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Until each queue's dead-letter queue holds (at least) its count.
async fn deliver_until_dead_lettered(env: &Env, launcher: &Dispatcher, dead: &[(&str, usize)]) {
    let what = format!("dead-lettered: {dead:?}");
    deliver_until(env, launcher, &what, || async {
        // A rejection acknowledges the message: it will never reach the dead-letter queue, say so now.
        let rejected = env.events("Dataset Rejected");
        assert!(
            rejected.is_empty(),
            "a deployment fault rejected the dataset: {rejected:#?}"
        );
        for (queue, n) in dead {
            if dead_letters(env, queue).await < *n {
                return false;
            }
        }
        true
    })
    .await;
}

async fn deliver_until_started(env: &Env, launcher: &Dispatcher, n: usize) {
    let what = format!("{n} `Training Run Started`");
    deliver_until(env, launcher, &what, || async {
        env.events("Training Run Started").len() >= n
    })
    .await;
}

/// Until `n` jobs were published (the stand-in ends a job on its own timer, so this polls).
async fn deliver_until_published(env: &Env, launcher: &Dispatcher, n: usize) {
    let what = format!("{n} `Model Published`");
    deliver_until(env, launcher, &what, || async {
        env.events("Model Published").len() >= n
    })
    .await;
}

async fn settle(env: &Env, launcher: &Dispatcher) {
    deliver_until(env, launcher, "settled", || async { true }).await;
}

/// Messages waiting in the dead-letter queue of a function queue.
async fn dead_letters(env: &Env, logical_queue: &str) -> usize {
    let dlq = env.stack.info.queue(logical_queue).dlq_url.clone();
    let dlq = dlq.unwrap_or_else(|| panic!("{logical_queue} has no dead-letter queue"));
    env.dispatcher
        .dead_letters(&dlq)
        .await
        .expect("the DLQ depth")
}

/// The queue's `maxReceiveCount`, as the template set it.
async fn max_receive_count(env: &Env, logical_queue: &str) -> usize {
    let r = env
        .dispatcher
        .sqs
        .get_queue_attributes()
        .queue_url(&env.stack.info.queue(logical_queue).url)
        .attribute_names("RedrivePolicy".into())
        .send()
        .await
        .expect("GetQueueAttributes");
    let policy = r
        .attributes
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k.as_str() == "RedrivePolicy")
        .map(|(_, v)| v)
        .expect("the queue has a redrive policy");
    let policy: Value = serde_json::from_str(&policy).expect("a JSON redrive policy");
    match &policy["maxReceiveCount"] {
        Value::Number(n) => n.as_u64().expect("a count") as usize,
        Value::String(s) => s.parse().expect("a count"),
        other => panic!("maxReceiveCount is {other}"),
    }
}

/// `hubtune redrive` for every function queue, as the binary. Returns the messages moved, by logical queue.
fn redrive(env: &Env) -> std::collections::BTreeMap<String, usize> {
    let info = &env.stack.info;
    let queues = info.read_queues();
    let mut cmd = Command::new(binary());
    cmd.current_dir(hubtune_e2e::repo()).arg("redrive");
    for logical in &queues {
        let q = info.queue(logical);
        let dlq = q.dlq_url.as_deref().expect("a dead-letter queue");
        cmd.arg("--pair").arg(format!("{dlq}={}", q.url));
    }
    let o = cmd
        .env("AWS_ENDPOINT_URL", &info.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", &info.region)
        .output()
        .expect("hubtune runs (cargo build -p hubtune-cli --bin hubtune)");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    queues
        .iter()
        .map(|logical| {
            let url = &info.queue(logical).url;
            let line = out
                .lines()
                .find(|l| l.ends_with(&format!("back to {url}")))
                .unwrap_or_else(|| panic!("no line for {url} in:\n{out}"));
            let n = line.split_whitespace().next().and_then(|n| n.parse().ok());
            (logical.to_string(), n.expect("a count first"))
        })
        .collect()
}

fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| hubtune_e2e::repo().join("target"));
    target.join("debug/hubtune")
}

async fn faults_left(env: &Env) -> u64 {
    env.faults_pending()
        .await
        .iter()
        .map(|f| f["count"].as_u64().unwrap_or(0))
        .sum()
}

// ---- what the user sees ----------------------------------------------------------------------------------------

/// The dataset waits in the dead-letter queue: received `maxReceiveCount` times, never rejected, never announced,
/// `jobs` training jobs meanwhile, `dead` messages dead-lettered in all.
async fn assert_waiting(env: &Env, name: &str, dead: usize, jobs: usize) {
    let marker = format!("datasets/support-bot/{name}/_SUCCESS");
    assert_eq!(
        env.deliveries(FunctionName::LaunchFinetune, &[&marker]),
        max_receive_count(env, LAUNCH).await,
        "every receive of {marker} failed, up to the queue's receive count"
    );
    assert_eq!(dead_letters(env, LAUNCH).await, dead);
    assert!(
        env.events("Dataset Rejected").is_empty(),
        "a deployment fault rejected a dataset: {:#?}",
        env.events("Dataset Rejected")
    );
    assert!(env.events("Training Run Started").is_empty());
    assert_eq!(env.jobs().await.len(), jobs, "{:?}", env.jobs().await);
}

/// Every dataset has exactly one job, started once and published once, and nothing was rejected or is left dead.
async fn assert_one_job_each(env: &Env, uris: &[String]) {
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), uris.len(), "{jobs:?}");
    for uri in uris {
        job_of(env, uri).await;
    }
    for detail_type in ["Training Run Started", "Model Published"] {
        let mut names: Vec<String> = env
            .events(detail_type)
            .iter()
            .map(|e| e["detail"]["job_name"].as_str().unwrap_or("").to_string())
            .collect();
        names.sort();
        assert_eq!(names, jobs, "{detail_type}: once per job");
    }
    assert!(env.events("Dataset Rejected").is_empty());
    for logical in env.stack.info.read_queues() {
        assert_eq!(dead_letters(env, logical).await, 0, "{logical}");
    }
}

/// The one job whose run record names this dataset.
async fn job_of(env: &Env, uri: &str) -> String {
    let mut found = Vec::new();
    for job in env.jobs().await {
        if env.record(&job).await.dataset_uri == uri {
            found.push(job);
        }
    }
    assert_eq!(found.len(), 1, "jobs for {uri}: {found:?}");
    found.remove(0)
}

async fn hyperparameter(env: &Env, job: &str, name: &str) -> String {
    let d = env
        .aws
        .sagemaker
        .describe_training_job()
        .training_job_name(job)
        .send()
        .await
        .expect("DescribeTrainingJob");
    d.hyper_parameters
        .unwrap_or_default()
        .get(name)
        .cloned()
        .unwrap_or_else(|| panic!("{job} has no hyperparameter {name}"))
}
