//! Issue 14 item 4 on the local stack: a route with a `model_package_group` registers each completed run's model as
//! exactly one model package version in the group the template created, under duplicated publications and a crash
//! between CreateModelPackage and the run record's write; `Model Published` carries the version's ARN.

use std::time::Duration;

use hubtune_e2e::{Env, Setup};
use serde_json::Value;

const T: Duration = Duration::from_secs(40);
const GROUP: &str = "e2e-models";

async fn registering() -> Env {
    Env::start(Setup {
        parameters: vec![("ModelPackageGroupName".into(), GROUP.into())],
        ..Setup::route_with(&format!("model_package_group = \"{GROUP}\""))
    })
    .await
}

/// The versions of the group, as ListModelPackages answers them.
async fn versions(env: &Env) -> Vec<String> {
    let out = env
        .aws
        .sagemaker
        .list_model_packages()
        .model_package_group_name(GROUP)
        .send()
        .await
        .expect("ListModelPackages");
    out.model_package_summary_list()
        .iter()
        .filter_map(|s| s.model_package_arn().map(str::to_string))
        .collect()
}

/// `Training Run Finished` as the bus delivered it, redelivered onto publish-artifact's queue `times` times.
async fn redeliver_finished(env: &Env, times: usize) {
    let finished = env.events("Training Run Finished");
    let body = finished.first().expect("Training Run Finished").to_string();
    for _ in 0..times {
        env.send("PublishQueue", &body).await;
    }
    env.settle(T).await;
}

async fn assert_one_version_announced(env: &Env) -> Value {
    let listed = versions(env).await;
    assert_eq!(
        listed.len(),
        1,
        "exactly one model package version: {listed:?}"
    );
    let published = env.events("Model Published");
    assert_eq!(published.len(), 1, "one Model Published: {published:?}");
    let d = published[0]["detail"].clone();
    assert_eq!(d["model_package_arn"], listed[0].as_str(), "{d}");
    let job = d["job_name"].as_str().expect("job_name");
    assert_eq!(
        env.record(job).await.model_package_arn.as_deref(),
        Some(listed[0].as_str())
    );
    d
}

#[tokio::test]
async fn duplicated_publications_register_exactly_one_version_and_model_published_names_it() {
    let env = registering().await;
    env.drop_good("registry-dup").await;
    env.wait_for("Model Published", 1, T).await;
    redeliver_finished(&env, 2).await;
    let d = assert_one_version_announced(&env).await;

    let described = env
        .aws
        .sagemaker
        .describe_model_package()
        .model_package_name(d["model_package_arn"].as_str().unwrap())
        .send()
        .await
        .expect("DescribeModelPackage");
    assert_eq!(
        described.model_approval_status().map(|s| s.as_str()),
        Some("PendingManualApproval")
    );
    let meta = described.customer_metadata_properties().expect("metadata");
    assert_eq!(meta["hubtune:job"], d["job_name"].as_str().unwrap());
    assert!(meta["hubtune:dataset"].contains("registry-dup"));
    assert!(meta.contains_key("hubtune:hub-content-arn"));
    assert!(meta.keys().any(|k| k.starts_with("metric:")), "{meta:?}");
    let c = &described
        .inference_specification()
        .expect("spec")
        .containers()[0];
    assert_eq!(c.model_data_url(), d["artifact_uri"].as_str());
    assert!(c.image().is_some_and(|i| i.contains("inference")));
    env.stop().await;
}

#[tokio::test]
async fn a_crash_after_create_before_the_record_kept_the_arn_still_makes_one_version() {
    let env = registering().await;
    hubtune::runtime::faults::arm("publish.after_create_model_package", "/registry-crash/", 1);
    env.drop_good("registry-crash").await;
    env.wait_for("Model Published", 1, T).await;
    assert_eq!(
        hubtune::runtime::faults::remaining(
            "publish.after_create_model_package",
            "/registry-crash/"
        ),
        0,
        "the crash happened"
    );
    redeliver_finished(&env, 1).await;
    assert_one_version_announced(&env).await;
    let calls = env.calls().await;
    assert!(
        calls
            .get("sagemaker.CreateModelPackage")
            .copied()
            .unwrap_or(0)
            >= 2,
        "asked again after the crash: {calls:?}"
    );
    env.stop().await;
}
