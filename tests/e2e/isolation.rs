//! Two deployments in one account (issue 13 item 4): neither touches the other's jobs, run records or `latest.json`.
//!
//! The hard case: one bucket, one local stack and the SAME job prefix (`hubtune`), so each deployment's
//! state-change rule matches the other's jobs too. In AWS each stack has its own rules, queues and bus; here the
//! stack has one of each, so `pump_both` plays both stacks' rules: every S3 event and every job state change goes
//! to both deployments' handlers, and a hubtune event (`Training Run Finished`, on a stack's own bus) only to the
//! deployment that sent it.
//!
//! Beside it, the other half of isolation's promise (issue 13 item 2): a route the deployment's guardrails would
//! refuse is named by `hubtune config check` and `hubtune doctor` before any upload.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::run::RunRecord;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_e2e::{routes_toml, Env, Setup};
use serde_json::{json, Value};

const T: Duration = Duration::from_secs(60);

/// One deployment's handlers: its routes file (own name, own state and output prefixes, one route) over the
/// shared stack.
struct Deployment {
    config: Arc<Config>,
    ctx: Arc<Context>,
}

fn deployment(env: &Env, name: &str, route: &str) -> Deployment {
    let toml = routes_toml(env.bucket(), "accept_eula = true\n")
        .replace(
            "[deployment]\n",
            &format!(
                "[deployment]\nname = \"{name}\"\nstate_prefix = \"{name}/state/\"\n\
                 output_prefix = \"{name}/output/\"\n"
            ),
        )
        .replace(
            "[routes.support-bot]\nprefix = \"datasets/support-bot/\"",
            &format!("[routes.{route}]\nprefix = \"datasets/{route}/\""),
        );
    let config =
        Arc::new(config::parse(&toml, &DeploymentEnv::default(), None).expect("a valid file"));
    assert_eq!(config.deployment.job_prefix.as_str(), "hubtune");
    let mut ports = env.aws.ports();
    ports.clock = env.clock.clone();
    let ctx = Arc::new(Context::new(
        ports,
        ConfigSource::Inline(config.clone()),
        DeploymentEnv::default(),
    ));
    Deployment { config, ctx }
}

impl Deployment {
    async fn record(&self, job: &str) -> Option<RunRecord> {
        let key = self.config.deployment.run_key(job);
        let r = self.ctx.store.read::<RunRecord>(&key).await;
        r.expect("read run record").map(|v| v.value)
    }
}

/// The SQS event a queue's event source mapping would hand the function.
fn sqs_event(bodies: &[String], arn: &str) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"messageId": format!("m{i}"), "receiptHandle": "", "body": b,
            "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": arn, "awsRegion": "us-east-1"})
        })
        .collect();
    json!({ "Records": records })
}

/// One function's invocation, which must succeed for every record.
async fn invoke(function: &str, d: &Deployment, payload: Value) {
    let r = match function {
        "launch-finetune" => launch_finetune::handle(&d.ctx, payload).await,
        "training-state" => training_state::handle(&d.ctx, payload).await,
        _ => publish_artifact::handle(&d.ctx, payload).await,
    };
    let r = r.unwrap_or_else(|e| panic!("{function} of {} failed: {e}", d.config.deployment.name));
    let failures = r["batchItemFailures"].as_array().map_or(0, Vec::len);
    assert_eq!(
        failures, 0,
        "{function} of {}: {r}",
        d.config.deployment.name
    );
}

/// The job a hubtune event (on a stack's own bus) is about, or a state change's job.
fn job_of(body: &Value) -> String {
    let d = &body["detail"];
    d["job_name"]
        .as_str()
        .or(d["TrainingJobName"].as_str())
        .unwrap_or_default()
        .to_string()
}

/// One pass over the function queues, as two stacks' rules would deliver. Returns how many messages it handled,
/// and the jobs whose state changes it handed to a deployment that did not launch them.
async fn pump_both(env: &Env, deps: &[&Deployment], foreign: &mut Vec<String>) -> usize {
    let mut n = 0;
    let info = &env.stack.info;
    let read = info.function_queues.iter();
    for (function, logical) in read.flat_map(|(f, qs)| qs.iter().map(move |q| (f, q))) {
        let q = info.queue(logical);
        let sqs = &env.dispatcher.sqs;
        let r = sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10);
        let messages = r
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        for m in &messages {
            let body = m.body.clone().unwrap_or_default();
            let event: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let job = job_of(&event);
            for d in deps {
                let own = d.record(&job).await.is_some();
                if function == "publish-artifact" && !own {
                    continue; // another stack's bus
                }
                if function == "training-state" && !own {
                    foreign.push(job.clone());
                }
                invoke(function, d, sqs_event(std::slice::from_ref(&body), &q.arn)).await;
            }
            let handle = m.receipt_handle.clone().unwrap_or_default();
            let del = sqs
                .delete_message()
                .queue_url(&q.url)
                .receipt_handle(handle);
            del.send().await.expect("delete");
            n += 1;
        }
    }
    n
}

async fn drop_dataset(env: &Env, route: &str) {
    let folder = format!("datasets/{route}/d1/");
    let line = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n";
    env.put(&format!("{folder}train.jsonl"), line.as_bytes())
        .await;
    env.put(&format!("{folder}_SUCCESS"), b"").await;
}

async fn latest(env: &Env, d: &Deployment, route: &str) -> Option<Value> {
    let bytes = env.object(&d.config.deployment.latest_key(route)).await?;
    Some(serde_json::from_slice(&bytes).expect("latest.json is JSON"))
}

#[tokio::test]
async fn two_deployments_with_one_job_prefix_keep_to_their_own() {
    let env = Env::start(Setup::default()).await;
    let a = deployment(&env, "team-a", "alpha");
    let b = deployment(&env, "team-b", "beta");
    drop_dataset(&env, "alpha").await;
    drop_dataset(&env, "beta").await;
    let mut foreign = Vec::new();
    let start = Instant::now();
    // Polling the queues until both models are published (a deadline above), not waiting for time to pass.
    while latest(&env, &a, "alpha").await.is_none() || latest(&env, &b, "beta").await.is_none() {
        assert!(start.elapsed() < T, "not both published after {T:?}");
        if pump_both(&env, &[&a, &b], &mut foreign).await == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    // One job per dataset, both under the shared prefix, each tagged with its deployment.
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    let find = |route: &str| jobs.iter().find(|j| j.contains(route)).cloned();
    let (job_a, job_b) = (
        find("alpha").expect("alpha's job"),
        find("beta").expect("beta's job"),
    );
    let (job_a, job_b) = (&job_a, &job_b);
    assert!(job_a.starts_with("hubtune-") && job_b.starts_with("hubtune-"));
    // Each training-state was handed the other's state changes (the rules overlap), and ignored them.
    assert!(
        foreign.contains(job_a) && foreign.contains(job_b),
        "{foreign:?}"
    );
    for (d, mine, theirs) in [(&a, job_a, job_b), (&b, job_b, job_a)] {
        assert!(d.record(mine).await.is_some(), "{mine} has no record");
        assert!(
            d.record(theirs).await.is_none(),
            "{theirs} adopted by {}",
            d.config.deployment.name
        );
        let state = d.config.deployment.state_prefix.key().to_string();
        let touched: Vec<String> = env
            .keys(&state)
            .await
            .into_iter()
            .filter(|k| k.contains(theirs.as_str()))
            .collect();
        assert!(touched.is_empty(), "{touched:?}");
    }
    // Each latest.json names its own run only.
    for (d, route, mine, theirs) in [(&a, "alpha", job_a, job_b), (&b, "beta", job_b, job_a)] {
        let l = latest(&env, d, route).await.expect("published").to_string();
        assert!(
            l.contains(mine.as_str()) && !l.contains(theirs.as_str()),
            "{l}"
        );
    }
    env.stop().await;
}

/// `hubtune <args>` against the local stack, with the template's guardrail variable `HUBTUNE_ALLOWED_INSTANCE_TYPES`.
fn hubtune(env: &Env, allowed: &str, args: &[&str]) -> (Output, String) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| hubtune_e2e::repo().join("target"));
    let o = Command::new(target.join("debug/hubtune"))
        .args(args)
        .env_remove("HUBTUNE_CONFIG")
        .env("AWS_ENDPOINT_URL", &env.stack.info.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("HUBTUNE_ALLOWED_INSTANCE_TYPES", allowed)
        .output()
        .expect("hubtune runs (cargo build -p hubtune-cli --bin hubtune)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o, text)
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn config_check_and_doctor_name_a_route_beyond_the_guardrails() {
    let env = Env::start(Setup::default()).await;
    let dir = std::env::temp_dir().join(format!("hubtune-guardrails-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let own = routes_toml(env.bucket(), "accept_eula = true\n");
    let explicit = write(&dir, "explicit.toml", &own);
    // The route's own instance type: refused when the file is read, naming the key.
    let (o, t) = hubtune(&env, "ml.g5.4xlarge", &["config", "check", &explicit]);
    assert!(
        !o.status.success() && t.contains("routes.support-bot.instance_type"),
        "{t}"
    );
    let (o, t) = hubtune(&env, "ml.g5.4xlarge", &["doctor", "--config", &explicit]);
    assert!(
        o.status.code() == Some(1)
            && t.contains("FIX   routes file")
            && t.contains("allowed_instance_types"),
        "{t}"
    );
    // The hub's default instance type (the route sets none): only doctor, which reads the model reference, sees it.
    let default = write(
        &dir,
        "default.toml",
        &own.replace("instance_type = \"ml.g5.2xlarge\"\n", ""),
    );
    let (o, t) = hubtune(&env, "ml.g5.4xlarge", &["config", "check", &default]);
    assert!(o.status.success(), "{t}");
    let (o, t) = hubtune(&env, "ml.g5.4xlarge", &["doctor", "--config", &default]);
    assert!(o.status.code() == Some(1), "{t}");
    assert!(t.contains("FIX   route support-bot: within the deployment's guardrails: `ml.g5.2xlarge` is not among"), "{t}");
    let (_, t) = hubtune(&env, "ml.g5.2xlarge", &["doctor", "--config", &default]);
    assert!(
        t.contains("ok    route support-bot: within the deployment's guardrails"),
        "{t}"
    );
    std::fs::remove_dir_all(&dir).ok();
    env.stop().await;
}
