//! Starting and stopping the local stack: one Python process (moto + hubtune's stand-in) on a loopback port,
//! provisioned from the deployment template itself. See docs/local-stack-contract.md.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

#[derive(Debug, Clone, Deserialize)]
pub struct QueueInfo {
    pub url: String,
    pub arn: String,
    pub dlq_url: Option<String>,
}

/// The stack's ready line.
#[derive(Debug, Clone, Deserialize)]
pub struct StackInfo {
    pub endpoint: String,
    pub region: String,
    pub account: String,
    pub bucket: String,
    pub event_bus: String,
    pub job_prefix: String,
    pub queues: BTreeMap<String, QueueInfo>,
    /// Each function's queues, as its event source mappings read them (training-state reads two: the state
    /// changes and the sweep's ticks).
    pub function_queues: BTreeMap<String, Vec<String>>,
    /// The largest batch each of those queues' mappings hands its function (`BatchSize`; SQS reads at most 10).
    #[serde(default)]
    pub batch_sizes: BTreeMap<String, i32>,
    /// The template's schedule rules and the queues they target: moto fires no schedule, the dispatcher does.
    #[serde(default)]
    pub schedules: BTreeMap<String, ScheduleInfo>,
}

/// A schedule rule of the template (`ScheduleExpression`), with its target queues' logical ids.
#[derive(Debug, Clone, Deserialize)]
pub struct ScheduleInfo {
    pub expression: String,
    pub queues: Vec<String>,
}

impl StackInfo {
    pub fn queue(&self, logical_id: &str) -> &QueueInfo {
        self.queues
            .get(logical_id)
            .unwrap_or_else(|| panic!("the stack has no queue {logical_id}"))
    }

    /// Every queue some function reads (each once), by logical id.
    pub fn read_queues(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for q in self.function_queues.values().flatten() {
            if !out.contains(&q.as_str()) {
                out.push(q);
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct StackOptions {
    pub bucket: String,
    pub job_prefix: String,
    pub seed_hub: Vec<PathBuf>,
    /// Seconds a job stays InProgress before its outcome.
    pub in_progress_seconds: f64,
    /// Template parameters (`--parameter KEY=VALUE`), e.g. `MarkerSuffix` for the rule the stack provisions.
    pub parameters: Vec<(String, String)>,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            bucket: "hubtune-local".into(),
            job_prefix: "hubtune".into(),
            seed_hub: vec![],
            in_progress_seconds: 1.0,
            parameters: vec![],
        }
    }
}

/// A running local stack; dropping it stops the process (and the process stops by itself if we die: its stdin
/// closes).
pub struct Stack {
    pub info: StackInfo,
    child: Child,
    http: control::Client,
}

#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("the local stack is not installed ({0}): run scripts/setup-localstack")]
    NotInstalled(String),
    #[error("the local stack did not start: {0}")]
    Start(String),
    #[error("local stack control call {path} failed: {message}")]
    Control { path: String, message: String },
}

impl Stack {
    /// Install (first time only) and start the stack.
    pub async fn start(opts: &StackOptions) -> Result<Stack, StackError> {
        let home = crate::home();
        let python = home.join(".venv/bin/python");
        if !python.exists() {
            let status = Command::new("bash")
                .arg(home.join("scripts/setup-localstack"))
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit())
                .status()
                .await
                .map_err(|e| StackError::NotInstalled(e.to_string()))?;
            if !status.success() {
                return Err(StackError::NotInstalled(format!(
                    "scripts/setup-localstack exited with {status}"
                )));
            }
        }
        let mut cmd = Command::new(&python);
        cmd.current_dir(&home)
            .env("PYTHONPATH", home.join("localstack"))
            .args([
                "-m",
                "hubtune_localstack",
                "serve",
                "--port",
                "0",
                "--template",
            ])
            .arg(home.join("infra/template.yaml"))
            .args(["--bucket", &opts.bucket, "--job-prefix", &opts.job_prefix])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("HUBTUNE_STACK_LOGS").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .kill_on_drop(true);
        for s in &opts.seed_hub {
            cmd.arg("--seed-hub").arg(s);
        }
        for (k, v) in &opts.parameters {
            cmd.arg("--parameter").arg(format!("{k}={v}"));
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| StackError::Start(format!("{}: {e}", python.display())))?;
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| StackError::Start("no ready line within 60 s".into()))?
            .map_err(|e| StackError::Start(e.to_string()))?
            .ok_or_else(|| {
                StackError::Start(
                    "the process exited before it was ready (set HUBTUNE_STACK_LOGS=1 to see why)"
                        .into(),
                )
            })?;
        let info: StackInfo = serde_json::from_str(&line)
            .map_err(|e| StackError::Start(format!("bad ready line {line:?}: {e}")))?;
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let stack = Stack {
            http: control::Client::new(&info.endpoint),
            info,
            child,
        };
        stack
            .control(
                "POST",
                "/_hubtune/config",
                &serde_json::json!({ "in_progress_seconds": opts.in_progress_seconds }),
            )
            .await?;
        Ok(stack)
    }

    /// A control call to the stand-in (`/_hubtune/...`).
    pub async fn control(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, StackError> {
        self.http
            .request(method, path, body)
            .await
            .map_err(|message| StackError::Control {
                path: path.to_string(),
                message,
            })
    }

    pub async fn fault(&self, fault: serde_json::Value) -> Result<(), StackError> {
        self.control("POST", "/_hubtune/faults", &fault)
            .await
            .map(|_| ())
    }

    pub async fn outcome(
        &self,
        matching: &str,
        status: &str,
        failure_reason: Option<&str>,
    ) -> Result<(), StackError> {
        let body = serde_json::json!({ "match": matching, "status": status, "failure_reason": failure_reason });
        self.control("POST", "/_hubtune/outcomes", &body)
            .await
            .map(|_| ())
    }

    pub async fn calls(&self) -> Result<BTreeMap<String, u64>, StackError> {
        let v = self
            .control("GET", "/_hubtune/calls", &serde_json::Value::Null)
            .await?;
        Ok(serde_json::from_value(v).unwrap_or_default())
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The stand-in's control API on loopback (JSON in, JSON out), through reqwest.
mod control {
    pub struct Client {
        http: reqwest::Client,
        base: String,
    }

    impl Client {
        pub fn new(endpoint: &str) -> Self {
            Self {
                http: reqwest::Client::new(),
                base: endpoint.trim_end_matches('/').to_string(),
            }
        }

        pub async fn request(
            &self,
            method: &str,
            path: &str,
            body: &serde_json::Value,
        ) -> Result<serde_json::Value, String> {
            let method =
                reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
            let mut request = self.http.request(method, format!("{}{path}", self.base));
            if !body.is_null() {
                request = request.json(body);
            }
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let text = response.text().await.map_err(|e| e.to_string())?;
            if !status.is_success() {
                return Err(format!("HTTP {}: {text}", status.as_u16()));
            }
            Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
        }
    }
}
