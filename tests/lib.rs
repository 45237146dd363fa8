//! The end-to-end harness: a local stack per test, the routes file, the real handlers behind the dispatcher, and
//! helpers that look at what a user would see (objects in S3, jobs in SageMaker, events on the hubtune bus).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use hubtune::aws::Aws;
use hubtune::domain::config::{self, Config, DeploymentEnv};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::ports::{Clock, PutCondition};
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune_cli::local::{Delivery, Dispatcher, FunctionName, Stack, StackOptions};
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
    /// Template parameters of the local stack (`ModelPackageGroupName`, …).
    pub parameters: Vec<(String, String)>,
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
            parameters: vec![],
        }
    }
}

/// The handlers' clock: the system's time plus an offset the test moves forward (`Env::advance`), so a test of
/// "after N seconds" does not wait N seconds. Only hubtune's own reading of the time moves: the local stack (S3's
/// event times, the stand-in's job timers) keeps real time.
#[derive(Debug, Default)]
pub struct TestClock {
    offset: Mutex<chrono::Duration>,
}

impl TestClock {
    pub fn advance(&self, by: Duration) {
        let by = chrono::Duration::from_std(by).expect("a representable duration");
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock().unwrap()
    }
}

pub struct Env {
    pub stack: Stack,
    pub config: Arc<Config>,
    pub ctx: Arc<Context>,
    pub aws: Aws,
    pub dispatcher: Dispatcher,
    /// The clock behind `ctx`.
    pub clock: Arc<TestClock>,
    /// Every event the observer queue has delivered so far.
    pub seen: Mutex<Vec<Value>>,
    /// Every message the dispatcher handed to a function so far (what `settle` and `wait_for` pumped).
    pub delivered: Mutex<Vec<(FunctionName, Value)>>,
}

pub fn routes_toml(bucket: &str, route_extra: &str) -> String {
    // A route that lists its instance types (capacity fallback) names no single one beside them.
    let instance_type = if route_extra.contains("instance_types") {
        ""
    } else {
        "instance_type = \"ml.g5.2xlarge\"\n"
    };
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
{instance_type}hyperparameters = {{ epoch = 2, instruction_tuned = true }}
{route_extra}
"#
    )
}

impl Env {
    pub async fn start(setup: Setup) -> Env {
        let opts = StackOptions {
            seed_hub: setup.seed_hub.clone(),
            in_progress_seconds: setup.in_progress_seconds,
            parameters: setup.parameters.clone(),
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
        let clock = Arc::new(TestClock::default());
        let mut ports = aws.ports();
        ports.clock = clock.clone();
        let ctx = Arc::new(Context::new(
            ports,
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
            clock,
            seen: Default::default(),
            delivered: Default::default(),
        }
    }

    /// Move the handlers' clock forward (the local stack's clock does not move).
    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
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

    /// Pump the queues until no message is left anywhere, neither waiting nor in flight (a failed one comes back
    /// after `RETRY_VISIBILITY_SECONDS`), collecting observed events. Polls with `timeout` as its deadline, and panics
    /// when the queues are still busy then. Events the stand-in emits later on its own timers (a job still
    /// training) are not in any queue yet: wait for those with `wait_for`.
    pub async fn settle(&self, timeout: Duration) {
        let start = Instant::now();
        let mut quiet = 0;
        loop {
            let d = self.pump().await;
            if d.is_empty() && self.queued().await == 0 {
                quiet += 1;
                if quiet >= 3 {
                    return;
                }
            } else {
                quiet = 0;
            }
            assert!(
                start.elapsed() < timeout,
                "the queues were still busy after {timeout:?}"
            );
            if d.is_empty() {
                // Polling the queues (a deadline above), not waiting for time to pass.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// One pass of the dispatcher, its deliveries logged and the observed events collected.
    pub async fn pump(&self) -> Vec<Delivery> {
        let d = self.dispatcher.pump_once().await.expect("dispatch");
        self.delivered.lock().unwrap().extend(
            d.iter()
                .flat_map(|d| d.bodies.iter().map(|b| (d.function, b.clone()))),
        );
        self.collect().await;
        d
    }

    /// The messages in the function queues, visible or in flight.
    pub async fn queued(&self) -> usize {
        let mut n = 0;
        for logical in self.stack.info.read_queues() {
            let r = self
                .dispatcher
                .sqs
                .get_queue_attributes()
                .queue_url(&self.stack.info.queue(logical).url)
                .attribute_names("All".into())
                .send()
                .await
                .expect("GetQueueAttributes");
            for (k, v) in r.attributes.unwrap_or_default() {
                if matches!(
                    k.as_str(),
                    "ApproximateNumberOfMessages" | "ApproximateNumberOfMessagesNotVisible"
                ) {
                    n += v.parse::<usize>().expect("a count");
                }
            }
        }
        n
    }

    /// How many messages handed to `function` so far contain every one of `needles` (in their JSON).
    pub fn deliveries(&self, function: FunctionName, needles: &[&str]) -> usize {
        self.delivered
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, b)| {
                let text = b.to_string();
                *f == function && needles.iter().all(|n| text.contains(n))
            })
            .count()
    }

    pub async fn collect(&self) {
        let new = self.dispatcher.observed().await.expect("observer queue");
        self.seen.lock().unwrap().extend(new);
    }

    /// Pump until `n` events of this detail-type were seen (or panic after the timeout).
    pub async fn wait_for(&self, detail_type: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            self.pump().await;
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
            // Polling (the deadline above).
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

    /// The stack faults not yet used up: empty once every armed fault really happened.
    pub async fn faults_pending(&self) -> Vec<Value> {
        let v = self
            .stack
            .control("GET", "/_hubtune/faults", &Value::Null)
            .await
            .expect("the pending faults");
        v["faults"].as_array().cloned().unwrap_or_default()
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

/// The variable that marks the processes a test starts: a child inherits its parent's environment, so a command run
/// with `MARK_VAR=<mark>` marks itself and everything it starts, and nothing else.
pub const MARK_VAR: &str = "HUBTUNE_E2E_MARK";

/// A mark no other test (or test run) uses.
pub fn new_mark(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{}-{nanos}", std::process::id())
}

/// The live processes carrying `mark` (read from /proc), with their command lines. A zombie shows no environment,
/// so only processes still running are found.
pub fn marked_processes(mark: &str) -> Vec<(u32, String)> {
    let want = format!("{MARK_VAR}={mark}");
    let Ok(dir) = std::fs::read_dir("/proc") else {
        panic!("no /proc: the process checks need Linux");
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == want.as_bytes()))
        })
        .map(|pid| {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            (pid, String::from_utf8_lossy(&cmd).replace('\0', " "))
        })
        .collect()
}
