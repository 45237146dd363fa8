use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{lock, Calls, Faults};
use crate::domain::error::Result;
use crate::domain::events::OutgoingEvent;
use crate::ports::{EntryResult, EventBus};

/// EventBridge in memory: keeps every accepted event, and can refuse entries one by one as PutEvents does.
#[derive(Default)]
pub struct MemoryBus {
    accepted: Mutex<Vec<(String, OutgoingEvent)>>,
    refuse_entries: Mutex<u32>,
    pub faults: Faults,
    pub calls: Calls,
}

impl MemoryBus {
    /// Every event accepted so far, in order.
    pub fn events(&self) -> Vec<OutgoingEvent> {
        lock(&self.accepted)
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// The accepted events of one detail type.
    pub fn of_type(&self, detail_type: &str) -> Vec<OutgoingEvent> {
        self.events()
            .into_iter()
            .filter(|e| e.detail_type == detail_type)
            .collect()
    }

    /// The bus each accepted event went to.
    pub fn buses(&self) -> Vec<String> {
        lock(&self.accepted)
            .iter()
            .map(|(b, _)| b.clone())
            .collect()
    }

    /// The next `n` entries are refused (the call itself succeeds), as PutEvents does under entry-level failure.
    pub fn refuse_next_entries(&self, n: u32) {
        *lock(&self.refuse_entries) = n;
    }
}

#[async_trait]
impl EventBus for MemoryBus {
    async fn put_events(&self, bus: &str, events: &[OutgoingEvent]) -> Result<Vec<EntryResult>> {
        self.calls.count("PutEvents");
        self.faults.check("PutEvents", bus)?;
        let mut refuse = lock(&self.refuse_entries);
        let mut accepted = lock(&self.accepted);
        Ok(events
            .iter()
            .map(|e| {
                if *refuse > 0 {
                    *refuse -= 1;
                    return Err("InternalFailure: entry refused (injected)".to_string());
                }
                accepted.push((bus.to_string(), e.clone()));
                Ok(())
            })
            .collect())
    }
}
