//! The SQS batch contract shared by the three functions: each record is processed on its own, and only the
//! records that failed with a *retryable* error are returned in `batchItemFailures` (they come back, and after a
//! few receives land in the dead-letter queue). A permanent failure has been reported and is done.

use std::future::Future;

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// `(messageId, body)` of each record when the payload is an SQS batch.
pub fn sqs_records(payload: &Value) -> Option<Vec<(String, String)>> {
    let records = payload.get("Records")?.as_array()?;
    if records.is_empty()
        || records
            .iter()
            .any(|r| r.get("eventSource").and_then(Value::as_str) != Some("aws:sqs"))
    {
        return None;
    }
    Some(
        records
            .iter()
            .map(|r| {
                (
                    r["messageId"].as_str().unwrap_or_default().to_string(),
                    r["body"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
    )
}

/// Run `process` on an SQS batch (returning the partial batch response) or on a direct event (a retryable failure
/// is returned as the invocation's error; a permanent one was reported and is logged).
pub async fn run<F, Fut>(payload: Value, mut process: F) -> Result<Value>
where
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    if let Some(batch) = sqs_records(&payload) {
        let mut failures = Vec::new();
        for (id, body) in batch {
            let body: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
            if let Err(e) = process(body).await {
                if e.is_retryable() {
                    tracing::warn!(message_id = %id, error = %e, "record failed; it will come back");
                    failures.push(json!({ "itemIdentifier": id }));
                } else {
                    tracing::error!(message_id = %id, error = %e, class = ?e.class(), "record failed permanently");
                }
            }
        }
        return Ok(json!({ "batchItemFailures": failures }));
    }
    match process(payload).await {
        Err(e) if e.is_retryable() => Err(e),
        Err(e) => {
            tracing::error!(error = %e, class = ?e.class(), "event failed permanently");
            Ok(Value::Null)
        }
        Ok(()) => Ok(Value::Null),
    }
}

/// Keep the most important of several errors: a retryable one wins, so the message comes back.
pub fn worst(acc: Option<Error>, e: Error) -> Option<Error> {
    match acc {
        Some(a) if a.is_retryable() => Some(a),
        _ => Some(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(bodies: &[&str]) -> Value {
        json!({ "Records": bodies.iter().enumerate().map(|(i, b)| json!({"messageId": format!("m{i}"), "eventSource": "aws:sqs", "body": b})).collect::<Vec<_>>() })
    }

    #[tokio::test]
    async fn only_retryable_failures_come_back() {
        let out = run(
            batch(&["\"ok\"", "\"retry\"", "\"permanent\""]),
            |b| async move {
                match b.as_str() {
                    Some("retry") => Err(Error::Other("throttled".into())),
                    Some("permanent") => Err(Error::rejected("bad", "bad input")),
                    _ => Ok(()),
                }
            },
        )
        .await
        .unwrap();
        assert_eq!(
            out,
            json!({ "batchItemFailures": [{ "itemIdentifier": "m1" }] })
        );
    }

    #[tokio::test]
    async fn a_direct_event_fails_only_when_retryable() {
        assert!(
            run(json!({"a": 1}), |_| async { Err(Error::Other("x".into())) })
                .await
                .is_err()
        );
        assert!(run(json!({"a": 1}), |_| async {
            Err(Error::rejected("bad", "x"))
        })
        .await
        .is_ok());
        assert!(sqs_records(&json!({"Records": [{"eventSource": "aws:s3"}]})).is_none());
    }
}
