//! What hubtune tells the world: the seven outgoing events, the artifact manifest and the route's latest pointer.
//!
//! Every event goes to the hubtune bus with `source: hubtune`, a versioned detail (`"schema"`: 2 for the three
//! events that carry a run's `results`, 1 for the others) and a deterministic `event_id`: delivery is at least once,
//! so consumers de-duplicate on it, and a resend after a crash carries the same id. Every event also carries a
//! `notification` (`subject`, `results`): the lines the notification topic's rule puts in the message a person reads.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::domain::capacity::LaunchAttempt;
use crate::domain::naming::identity_hash;
use crate::domain::publication::ArtifactManifest;
use crate::domain::rejection::Problems;
use crate::domain::results::RunResults;
use crate::domain::route_queue::QueueReason;
use crate::domain::run::RunRecord;

/// The schema of the events that carry no results.
pub const SCHEMA: u32 = 1;
/// The schema of `Training Run Finished`, `Model Published` and `Fine-tune Failed`: 2 since they carry `results`.
pub const RESULTS_SCHEMA: u32 = 2;
/// The schema of `Dataset Queued`: 2 since its `reason` is a code (`QueueReason`), the words moved to `message`.
pub const QUEUED_SCHEMA: u32 = 2;
// `channels` (Training Run Started, Model Published) is a new field, not a new shape: like `notification`, it
// keeps the schema numbers (docs/events.md: a breaking change gets a new number; new optional fields do not).
pub const SOURCE: &str = "hubtune";

pub const DATASET_REJECTED: &str = "Dataset Rejected";
pub const DATASET_QUEUED: &str = "Dataset Queued";
pub const TRAINING_RUN_STARTED: &str = "Training Run Started";
pub const TRAINING_RUN_FINISHED: &str = "Training Run Finished";
pub const MODEL_PUBLISHED: &str = "Model Published";
pub const FINETUNE_FAILED: &str = "Fine-tune Failed";
pub const ROUTE_SLOT_FREED: &str = "Route Slot Freed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutgoingEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: Value,
    pub resources: Vec<String>,
}

impl OutgoingEvent {
    pub fn event_id(&self) -> &str {
        self.detail["event_id"].as_str().unwrap_or_default()
    }
}

/// A deterministic id: the same logical event always has the same one.
pub fn event_id(detail_type: &str, key: &str) -> String {
    identity_hash(detail_type, key)[..32].to_string()
}

/// What every event names, taken from whatever the caller knows.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventContext {
    pub route: String,
    pub dataset_uri: String,
    pub job_name: Option<String>,
    pub job_arn: Option<String>,
    pub hub_content_arn: Option<String>,
    pub hub_content_version: Option<String>,
    /// Capacity fallback: each instance type tried, when more than the first was (an added, optional field).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub launch_attempts: Vec<LaunchAttempt>,
}

impl EventContext {
    pub fn of_run(r: &RunRecord) -> Self {
        Self {
            route: r.route.clone(),
            dataset_uri: r.dataset_uri.clone(),
            job_name: Some(r.job_name.to_string()),
            job_arn: r.job_arn.clone(),
            hub_content_arn: r.hub_content_arn.clone(),
            hub_content_version: r.hub_content_version.clone(),
            launch_attempts: r.launch_attempts.clone(),
        }
    }
}

/// An event's schema number.
pub fn schema_of(detail_type: &str) -> u32 {
    match detail_type {
        TRAINING_RUN_FINISHED | MODEL_PUBLISHED | FINETUNE_FAILED => RESULTS_SCHEMA,
        DATASET_QUEUED => QUEUED_SCHEMA,
        _ => SCHEMA,
    }
}

/// The first line of the notification a person reads (SNS through EventBridge has no Subject of its own).
pub fn subject(detail_type: &str, ctx: &EventContext) -> String {
    match &ctx.job_name {
        Some(job) => format!("hubtune {detail_type}: route {}, job {job}", ctx.route),
        None => format!("hubtune {detail_type}: route {}", ctx.route),
    }
}

fn build(
    detail_type: &str,
    id_key: &str,
    ctx: &EventContext,
    summary: String,
    results_line: String,
    extra: Value,
) -> OutgoingEvent {
    let mut detail = json!({
        "schema": schema_of(detail_type),
        "event_id": event_id(detail_type, id_key),
        "route": ctx.route,
        "dataset_uri": ctx.dataset_uri,
        "job_name": ctx.job_name,
        "job_arn": ctx.job_arn,
        "hub_content_arn": ctx.hub_content_arn,
        "hub_content_version": ctx.hub_content_version,
        "summary": summary,
        "notification": { "subject": subject(detail_type, ctx), "results": results_line },
    });
    if let (Value::Object(d), Value::Object(e)) = (&mut detail, extra) {
        d.extend(e);
    }
    if !ctx.launch_attempts.is_empty() {
        detail["launch_attempts"] = json!(ctx.launch_attempts);
    }
    OutgoingEvent {
        source: SOURCE.to_string(),
        detail_type: detail_type.to_string(),
        resources: ctx.job_arn.iter().cloned().collect(),
        detail,
    }
}

/// `identity_key` identifies the dataset delivery (so a redelivered rejection has the same id).
pub fn dataset_rejected(
    ctx: &EventContext,
    identity_key: &str,
    problems: &Problems,
) -> OutgoingEvent {
    let first = problems.first();
    let more = if problems.len() > 1 {
        format!(" (+{} more problems)", problems.len() - 1)
    } else {
        String::new()
    };
    build(
        DATASET_REJECTED,
        identity_key,
        ctx,
        format!(
            "hubtune rejected dataset {} on route {}: {first}{more}",
            ctx.dataset_uri, ctx.route
        ),
        format!("reason: {} ({} problem(s))", first.reason, problems.len()),
        json!({ "reason": first.reason, "message": first.message, "file": first.file, "line": first.line,
                "problem_count": problems.len(), "problems": problems.iter().collect::<Vec<_>>() }),
    )
}

/// `reason` is the code (`QueueReason`), `message` the words.
pub fn dataset_queued(
    ctx: &EventContext,
    identity_key: &str,
    reason: QueueReason,
    message: &str,
    queue_key: &str,
) -> OutgoingEvent {
    build(
        DATASET_QUEUED,
        identity_key,
        ctx,
        format!(
            "hubtune queued dataset {} on route {}: {message}",
            ctx.dataset_uri, ctx.route
        ),
        format!("queue entry: {queue_key}"),
        json!({ "reason": reason.as_str(), "message": message, "queue_entry": queue_key }),
    )
}

pub fn training_run_started(r: &RunRecord) -> OutgoingEvent {
    build(
        TRAINING_RUN_STARTED,
        r.job_name.as_str(),
        &EventContext::of_run(r),
        format!(
            "hubtune started training job {} ({} × {}) for dataset {} on route {}",
            r.job_name, r.instance_count, r.instance_type, r.dataset_uri, r.route
        ),
        format!(
            "{} × {}, model {}",
            r.instance_count, r.instance_type, r.model_id
        ),
        json!({ "instance_type": r.instance_type, "instance_count": r.instance_count, "model_id": r.model_id,
                "channels": r.channel_list() }),
    )
}

/// The results an event of this run carries: those the record kept, else what the record alone knows.
fn results_of(r: &RunRecord) -> RunResults {
    r.results
        .clone()
        .unwrap_or_else(|| r.results_from(None, None))
}

pub fn training_run_finished(r: &RunRecord) -> OutgoingEvent {
    let results = results_of(r);
    build(
        TRAINING_RUN_FINISHED,
        r.job_name.as_str(),
        &EventContext::of_run(r),
        format!(
            "training job {} on route {} ended {}",
            r.job_name,
            r.route,
            r.status.as_str()
        ),
        results.line(),
        with_relaunch(
            r,
            json!({ "status": r.status.as_str(), "failure_reason": r.failure_reason, "model_artifacts": r.model_artifacts,
                "results": results }),
        ),
    )
}

pub fn route_slot_freed(route: &str, key: &str) -> OutgoingEvent {
    build(
        ROUTE_SLOT_FREED,
        key,
        &EventContext {
            route: route.to_string(),
            ..Default::default()
        },
        format!("route {route} has a free training slot"),
        String::new(),
        json!({}),
    )
}

pub fn model_published(
    r: &RunRecord,
    manifest: &ArtifactManifest,
    manifest_uri: &str,
    latest_moved: bool,
) -> OutgoingEvent {
    let results = results_of(r);
    let mut detail = json!({ "artifact_uri": manifest.artifact_uri, "artifact_bytes": manifest.artifact_bytes,
            "manifest_uri": manifest_uri, "latest_updated": latest_moved,
            "final_metrics": manifest.final_metrics, "model_id": r.model_id, "results": results,
            "channels": r.channel_list() });
    // Only for a route with a `model_package_group`: an added, optional field (schema unchanged).
    if let Some(arn) = &r.model_package_arn {
        detail["model_package_arn"] = json!(arn);
    }
    build(
        MODEL_PUBLISHED,
        r.job_name.as_str(),
        &EventContext::of_run(r),
        format!(
            "hubtune published the fine-tuned {} from dataset {} on route {}: {}",
            r.model_id, r.dataset_uri, r.route, manifest.artifact_uri
        ),
        results.line(),
        detail,
    )
}

pub fn finetune_failed(r: &RunRecord, history: &[Value], console_url: &str) -> OutgoingEvent {
    let reason = r
        .failure_reason
        .clone()
        .unwrap_or_else(|| format!("the job ended {}", r.status.as_str()));
    let mut results = results_of(r);
    results.failure_reason = Some(reason.clone());
    build(
        FINETUNE_FAILED,
        r.job_name.as_str(),
        &EventContext::of_run(r),
        format!(
            "fine-tune {} on route {} {}: {reason}{}",
            r.job_name,
            r.route,
            r.status.as_str().to_lowercase(),
            r.relaunched_as
                .as_ref()
                .map(|x| format!(
                    " (hubtune relaunches it on {} as job {})",
                    x.instance_type, x.job_name
                ))
                .unwrap_or_default()
        ),
        results.line(),
        with_relaunch(
            r,
            json!({ "status": r.status.as_str(), "failure_reason": reason, "secondary_status_history": history,
                "console_url": console_url, "results": results }),
        ),
    )
}

/// A job that failed at start for capacity names the job its dataset was relaunched as (an added, optional field).
fn with_relaunch(r: &RunRecord, mut extra: Value) -> Value {
    if let Some(x) = &r.relaunched_as {
        extra["relaunched_as"] = json!(x);
    }
    extra
}

pub fn console_url(region: &str, job: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/jobs/{job}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rejection::{Rejection, RejectionReason};

    #[test]
    fn ids_are_deterministic_and_distinct() {
        assert_eq!(
            event_id(MODEL_PUBLISHED, "job-1"),
            event_id(MODEL_PUBLISHED, "job-1")
        );
        assert_ne!(
            event_id(MODEL_PUBLISHED, "job-1"),
            event_id(FINETUNE_FAILED, "job-1")
        );
        assert_ne!(
            event_id(MODEL_PUBLISHED, "job-1"),
            event_id(MODEL_PUBLISHED, "job-2")
        );
        assert_eq!(event_id(MODEL_PUBLISHED, "x").len(), 32);
    }

    #[test]
    fn rejection_event_names_file_line_and_summary() {
        let ctx = EventContext {
            route: "r".into(),
            dataset_uri: "s3://b/d/".into(),
            ..Default::default()
        };
        let e = dataset_rejected(
            &ctx,
            "id",
            &Rejection::new(RejectionReason::MalformedJsonl, "bad")
                .at("d/a.jsonl", Some(3))
                .into(),
        );
        assert_eq!(e.detail_type, DATASET_REJECTED);
        assert_eq!(e.detail["schema"], 1);
        assert_eq!(e.detail["reason"], "malformed_jsonl");
        assert_eq!(e.detail["file"], "d/a.jsonl");
        assert_eq!(e.detail["line"], 3);
        assert!(e.detail["summary"]
            .as_str()
            .unwrap()
            .contains("d/a.jsonl:3: bad"));
        assert_eq!(e.event_id(), event_id(DATASET_REJECTED, "id"));
    }

    #[test]
    fn run_events_and_dataset_queued_are_schema_2_the_others_1_and_every_event_has_a_subject() {
        for t in [TRAINING_RUN_FINISHED, MODEL_PUBLISHED, FINETUNE_FAILED] {
            assert_eq!(schema_of(t), RESULTS_SCHEMA, "{t}");
        }
        assert_eq!(schema_of(DATASET_QUEUED), 2);
        for t in [DATASET_REJECTED, TRAINING_RUN_STARTED, ROUTE_SLOT_FREED] {
            assert_eq!(schema_of(t), SCHEMA, "{t}");
        }
        let freed = route_slot_freed("support-bot", "k");
        assert_eq!(freed.detail["schema"], 1);
        assert_eq!(
            freed.detail["notification"]["subject"],
            "hubtune Route Slot Freed: route support-bot"
        );
        assert_eq!(freed.detail["notification"]["results"], "");
    }
}
