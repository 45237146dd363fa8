//! EventBridge through the SDK, as the `EventBus` port: PutEvents in batches of ten, answered entry by entry.

use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;

use super::errors::sdk_error;
use super::Aws;
use crate::domain::error::Result;
use crate::domain::events::OutgoingEvent;
use crate::ports::{EntryResult, EventBus};

/// PutEvents accepts at most this many entries per call.
const PUT_EVENTS_BATCH: usize = 10;
const EVENTBRIDGE: &str = "eventbridge";

#[async_trait]
impl EventBus for Aws {
    /// PutEvents, checked entry by entry: one result per entry, in order (`Err` holds the entry's error code and
    /// message). Batches of more than 10 are split.
    async fn put_events(&self, bus: &str, events: &[OutgoingEvent]) -> Result<Vec<EntryResult>> {
        let mut results = Vec::with_capacity(events.len());
        for batch in events.chunks(PUT_EVENTS_BATCH) {
            let out = self
                .events
                .put_events()
                .set_entries(Some(batch.iter().map(|e| event_entry(bus, e)).collect()))
                .send()
                .await
                .map_err(|e| sdk_error(EVENTBRIDGE, "PutEvents", &e))?;
            results.extend(entry_results(batch.len(), out.entries()));
        }
        Ok(results)
    }
}

fn event_entry(bus: &str, event: &OutgoingEvent) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(&event.source)
        .detail_type(&event.detail_type)
        .detail(event.detail.to_string())
        .set_resources((!event.resources.is_empty()).then(|| event.resources.clone()))
        .build()
}

/// PutEvents answers entry by entry, in request order; an entry with an ErrorCode was not accepted.
fn entry_results(
    sent: usize,
    answered: &[aws_sdk_eventbridge::types::PutEventsResultEntry],
) -> Vec<EntryResult> {
    (0..sent)
        .map(|i| match answered.get(i) {
            Some(entry) => match entry.error_code() {
                Some(code) => Err(format!(
                    "{code}: {}",
                    entry.error_message().unwrap_or_default()
                )),
                None => Ok(()),
            },
            None => Err("PutEvents returned no result for this entry".to_string()),
        })
        .collect()
}

// ---- SageMaker mapping ----
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn outgoing(n: usize) -> OutgoingEvent {
        OutgoingEvent {
            source: "hubtune".into(),
            detail_type: "Model Published".into(),
            detail: json!({"schema": 1, "event_id": format!("e{n}"), "route": "support-bot"}),
            resources: vec![
                "arn:aws:sagemaker:us-east-1:111122223333:training-job/hubtune-x".into(),
            ],
        }
    }

    #[test]
    fn put_events_entries_and_results() {
        let entry = event_entry("hubtune", &outgoing(1));
        assert_eq!(entry.event_bus_name(), Some("hubtune"));
        assert_eq!(entry.source(), Some("hubtune"));
        assert_eq!(entry.detail_type(), Some("Model Published"));
        let detail: Value = serde_json::from_str(entry.detail().unwrap()).unwrap();
        assert_eq!(detail, outgoing(1).detail);
        assert_eq!(
            entry.resources(),
            ["arn:aws:sagemaker:us-east-1:111122223333:training-job/hubtune-x"]
        );

        use aws_sdk_eventbridge::types::PutEventsResultEntry;
        let answered = [
            PutEventsResultEntry::builder().event_id("1").build(),
            PutEventsResultEntry::builder()
                .error_code("InternalFailure")
                .error_message("try again")
                .build(),
        ];
        assert_eq!(
            entry_results(3, &answered),
            vec![
                Ok(()),
                Err("InternalFailure: try again".to_string()),
                Err("PutEvents returned no result for this entry".to_string())
            ]
        );
        // 23 events go out as 10 + 10 + 3.
        let events: Vec<_> = (0..23).map(outgoing).collect();
        let sizes: Vec<usize> = events.chunks(PUT_EVENTS_BATCH).map(<[_]>::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
    }
}
