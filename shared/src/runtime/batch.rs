//! The SQS batch contract shared by the three functions: each record is processed on its own, and every record that
//! failed is returned in `batchItemFailures`, whatever the class of its error, so that it comes back and after a
//! few receives lands in the dead-letter queue (`hubtune redrive` replays it). A message is acknowledged only when
//! its handler returned `Ok`: an effect, a deliberate ignore, or a `Dataset Rejected` that was accepted by the bus.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;

use crate::domain::error::{Error, ErrorClass, Result};

/// The SQS batch, when the payload is one (every record from `aws:sqs`).
pub fn sqs_batch(payload: &Value) -> Option<SqsEvent> {
    let records = payload.get("Records")?.as_array()?;
    let all_sqs = !records.is_empty()
        && records
            .iter()
            .all(|r| r.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"));
    if !all_sqs {
        return None;
    }
    serde_json::from_value(payload.clone()).ok()
}

fn log_failure(message_id: &str, e: &Error) {
    super::metrics::returned(e.class());
    match e.class() {
        ErrorClass::Retry | ErrorClass::Capacity => {
            tracing::warn!(message_id, error = %e, class = ?e.class(), "record failed; it will come back")
        }
        // `fault = "deployment"`: the template counts these lines (DeploymentFaults) and alarms on them.
        ErrorClass::Deployment => {
            tracing::error!(message_id, error = %e, fault = "deployment", "the deployment needs fixing; the record stays on its queue")
        }
        ErrorClass::Permanent => {
            tracing::error!(message_id, error = %e, class = ?e.class(), "record failed permanently; it goes to the dead-letter queue")
        }
    }
}

/// Run `process` on an SQS batch (returning the partial batch response) or on a direct event (a failure is the
/// invocation's error, which Lambda retries and then sends to the function's failure destination).
pub async fn run<F, Fut>(payload: Value, process: F) -> Result<Value>
where
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    run_until(payload, || None, process).await
}

/// The least time a record is assumed to need, before any record of the batch was timed.
pub const MIN_RECORD_TIME: Duration = Duration::from_secs(2);

/// `run`, stopping before the function's deadline: `remaining` says how much time the invocation has left (`None`:
/// no deadline). A record is started only when the time left covers the longest record so far (at least
/// `MIN_RECORD_TIME`); the records not started are returned as failures, so they come back at once instead of the
/// whole batch timing out and coming back with them.
pub async fn run_until<R, F, Fut>(payload: Value, mut remaining: R, mut process: F) -> Result<Value>
where
    R: FnMut() -> Option<Duration>,
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let Some(batch) = sqs_batch(&payload) else {
        if let Err(e) = process(payload).await {
            log_failure("", &e);
            return Err(e);
        }
        return Ok(Value::Null);
    };
    let mut response = SqsBatchResponse::default();
    let mut longest = MIN_RECORD_TIME;
    let mut records = batch.records.into_iter();
    while let Some(record) = records.next() {
        let id = record.message_id.unwrap_or_default();
        if remaining().is_some_and(|left| left < longest) {
            let left: Vec<String> = std::iter::once(id)
                .chain(records.map(|r| r.message_id.unwrap_or_default()))
                .collect();
            tracing::warn!(
                not_started = left.len(),
                "too little time left for another record: returning the rest to the queue"
            );
            for id in left {
                response.add_failure(id);
            }
            break;
        }
        let body = record.body.unwrap_or_default();
        // A body that is not JSON is still given to the handler, which says what it does with it.
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        let started = Instant::now();
        let result = process(body).await;
        longest = longest.max(started.elapsed());
        if let Err(e) = result {
            log_failure(&id, &e);
            response.add_failure(id);
        }
    }
    Ok(serde_json::to_value(response).unwrap_or(Value::Null))
}

/// The time left before a Lambda invocation's deadline (milliseconds since the epoch, as the runtime gives it).
pub fn until_deadline(deadline_ms: u64) -> impl FnMut() -> Option<Duration> {
    let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(deadline_ms);
    move || {
        Some(
            deadline
                .duration_since(SystemTime::now())
                .unwrap_or_default(),
        )
    }
}

/// Keep the most important of several errors of one message: a deployment fault first (it needs a person), then a
/// retryable one, so the message comes back either way.
pub fn worst(acc: Option<Error>, e: Error) -> Option<Error> {
    let rank = |e: &Error| match e.class() {
        ErrorClass::Deployment => 3,
        ErrorClass::Retry => 2,
        ErrorClass::Capacity => 1,
        ErrorClass::Permanent => 0,
    };
    match acc {
        Some(a) if rank(&a) >= rank(&e) => Some(a),
        _ => Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::config::ConfigError;
    use crate::domain::rejection::RejectionReason;
    use serde_json::json;

    fn batch(bodies: &[&str]) -> Value {
        json!({ "Records": bodies.iter().enumerate().map(|(i, b)| json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": b})).collect::<Vec<_>>() })
    }

    #[tokio::test]
    async fn every_failure_comes_back_whatever_its_class() {
        let out = run(
            batch(&["\"ok\"", "\"retry\"", "\"permanent\"", "\"deployment\""]),
            |b| async move {
                match b.as_str() {
                    Some("retry") => Err(Error::NotYet("throttled".into())),
                    Some("permanent") => Err(Error::rejected(RejectionReason::EmptyDataset, "x")),
                    Some("deployment") => Err(Error::Config(ConfigError::Syntax("bad".into()))),
                    _ => Ok(()),
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            json!({ "batchItemFailures": [{ "itemIdentifier": "m1" }, { "itemIdentifier": "m2" }, { "itemIdentifier": "m3" }] })
        );
    }

    #[tokio::test]
    async fn a_direct_event_fails_the_invocation() {
        assert!(run(json!({"a": 1}), |_| async {
            Err(Error::NotYet("x".into()))
        })
        .await
        .is_err());
        assert_eq!(
            run(json!({"a": 1}), |_| async { Ok(()) }).await.unwrap(),
            Value::Null
        );
        assert!(sqs_batch(&json!({"Records": [{"eventSource": "aws:s3"}]})).is_none());
    }

    #[tokio::test]
    async fn records_not_started_before_the_deadline_come_back() {
        let mut left = vec![
            Some(Duration::from_secs(30)),
            Some(Duration::from_secs(10)),
            Some(Duration::from_secs(1)),
        ]
        .into_iter();
        let mut seen = Vec::new();
        let out = run_until(
            batch(&["\"a\"", "\"b\"", "\"c\"", "\"d\""]),
            || left.next().flatten(),
            |b| {
                seen.push(b);
                async { Ok(()) }
            },
        )
        .await
        .unwrap();
        assert_eq!(
            seen,
            vec![json!("a"), json!("b")],
            "the third would not have finished in 1 s"
        );
        assert_eq!(
            out,
            json!({ "batchItemFailures": [{ "itemIdentifier": "m2" }, { "itemIdentifier": "m3" }] })
        );
    }

    #[tokio::test]
    async fn without_a_deadline_every_record_runs() {
        let mut n = 0;
        run(batch(&["1", "2", "3"]), |_| {
            n += 1;
            async { Ok(()) }
        })
        .await
        .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn the_worst_error_is_the_one_that_needs_a_person() {
        let dep = || Error::Config(ConfigError::Syntax("bad".into()));
        let retry = || Error::NotYet("x".into());
        let rej = || Error::rejected(RejectionReason::EmptyDataset, "x");
        assert_eq!(
            worst(worst(None, retry()), dep()).unwrap().class(),
            ErrorClass::Deployment
        );
        assert_eq!(
            worst(worst(None, dep()), retry()).unwrap().class(),
            ErrorClass::Deployment
        );
        assert_eq!(
            worst(worst(None, rej()), retry()).unwrap().class(),
            ErrorClass::Retry
        );
    }
}
