//! Valid before spend: what hubtune sends to AWS, checked against AWS's own service models (`model`, generated from
//! botocore by `scripts/gen-aws-limits`) and the documented limits the models do not carry, before a dataset takes a
//! slot or a manifest is written. A violation names the field, the value and the rule; nothing the API accepts is
//! refused.

pub mod fields;
pub mod model;
pub mod rules;
pub mod unicode;

pub use fields::*;

use serde_json::json;

use crate::domain::event_size::{entry_size, MAX_ENTRY_BYTES};
use crate::domain::events::OutgoingEvent;
use crate::domain::validate::fields::violation;
use crate::domain::validate::rules::{check, Violation};

/// A PutEvents entry as hubtune sends it: the model's rules, and EventBridge's 256 KiB entry limit.
pub fn event_entry(bus: &str, e: &OutgoingEvent) -> Vec<Violation> {
    let entry = json!({
        "Source": e.source,
        "DetailType": e.detail_type,
        "Detail": e.detail.to_string(),
        "EventBusName": bus,
        "Resources": e.resources,
    });
    let mut out = check(model::PUT_EVENTS_ENTRY, &entry);
    let size = entry_size(e);
    if size > MAX_ENTRY_BYTES {
        out.push(violation(
            "Entries[0]",
            &json!(format!("{size} bytes")),
            format!("at most {MAX_ENTRY_BYTES} bytes per entry"),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
