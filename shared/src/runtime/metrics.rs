//! CloudWatch metrics in the embedded metric format (EMF): one JSON line on stdout per outcome, which CloudWatch
//! Logs turns into metrics in the `hubtune` namespace without any API call (no PutMetricData, no extra latency, no
//! IAM). Called by the functions where an outcome is known; the domain never calls it.
//!
//! Why not the `metrics_cloudwatch_embedded` crate: it is a backend for the `metrics` facade, so it needs a global
//! recorder installed once per process and its own Lambda run loop (tower) to flush after each invocation; a global
//! recorder is shared by the tests of one binary, which run in parallel, so a test could not tell its own counts
//! from another's. Six metrics do not need the facade: the document is built here with serde_json (already a
//! dependency) and its shape is checked by a test against the EMF specification.
//!
//! Dead-lettered messages: Lambda cannot know that a message it returns is on its last receive (the queue moves it
//! to the dead-letter queue afterwards), so this counts `MessagesReturned` per error class, and the dead-letter
//! queues' depth alarms in infra/template.yaml stand for "dead-lettered".

use std::cell::RefCell;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use crate::domain::error::ErrorClass;

/// The CloudWatch namespace of every hubtune metric.
pub const NAMESPACE: &str = "hubtune";
/// Datasets that became a training job.
pub const DATASETS_LAUNCHED: &str = "DatasetsLaunched";
/// Datasets put in their route's queue (the route had no free slot).
pub const DATASETS_QUEUED: &str = "DatasetsQueued";
/// Datasets that ended with `Dataset Rejected`.
pub const DATASETS_REJECTED: &str = "DatasetsRejected";
/// Messages returned to their queue (a batch item failure), per error class.
pub const MESSAGES_RETURNED: &str = "MessagesReturned";
/// From the dataset landing (its notification's time) to the training job being created.
pub const LAUNCH_TO_START: &str = "LaunchToStartMilliseconds";
/// From the training job's end to `Model Published` being sent.
pub const FINISH_TO_PUBLISH: &str = "FinishToPublishMilliseconds";

/// One metric value with its CloudWatch unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample<'a> {
    pub name: &'a str,
    pub unit: &'a str,
    pub value: f64,
}

/// The EMF document for `values`, dimensioned by every `(name, value)` of `dims` together.
pub fn document(now: DateTime<Utc>, dims: &[(&str, &str)], values: &[Sample<'_>]) -> Value {
    let mut doc = Map::new();
    let dim_names: Vec<&str> = dims.iter().map(|(k, _)| *k).collect();
    let metrics: Vec<Value> = values
        .iter()
        .map(|v| json!({"Name": v.name, "Unit": v.unit}))
        .collect();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dim_names],
                "Metrics": metrics,
            }],
        }),
    );
    for (k, v) in dims {
        doc.insert((*k).into(), json!(v));
    }
    for v in values {
        doc.insert(v.name.into(), json!(v.value));
    }
    Value::Object(doc)
}

/// One dataset outcome on a route: a count of 1 (`DatasetsLaunched`, `DatasetsQueued`, `DatasetsRejected`).
pub fn dataset(now: DateTime<Utc>, deployment: &str, route: &str, name: &str) {
    let v = Sample {
        name,
        unit: "Count",
        value: 1.0,
    };
    emit(&document(now, &route_dims(deployment, route), &[v]));
}

/// A dataset launched: the count and the time from its landing to its job (never negative: clocks differ).
pub fn launched(now: DateTime<Utc>, deployment: &str, route: &str, landed: DateTime<Utc>) {
    let values = [
        Sample {
            name: DATASETS_LAUNCHED,
            unit: "Count",
            value: 1.0,
        },
        latency(LAUNCH_TO_START, landed, now),
    ];
    emit(&document(now, &route_dims(deployment, route), &values));
}

/// `Model Published` sent: the time from the job's end.
pub fn published(now: DateTime<Utc>, deployment: &str, route: &str, job_end: DateTime<Utc>) {
    let v = latency(FINISH_TO_PUBLISH, job_end, now);
    emit(&document(now, &route_dims(deployment, route), &[v]));
}

/// A message returned to its queue. The batch does not know the deployment: the function's name (Lambda's own
/// variable) tells deployments apart.
pub fn returned(class: ErrorClass) {
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "local".into());
    let class = format!("{class:?}");
    let v = Sample {
        name: MESSAGES_RETURNED,
        unit: "Count",
        value: 1.0,
    };
    let dims = [("Function", function.as_str()), ("Class", class.as_str())];
    emit(&document(Utc::now(), &dims, &[v]));
}

fn route_dims<'a>(deployment: &'a str, route: &'a str) -> [(&'static str, &'a str); 2] {
    [("Deployment", deployment), ("Route", route)]
}

fn latency(name: &str, from: DateTime<Utc>, to: DateTime<Utc>) -> Sample<'_> {
    let ms = (to - from).num_milliseconds().max(0);
    Sample {
        name,
        unit: "Milliseconds",
        value: ms as f64,
    }
}

thread_local! {
    /// The documents emitted on this thread while a `Capture` is alive (tests only set it).
    static CAPTURED: RefCell<Option<Vec<Value>>> = const { RefCell::new(None) };
}

/// Whether this process is a Lambda function (Lambda sets the variable): only there is stdout the log stream
/// CloudWatch reads. Elsewhere (the CLI's local stack runs the handlers in-process, and its stdout is the CLI's
/// output) the document is a debug log line instead.
fn in_lambda() -> bool {
    static IN_LAMBDA: OnceLock<bool> = OnceLock::new();
    *IN_LAMBDA.get_or_init(|| std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some())
}

/// One EMF line on stdout, where Lambda's log agent reads it; or into this thread's capture.
fn emit(doc: &Value) {
    let captured = CAPTURED.with(|c| match c.borrow_mut().as_mut() {
        Some(docs) => {
            docs.push(doc.clone());
            true
        }
        None => false,
    });
    if captured {
        return;
    }
    if in_lambda() {
        println!("{doc}");
    } else {
        tracing::debug!(emf = %doc, "metric");
    }
}

/// While alive, the documents emitted on this thread are kept instead of printed (a `#[tokio::test]` runs its
/// handler on the test's thread, so parallel tests do not see each other's metrics).
pub struct Capture(());

impl Capture {
    pub fn start() -> Self {
        CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
        Capture(())
    }

    /// The documents captured so far.
    pub fn documents(&self) -> Vec<Value> {
        CAPTURED.with(|c| c.borrow().clone().unwrap_or_default())
    }

    /// The sum of `name` over the captured documents whose dimensions include every `(k, v)` of `dims`.
    pub fn sum(&self, name: &str, dims: &[(&str, &str)]) -> f64 {
        self.documents()
            .iter()
            .filter(|d| dims.iter().all(|(k, v)| d.get(*k) == Some(&json!(v))))
            .filter_map(|d| d.get(name).and_then(Value::as_f64))
            .sum()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        CAPTURED.with(|c| *c.borrow_mut() = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("a test time")
    }

    /// What CloudWatch requires of an EMF document (docs: CloudWatch_Embedded_Metric_Format_Specification): an
    /// `_aws` object with a millisecond `Timestamp` and `CloudWatchMetrics` directives, each with a `Namespace`,
    /// `Dimensions` (arrays of at most 30 names, each a top-level string member) and `Metrics` (at most 100, each a
    /// `Name` that is a top-level number member, with a known `Unit`).
    fn assert_valid_emf(doc: &Value) {
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].is_i64(), "Timestamp in ms: {doc}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for d in directives {
            assert_eq!(d["Namespace"], NAMESPACE);
            for set in d["Dimensions"].as_array().expect("dimension sets") {
                let set = set.as_array().expect("a dimension set");
                assert!(set.len() <= 30);
                for name in set {
                    let name = name.as_str().expect("a dimension name");
                    assert!(
                        doc[name].is_string(),
                        "dimension {name} is a string member: {doc}"
                    );
                }
            }
            let metrics = d["Metrics"].as_array().expect("metrics");
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for m in metrics {
                let name = m["Name"].as_str().expect("a metric name");
                assert!(doc[name].is_number(), "metric {name} has a value: {doc}");
                assert!(["Count", "Milliseconds"].contains(&m["Unit"].as_str().unwrap_or("")));
            }
        }
    }

    #[test]
    fn a_launch_is_valid_emf_with_its_count_and_latency() {
        let c = Capture::start();
        launched(
            t("2026-11-27T09:14:05Z"),
            "prod",
            "support-bot",
            t("2026-11-27T09:14:03Z"),
        );
        let docs = c.documents();
        assert_eq!(docs.len(), 1);
        assert_valid_emf(&docs[0]);
        assert_eq!(
            docs[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Deployment", "Route"]])
        );
        assert_eq!(docs[0]["Deployment"], "prod");
        assert_eq!(docs[0][DATASETS_LAUNCHED], 1.0);
        assert_eq!(docs[0][LAUNCH_TO_START], 2000.0);
    }

    #[test]
    fn every_metric_is_valid_emf() {
        let now = t("2026-11-27T09:14:05Z");
        let c = Capture::start();
        dataset(now, "prod", "r", DATASETS_QUEUED);
        dataset(now, "prod", "r", DATASETS_REJECTED);
        published(now, "prod", "r", t("2026-11-27T09:20:00Z"));
        returned(ErrorClass::Capacity);
        let docs = c.documents();
        assert_eq!(docs.len(), 4);
        docs.iter().for_each(assert_valid_emf);
        // A job end stamped after "now" (clock skew) is not a negative latency.
        assert_eq!(docs[2][FINISH_TO_PUBLISH], 0.0);
        assert_eq!(docs[3]["Class"], "Capacity");
        assert_eq!(c.sum(DATASETS_QUEUED, &[("Route", "r")]), 1.0);
    }

    /// The batch counts each message it hands back, by the class of its error (what "dead-lettered" rests on).
    #[tokio::test]
    async fn the_batch_counts_each_returned_message_by_class() {
        use crate::domain::error::Error;
        let c = Capture::start();
        let body = |i: usize, b: &str| json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": b});
        let payload =
            json!({"Records": [body(0, "\"ok\""), body(1, "\"retry\""), body(2, "\"bad\"")]});
        crate::runtime::batch::run(payload, |b| async move {
            match b.as_str() {
                Some("retry") => Err(Error::NotYet("later".into())),
                Some("bad") => Err(Error::Invalid("never".into())),
                _ => Ok(()),
            }
        })
        .await
        .expect("a batch response");
        assert_eq!(c.sum(MESSAGES_RETURNED, &[("Class", "Retry")]), 1.0);
        assert_eq!(c.sum(MESSAGES_RETURNED, &[("Class", "Permanent")]), 1.0);
        assert_eq!(c.sum(MESSAGES_RETURNED, &[]), 2.0);
        c.documents().iter().for_each(assert_valid_emf);
    }

    #[test]
    fn nothing_is_captured_outside_a_capture() {
        {
            let _c = Capture::start();
        }
        assert!(CAPTURED.with(|c| c.borrow().is_none()));
    }
}
