//! The table of issue 12's cases (`check_cases.rs`, shared with the CLI's test) against the parser, and against
//! the whole planned request where the hub document takes part: each failure names its case.

use super::check_cases::{cases, hub_content, routes_file, Case, Expect, DATASET};
use crate::domain::config::{parse, Config, DeploymentEnv};
use crate::domain::hub::HubContent;
use crate::domain::naming::JobName;
use crate::domain::plan::{plan, PlanInput, TrainingChannel};
use crate::domain::validate;

const EXAMPLE_HUB: &str =
    include_str!("../../../../fixtures/hub/describe-hub-content.model-reference.json");

/// Why `got` (Ok, or the error's text) is not what `want` says, if it is not.
fn mismatch(want: Expect, got: Result<(), String>) -> Option<String> {
    match (want, got) {
        (Expect::Accepted, Ok(())) => None,
        (Expect::Accepted, Err(e)) => Some(format!("refused, expected accepted: {e}")),
        (Expect::Refused { path, says }, Ok(())) => Some(format!(
            "accepted, expected refused at {path:?} saying {says:?}"
        )),
        (Expect::Refused { path, says }, Err(e)) if e.starts_with(path) && e.contains(says) => None,
        (Expect::Refused { path, says }, Err(e)) => {
            Some(format!("refused, but not at {path:?} saying {says:?}: {e}"))
        }
    }
}

/// The request `hubtune plan` and the launcher would send for a dataset of route `a`, checked as they check it.
fn planned(config: &Config, c: &Case) -> Result<serde_json::Value, String> {
    let route = config.route("a").ok_or("no route a")?;
    let hub = HubContent::from_describe_json(&hub_content(EXAMPLE_HUB, c.doc_environment))
        .map_err(|e| e.to_string())?;
    let job = JobName::for_dataset(&config.deployment.job_prefix, "a", "salt", DATASET);
    let req = plan(&PlanInput {
        job_name: &job,
        region: &config.deployment.region,
        hub: &hub,
        settings: &route.training,
        training_channel: TrainingChannel::Prefix(DATASET.parse().map_err(|e| format!("{e}"))?),
        route: "a",
        dataset_tag: "tag".into(),
        deployment: &config.deployment.name,
    })
    .map_err(|r| r.to_string())?;
    let invalid = validate::training_job(&req);
    if !invalid.is_empty() {
        let lines: Vec<String> = invalid
            .iter()
            .map(|v| format!("AWS would refuse {v}"))
            .collect();
        return Err(lines.join("\n"));
    }
    serde_json::to_value(&req).map_err(|e| e.to_string())
}

/// What one case finds wrong: the check, the plan, or a member of the planned request.
fn failure(c: &Case) -> Option<String> {
    let parsed = parse(&routes_file(c), &DeploymentEnv::default(), None);
    let got = parsed.as_ref().map(|_| ()).map_err(|e| e.to_string());
    if let Some(why) = mismatch(c.check, got) {
        return Some(format!("check: {why}"));
    }
    let Ok(config) = parsed else {
        return None;
    };
    let request = planned(&config, c);
    if let Some(why) = mismatch(c.plan, request.as_ref().map(|_| ()).map_err(Clone::clone)) {
        return Some(format!("plan: {why}"));
    }
    let request = request.unwrap_or_default();
    c.request
        .iter()
        .find(|(at, v)| request.pointer(at).and_then(|x| x.as_str()) != Some(*v))
        .map(|(at, v)| format!("request: {at} is {:?}, expected {v:?}", request.pointer(at)))
}

#[test]
fn each_case_is_refused_or_accepted_as_aws_would() {
    let all = cases();
    let failures: Vec<String> = all
        .iter()
        .filter_map(|c| failure(c).map(|why| format!("[{}] {why}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} case(s) failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// The table holds both sides of every rule, and its names are unique (a failure names its case).
#[test]
fn the_table_refuses_and_accepts() {
    let all = cases();
    let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), all.len(), "duplicate case names");
    assert!(all.iter().filter(|c| c.check == Expect::Accepted).count() >= 15);
    assert!(all.iter().filter(|c| c.check != Expect::Accepted).count() >= 40);
    assert!(all
        .iter()
        .any(|c| c.check == Expect::Accepted && c.plan != Expect::Accepted));
}
