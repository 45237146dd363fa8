//! Issue 13 item 5: a route's own `marker` and `trigger = "object"` fire, on a local stack whose S3 rule is the
//! template's with the `MarkerSuffix` that delivers them (the rule the local stack provisions from
//! infra/template.yaml), and the functions are told what that rule delivers (`HUBTUNE_DELIVERED_MARKERS`).

use std::sync::Arc;
use std::time::Duration;

use hubtune::aws::Aws;
use hubtune::domain::config::{self, DeploymentEnv};
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_cli::local::{Dispatcher, FunctionName, Stack, StackOptions};
use hubtune_e2e::{routes_toml, Env, Setup, TestClock};

const T: Duration = Duration::from_secs(30);
const GOOD: &str = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n{\"instruction\": \"bye\", \"response\": \"see you\"}\n";

/// `Env::start` with the template parameter `MarkerSuffix` set, and the deployment environment the template then
/// gives the functions: the suffix, or `*` (every object) when it is empty.
async fn start(marker_suffix: &str, route_keys: &str) -> Env {
    let setup = Setup::route_with(route_keys);
    let opts = StackOptions {
        seed_hub: setup.seed_hub.clone(),
        in_progress_seconds: setup.in_progress_seconds,
        parameters: vec![("MarkerSuffix".into(), marker_suffix.into())],
        ..Default::default()
    };
    let stack = Stack::start(&opts).await.expect("local stack starts");
    let delivered = if marker_suffix.is_empty() {
        "*"
    } else {
        marker_suffix
    };
    let dep_env = DeploymentEnv {
        delivered_markers: Some(delivered.into()),
        ..Default::default()
    };
    let text = routes_toml(&stack.info.bucket, &setup.route_extra);
    let config = Arc::new(config::parse(&text, &dep_env, None).expect("routes file is valid"));
    let aws = Aws::for_endpoint(&stack.info.endpoint, &stack.info.region).await;
    let clock = Arc::new(TestClock::default());
    let mut ports = aws.ports();
    ports.clock = clock.clone();
    let ctx = Arc::new(Context::new(
        ports,
        ConfigSource::Inline(config.clone()),
        dep_env,
    ));
    let dispatcher = Dispatcher::new(&stack.info, ctx.clone());
    Env {
        stack,
        config,
        ctx,
        aws,
        dispatcher,
        clock,
        seen: Default::default(),
        delivered: Default::default(),
    }
}

#[tokio::test]
async fn a_route_with_its_own_marker_launches_when_the_template_delivers_it() {
    let env = start("_DONE", "marker = \"_DONE\"").await;
    let folder = "datasets/support-bot/2026-12-04";
    env.put(&format!("{folder}/train.jsonl"), GOOD.as_bytes())
        .await;
    env.put(&format!("{folder}/_DONE"), b"").await;
    env.wait_for("Training Run Started", 1, T).await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        env.record(&jobs[0]).await.dataset_uri,
        format!("s3://{}/{folder}/", env.bucket())
    );
    // The rule let only the marker through: the data file never reached the launcher.
    env.settle(T).await;
    assert_eq!(
        env.deliveries(FunctionName::LaunchFinetune, &["train.jsonl"]),
        0
    );
    env.stop().await;
}

#[tokio::test]
async fn a_route_with_an_object_trigger_launches_on_a_data_file() {
    let env = start("", "trigger = \"object\"").await;
    env.put("datasets/support-bot/one.jsonl", GOOD.as_bytes())
        .await;
    env.wait_for("Training Run Started", 1, T).await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        env.record(&jobs[0]).await.dataset_uri,
        format!("s3://{}/datasets/support-bot/one.jsonl", env.bucket())
    );
    env.stop().await;
}
