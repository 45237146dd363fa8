//! Every input hubtune understands, parsed into one `Inbound` value, whatever envelope it came in.
//!
//! The same parser serves the three functions, `hubtune inspect` and the local dispatcher, so what the CLI says
//! about an event is exactly what the Lambda would do with it. Anything unrecognised is `Unrecognized` with a
//! description of its shape (never its content: it may hold secrets), never a panic.

use std::collections::BTreeMap;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, TimeZone, Utc};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::error::Error;
use crate::domain::job::JobStatus;

pub const SAGEMAKER_STATE_CHANGE: &str = "SageMaker Training Job State Change";
pub const HUBTUNE_SOURCE: &str = "hubtune";

/// An object was created in S3 (from an S3 notification or an EventBridge `Object Created`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectLanded {
    pub bucket: String,
    /// The key as stored: already URL-decoded where the envelope encodes it.
    pub key: String,
    pub size: u64,
    pub etag: Option<String>,
    pub version_id: Option<String>,
    pub sequencer: Option<String>,
    /// When the envelope says it happened (`None` when it does not say: the receiver's clock stands in).
    pub event_time: Option<DateTime<Utc>>,
}

/// A training job state change, as a hint: training-state re-reads the job before acting on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingUpdate {
    pub job_name: String,
    pub job_arn: Option<String>,
    pub status: JobStatus,
    pub secondary_status: Option<String>,
    pub failure_reason: Option<String>,
    pub model_artifacts: Option<String>,
    /// When the job was created (`CreationTime`), as the event says.
    pub creation_time: Option<DateTime<Utc>>,
    /// When training ended (`TrainingEndTime`): only an ended job's event has it.
    pub end_time: Option<DateTime<Utc>>,
    /// Epoch milliseconds.
    pub last_modified_ms: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

/// One input, whatever its envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Inbound {
    ObjectLanded(ObjectLanded),
    /// The `s3:TestEvent` S3 sends when a notification is configured.
    S3TestEvent,
    /// A route has a free slot: take the next queued dataset (hubtune's own `Route Slot Freed`).
    SlotFreed {
        route: String,
    },
    TrainingUpdate(TrainingUpdate),
    /// The scheduled sweep.
    Sweep,
    /// Another hubtune event (for example `Training Run Finished`), with its detail.
    Hubtune {
        detail_type: String,
        detail: Value,
    },
    /// A deliberate ignore: an input that is understood and needs nothing (an object removed, another S3 event).
    Ignored {
        reason: String,
    },
    /// Clearly an S3 or EventBridge object notification, but one hubtune cannot use (no bucket or key, a record it
    /// cannot read): the launcher rejects it with a reason rather than dropping it.
    Unusable {
        problem: String,
    },
    /// Not an input hubtune understands: described by its shape (never its content, which may hold secrets).
    Unrecognized {
        shape: String,
    },
}

impl Inbound {
    /// What this input is, for logs and errors (never its content).
    pub fn kind(&self) -> String {
        match self {
            Inbound::ObjectLanded(_) => "an object landed".into(),
            Inbound::S3TestEvent => "an s3:TestEvent".into(),
            Inbound::SlotFreed { .. } => "Route Slot Freed".into(),
            Inbound::TrainingUpdate(_) => "a training job state change".into(),
            Inbound::Sweep => "the scheduled sweep".into(),
            Inbound::Hubtune { detail_type, .. } => format!("hubtune's `{detail_type}`"),
            Inbound::Ignored { reason } => format!("an ignored input ({reason})"),
            Inbound::Unusable { problem } => problem.clone(),
            Inbound::Unrecognized { shape } => {
                format!("a payload hubtune does not understand ({shape})")
            }
        }
    }

    /// This input reached a function that has nothing to do with it: hubtune's wiring (or a stranger's sender)
    /// is at fault, so the message goes to the dead-letter queue, where a person sees it, rather than away.
    pub fn not_for(&self, function: &str) -> Error {
        Error::Invalid(self.why_not_for(function))
    }

    /// `not_for`'s words, for the decision that leads to it (`domain::handling`).
    pub fn why_not_for(&self, function: &str) -> String {
        format!("{function} does not take {}", self.kind())
    }
}

/// Parse one message body (an SQS record body, or a direct invocation payload).
pub fn parse_message(body: &Value) -> Vec<Inbound> {
    // S3 → SNS → SQS: the S3 event is a JSON string inside the SNS envelope.
    if body.get("Type").and_then(Value::as_str) == Some("Notification") {
        if let Some(inner) = body.get("Message").and_then(Value::as_str) {
            return match serde_json::from_str::<Value>(inner) {
                Ok(v) => parse_message(&v),
                Err(_) => vec![unrecognized(body)],
            };
        }
    }
    if body.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return vec![Inbound::S3TestEvent];
    }
    if body.get("Records").is_some() {
        return parse_s3_notification(body);
    }
    if body.get("detail-type").is_some() && body.get("source").is_some() {
        return vec![parse_eventbridge(body)];
    }
    vec![unrecognized(body)]
}

/// Parse a raw JSON string (an SQS body). Non-JSON is unrecognised, not an error.
pub fn parse_body(body: &str) -> Vec<Inbound> {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => parse_message(&v),
        Err(_) => vec![Inbound::Unrecognized {
            shape: format!("not JSON ({} bytes)", body.len()),
        }],
    }
}

/// The fields of an S3 notification record that hubtune uses. `aws_lambda_events::s3::S3EventRecord` is stricter
/// than what reaches hubtune: it refuses a record without `userIdentity`, `requestParameters`, `responseElements`
/// or `ownerIdentity`, or without `eventTime`, all of which S3-compatible stores, replication tools and hand-written
/// publishers omit. Every field here is optional, and each record is read on its own, so one odd record does not
/// hide the others.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Record {
    #[serde(default)]
    event_name: Option<String>,
    #[serde(default)]
    event_time: Option<String>,
    #[serde(default)]
    s3: S3Entity,
}

#[derive(Debug, Default, Deserialize)]
struct S3Entity {
    #[serde(default)]
    bucket: S3Bucket,
    #[serde(default)]
    object: S3Object,
}

#[derive(Debug, Default, Deserialize)]
struct S3Bucket {
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct S3Object {
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    size: Option<Value>,
    #[serde(default)]
    e_tag: Option<String>,
    #[serde(default)]
    version_id: Option<String>,
    #[serde(default)]
    sequencer: Option<String>,
}

fn parse_s3_notification(body: &Value) -> Vec<Inbound> {
    // No records at all is not a notification hubtune can act on: said, not silently nothing.
    let Some(records) = body
        .get("Records")
        .and_then(Value::as_array)
        .filter(|r| !r.is_empty())
    else {
        return vec![unrecognized(body)];
    };
    records.iter().map(parse_s3_record).collect()
}

fn parse_s3_record(record: &Value) -> Inbound {
    let Ok(r) = serde_json::from_value::<S3Record>(record.clone()) else {
        let s3ish = record.get("s3").is_some()
            || record.get("eventSource").and_then(Value::as_str) == Some("aws:s3");
        return if s3ish {
            Inbound::Unusable {
                problem: format!(
                    "an S3 notification record hubtune cannot read ({})",
                    shape_of(record)
                ),
            }
        } else {
            unrecognized(record)
        };
    };
    // `ObjectCreated:Put` in S3's own notifications; `s3:ObjectCreated:Put` as some publishers spell it.
    let name = r.event_name.unwrap_or_default();
    let is_created = name.trim_start_matches("s3:").starts_with("ObjectCreated");
    let o = r.s3.object;
    if !is_created {
        return Inbound::Ignored {
            reason: format!("S3 `{name}`: only created objects are datasets"),
        };
    }
    let (Some(bucket), Some(key)) = (r.s3.bucket.name, o.key) else {
        return Inbound::Unusable {
            problem: format!("an S3 `{name}` notification without a bucket name or an object key"),
        };
    };
    Inbound::ObjectLanded(ObjectLanded {
        bucket,
        key: decode_notification_key(&key),
        size: o.size.as_ref().and_then(Value::as_u64).unwrap_or(0),
        etag: o.e_tag.filter(|e| !e.is_empty()),
        version_id: o.version_id.filter(|v| !v.is_empty()),
        sequencer: o.sequencer.filter(|s| !s.is_empty()),
        event_time: r.event_time.as_deref().and_then(parse_time),
    })
}

fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// S3 notifications encode keys form-style: `+` is a space, `%23` is `#`.
pub fn decode_notification_key(key: &str) -> String {
    let plus_decoded = key.replace('+', " ");
    percent_decode_str(&plus_decoded)
        .decode_utf8_lossy()
        .into_owned()
}

fn parse_eventbridge(body: &Value) -> Inbound {
    let Ok(envelope) = serde_json::from_value::<EventBridgeEvent<Value>>(body.clone()) else {
        return unrecognized(body);
    };
    let (source, detail_type) = (envelope.source.as_str(), envelope.detail_type.as_str());
    let detail = &envelope.detail;
    let time = envelope.time;
    match (source, detail_type) {
        ("aws.s3", "Object Created") => {
            let obj = &detail["object"];
            let (Some(bucket), Some(key)) =
                (detail["bucket"]["name"].as_str(), obj["key"].as_str())
            else {
                return Inbound::Unusable {
                    problem: "an EventBridge `Object Created` without bucket.name or object.key"
                        .into(),
                };
            };
            Inbound::ObjectLanded(ObjectLanded {
                bucket: bucket.to_string(),
                // EventBridge carries the key as is: no decoding.
                key: key.to_string(),
                size: obj["size"].as_u64().unwrap_or(0),
                etag: str_field(obj, "etag"),
                version_id: str_field(obj, "version-id"),
                sequencer: str_field(obj, "sequencer"),
                event_time: time,
            })
        }
        ("aws.sagemaker", SAGEMAKER_STATE_CHANGE) => match parse_training_detail(detail) {
            Some(u) => Inbound::TrainingUpdate(u),
            None => Inbound::Unrecognized {
                shape: "training state change without TrainingJobName or a known TrainingJobStatus"
                    .into(),
            },
        },
        ("aws.s3", other) => Inbound::Ignored {
            reason: format!("EventBridge `{other}` from S3: only created objects are datasets"),
        },
        ("aws.events", "Scheduled Event") => Inbound::Sweep,
        (HUBTUNE_SOURCE, "Route Slot Freed") => match detail["route"].as_str() {
            Some(route) => Inbound::SlotFreed {
                route: route.to_string(),
            },
            None => Inbound::Unrecognized {
                shape: "Route Slot Freed without detail.route".into(),
            },
        },
        (HUBTUNE_SOURCE, other) => Inbound::Hubtune {
            detail_type: other.to_string(),
            detail: detail.clone(),
        },
        _ => Inbound::Unrecognized {
            shape: format!("EventBridge event source `{source}`, detail-type `{detail_type}`"),
        },
    }
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The detail of a SageMaker state change (also DescribeTrainingJob-shaped JSON).
pub fn parse_training_detail(d: &Value) -> Option<TrainingUpdate> {
    let job_name = d.get("TrainingJobName")?.as_str()?.to_string();
    let status = JobStatus::parse(d.get("TrainingJobStatus")?.as_str()?)?;
    Some(TrainingUpdate {
        job_name,
        job_arn: str_field(d, "TrainingJobArn"),
        status,
        secondary_status: str_field(d, "SecondaryStatus"),
        failure_reason: str_field(d, "FailureReason"),
        model_artifacts: d
            .get("ModelArtifacts")
            .and_then(|m| str_field(m, "S3ModelArtifacts")),
        creation_time: event_time(d, "CreationTime"),
        end_time: event_time(d, "TrainingEndTime"),
        last_modified_ms: d.get("LastModifiedTime").and_then(epoch_millis),
        tags: d.get("Tags").map(parse_tags).unwrap_or_default(),
    })
}

/// SageMaker event times are epoch milliseconds sent as numbers, strings, or `1592411992203.0`.
pub fn epoch_millis(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s
            .parse::<i64>()
            .ok()
            .or_else(|| {
                s.parse::<f64>()
                    .ok()
                    .filter(|f| f.is_finite())
                    .map(|f| f as i64)
            })
            .or_else(|| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.timestamp_millis())
            }),
        _ => None,
    }
}

/// A time field of a SageMaker event, in any of `epoch_millis`'s shapes.
fn event_time(d: &Value, field: &str) -> Option<DateTime<Utc>> {
    d.get(field).and_then(epoch_millis).and_then(millis_to_time)
}

pub fn millis_to_time(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// `Tags` arrive as a map in some events and as a `[{Key, Value}]` list in others.
pub fn parse_tags(v: &Value) -> BTreeMap<String, String> {
    match v {
        Value::Object(m) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
            .collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(|t| {
                Some((
                    t.get("Key")?.as_str()?.to_string(),
                    t.get("Value")?.as_str()?.to_string(),
                ))
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// A description of a JSON value's shape for logs: its keys and types, never its values.
pub fn shape_of(v: &Value) -> String {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m
                .iter()
                .take(12)
                .map(|(k, v)| format!("{k}:{}", type_name(v)))
                .collect();
            format!("object {{{}}}", keys.join(", "))
        }
        other => type_name(other).to_string(),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn unrecognized(v: &Value) -> Inbound {
    Inbound::Unrecognized { shape: shape_of(v) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The repository's event fixtures, embedded.
    fn fixture(name: &str) -> Value {
        let text = match name {
            "eventbridge-s3.object-created.json" => {
                include_str!("../../../fixtures/events/eventbridge-s3.object-created.json")
            }
            "s3-notification.object-created.json" => {
                include_str!("../../../fixtures/events/s3-notification.object-created.json")
            }
            "sagemaker-training-state-change.aws-docs-sample.json" => include_str!(
                "../../../fixtures/events/sagemaker-training-state-change.aws-docs-sample.json"
            ),
            "sagemaker-training-state-change.completed.json" => include_str!(
                "../../../fixtures/events/sagemaker-training-state-change.completed.json"
            ),
            other => panic!("no fixture {other}"),
        };
        serde_json::from_str(text).unwrap()
    }

    fn one(v: &Value) -> Inbound {
        let mut all = parse_message(v);
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    fn landed(v: &Value) -> ObjectLanded {
        match parse_message(v).as_slice() {
            [Inbound::ObjectLanded(o)] => o.clone(),
            other => panic!("expected one ObjectLanded, got {other:?}"),
        }
    }

    #[test]
    fn s3_notification_fixture_decodes_the_key() {
        let o = landed(&fixture("s3-notification.object-created.json"));
        assert_eq!(o.bucket, "acme-ml-datasets");
        assert_eq!(o.key, "datasets/support-bot/2026-11-27 release#1/_SUCCESS");
        assert_eq!(
            o.version_id.as_deref(),
            Some("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
        );
        assert_eq!(o.sequencer.as_deref(), Some("0066F9A1B2C3D4E5F6"));
        assert_eq!(o.etag.as_deref(), Some("d41d8cd98f00b204e9800998ecf8427e"));
        assert_eq!(
            o.event_time.unwrap().to_rfc3339(),
            "2026-11-27T09:14:03.512+00:00"
        );
    }

    #[test]
    fn eventbridge_fixture_keeps_the_key_as_is() {
        let o = landed(&fixture("eventbridge-s3.object-created.json"));
        assert_eq!(o.key, "datasets/support-bot/2026-11-27 release#1/_SUCCESS");
        assert_eq!(
            o.version_id.as_deref(),
            Some("3HL4kqtJlcpXroDTDmjVBH40Nrjfkd")
        );
        assert_eq!(o.sequencer.as_deref(), Some("0066F9A1B2C3D4E5F6"));
        // The two envelopes of one PUT agree on everything that makes a dataset's identity.
        let n = landed(&fixture("s3-notification.object-created.json"));
        assert_eq!(
            (o.bucket, o.key, o.version_id, o.sequencer),
            (n.bucket, n.key, n.version_id, n.sequencer)
        );
    }

    /// What S3-compatible stores, replication tools and hand-written publishers send: only the fields hubtune
    /// reads, a `s3:`-prefixed event name, no `eventTime`.
    #[test]
    fn sparse_s3_records_are_read_not_dropped() {
        let v = json!({"Records": [
            {"eventName": "s3:ObjectCreated:Put",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "datasets/r/d/_SUCCESS"}}},
            {"eventName": "ObjectCreated:CompleteMultipartUpload", "eventTime": "2026-11-27T09:14:03Z",
             "s3": {"bucket": {"name": "b"}, "object": {"key": "datasets/r/e/_SUCCESS", "size": 0, "sequencer": "0A"}}}
        ]});
        let all = parse_message(&v);
        assert_eq!(all.len(), 2);
        let Inbound::ObjectLanded(first) = &all[0] else {
            panic!("{:?}", all[0])
        };
        assert_eq!(
            (first.bucket.as_str(), first.key.as_str()),
            ("b", "datasets/r/d/_SUCCESS")
        );
        assert_eq!(first.event_time, None);
        let Inbound::ObjectLanded(second) = &all[1] else {
            panic!("{:?}", all[1])
        };
        assert_eq!(second.sequencer.as_deref(), Some("0A"));
        assert!(second.event_time.is_some());
    }

    /// One odd record in a notification does not hide the good ones beside it.
    #[test]
    fn one_odd_record_does_not_hide_the_others() {
        let mut v = fixture("s3-notification.object-created.json");
        let good = v["Records"][0].clone();
        v["Records"] = json!([{"eventName": 7, "s3": "nonsense"}, good, {"eventName": "ObjectRemoved:Delete",
            "s3": {"bucket": {"name": "b"}, "object": {"key": "k"}}}]);
        let all = parse_message(&v);
        assert_eq!(all.len(), 3);
        assert!(matches!(all[0], Inbound::Unusable { .. }), "{:?}", all[0]);
        assert!(matches!(all[1], Inbound::ObjectLanded(_)), "{:?}", all[1]);
        assert!(matches!(all[2], Inbound::Ignored { .. }), "{:?}", all[2]);
    }

    /// Clearly an object notification, but without what makes it a dataset: said, never dropped.
    #[test]
    fn object_notifications_without_bucket_or_key_are_unusable() {
        let s3 = json!({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": "b"}, "object": {}}}]});
        assert!(
            matches!(one(&s3), Inbound::Unusable { .. }),
            "{:?}",
            one(&s3)
        );
        let eb = json!({"source": "aws.s3", "detail-type": "Object Created", "detail": {"bucket": {"name": "b"}}});
        assert!(
            matches!(one(&eb), Inbound::Unusable { .. }),
            "{:?}",
            one(&eb)
        );
        let deleted = json!({"source": "aws.s3", "detail-type": "Object Deleted", "detail": {}});
        assert!(
            matches!(one(&deleted), Inbound::Ignored { .. }),
            "{:?}",
            one(&deleted)
        );
    }

    #[test]
    fn keys_with_plus_percent_unicode_and_length() {
        assert_eq!(decode_notification_key("a+b%2Bc%23d"), "a b+c#d");
        assert_eq!(decode_notification_key("caf%C3%A9/%E2%9C%93"), "café/✓");
        let long = "k".repeat(1000);
        assert_eq!(decode_notification_key(&long), long);
        let mut v = fixture("s3-notification.object-created.json");
        v["Records"][0]["s3"]["object"]["key"] =
            json!("datasets/x/%E6%97%A5%E6%9C%AC+data/_SUCCESS");
        assert_eq!(landed(&v).key, "datasets/x/日本 data/_SUCCESS");
    }

    #[test]
    fn sagemaker_docs_sample_with_string_times_and_map_tags() {
        let v = fixture("sagemaker-training-state-change.aws-docs-sample.json");
        let Inbound::TrainingUpdate(u) = one(&v) else {
            panic!()
        };
        assert_eq!(u.job_name, "89c96cc8-dded-4739-afcc-6f1dc936701d");
        assert_eq!(u.status, JobStatus::Completed);
        assert_eq!(u.last_modified_ms, Some(1583831889050));
        // The docs' string times are read as the epoch milliseconds they are.
        let at = millis_to_time(1583831889050);
        assert_eq!((u.creation_time, u.end_time), (at, at));
        assert!(u.tags.is_empty());
    }

    #[test]
    fn sagemaker_completed_fixture() {
        let v = fixture("sagemaker-training-state-change.completed.json");
        let Inbound::TrainingUpdate(u) = one(&v) else {
            panic!()
        };
        assert_eq!(u.status, JobStatus::Completed);
        assert_eq!(u.last_modified_ms, Some(1748782961000));
        assert!(u.model_artifacts.unwrap().ends_with("/output/model.tar.gz"));
        assert_eq!(u.tags["sagemaker-sdk:jumpstart-model-version"], "1.2.0");
    }

    #[test]
    fn times_and_tags_in_every_shape() {
        assert_eq!(epoch_millis(&json!(1592411992203_i64)), Some(1592411992203));
        assert_eq!(epoch_millis(&json!("1592411992203")), Some(1592411992203));
        assert_eq!(epoch_millis(&json!("1592411992203.0")), Some(1592411992203));
        assert_eq!(epoch_millis(&json!(1592411992203.0)), Some(1592411992203));
        assert_eq!(epoch_millis(&json!(null)), None);
        let list = parse_tags(&json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]));
        assert_eq!(list, parse_tags(&json!({"a": "1", "b": "2"})));
        assert!(parse_tags(&json!(null)).is_empty());
    }

    #[test]
    fn minimal_and_extra_fields_in_a_state_change() {
        let v = json!({"source": "aws.sagemaker", "detail-type": SAGEMAKER_STATE_CHANGE,
            "detail": {"TrainingJobName": "hubtune-a-1", "TrainingJobStatus": "Failed", "NewField": {"x": 1}}});
        let Inbound::TrainingUpdate(u) = one(&v) else {
            panic!()
        };
        assert_eq!(u.status, JobStatus::Failed);
        assert_eq!(u.last_modified_ms, None);
        // DeleteTrainingJob's status is a state change like the others (training-state decides what it means).
        let deleting = json!({"source": "aws.sagemaker", "detail-type": SAGEMAKER_STATE_CHANGE,
            "detail": {"TrainingJobName": "hubtune-a-1", "TrainingJobStatus": "Deleting"}});
        let Inbound::TrainingUpdate(u) = one(&deleting) else {
            panic!()
        };
        assert_eq!(u.status, JobStatus::Deleting);
        assert!(!u.status.is_terminal());
        let bad = json!({"source": "aws.sagemaker", "detail-type": SAGEMAKER_STATE_CHANGE,
            "detail": {"TrainingJobName": "x", "TrainingJobStatus": "Exploded"}});
        assert!(matches!(
            parse_message(&bad)[0],
            Inbound::Unrecognized { .. }
        ));
    }

    #[test]
    fn other_inputs() {
        let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-01-01T00:00:00Z", "Bucket": "b"});
        assert_eq!(parse_message(&test_event), vec![Inbound::S3TestEvent]);
        let sweep = json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        assert_eq!(parse_message(&sweep), vec![Inbound::Sweep]);
        let freed = json!({"source": "hubtune", "detail-type": "Route Slot Freed", "detail": {"route": "r1"}});
        assert_eq!(
            parse_message(&freed),
            vec![Inbound::SlotFreed { route: "r1".into() }]
        );
        let unknown = json!({"hello": "secret-value"});
        let Inbound::Unrecognized { shape } = one(&unknown) else {
            panic!()
        };
        assert!(
            shape.contains("hello:string") && !shape.contains("secret"),
            "{shape}"
        );
        assert!(matches!(
            parse_body("not json")[0],
            Inbound::Unrecognized { .. }
        ));
        let sns = json!({"Type": "Notification", "Message": test_event.to_string()});
        assert_eq!(parse_message(&sns), vec![Inbound::S3TestEvent]);
    }

    mod no_panic {
        //! Any JSON, and any shape near the real ones, is parsed into some `Inbound` without a panic.
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(|n| json!(n)),
                any::<f64>().prop_map(|f| json!(f)),
                ".{0,40}".prop_map(Value::String),
            ];
            leaf.prop_recursive(4, 64, 8, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(
                        prop_oneof![
                            Just("Records".to_string()),
                            Just("s3".to_string()),
                            Just("detail".to_string()),
                            Just("detail-type".to_string()),
                            Just("source".to_string()),
                            Just("Type".to_string()),
                            Just("Message".to_string()),
                            Just("eventName".to_string()),
                            ".{0,12}"
                        ],
                        inner,
                        0..6
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Real envelopes with one field replaced by anything.
        fn near_real() -> impl Strategy<Value = Value> {
            let bases = [
                fixture("s3-notification.object-created.json"),
                fixture("eventbridge-s3.object-created.json"),
                fixture("sagemaker-training-state-change.completed.json"),
                fixture("sagemaker-training-state-change.aws-docs-sample.json"),
            ];
            (0..bases.len(), json_value(), 0usize..8).prop_map(move |(i, junk, which)| {
                let mut v = bases[i].clone();
                let slot = match which {
                    0 => v.pointer_mut("/Records/0/s3/object/key"),
                    1 => v.pointer_mut("/Records/0/eventTime"),
                    2 => v.pointer_mut("/Records/0/s3/object/size"),
                    3 => v.pointer_mut("/detail/object"),
                    4 => v.pointer_mut("/detail/TrainingJobStatus"),
                    5 => v.pointer_mut("/time"),
                    6 => v.pointer_mut("/detail/Tags"),
                    _ => v.pointer_mut("/detail-type"),
                };
                if let Some(slot) = slot {
                    *slot = junk;
                }
                v
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn any_json_parses(v in json_value()) {
                let _ = parse_message(&v);
                let _ = parse_body(&v.to_string());
            }

            #[test]
            fn any_near_real_envelope_parses(v in near_real()) {
                prop_assert!(!parse_message(&v).is_empty());
            }

            #[test]
            fn every_message_has_at_least_one_ending(v in json_value()) {
                prop_assert!(!parse_message(&v).is_empty(), "{v}");
            }

            #[test]
            fn any_text_parses(s in ".{0,200}") {
                prop_assert!(!parse_body(&s).is_empty());
            }
        }
    }
}
