//! hubtune-bench: the Rust side of `scripts/bench` (the harness in bench/harness/bench.py drives it).
//!
//! - `pure`: hubtune's own work for one launch: the real handler on the in-memory ports (`hubtune::memory`), from
//!   the SQS payload to the batch response, every step of the launch path and no network. Timed per iteration, in a
//!   loop, in a release build: the part of a launch that is hubtune's and not an AWS round trip.
//! - `stack`: a local stack (moto + stand-in, `Stack::start`) with N datasets uploaded and their `Object Created`
//!   messages taken off the LaunchQueue and written out as Lambda SQS events, one dataset per event; it prints one
//!   JSON line (endpoint, files, the stack's pid) and keeps the stack up until its stdin closes. The harness then runs
//!   a real function binary (or the Python baseline) on those events through its Runtime API stand-in.
//! - `sweep`: training-state's sweep over N closed and M open runs, with the open-run index and without it
//!   (bench/src/sweep.rs): its AWS calls and wall time.
//! - `burst`: N datasets dropped at once, then launch-finetune's real handler draining the LaunchQueue with K
//!   concurrent pollers as Lambda's SQS event source would; datasets per second, the jobs checked (exactly N, no
//!   duplicate), hubtune's AWS calls per dataset, and how much of the CPU time was the local stack's.
//!
//! Each prints its result as one JSON object on stdout; progress goes to stderr.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use hubtune::domain::config::DeploymentEnv;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_e2e::{routes_toml, Env, Setup};
use serde_json::{json, Value};

/// Jobs stay InProgress for the whole run: no completions, artifacts or state-change traffic beyond the first.
const IN_PROGRESS_SECONDS: f64 = 86_400.0;
mod common;
mod pure;
mod sweep;

use common::{BoxError, ROUTE_EXTRA, TRAIN_JSONL};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn arg_str(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.first().map(String::as_str) {
        Some("pure") => pure::pure(arg(&args, "--iterations", 20_000)).await?,
        Some("stack") => {
            stack(
                arg(&args, "--datasets", 1000),
                PathBuf::from(arg_str(&args, "--dir").ok_or("stack needs --dir DIR")?),
            )
            .await?
        }
        Some("sweep") => {
            sweep::sweep(arg(&args, "--closed", 100_000), arg(&args, "--open", 100)).await?
        }
        Some("burst") => {
            burst(
                arg(&args, "--datasets", 1000),
                arg(&args, "--concurrency", 8),
            )
            .await?
        }
        _ => {
            eprintln!(
                "usage: hubtune-bench pure [--iterations N]\n       hubtune-bench sweep [--closed N] [--open M]\n       hubtune-bench stack --dir DIR [--datasets N]\n       hubtune-bench burst [--datasets N] [--concurrency K]"
            );
            std::process::exit(2);
        }
    };
    println!("{out}");
    Ok(())
}

/// CPU seconds (user + system) a process has used so far, from /proc.
fn proc_cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / clock_ticks())
}

fn clock_ticks() -> f64 {
    // sysconf(_SC_CLK_TCK) is 100 on every Linux this runs on; getconf confirms it where available.
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// The local stack's Python process: our child whose command line names hubtune_localstack.
fn stack_pid() -> Option<u32> {
    let me = std::process::id();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let ppid: u32 = stat[close + 2..]
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == me && String::from_utf8_lossy(&cmdline).contains("hubtune_localstack") {
            return Some(pid);
        }
    }
    None
}

// ---- stack: a local stack with N datasets waiting, for the per-event runs ---------------------------------------

async fn upload_datasets(env: &Env, n: usize, prefix: &str) -> f64 {
    let t = Instant::now();
    futures::stream::iter(0..n)
        .for_each_concurrent(16, |i| async move {
            let folder = format!("datasets/support-bot/{prefix}-{i:05}/");
            env.put(&format!("{folder}train.jsonl"), TRAIN_JSONL.as_bytes())
                .await;
            env.put(&format!("{folder}_SUCCESS"), b"").await;
        })
        .await;
    t.elapsed().as_secs_f64()
}

async fn queue_depth(env: &Env, logical: &str) -> Result<usize, BoxError> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let url = &env.stack.info.queue(logical).url;
    let r = env
        .dispatcher
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let a = r.attributes.unwrap_or_default();
    let get = |k: A| a.get(&k).and_then(|v| v.parse::<usize>().ok()).unwrap_or(0);
    Ok(get(A::ApproximateNumberOfMessages) + get(A::ApproximateNumberOfMessagesNotVisible))
}

async fn wait_for_depth(env: &Env, logical: &str, n: usize) -> Result<(), BoxError> {
    let t = Instant::now();
    while queue_depth(env, logical).await? < n {
        if t.elapsed() > Duration::from_secs(120) {
            return Err(format!("{logical} never held {n} messages").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

fn setup() -> Setup {
    Setup {
        route_extra: ROUTE_EXTRA.into(),
        in_progress_seconds: IN_PROGRESS_SECONDS,
        ..Setup::default()
    }
}

async fn stack(n: usize, dir: PathBuf) -> Result<Value, BoxError> {
    std::fs::create_dir_all(&dir)?;
    let env = Env::start(setup()).await;
    let routes = dir.join("hubtune.toml");
    std::fs::write(&routes, routes_toml(env.bucket(), ROUTE_EXTRA))?;
    eprintln!("hubtune-bench stack: uploading {n} datasets");
    let upload_seconds = upload_datasets(&env, n, "ds").await;
    wait_for_depth(&env, "LaunchQueue", n).await?;
    // Take the marker events off the queue: the harness hands them to the function itself, one per invocation.
    let q = env.stack.info.queue("LaunchQueue").clone();
    let mut bodies = Vec::with_capacity(n);
    let t = Instant::now();
    while bodies.len() < n && t.elapsed() < Duration::from_secs(300) {
        let r = env
            .dispatcher
            .sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await?;
        for m in r.messages.unwrap_or_default() {
            env.dispatcher
                .sqs
                .delete_message()
                .queue_url(&q.url)
                .set_receipt_handle(m.receipt_handle.clone())
                .send()
                .await?;
            bodies.push((m.message_id.unwrap_or_default(), m.body.unwrap_or_default()));
        }
    }
    if bodies.len() < n {
        return Err(format!("only {} of {n} marker events arrived", bodies.len()).into());
    }
    let events = dir.join("events.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&events)?);
    for (id, body) in &bodies {
        let payload = json!({"Records": [{
            "messageId": id, "receiptHandle": "AQEB-bench", "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
            "eventSource": "aws:sqs", "eventSourceARN": q.arn, "awsRegion": env.stack.info.region,
        }]});
        writeln!(f, "{payload}")?;
    }
    f.flush()?;
    env.stack
        .control("DELETE", "/_hubtune/calls", &Value::Null)
        .await?;
    let ready = json!({
        "ready": true, "endpoint": env.stack.info.endpoint, "region": env.stack.info.region,
        "bucket": env.bucket(), "routes": routes, "events": events, "datasets": n,
        "upload_seconds": upload_seconds, "stack_pid": stack_pid(),
    });
    println!("{ready}");
    // Serve until the harness closes our stdin.
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    use tokio::io::AsyncReadExt;
    while stdin.read(&mut buf).await.map(|n| n > 0).unwrap_or(false) {}
    env.stop().await;
    Ok(json!({"stopped": true}))
}

// ---- burst: 1,000 datasets at once through launch-finetune ------------------------------------------------------

/// One Lambda instance of launch-finetune fed by the SQS event source: receive up to 10, invoke the handler with the
/// batch, delete what succeeded, make the rest visible again soon (as `Dispatcher::pump_once` does).
async fn poller(
    env: &Env,
    ctx: Arc<Context>,
    launched: &AtomicUsize,
    retried: &AtomicUsize,
    last_done_us: &AtomicU64,
    start: Instant,
    n: usize,
) -> Result<(), BoxError> {
    let q = env.stack.info.queue("LaunchQueue").clone();
    let sqs = &env.dispatcher.sqs;
    let mut idle = 0;
    while launched.load(Ordering::SeqCst) < n && start.elapsed() < Duration::from_secs(900) {
        let r = sqs
            .receive_message()
            .queue_url(&q.url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await?;
        let messages = r.messages.unwrap_or_default();
        if messages.is_empty() {
            idle += 1;
            tokio::time::sleep(Duration::from_millis(if idle > 3 { 200 } else { 20 })).await;
            continue;
        }
        idle = 0;
        let records: Vec<Value> = messages
            .iter()
            .map(|m| {
                json!({
                    "messageId": m.message_id.clone().unwrap_or_default(),
                    "receiptHandle": m.receipt_handle.clone().unwrap_or_default(),
                    "body": m.body.clone().unwrap_or_default(),
                    "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                    "eventSource": "aws:sqs", "eventSourceARN": q.arn, "awsRegion": "us-east-1",
                })
            })
            .collect();
        let result = launch_finetune::handle(&ctx, json!({ "Records": records })).await;
        let failed: Vec<String> = match &result {
            Ok(v) => v["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x["itemIdentifier"].as_str().map(str::to_string))
                .collect(),
            Err(_) => messages
                .iter()
                .filter_map(|m| m.message_id.clone())
                .collect(),
        };
        for m in &messages {
            let id = m.message_id.clone().unwrap_or_default();
            if failed.contains(&id) {
                retried.fetch_add(1, Ordering::SeqCst);
                sqs.change_message_visibility()
                    .queue_url(&q.url)
                    .set_receipt_handle(m.receipt_handle.clone())
                    .visibility_timeout(1)
                    .send()
                    .await?;
            } else {
                sqs.delete_message()
                    .queue_url(&q.url)
                    .set_receipt_handle(m.receipt_handle.clone())
                    .send()
                    .await?;
                launched.fetch_add(1, Ordering::SeqCst);
            }
        }
        last_done_us.fetch_max(start.elapsed().as_micros() as u64, Ordering::SeqCst);
    }
    Ok(())
}

fn self_cpu_seconds() -> f64 {
    proc_cpu_seconds(std::process::id()).unwrap_or(f64::NAN)
}

async fn burst(n: usize, concurrency: usize) -> Result<Value, BoxError> {
    let env = Env::start(setup()).await;
    let spid = stack_pid();
    eprintln!("hubtune-bench burst: dropping {n} datasets");
    let upload_seconds = upload_datasets(&env, n, "burst").await;
    wait_for_depth(&env, "LaunchQueue", n).await?;
    env.stack
        .control("DELETE", "/_hubtune/calls", &Value::Null)
        .await?;
    eprintln!("hubtune-bench burst: launching with {concurrency} concurrent pollers");

    // One Context per poller: each stands for one Lambda instance with its own caches.
    let contexts: Vec<Arc<Context>> = (0..concurrency)
        .map(|_| {
            Arc::new(Context::new(
                env.aws.ports(),
                ConfigSource::Inline(env.config.clone()),
                DeploymentEnv::default(),
            ))
        })
        .collect();
    let launched = AtomicUsize::new(0);
    let retried = AtomicUsize::new(0);
    let last_done = AtomicU64::new(0);
    let stack_cpu0 = spid.and_then(proc_cpu_seconds);
    let self_cpu0 = self_cpu_seconds();
    let start = Instant::now();
    let results = futures::future::join_all(
        contexts
            .iter()
            .map(|c| poller(&env, c.clone(), &launched, &retried, &last_done, start, n)),
    )
    .await;
    for r in results {
        r?;
    }
    let wall = last_done.load(Ordering::SeqCst) as f64 / 1e6;
    let stack_cpu = spid
        .and_then(proc_cpu_seconds)
        .zip(stack_cpu0)
        .map(|(b, a)| b - a);
    let self_cpu = self_cpu_seconds() - self_cpu0;
    let calls = env.calls().await;

    // The check: exactly n jobs, no duplicate name, one run record each, no queue entry left.
    let jobs = env.jobs().await;
    let distinct: BTreeSet<&String> = jobs.iter().collect();
    let state = env.config.deployment.state_key("");
    let runs = env.keys(&format!("{}runs/", state.key())).await.len();
    let queued = env.keys(&format!("{}queue/", state.key())).await.len();
    let per_dataset: BTreeMap<String, f64> = calls
        .iter()
        .map(|(k, v)| (k.clone(), *v as f64 / n as f64))
        .collect();
    let hubtune_calls: u64 = calls
        .iter()
        .filter(|(k, _)| !k.starts_with("sqs."))
        .map(|(_, v)| *v)
        .sum();
    let out = json!({
        "kind": "burst", "datasets": n, "concurrency": concurrency,
        "upload_seconds": upload_seconds,
        "launch_seconds": wall,
        "datasets_per_second": n as f64 / wall,
        "launched": launched.load(Ordering::SeqCst),
        "redelivered_records": retried.load(Ordering::SeqCst),
        "jobs": jobs.len(), "distinct_jobs": distinct.len(),
        "all_prefixed": jobs.iter().all(|j| j.starts_with("hubtune-support-bot-")),
        "run_records": runs, "queue_entries": queued,
        "ok": jobs.len() == n && distinct.len() == n && runs == n && queued == 0,
        "calls": calls, "calls_per_dataset": per_dataset,
        "hubtune_calls_per_dataset": hubtune_calls as f64 / n as f64,
        "stack_cpu_seconds": stack_cpu, "hubtune_cpu_seconds": self_cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "finished_at": Utc::now().to_rfc3339(),
    });
    env.stop().await;
    Ok(out)
}
