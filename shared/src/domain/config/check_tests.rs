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
        more_channels: vec![],
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

/// The template's values (environment variables) override the `[deployment]` guardrails, a bad one is named, and
/// an unset one leaves the table's.
#[test]
fn the_environment_sets_the_guardrails() {
    let file = "[deployment]\nbucket = \"bkt\"\nallowed_instance_types = [\"ml.g5.2xlarge\"]\n\
                [routes.a]\nprefix = \"d/\"\nhub = \"h\"\nmodel_id = \"m\"\nrole_arn = \"arn:aws:iam::111122223333:role/R\"\n\
                instance_type = \"ml.p4d.24xlarge\"\ntags = { team = \"x\" }\nmax_runtime_seconds = 7200\n";
    let e = parse(file, &DeploymentEnv::default(), None).unwrap_err();
    assert!(e.to_string().starts_with("routes.a.instance_type:"), "{e}");
    let env = |f: fn(&mut DeploymentEnv)| {
        let mut e = DeploymentEnv {
            allowed_instance_types: Some("ml.g5.2xlarge, ml.p4d.24xlarge".into()),
            ..Default::default()
        };
        f(&mut e);
        e
    };
    let ok = parse(file, &env(|_| {}), None).unwrap();
    let g = &ok.deployment.guardrails;
    assert_eq!(
        g.allowed_instance_types,
        ["ml.g5.2xlarge", "ml.p4d.24xlarge"]
    );
    assert_eq!(
        (g.max_runtime_cap_seconds, &g.allowed_tag_keys),
        (None, &None)
    );
    let refused = |f: fn(&mut DeploymentEnv)| parse(file, &env(f), None).unwrap_err().to_string();
    let e = refused(|e| e.allowed_tag_keys = Some("hubtune:route,owner,".into()));
    assert!(
        e.starts_with("routes.a.tags:") && e.contains("`team`"),
        "{e}"
    );
    let e = refused(|e| e.max_runtime_cap_seconds = Some("3600".into()));
    assert!(e.starts_with("routes.a.max_runtime_seconds:"), "{e}");
    let e = refused(|e| e.max_runtime_cap_seconds = Some("a day".into()));
    assert!(e.starts_with("deployment.max_runtime_cap_seconds:"), "{e}");
    let e = refused(|e| e.required_subnets = Some("subnet-1".into()));
    assert!(e.starts_with("routes.a.vpc:"), "{e}");
    let e = refused(|e| e.require_network_isolation = Some("yes".into()));
    assert!(
        e.starts_with("deployment.require_network_isolation:"),
        "{e}"
    );
    let isolated = parse(
        file,
        &env(|e| e.require_network_isolation = Some("true".into())),
        None,
    );
    assert!(
        isolated
            .unwrap()
            .deployment
            .guardrails
            .require_network_isolation
    );
}

/// Network isolation and the hub's default instance type are the recipe's: only the plan (doctor) sees them.
#[test]
fn the_job_guardrails_see_the_recipe() {
    use crate::domain::config::Guardrails;
    let open = Guardrails::default();
    assert_eq!(open.job_refusal("ml.p4d.24xlarge", false), None);
    let g = Guardrails {
        allowed_instance_types: vec!["ml.g5.2xlarge".into()],
        require_network_isolation: true,
        ..Default::default()
    };
    assert_eq!(g.job_refusal("ml.g5.2xlarge", true), None);
    let e = g.job_refusal("ml.g5.2xlarge", false).unwrap();
    assert!(e.contains("network isolation"), "{e}");
    let e = g.job_refusal("ml.p4d.24xlarge", true).unwrap();
    assert!(e.contains("allowed_instance_types"), "{e}");
}

/// A route that leaves the runtime to the model reference's document gets at most the deployment's cap: the
/// guardrail bounds each route's own cap, which the plan applies to the document's value.
#[test]
fn the_runtime_guardrail_bounds_each_routes_cap() {
    let file = |route_cap: &str| {
        format!(
            "[deployment]\nbucket = \"bkt\"\nmax_runtime_cap_seconds = 3600\n[defaults]\nhub = \"h\"\n\
             model_id = \"m\"\nrole_arn = \"arn:aws:iam::111122223333:role/R\"\n\
             [routes.a]\nprefix = \"d/\"\n{route_cap}\n"
        )
    };
    let cap = |route_cap: &str| {
        let c = parse(&file(route_cap), &DeploymentEnv::default(), None).unwrap();
        c.routes[0].training.max_runtime_cap_seconds
    };
    assert_eq!(cap(""), Some(3600));
    assert_eq!(cap("max_runtime_cap_seconds = 7200"), Some(3600));
    assert_eq!(cap("max_runtime_cap_seconds = 1800"), Some(1800));
}
