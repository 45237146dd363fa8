//! The SQS batch contract shared by the three functions: each record is processed on its own, and every record that
//! failed is returned in `batchItemFailures`, whatever the class of its error, so that it comes back and after a
//! few receives lands in the dead-letter queue (`hubtune redrive` replays it). A message is acknowledged only when
//! its handler returned `Ok`: an effect, a deliberate ignore, or a `Dataset Rejected` that was accepted by the bus.

use std::future::Future;

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
    match e.class() {
        ErrorClass::Retry | ErrorClass::Capacity => {
            tracing::warn!(message_id, error = %e, class = ?e.class(), "record failed; it will come back")
        }
        ErrorClass::Deployment => {
            tracing::error!(message_id, error = %e, class = ?e.class(), "the deployment needs fixing; the record stays on its queue")
        }
        ErrorClass::Permanent => {
            tracing::error!(message_id, error = %e, class = ?e.class(), "record failed permanently; it goes to the dead-letter queue")
        }
    }
}

/// Run `process` on an SQS batch (returning the partial batch response) or on a direct event (a failure is the
/// invocation's error, which Lambda retries and then sends to the function's failure destination).
pub async fn run<F, Fut>(payload: Value, mut process: F) -> Result<Value>
where
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let Some(batch) = sqs_batch(&payload) else {
        process(payload).await?;
        return Ok(Value::Null);
    };
    let mut response = SqsBatchResponse::default();
    for record in batch.records {
        let id = record.message_id.unwrap_or_default();
        let body = record.body.unwrap_or_default();
        // A body that is not JSON is still given to the handler, which says what it does with it.
        let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
        if let Err(e) = process(body).await {
            log_failure(&id, &e);
            response.add_failure(id);
        }
    }
    Ok(serde_json::to_value(response).unwrap_or(Value::Null))
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
