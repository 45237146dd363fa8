//! The local stand-in for Lambda's SQS event source mapping: it reads each function's queue and calls the real
//! handler (the same code as in Lambda) with an SQS batch, deletes what succeeded, and makes what failed visible
//! again soon, so redelivery and the dead-letter queue (moto's redrive policy from the template) behave as in AWS.
//! A function may read several queues (training-state: its state changes and the sweep's ticks); each is read on
//! its own, as each has its own event source mapping, so a backlog on one never holds up the other.
//!
//! Moto fires no schedule rule: `fire_schedule` sends the tick EventBridge would, to the queues the template's rule
//! targets (the sweep's: SweepQueue).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use hubtune::runtime::context::Context;
use serde_json::{json, Value};

use crate::local::stack::StackInfo;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionName {
    LaunchFinetune,
    TrainingState,
    PublishArtifact,
}

impl FunctionName {
    pub const ALL: [FunctionName; 3] = [
        Self::LaunchFinetune,
        Self::TrainingState,
        Self::PublishArtifact,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LaunchFinetune => "launch-finetune",
            Self::TrainingState => "training-state",
            Self::PublishArtifact => "publish-artifact",
        }
    }
}

/// The template's sweep schedule rule (its target is the sweep's own queue).
pub const SWEEP_RULE: &str = "SweepScheduleRule";

/// Seconds before a failed record is visible again (Lambda would wait for the visibility timeout; locally we do
/// not want to wait minutes).
pub const RETRY_VISIBILITY_SECONDS: i32 = 1;

pub struct Dispatcher {
    pub sqs: aws_sdk_sqs::Client,
    pub ctx: Arc<Context>,
    /// Function, queue URL, queue ARN, and the batch size its mapping names.
    queues: Vec<(FunctionName, String, String, i32)>,
    observer: Option<String>,
    /// Schedule rule -> the URLs of the queues it targets.
    schedules: BTreeMap<String, Vec<String>>,
    account: String,
    region: String,
}

/// What one handler invocation saw, for the demo's live output.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub function: FunctionName,
    pub bodies: Vec<Value>,
    pub failed: usize,
    pub error: Option<String>,
}

pub fn sqs_client(endpoint: &str, region: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "hubtune-local",
        ))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

impl Dispatcher {
    pub fn new(info: &StackInfo, ctx: Arc<Context>) -> Self {
        let queues = FunctionName::ALL
            .iter()
            .flat_map(|f| {
                let logical = info.function_queues.get(f.as_str());
                logical.into_iter().flatten().filter_map(|l| {
                    let q = info.queues.get(l)?;
                    let batch = info.batch_sizes.get(l).copied().unwrap_or(10).clamp(1, 10);
                    Some((*f, q.url.clone(), q.arn.clone(), batch))
                })
            })
            .collect();
        let schedules = info
            .schedules
            .iter()
            .map(|(rule, s)| {
                let urls = s.queues.iter().filter_map(|l| info.queues.get(l));
                (rule.clone(), urls.map(|q| q.url.clone()).collect())
            })
            .collect();
        Self {
            sqs: sqs_client(&info.endpoint, &info.region),
            ctx,
            queues,
            observer: info.queues.get("ObserverQueue").map(|q| q.url.clone()),
            schedules,
            account: info.account.clone(),
            region: info.region.clone(),
        }
    }

    /// What EventBridge does when a schedule rule fires: its `Scheduled Event` onto each queue the rule targets
    /// (for the sweep, SweepQueue); the next `pump_once` hands it to the function. Returns the queues sent to.
    pub async fn fire_schedule(&self, rule: &str) -> anyhow_lite::Result<usize> {
        let urls = self
            .schedules
            .get(rule)
            .ok_or_else(|| format!("the template has no schedule rule {rule}"))?;
        let time = self.ctx.now();
        let id = format!("local-{rule}-{}", time.timestamp_nanos_opt().unwrap_or(0));
        let arn = format!(
            "arn:aws:events:{}:{}:rule/{rule}",
            self.region, self.account
        );
        let body = scheduled_event(&id, &arn, &self.account, &self.region, time).to_string();
        for url in urls {
            self.sqs
                .send_message()
                .queue_url(url)
                .message_body(&body)
                .send()
                .await?;
        }
        Ok(urls.len())
    }

    /// One pass over every function queue: at most one batch each. Returns what was delivered.
    pub async fn pump_once(&self) -> anyhow_lite::Result<Vec<Delivery>> {
        let mut out = Vec::new();
        for (f, url, arn, batch) in &self.queues {
            let resp = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(*batch)
                .wait_time_seconds(0)
                .send()
                .await?;
            let messages = resp.messages.unwrap_or_default();
            if messages.is_empty() {
                continue;
            }
            let payload = sqs_event(&messages, arn);
            // Boxed: a handler's future is large in a debug build, and the dispatcher may run on a thread with a
            // small stack (a test's 2 MiB); Lambda runs it on the main thread.
            let result = match f {
                FunctionName::LaunchFinetune => {
                    Box::pin(launch_finetune::handle(&self.ctx, payload)).await
                }
                FunctionName::TrainingState => {
                    Box::pin(training_state::handle(&self.ctx, payload)).await
                }
                FunctionName::PublishArtifact => {
                    Box::pin(publish_artifact::handle(&self.ctx, payload)).await
                }
            };
            let (failed_ids, error) = failures(&result, &messages);
            self.settle(url, &messages, &failed_ids).await?;
            out.push(Delivery {
                function: *f,
                bodies: messages
                    .iter()
                    .map(|m| {
                        serde_json::from_str(m.body.as_deref().unwrap_or("null"))
                            .unwrap_or(Value::Null)
                    })
                    .collect(),
                failed: failed_ids.len(),
                error,
            });
        }
        Ok(out)
    }

    /// As the event source mapping: what succeeded is deleted, what failed is visible again soon.
    async fn settle(
        &self,
        url: &str,
        messages: &[aws_sdk_sqs::types::Message],
        failed_ids: &[String],
    ) -> anyhow_lite::Result<()> {
        for m in messages {
            let id = m.message_id.clone().unwrap_or_default();
            let handle = m.receipt_handle.clone().unwrap_or_default();
            if failed_ids.contains(&id) {
                self.sqs
                    .change_message_visibility()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .visibility_timeout(RETRY_VISIBILITY_SECONDS)
                    .send()
                    .await?;
            } else {
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
        Ok(())
    }

    /// Pump until `done` says so (checked after every pass) or the timeout passes. Returns whether `done` held.
    pub async fn run_until<F, Fut>(
        &self,
        timeout: Duration,
        mut done: F,
    ) -> anyhow_lite::Result<bool>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        loop {
            let delivered = self.pump_once().await?;
            if done().await {
                return Ok(true);
            }
            if start.elapsed() > timeout {
                return Ok(false);
            }
            if delivered.is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Every event that reached the observer queue since the last call (all outgoing hubtune events), as the
    /// EventBridge envelopes a subscriber receives.
    pub async fn observed(&self) -> anyhow_lite::Result<Vec<Value>> {
        let Some(url) = &self.observer else {
            return Ok(vec![]);
        };
        let mut out = Vec::new();
        loop {
            let resp = self
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await?;
            let messages = resp.messages.unwrap_or_default();
            if messages.is_empty() {
                return Ok(out);
            }
            for m in messages {
                out.push(
                    serde_json::from_str(m.body.as_deref().unwrap_or("null"))
                        .unwrap_or(Value::Null),
                );
                self.sqs
                    .delete_message()
                    .queue_url(url)
                    .set_receipt_handle(m.receipt_handle)
                    .send()
                    .await?;
            }
        }
    }

    /// Messages waiting in a queue's dead-letter queue.
    pub async fn dead_letters(&self, dlq_url: &str) -> anyhow_lite::Result<usize> {
        let resp = self
            .sqs
            .get_queue_attributes()
            .queue_url(dlq_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await?;
        Ok(resp
            .attributes
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
                    .and_then(|v| v.parse().ok())
            })
            .unwrap_or(0))
    }
}

/// A boxed error for the harness (the handlers keep their typed errors).
pub mod anyhow_lite {
    pub type Error = Box<dyn std::error::Error + Send + Sync>;
    pub type Result<T> = std::result::Result<T, Error>;
}

/// The event a schedule rule delivers to its target (EventBridge's `Scheduled Event`: empty detail, the rule's ARN
/// in `resources`).
pub fn scheduled_event(
    id: &str,
    rule_arn: &str,
    account: &str,
    region: &str,
    time: chrono::DateTime<chrono::Utc>,
) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
        "account": account, "time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "region": region,
        "resources": [rule_arn], "detail": {},
    })
}

/// The SQS event Lambda would hand the function for these messages.
fn sqs_event(messages: &[aws_sdk_sqs::types::Message], arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|m| {
            json!({
                "messageId": m.message_id.clone().unwrap_or_default(),
                "receiptHandle": m.receipt_handle.clone().unwrap_or_default(),
                "body": m.body.clone().unwrap_or_default(),
                "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The records that failed (all of them on a whole-invocation error), and that error.
fn failures(
    result: &Result<Value, hubtune::domain::error::Error>,
    messages: &[aws_sdk_sqs::types::Message],
) -> (Vec<String>, Option<String>) {
    match result {
        Ok(v) => (
            v["batchItemFailures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|x| x["itemIdentifier"].as_str().map(str::to_string))
                .collect(),
            None,
        ),
        Err(e) => (
            messages
                .iter()
                .filter_map(|m| m.message_id.clone())
                .collect(),
            Some(e.to_string()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hubtune::domain::inbound::{parse_message, Inbound};

    #[test]
    fn the_local_tick_is_shaped_as_eventbridges_and_is_a_sweep_to_training_state() {
        let time = "2026-11-27T12:00:00Z".parse().unwrap();
        let arn = "arn:aws:events:us-east-1:111122223333:rule/hubtune-sweep";
        let tick = scheduled_event(
            "5b1e0b2a-7d3c-4e91-a6f8-0c2d4e6f8a1b",
            arn,
            "111122223333",
            "us-east-1",
            time,
        );
        let recorded = crate::home().join("fixtures/events/scheduled-event.sweep.json");
        let recorded: Value =
            serde_json::from_str(&std::fs::read_to_string(recorded).unwrap()).unwrap();
        assert_eq!(tick, recorded);
        assert_eq!(parse_message(&tick), vec![Inbound::Sweep]);
    }
}
