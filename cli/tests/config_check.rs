//! `hubtune config check` and `hubtune plan` as a user runs them, a subprocess per case, over the table of issue
//! 12's cases that the core's unit test reads too (`hubtune::domain::config::check_cases`, feature `test-util`): the exit code, and the
//! routes-file key and rule in the message. Offline: `plan` reads the example model reference from a file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hubtune::domain::config::check_cases::{
    cases, hub_content, routes_file, Case, Expect, DATASET,
};

/// The repository's root (the CLI crate's parent).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

/// The binary cargo built for these tests, with none of the environment that overrides a routes file.
fn hubtune(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hubtune"));
    c.current_dir(repo()).args(args);
    for var in [
        "AWS_ENDPOINT_URL",
        "HUBTUNE_CONFIG",
        "HUBTUNE_BUCKET",
        "HUBTUNE_DATASET_PREFIX",
        "HUBTUNE_STATE_PREFIX",
        "HUBTUNE_OUTPUT_PREFIX",
        "HUBTUNE_JOB_PREFIX",
        "HUBTUNE_EVENT_BUS",
        "HUBTUNE_DEPLOYMENT",
        "HUBTUNE_TRAINING_ROLE_ARN",
    ] {
        c.env_remove(var);
    }
    c.output().expect("hubtune runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Why a run does not end as `want` says: exit 0, or exit 2 with the key and the rule in its message.
fn mismatch(want: Expect, o: &Output) -> Option<String> {
    let t = text(o);
    match (want, o.status.code()) {
        (Expect::Accepted, Some(0)) => None,
        (Expect::Refused { path, says }, Some(2)) if t.contains(path) && t.contains(says) => None,
        (want, code) => Some(format!(
            "exit {code:?}, expected {want:?}; output: {}",
            t.chars().take(600).collect::<String>()
        )),
    }
}

/// The case's files (routes file, model reference), in a folder of its own.
fn files(dir: &Path, i: usize, c: &Case) -> (PathBuf, PathBuf) {
    let routes = dir.join(format!("case-{i}.toml"));
    std::fs::write(&routes, routes_file(c)).expect("routes file written");
    let example = std::fs::read_to_string(
        repo().join("examples/hub/describe-hub-content.model-reference.json"),
    )
    .expect("the example model reference");
    let hub = dir.join(format!("case-{i}.hub.json"));
    std::fs::write(&hub, hub_content(&example, c.doc_environment)).expect("hub written");
    (routes, hub)
}

/// What one case finds wrong with `hubtune config check` or `hubtune plan`.
fn failure(dir: &Path, i: usize, c: &Case) -> Option<String> {
    let (routes, hub) = files(dir, i, c);
    let (routes, hub) = (routes.to_str().unwrap(), hub.to_str().unwrap());
    let o = hubtune(&["config", "check", routes]);
    if let Some(why) = mismatch(c.check, &o) {
        return Some(format!("config check: {why}"));
    }
    let o = hubtune(&[
        "plan",
        "--config",
        routes,
        "--hub-content",
        hub,
        "--route",
        "a",
        DATASET,
    ]);
    if let Some(why) = mismatch(c.plan, &o) {
        return Some(format!("plan: {why}"));
    }
    if c.plan != Expect::Accepted {
        return None;
    }
    let request: serde_json::Value = match serde_json::from_slice(&o.stdout) {
        Ok(v) => v,
        Err(e) => return Some(format!("plan: the request is not JSON: {e}")),
    };
    c.request
        .iter()
        .find(|(at, v)| request.pointer(at).and_then(|x| x.as_str()) != Some(*v))
        .map(|(at, v)| format!("plan: {at} is {:?}, expected {v:?}", request.pointer(at)))
}

/// Every case of the table through the real binary; a failure names its case.
#[test]
fn config_check_and_plan_refuse_what_aws_would_and_accept_what_it_does() {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("config_check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a folder for the cases");
    let all = cases();
    let failures: Vec<String> = all
        .iter()
        .enumerate()
        .filter_map(|(i, c)| failure(&dir, i, c).map(|why| format!("[{}] {why}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}
