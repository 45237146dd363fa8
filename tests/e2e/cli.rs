//! The `hubtune` command as a user runs it: a subprocess, its exit code and output.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The `hubtune` binary of this workspace (scripts/test builds it before the tests run).
fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| hubtune_e2e::repo().join("target"));
    let bin = target.join("debug/hubtune");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build -p hubtune-cli` first (scripts/test does)",
        bin.display()
    );
    bin
}

fn hubtune() -> Command {
    let mut c = Command::new(binary());
    c.current_dir(hubtune_e2e::repo());
    c.env_remove("AWS_ENDPOINT_URL")
        .env_remove("HUBTUNE_CONFIG");
    c
}

fn run(args: &[&str]) -> Output {
    hubtune().args(args).output().expect("hubtune runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hubtune-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn plan_prints_the_request_offline() {
    let o = run(&[
        "plan",
        "--config",
        "examples/hubtune.toml",
        "--hub-content",
        "examples/hub/describe-hub-content.model-reference.json",
        "s3://acme-ml-datasets/datasets/support-bot/2026-11-27/",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["TrainingJobName"]
        .as_str()
        .unwrap()
        .starts_with("hubtune-support-bot-"));
    assert_eq!(
        v["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"],
        "s3://acme-ml-datasets/datasets/support-bot/2026-11-27/"
    );
    assert_eq!(
        v["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"],
        "S3Prefix"
    );
    assert_eq!(v["HyperParameters"]["epoch"], "\"2\"");
}

#[test]
fn plan_takes_a_validation_channel() {
    let o = run(&[
        "plan",
        "--config",
        "examples/hubtune.toml",
        "--hub-content",
        "examples/hub/describe-hub-content.model-reference.json",
        "s3://acme-ml-datasets/datasets/support-bot/d1/train/",
        "--channel",
        "validation=s3://acme-ml-datasets/datasets/support-bot/d1/validation/",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["InputDataConfig"];
    assert_eq!(c[0]["ChannelName"], "training");
    assert_eq!(c[1]["ChannelName"], "validation");
    assert_eq!(
        c[1]["DataSource"]["S3DataSource"]["S3Uri"],
        "s3://acme-ml-datasets/datasets/support-bot/d1/validation/"
    );
    assert_eq!(c[2]["ChannelName"], "model");
    // A name hubtune sends itself is refused, with exit code 2.
    let o = run(&[
        "plan",
        "--config",
        "examples/hubtune.toml",
        "--hub-content",
        "examples/hub/describe-hub-content.model-reference.json",
        "s3://acme-ml-datasets/datasets/support-bot/d1/train/",
        "--channel",
        "model=s3://acme-ml-datasets/x/",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("channel `model`"), "{}", text(&o));
}

#[test]
fn plan_and_config_errors_exit_2_with_the_route_and_key() {
    let d = tmp("badcfg");
    let bad = d.join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(hubtune_e2e::repo().join("examples/hubtune.toml"))
            .unwrap()
            .replace("accept_eula = true", "accept_eula = \"yes\""),
    )
    .unwrap();
    let o = run(&["config", "check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("routes.support-bot.accept_eula"),
        "{}",
        text(&o)
    );
    let o = run(&[
        "plan",
        "--config",
        bad.to_str().unwrap(),
        "--hub-content",
        "examples/hub/describe-hub-content.model-reference.json",
        "s3://acme-ml-datasets/datasets/support-bot/x/",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("routes.support-bot.accept_eula"),
        "{}",
        text(&o)
    );
    let o = run(&["config", "check", "examples/hubtune.toml"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("route support-bot"));
}

#[test]
fn validate_lists_every_problem_with_file_and_line() {
    let d = tmp("validate");
    std::fs::write(d.join("train.jsonl"), "{\"a\": 1}\n{broken\n").unwrap();
    std::fs::write(d.join("notes.exe"), "x").unwrap();
    let o = run(&[
        "validate",
        d.to_str().unwrap(),
        "--route",
        "support-bot",
        "--config",
        "examples/hubtune.toml",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("train.jsonl:2:"), "{t}");
    assert!(
        t.contains("notes.exe") && t.contains("file_type_not_allowed"),
        "{t}"
    );
    assert!(t.contains("2 problem(s)"), "{t}");
    let o = run(&[
        "validate",
        "examples/datasets/support-bot",
        "--route",
        "support-bot",
        "--config",
        "examples/hubtune.toml",
    ]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn inspect_explains_any_event() {
    let fixture = hubtune_e2e::fixture("events/s3-notification.object-created.json");
    let o = run(&[
        "inspect",
        fixture.to_str().unwrap(),
        "--config",
        "examples/hubtune.toml",
        "--json",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["function"], "launch-finetune");
    assert_eq!(v[0]["input"]["kind"], "object_landed");
    assert_eq!(
        v[0]["input"]["key"],
        "datasets/support-bot/2026-11-27 release#1/_SUCCESS"
    );
    assert_eq!(v[0]["meaning"]["outcome"], "launch");
    let job = v[0]["meaning"]["job"].as_str().unwrap();
    assert!(job.starts_with("hubtune-support-bot-"), "{job}");
    assert!(
        v[0]["says"]
            .as_str()
            .unwrap()
            .starts_with(&format!("launch: job {job} ")),
        "{v}"
    );
    // A payload no function takes: each function returns it (dead-letter queue), none ignores it.
    let d = tmp("inspect");
    std::fs::write(d.join("odd.json"), "{\"hello\": \"world\"}").unwrap();
    let o = run(&["inspect", d.join("odd.json").to_str().unwrap(), "--json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let all = v.as_array().unwrap();
    assert_eq!(all.len(), 3, "{v}");
    for e in all {
        assert_eq!(e["input"]["kind"], "unrecognized");
        assert_eq!(e["meaning"]["outcome"], "failed", "{e}");
    }
    std::fs::write(d.join("notjson.json"), "nope").unwrap();
    assert_eq!(
        run(&["inspect", d.join("notjson.json").to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

/// `inspect`'s line for one fixture, as a person reads it.
fn inspect_text(args: &[&str]) -> String {
    let o = run(&[&["inspect"], args].concat());
    assert!(o.status.success(), "{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn inspect_says_an_s3_test_event_is_ignored_as_the_launcher_ignores_it() {
    let fixture = hubtune_e2e::fixture("events/s3-test-event.json");
    let out = inspect_text(&[fixture.to_str().unwrap()]);
    assert_eq!(out, "event → launch-finetune: ignored: s3 test event\n");
}

#[test]
fn inspect_shows_a_failed_jobs_creation_end_and_failure_reason() {
    let fixture = hubtune_e2e::fixture("events/sagemaker-training-state-change.failed.json");
    let out = inspect_text(&[
        fixture.to_str().unwrap(),
        "--config",
        "examples/hubtune.toml",
    ]);
    for part in [
        "event → training-state: reconcile: job hubtune-support-bot-4f1c9a2e7b3d5c60 reported Failed",
        "created 2026-11-27T09:14:03+00:00",
        "ended 2026-11-27T10:41:02+00:00",
        "failure reason AlgorithmError: ExecuteUserScriptError: CUDA out of memory",
    ] {
        assert!(out.contains(part), "`{part}` missing from: {out}");
    }
    // Without the routes file it cannot tell whose job it is, and says so rather than guess.
    let out = inspect_text(&[fixture.to_str().unwrap()]);
    assert!(out.contains("needs the routes file (--config)"), "{out}");
}

#[test]
fn inspect_unwraps_an_sqs_batch_and_takes_the_function_it_is_told() {
    let body = |name: &str| std::fs::read_to_string(hubtune_e2e::fixture(name)).unwrap();
    let batch = serde_json::json!({"Records": [
        {"messageId": "m0", "eventSource": "aws:sqs", "body": body("events/s3-test-event.json")},
        {"messageId": "m1", "eventSource": "aws:sqs", "body": body("events/s3-notification.marker-in-route-prefix.json")},
    ]});
    let d = tmp("inspect-batch");
    let file = d.join("batch.json");
    std::fs::write(&file, batch.to_string()).unwrap();
    let out = inspect_text(&[file.to_str().unwrap(), "--config", "examples/hubtune.toml"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(
        lines[0],
        "message m0 → launch-finetune: ignored: s3 test event"
    );
    assert!(
        lines[1].starts_with("message m1 → launch-finetune: rejected: marker_outside_folder ("),
        "{out}"
    );
    // hubtune's own `Training Run Finished`, misrouted to the launcher: it comes back, then the dead-letter queue.
    let finished = hubtune_e2e::fixture("events/hubtune.training-run-finished.json");
    let out = inspect_text(&[finished.to_str().unwrap(), "--function", "launch-finetune"]);
    assert!(
        out.starts_with("event → launch-finetune: failed: launch-finetune does not take hubtune's `Training Run Finished`"),
        "{out}"
    );
    assert!(out.contains("dead-letter queue"), "{out}");
    let out = inspect_text(&[finished.to_str().unwrap()]);
    assert!(
        out.starts_with(
            "event → publish-artifact: publish: job hubtune-support-bot-4f1c9a2e7b3d5c60"
        ),
        "{out}"
    );
    let o = run(&["inspect", finished.to_str().unwrap(), "--function", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("launch-finetune, training-state, publish-artifact"),
        "{}",
        text(&o)
    );
}

#[test]
fn the_demo_runs_the_whole_chain_and_leaves_nothing_running() {
    // Everything the demo starts inherits this mark: that is how its processes are found, and only its.
    let mark = hubtune_e2e::new_mark("demo");
    let mut child = hubtune()
        .args(["demo", "--train-seconds", "0.5"])
        .env(hubtune_e2e::MARK_VAR, &mark)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hubtune demo starts");
    let demo = child.id();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut t = String::new();
    // The demo prints its stack's endpoint first (`    endpoint http://127.0.0.1:PORT  bucket ...`).
    let endpoint = loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            panic!("the demo printed no endpoint:\n{t}");
        }
        t.push_str(&line);
        let mut words = line.split_whitespace();
        if words.next() == Some("endpoint") {
            break words.next().unwrap().to_string();
        }
    };
    let port = endpoint.rsplit(':').next().unwrap().to_string();
    // While the demo runs, its local stack is found by both checks below: they can see a leak.
    let running: Vec<_> = hubtune_e2e::marked_processes(&mark)
        .into_iter()
        .filter(|(pid, _)| *pid != demo)
        .collect();
    assert!(
        running
            .iter()
            .any(|(_, cmd)| cmd.contains("hubtune_localstack serve")),
        "the demo's local stack is not among its processes: {running:?}"
    );
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_ok(),
        "the demo's local stack does not answer on {endpoint} while the demo runs"
    );
    out.read_to_string(&mut t).unwrap();
    let status = child.wait().unwrap();
    t.push_str(&stderr.join().unwrap());
    assert!(status.success(), "{status}\n{t}");
    for step in [
        "dataset landed",
        "Training Run Started",
        "Model Published",
        "latest.json",
        "\"artifact_uri\"",
        "registered model package arn:aws:sagemaker:",
        "approval PendingManualApproval",
        // The example dataset's two channels, each with its manifest.
        "channel training",
        "channel validation",
        ".validation.json",
    ] {
        assert!(t.contains(step), "the demo did not show `{step}`:\n{t}");
    }
    // Nothing left running: no process the demo started is alive, and its stack no longer answers on its port.
    let left = hubtune_e2e::marked_processes(&mark);
    assert!(left.is_empty(), "the demo left running: {left:?}");
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "the demo's local stack still answers on {endpoint}"
    );
}

#[test]
fn plan_from_a_local_folder_checks_it_first() {
    let o = run(&[
        "plan",
        "--config",
        "examples/hubtune.toml",
        "--hub-content",
        "examples/hub/describe-hub-content.model-reference.json",
        "--dataset",
        "examples/datasets/support-bot",
        "--route",
        "support-bot",
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The example's train/ and validation/ subfolders are its two channels, each planned as its prefix.
    assert_eq!(
        v["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"],
        "s3://acme-ml-datasets/datasets/support-bot/support-bot/train/"
    );
    assert_eq!(v["InputDataConfig"][1]["ChannelName"], "validation");
    assert_eq!(
        v["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"],
        "s3://acme-ml-datasets/datasets/support-bot/support-bot/validation/"
    );
    let d = tmp("plan-bad");
    std::fs::write(d.join("train.jsonl"), "not json\n").unwrap();
    let o = run(&[
        "plan",
        "--config",
        "examples/hubtune.toml",
        "--hub-content",
        "examples/hub/describe-hub-content.model-reference.json",
        "--dataset",
        d.to_str().unwrap(),
        "--route",
        "support-bot",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("train.jsonl:1:"), "{}", text(&o));
}
