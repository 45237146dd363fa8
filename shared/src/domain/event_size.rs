//! EventBridge refuses an entry over 256 KiB, so an event that could grow with its input (a `Dataset Rejected`
//! listing every bad file, a long failure reason) is shrunk to fit before it is sent: lists are cut, with their full
//! length said, long strings are shortened, and the event names where its whole detail was written
//! (`detail_uri`).

use serde_json::{json, Map, Value};

use crate::domain::events::OutgoingEvent;

/// PutEvents' limit on one entry.
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// How long a string may stay once an event must shrink.
const SHORT_STRING_CHARS: usize = 2048;

/// An entry's size as EventBridge counts it: the UTF-8 bytes of its source, detail type, detail and resources
/// (hubtune sends no `Time`, which would add 14).
pub fn entry_size(e: &OutgoingEvent) -> usize {
    e.source.len()
        + e.detail_type.len()
        + e.detail.to_string().len()
        + e.resources.iter().map(String::len).sum::<usize>()
}

/// `None` when the event fits as it is; else the event shrunk to fit, naming `detail_uri` where the whole detail
/// is kept. The identity fields (`schema`, `event_id`, `route`, `dataset_uri`, `job_name`, `reason`) always stay.
pub fn fit(e: &OutgoingEvent, detail_uri: &str) -> Option<OutgoingEvent> {
    if entry_size(e) <= MAX_ENTRY_BYTES {
        return None;
    }
    let Value::Object(full) = &e.detail else {
        return Some(with_detail(e, json!({ "detail_uri": detail_uri })));
    };
    let mut detail = full.clone();
    detail.insert("detail_uri".into(), json!(detail_uri));
    // First the lists, keeping ever fewer items, then the strings.
    let mut keep = 16;
    loop {
        let shrunk = with_detail(e, Value::Object(cut_lists(&detail, keep)));
        if entry_size(&shrunk) <= MAX_ENTRY_BYTES {
            return Some(shrunk);
        }
        if keep == 0 {
            break;
        }
        keep /= 2;
    }
    let short = shorten_strings(&cut_lists(&detail, 0));
    let shrunk = with_detail(e, Value::Object(short));
    if entry_size(&shrunk) <= MAX_ENTRY_BYTES {
        return Some(shrunk);
    }
    Some(with_detail(
        e,
        Value::Object(identity_only(full, detail_uri)),
    ))
}

fn with_detail(e: &OutgoingEvent, detail: Value) -> OutgoingEvent {
    OutgoingEvent {
        detail,
        ..e.clone()
    }
}

/// Every list at the top of the detail cut to `keep` items; `truncated` says how long each was.
fn cut_lists(detail: &Map<String, Value>, keep: usize) -> Map<String, Value> {
    let mut out = detail.clone();
    let mut truncated = Map::new();
    for (k, v) in detail {
        if let Value::Array(items) = v {
            if items.len() > keep {
                truncated.insert(k.clone(), json!(items.len()));
                out.insert(k.clone(), Value::Array(items[..keep].to_vec()));
            }
        }
    }
    if !truncated.is_empty() {
        out.insert("truncated".into(), Value::Object(truncated));
    }
    out
}

fn shorten_strings(detail: &Map<String, Value>) -> Map<String, Value> {
    detail
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) if s.chars().count() > SHORT_STRING_CHARS => {
                    json!(format!(
                        "{}…",
                        s.chars().take(SHORT_STRING_CHARS).collect::<String>()
                    ))
                }
                Value::Object(_) | Value::Array(_) if v.to_string().len() > SHORT_STRING_CHARS => {
                    json!("(in detail_uri)")
                }
                other => other.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

fn identity_only(full: &Map<String, Value>, detail_uri: &str) -> Map<String, Value> {
    let mut out = Map::new();
    for k in [
        "schema",
        "event_id",
        "route",
        "dataset_uri",
        "job_name",
        "reason",
    ] {
        if let Some(v) = full
            .get(k)
            .filter(|v| v.to_string().len() <= SHORT_STRING_CHARS)
        {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("detail_uri".into(), json!(detail_uri));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{dataset_rejected, EventContext};
    use crate::domain::rejection::{Problems, Rejection, RejectionReason};

    fn rejection_with(problems: usize, message_len: usize) -> OutgoingEvent {
        let all = (0..problems)
            .map(|i| {
                Rejection::new(RejectionReason::MalformedJsonl, "x".repeat(message_len)).at(
                    format!("datasets/r/d/{i}-{}.jsonl", "k".repeat(900)),
                    Some(1),
                )
            })
            .collect();
        let ctx = EventContext {
            route: "r".into(),
            dataset_uri: "s3://b/datasets/r/d/".into(),
            ..Default::default()
        };
        dataset_rejected(&ctx, "id", &Problems::from_vec(all).unwrap())
    }

    #[test]
    fn a_small_event_is_sent_as_it_is() {
        assert_eq!(fit(&rejection_with(3, 100), "s3://b/e.json"), None);
    }

    #[test]
    fn a_rejection_with_long_problems_is_cut_to_fit_and_says_what_was_cut() {
        // 40 problems of 14 KiB each: about 560 KiB, every one of them in the event until it is fitted.
        let big = rejection_with(40, 14_000);
        assert!(entry_size(&big) > MAX_ENTRY_BYTES, "{}", entry_size(&big));
        let fitted = fit(&big, "s3://b/state/events/id.json").expect("shrunk");
        assert!(entry_size(&fitted) <= MAX_ENTRY_BYTES);
        let d = &fitted.detail;
        assert_eq!(d["reason"], "malformed_jsonl");
        assert_eq!(d["event_id"], big.detail["event_id"]);
        assert_eq!(d["detail_uri"], "s3://b/state/events/id.json");
        assert_eq!(d["truncated"]["problems"], 40);
        assert!(d["problems"].as_array().unwrap().len() < 40);
    }

    #[test]
    fn a_single_enormous_string_is_shortened() {
        let mut e = rejection_with(1, 10);
        e.detail["summary"] = json!("s".repeat(400_000));
        let fitted = fit(&e, "s3://b/e.json").unwrap();
        assert!(entry_size(&fitted) <= MAX_ENTRY_BYTES);
        assert!(fitted.detail["summary"].as_str().unwrap().ends_with('…'));
        assert_eq!(fitted.detail["reason"], "malformed_jsonl");
    }
}
