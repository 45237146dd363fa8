//! The end-to-end harness: a local stack per test, the routes file, the real handlers behind the dispatcher, and
//! helpers that look at what a user would see (objects in S3, jobs in SageMaker, events on the hubtune bus).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hubtune::aws::Aws;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::ports::PutCondition;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_cli::local::{Dispatcher, Stack, StackOptions};
use serde_json::Value;

pub const HUB: &str = "my-private-hub";
pub const MODEL: &str = "meta-textgeneration-llama-3-2-1b";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/hubtune-training";

pub fn repo() -> PathBuf {
    hubtune_cli::home()
}

/// The reference fixtures in the repository's `fixtures/` (real-shaped events, hub documents, SDK requests).
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// One route's extra TOML lines on top of a working default.
pub struct Setup {
    pub route_extra: String,
    pub in_progress_seconds: f64,
    pub seed_hub: Vec<PathBuf>,
}

impl Setup {
    /// The default route (EULA accepted) with these TOML keys added, e.g. `max_concurrent_jobs = 1`.
    pub fn route_with(keys: &str) -> Self {
        Self {
            route_extra: format!("accept_eula = true\n{keys}\n"),
            ..Self::default()
        }
    }
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            route_extra: "accept_eula = true\n".into(),
            in_progress_seconds: 0.4,
            seed_hub: vec![repo().join("examples/hub/describe-hub-content.model-reference.json")],
        }
    }
}

pub struct Env {
    pub stack: Stack,
    pub config: Arc<Config>,
    pub ctx: Arc<Context>,
    pub aws: Aws,
    pub dispatcher: Dispatcher,
    /// Every event the observer queue has delivered so far.
    pub seen: std::sync::Mutex<Vec<Value>>,
}

pub fn routes_toml(bucket: &str, route_extra: &str) -> String {
    format!(
        r#"
[deployment]
bucket = "{bucket}"
[defaults]
hub = "{HUB}"
role_arn = "{ROLE}"
[routes.support-bot]
prefix = "datasets/support-bot/"
model_id = "{MODEL}"
instance_type = "ml.g5.2xlarge"
hyperparameters = {{ epoch = 2, instruction_tuned = true }}
{route_extra}
"#
    )
}

impl Env {
    pub async fn start(setup: Setup) -> Env {
        let opts = StackOptions {
            seed_hub: setup.seed_hub.clone(),
            in_progress_seconds: setup.in_progress_seconds,
            ..Default::default()
        };
        let stack = Stack::start(&opts).await.expect("local stack starts");
        let config = Arc::new(
            config::parse(
                &routes_toml(&stack.info.bucket, &setup.route_extra),
                &DeploymentEnv::default(),
                None,
            )
            .expect("test routes file is valid"),
        );
        let aws = Aws::for_endpoint(&stack.info.endpoint, &stack.info.region).await;
        let ctx = Arc::new(Context::new(
            aws.ports(),
            ConfigSource::Inline(config.clone()),
            DeploymentEnv::default(),
        ));
        let dispatcher = Dispatcher::new(&stack.info, ctx.clone());
        Env {
            stack,
            config,
            ctx,
            aws,
            dispatcher,
            seen: Default::default(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.stack.info.bucket
    }

    pub async fn put(&self, key: &str, body: &[u8]) {
        self.aws
            .put_object(
                self.bucket(),
                key,
                body.to_vec(),
                "application/octet-stream",
                PutCondition::None,
            )
            .await
            .expect("put object");
    }

    /// A dataset folder with files, then its marker.
    pub async fn drop_dataset(&self, name: &str, files: &[(&str, &str)]) -> String {
        let folder = format!("datasets/support-bot/{name}/");
        for (f, body) in files {
            self.put(&format!("{folder}{f}"), body.as_bytes()).await;
        }
        self.put(&format!("{folder}_SUCCESS"), b"").await;
        format!("s3://{}/{folder}", self.bucket())
    }

    pub async fn drop_good(&self, name: &str) -> String {
        self.drop_dataset(name, &[("train.jsonl", "{\"instruction\": \"hi\", \"response\": \"hello\"}\n{\"instruction\": \"bye\", \"response\": \"see you\"}\n")]).await
    }

    /// Pump the queues until no message is left anywhere (or the timeout), collecting observed events.
    pub async fn settle(&self, timeout: Duration) {
        let start = Instant::now();
        let mut quiet = 0;
        while start.elapsed() < timeout {
            let d = self.dispatcher.pump_once().await.expect("dispatch");
            self.collect().await;
            if d.is_empty() {
                quiet += 1;
                if quiet >= 5 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            } else {
                quiet = 0;
            }
        }
    }

    pub async fn collect(&self) {
        let new = self.dispatcher.observed().await.expect("observer queue");
        self.seen.lock().unwrap().extend(new);
    }

    /// Pump until `n` events of this detail-type were seen (or panic after the timeout).
    pub async fn wait_for(&self, detail_type: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            self.dispatcher.pump_once().await.expect("dispatch");
            self.collect().await;
            let got = self.events(detail_type);
            if got.len() >= n {
                return got;
            }
            if start.elapsed() > timeout {
                panic!(
                    "waited {timeout:?} for {n} `{detail_type}` event(s); saw: {:#?}",
                    self.seen
                        .lock()
                        .unwrap()
                        .iter()
                        .map(|e| e["detail-type"].clone())
                        .collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn events(&self, detail_type: &str) -> Vec<Value> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e["detail-type"] == detail_type)
            .cloned()
            .collect()
    }

    /// Every training job the (stand-in) SageMaker has.
    pub async fn jobs(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next = None;
        loop {
            let r = self
                .aws
                .sagemaker
                .list_training_jobs()
                .set_next_token(next)
                .max_results(100)
                .send()
                .await
                .expect("ListTrainingJobs");
            out.extend(
                r.training_job_summaries
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|s| s.training_job_name),
            );
            next = r.next_token;
            if next.is_none() {
                break;
            }
        }
        out.sort();
        out
    }

    pub async fn record(&self, job: &str) -> RunRecord {
        let key = self
            .config
            .deployment
            .state_key(&format!("runs/{job}.json"));
        self.ctx
            .store
            .read::<RunRecord>(&key)
            .await
            .expect("read run record")
            .unwrap_or_else(|| panic!("no run record for {job}"))
            .value
    }

    pub async fn object(&self, uri: &S3Uri) -> Option<Vec<u8>> {
        self.aws
            .get_object(uri.bucket(), uri.key())
            .await
            .expect("get object")
            .map(|o| o.body)
    }

    pub async fn keys(&self, prefix: &str) -> Vec<String> {
        self.aws
            .list_objects(self.bucket(), prefix, 10_000)
            .await
            .expect("list")
            .objects
            .into_iter()
            .map(|f| f.key)
            .collect()
    }

    pub async fn calls(&self) -> BTreeMap<String, u64> {
        self.stack.calls().await.expect("calls")
    }

    /// The AWS calls one handler invocation makes: counted from zero.
    pub async fn calls_of<F: std::future::Future>(&self, f: F) -> BTreeMap<String, u64> {
        self.stack
            .control("DELETE", "/_hubtune/calls", &serde_json::json!({}))
            .await
            .expect("reset the call counts");
        f.await;
        self.calls().await
    }

    pub async fn fault(&self, v: Value) {
        self.stack.fault(v).await.expect("fault accepted");
    }

    /// The messages now waiting in a function's queue, received (and left in flight for `visibility` seconds).
    pub async fn peek(&self, logical_queue: &str) -> Vec<String> {
        let url = &self.stack.info.queue(logical_queue).url;
        let r = self
            .dispatcher
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .expect("receive");
        r.messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.body)
            .collect()
    }

    pub async fn send(&self, logical_queue: &str, body: &str) {
        let url = &self.stack.info.queue(logical_queue).url;
        self.dispatcher
            .sqs
            .send_message()
            .queue_url(url)
            .message_body(body)
            .send()
            .await
            .expect("send");
    }

    pub async fn stop(self) {
        self.stack.stop().await;
    }
}
