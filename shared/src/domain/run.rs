//! The run record: one per training job, the memory of hubtune. Its status only moves forward, and its outbox flags
//! say which events have been accepted by EventBridge, so a crash anywhere leads to a resend, never to silence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::domain::capacity::{LaunchAttempt, Relaunch};
use crate::domain::config::TRAINING;
use crate::domain::dataset::{DatasetLanded, FrozenDataset};
use crate::domain::hub::HubContent;
use crate::domain::job::{JobDescription, JobStatus};
use crate::domain::naming::{JobName, NameError};
use crate::domain::plan::{
    CreateTrainingJobRequest, TAG_DATASET, TAG_DEPLOYMENT, TAG_HUB_CONTENT_ARN, TAG_MODEL_ID,
    TAG_MODEL_VERSION, TAG_ROUTE,
};
use crate::domain::rejection::Rejection;
use crate::domain::results::{ResultsInput, RunResults};
use crate::domain::s3uri::S3Uri;
use crate::domain::versioned::Revisioned;

pub const RUN_SCHEMA: u32 = 1;

/// A run's status. `Queued` and `Launching` come before the job exists; the rest mirror SageMaker's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RunStatus {
    Queued,
    Launching,
    Launched,
    InProgress,
    Stopping,
    Completed,
    Failed,
    Stopped,
}

impl RunStatus {
    /// Forward order. The three terminal states share the top rank: once one is reached, none replaces it.
    fn rank(self) -> u8 {
        match self {
            Self::Queued | Self::Launching => 0,
            Self::Launched => 1,
            Self::InProgress => 2,
            Self::Stopping => 3,
            Self::Completed | Self::Failed | Self::Stopped => 4,
        }
    }

    pub fn is_terminal(self) -> bool {
        self.rank() == 4
    }

    /// Before CreateTrainingJob succeeded.
    pub fn is_pre_launch(self) -> bool {
        self.rank() == 0
    }

    /// The run status SageMaker's job status stands for; `None` for `Deleting`, which says nothing about how the
    /// job ended.
    pub fn observed(s: JobStatus) -> Option<Self> {
        Some(match s {
            JobStatus::InProgress => Self::InProgress,
            JobStatus::Stopping => Self::Stopping,
            JobStatus::Completed => Self::Completed,
            JobStatus::Failed => Self::Failed,
            JobStatus::Stopped => Self::Stopped,
            JobStatus::Deleting => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "Queued",
            Self::Launching => "Launching",
            Self::Launched => "Launched",
            Self::InProgress => "InProgress",
            Self::Stopping => "Stopping",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Stopped => "Stopped",
        }
    }
}

/// Whether moving from `from` to `to` is allowed. Forward only; `Queued` and `Launching` may swap, since a launch
/// refused for capacity goes back to the queue.
pub fn may_move(from: RunStatus, to: RunStatus) -> bool {
    if from == to {
        return false;
    }
    if from.is_pre_launch() && to.is_pre_launch() {
        return true;
    }
    to.rank() > from.rank()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: RunStatus,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One data channel of a run: its name, the manifest SageMaker reads, and what that manifest lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunChannel {
    pub name: String,
    pub manifest_uri: String,
    /// `None` where the record does not know (an adopted job, a record written before channels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_count: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_bytes: Option<u64>,
}

/// Flags set only after EventBridge accepted the entry (PutEvents checked entry by entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    pub started_emitted: bool,
    pub finished_emitted: bool,
    pub slot_released: bool,
    pub slot_freed_emitted: bool,
    pub published: bool,
    /// When `Training Run Finished` was last sent: the sweep's republish wait runs from here, not from the job's end
    /// (a state change handled hours after the job ended must not be resent a minute later).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema: u32,
    pub revision: u64,
    pub job_name: JobName,
    pub job_arn: Option<String>,
    pub route: String,
    /// The full URI (tags hold only a sanitised, truncated form).
    pub dataset_uri: String,
    /// `None` for a job adopted from SageMaker with no record of ours.
    pub dataset: Option<DatasetLanded>,
    pub frozen: Option<FrozenDataset>,
    /// The training channel's manifest (records before channels, and adopted jobs, have only this).
    pub manifest_uri: Option<String>,
    /// Every data channel the job reads, `training` first, each with its own frozen manifest (absent from records
    /// written before channels: `channel_list` answers for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<RunChannel>,
    pub model_id: String,
    pub hub_content_arn: Option<String>,
    pub hub_content_version: Option<String>,
    pub public_hub_content_arn: Option<String>,
    pub instance_type: String,
    pub instance_count: u32,
    pub status: RunStatus,
    pub history: Vec<StatusChange>,
    pub failure_reason: Option<String>,
    pub model_artifacts: Option<String>,
    /// What the run produced, decided once when it ended (absent from records written before results were kept,
    /// and until the end).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results: Option<RunResults>,
    /// SageMaker's BillableTimeInSeconds, once the job ended: what its route's day is charged instead of the hours
    /// reserved at launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable_seconds: Option<i64>,
    /// The model package version registered for this run (routes with a `model_package_group`), kept before
    /// `Model Published` goes out so a redelivered publication announces it without registering again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_package_arn: Option<String>,
    /// Capacity fallback: every instance type tried for this dataset, in order, with how it ended (absent when the
    /// first try launched). Attempts of an earlier job that failed at start for capacity are carried over.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launch_attempts: Vec<LaunchAttempt>,
    /// The job failed at start for capacity and its dataset was given back to the queue as this new job, on the
    /// route's next instance type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relaunched_as: Option<Relaunch>,
    pub outbox: Outbox,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Revisioned for RunRecord {
    fn revision(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

/// What applying an observed status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Moved,
    /// Same or older status: a duplicate or a late, reordered event.
    Unchanged,
}

impl RunRecord {
    /// Apply an observed status, forward only. Also records the failure reason and artifact when they appear.
    pub fn advance(&mut self, to: RunStatus, at: DateTime<Utc>, detail: Option<String>) -> Applied {
        if !may_move(self.status, to) {
            return Applied::Unchanged;
        }
        self.status = to;
        self.history.push(StatusChange {
            status: to,
            at,
            detail,
        });
        self.updated_at = at;
        Applied::Moved
    }

    /// Every event that a record in this state still owes, in the order they go out.
    pub fn owes(&self) -> Owed {
        Owed {
            started: !self.status.is_pre_launch() && !self.outbox.started_emitted,
            finished: self.status.is_terminal() && !self.outbox.finished_emitted,
            release_slot: self.status.is_terminal() && !self.outbox.slot_released,
            slot_freed: self.status.is_terminal() && !self.outbox.slot_freed_emitted,
        }
    }

    /// The run's data channels with their manifests: those the record lists, else (a record written before
    /// channels, an adopted job) the training manifest alone.
    pub fn channel_list(&self) -> Vec<RunChannel> {
        if !self.channels.is_empty() {
            return self.channels.clone();
        }
        self.manifest_uri
            .iter()
            .map(|m| RunChannel {
                name: TRAINING.into(),
                manifest_uri: m.clone(),
                file_count: None,
                total_bytes: None,
            })
            .collect()
    }

    /// Seconds from the launch to the end (or to `now` while it runs).
    pub fn duration_seconds(&self, now: DateTime<Utc>) -> Option<i64> {
        let start = self
            .history
            .iter()
            .find(|c| c.status == RunStatus::Launched)?
            .at;
        let end = self.finished_at().unwrap_or(now);
        Some((end - start).num_seconds())
    }

    /// When the run reached its terminal state.
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.history
            .iter()
            .rev()
            .find(|c| c.status.is_terminal())
            .map(|c| c.at)
    }

    /// The record of a launch about to happen (`Launching`): the one constructor of a launched run's record.
    pub fn launching(new: NewRun<'_>, now: DateTime<Utc>) -> Self {
        let NewRun {
            job,
            dataset,
            frozen,
            manifest,
            channel_manifests,
            model_id,
            hub,
            request,
        } = new;
        let channels = frozen
            .channel_summaries()
            .into_iter()
            .filter_map(|c| {
                let uri = if c.name == TRAINING {
                    Some(manifest)
                } else {
                    channel_manifests
                        .iter()
                        .find(|(n, _)| *n == c.name)
                        .map(|(_, u)| u)
                };
                uri.map(|u| RunChannel {
                    manifest_uri: u.to_string(),
                    file_count: Some(c.file_count),
                    total_bytes: Some(c.total_bytes),
                    name: c.name,
                })
            })
            .collect();
        RunRecord {
            schema: RUN_SCHEMA,
            revision: 0,
            job_name: job.clone(),
            job_arn: None,
            route: dataset.route.clone(),
            dataset_uri: dataset.location.to_string(),
            dataset: Some(dataset.clone()),
            frozen: Some(frozen.clone()),
            manifest_uri: Some(manifest.to_string()),
            channels,
            model_id: model_id.to_string(),
            hub_content_arn: Some(hub.hub_content_arn.clone()),
            hub_content_version: Some(hub.hub_content_version.clone()),
            public_hub_content_arn: hub.sagemaker_public_hub_content_arn.clone(),
            instance_type: request.resource_config.instance_type.clone(),
            instance_count: request.resource_config.instance_count,
            status: RunStatus::Launching,
            history: vec![StatusChange {
                status: RunStatus::Launching,
                at: now,
                detail: None,
            }],
            failure_reason: None,
            model_artifacts: None,
            results: None,
            billable_seconds: None,
            model_package_arn: None,
            launch_attempts: vec![],
            relaunched_as: None,
            outbox: Outbox::default(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether a job's tags say `deployment` launched it: only such a job is adopted. Two deployments in one account
    /// may share a job prefix; the `hubtune:deployment` tag (required by the template's guardrail) tells them apart.
    pub fn launched_by(tags: &BTreeMap<String, String>, deployment: &str) -> bool {
        tags.get(TAG_DEPLOYMENT)
            .is_some_and(|d| *d == crate::domain::naming::tag_value(deployment))
    }

    /// The record of a job of this deployment that has none (its launcher's write was lost), rebuilt from
    /// DescribeTrainingJob and the job's tags. `Training Run Started` may or may not have gone out: a second one is
    /// harmless (same `event_id`).
    pub fn adopted(
        d: &JobDescription,
        tags: &BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<Self, NameError> {
        let created = d.creation_time.unwrap_or(now);
        Ok(RunRecord {
            schema: RUN_SCHEMA,
            revision: 0,
            job_name: JobName::parse(&d.name)?,
            job_arn: Some(d.arn.clone()),
            route: tags
                .get(TAG_ROUTE)
                .cloned()
                .unwrap_or_else(|| "unknown".into()),
            dataset_uri: d
                .training_input
                .clone()
                .or_else(|| tags.get(TAG_DATASET).cloned())
                .unwrap_or_default(),
            dataset: None,
            frozen: None,
            manifest_uri: d.training_input.clone(),
            channels: vec![],
            model_id: tags.get(TAG_MODEL_ID).cloned().unwrap_or_default(),
            hub_content_arn: tags.get(TAG_HUB_CONTENT_ARN).cloned(),
            hub_content_version: tags.get(TAG_MODEL_VERSION).cloned(),
            public_hub_content_arn: None,
            instance_type: d.instance_type.clone().unwrap_or_default(),
            instance_count: d.instance_count.unwrap_or(1).max(1) as u32,
            status: RunStatus::Launched,
            history: vec![StatusChange {
                status: RunStatus::Launched,
                at: created,
                detail: Some("adopted".into()),
            }],
            failure_reason: None,
            model_artifacts: None,
            results: None,
            billable_seconds: None,
            model_package_arn: None,
            launch_attempts: vec![],
            relaunched_as: None,
            outbox: Outbox::default(),
            created_at: now,
            updated_at: now,
        })
    }

    /// A dataset that will not be launched ends its record `Failed` with the rejection, every outbox flag set: there
    /// is no job, no slot and nothing to publish (the `Dataset Rejected` event is the report). Only before the launch:
    /// `false` when a job exists (or the record already ended).
    pub fn refuse(&mut self, rej: &Rejection, now: DateTime<Utc>) -> bool {
        if !self.status.is_pre_launch() {
            return false;
        }
        self.failure_reason = Some(rej.message.clone());
        self.advance(RunStatus::Failed, now, Some(rej.reason.to_string()));
        self.outbox = Outbox::all_done();
        true
    }

    /// Bring the record up to what SageMaker describes. Returns whether anything changed.
    pub fn observe(&mut self, d: &JobDescription, now: DateTime<Utc>) -> bool {
        let mut changed = false;
        if self.job_arn.is_none() {
            self.job_arn = Some(d.arn.clone());
            changed = true;
        }
        if self.status.is_pre_launch() {
            // The job exists: whatever the record says, it was launched (a crash after CreateTrainingJob).
            self.advance(RunStatus::Launched, now, Some("found running".into()));
            changed = true;
        }
        let Some(observed) = RunStatus::observed(d.status) else {
            return changed;
        };
        let at = d.last_modified_time.unwrap_or(now);
        if self.advance(observed, at, d.secondary_status.clone()) == Applied::Moved {
            self.failure_reason = d.failure_reason.clone();
            self.model_artifacts = d.model_artifacts.clone();
            changed = true;
        }
        // Known only once the job ended; a later describe may fill what an earlier one did not.
        if self.status.is_terminal()
            && d.billable_seconds.is_some()
            && self.billable_seconds.is_none()
        {
            self.billable_seconds = d.billable_seconds;
            changed = true;
        }
        changed
    }

    /// Keep the results of a run that ended, from the description of its end (`None`: SageMaker no longer knows the
    /// job) and the route's hourly price. Once: a later describe (of a job being deleted) knows less, and the events
    /// resent after a crash must say the same. Returns whether anything changed.
    pub fn keep_results(
        &mut self,
        d: Option<&JobDescription>,
        hourly_price_usd: Option<f64>,
    ) -> bool {
        let ended = d.is_none_or(|d| d.status.is_terminal());
        if !self.status.is_terminal() || !ended || self.results.is_some() {
            return false;
        }
        self.results = Some(self.results_from(d, hourly_price_usd));
        true
    }

    /// The results this record and a description give; what the events carry for a record that kept none.
    pub fn results_from(
        &self,
        d: Option<&JobDescription>,
        hourly_price_usd: Option<f64>,
    ) -> RunResults {
        RunResults::of(ResultsInput {
            desc: d,
            instance_type: &self.instance_type,
            instance_count: self.instance_count,
            failure_reason: self.failure_reason.as_deref(),
            completed: self.status == RunStatus::Completed,
            hourly_price_usd,
        })
    }

    /// The training hours the job used: its billable time on each instance (`None` until SageMaker says).
    pub fn used_hours(&self) -> Option<f64> {
        let secs = u32::try_from(self.billable_seconds?.max(0)).unwrap_or(u32::MAX);
        Some(crate::domain::route_queue::reserved_hours(
            secs,
            self.instance_count,
        ))
    }

    /// The job is gone from SageMaker (deleted, or never seen again): a launched run that had not ended ends
    /// `Failed` with the reason, so its slot is freed and its subscribers hear of it.
    pub fn end_gone(&mut self, reason: String, now: DateTime<Utc>) -> bool {
        let moved = self.advance(RunStatus::Failed, now, Some("job gone".into())) == Applied::Moved;
        if moved {
            self.failure_reason = Some(reason);
        }
        moved
    }

    /// An outbox effect happened at `at`: its flag is set (`false` when it was set already, nothing to write).
    pub fn mark_sent(&mut self, flag: OutboxFlag, at: DateTime<Utc>) -> bool {
        let new = self.outbox.set(flag);
        if new && flag == OutboxFlag::Finished {
            self.outbox.finished_sent_at = Some(at);
        }
        new
    }

    /// The sweep sent `Training Run Finished` again: the republish wait starts over.
    pub fn finished_resent(&mut self, at: DateTime<Utc>) -> bool {
        self.outbox.finished_sent_at = Some(at);
        true
    }

    /// The sweep gave a stuck launch back to its route's queue: the stuck-launch wait starts over, so the next sweeps
    /// leave it to the queue instead of re-queuing (and freeing its slot) again.
    pub fn requeued(&mut self, at: DateTime<Utc>) -> bool {
        self.updated_at = at;
        true
    }

    /// Completely done: terminal, nothing owed, published (or refused, which sets every flag). Nothing can change it
    /// any more, so its open-run marker goes and the sweep never reads it again.
    pub fn is_closed(&self) -> bool {
        self.status.is_terminal() && !self.owes().any() && self.outbox.published
    }

    /// What the scheduled sweep must do for this record.
    pub fn sweep_action(&self, now: DateTime<Utc>, timing: &SweepTiming) -> SweepAction {
        let done = self.status.is_terminal() && !self.owes().any();
        if !done && !self.status.is_pre_launch() {
            return SweepAction::Reconcile;
        }
        if self.status == RunStatus::Launching
            && (now - self.updated_at).num_seconds() > timing.stuck_launch_seconds
        {
            return SweepAction::RecoverLaunch;
        }
        let finished = self
            .outbox
            .finished_sent_at
            .or_else(|| self.finished_at())
            .unwrap_or(self.updated_at);
        if done
            && !self.outbox.published
            && self.outbox.finished_emitted
            && (now - finished).num_seconds() >= timing.republish_after_seconds
        {
            return SweepAction::Republish;
        }
        SweepAction::Nothing
    }
}

/// The open-run marker's body: which job, and since when (a marker whose record never appeared is dropped once old).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRun {
    pub job: String,
    pub opened_at: DateTime<Utc>,
}

/// What a launch knows when it writes the run record.
pub struct NewRun<'a> {
    pub job: &'a JobName,
    pub dataset: &'a DatasetLanded,
    pub frozen: &'a FrozenDataset,
    /// The training channel's manifest.
    pub manifest: &'a S3Uri,
    /// The manifest of each other channel of `frozen`.
    pub channel_manifests: &'a [(String, S3Uri)],
    /// The route's `model_id` (the reference's name in the hub, or an alias of it).
    pub model_id: &'a str,
    pub hub: &'a HubContent,
    pub request: &'a CreateTrainingJobRequest,
}

/// The sweep's patience.
#[derive(Debug, Clone, Copy)]
pub struct SweepTiming {
    /// How long a record may stay `Launching` with no job before the sweep recovers the launch.
    pub stuck_launch_seconds: i64,
    /// How long `Training Run Finished` may go unanswered (no publication) before it is sent again.
    pub republish_after_seconds: i64,
}

/// The sweep's decision for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepAction {
    /// Not finished (or its outbox not worked off): bring it up to date with SageMaker.
    Reconcile,
    /// `Launching` for too long: the launch crashed and its message is gone.
    RecoverLaunch,
    /// Finished and announced, never published: send `Training Run Finished` again.
    Republish,
    Nothing,
}

/// One outbox flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxFlag {
    Started,
    Finished,
    SlotReleased,
    SlotFreed,
    Published,
}

impl Outbox {
    /// Every flag set: nothing is owed.
    pub fn all_done() -> Self {
        Outbox {
            started_emitted: true,
            finished_emitted: true,
            slot_released: true,
            slot_freed_emitted: true,
            published: true,
            finished_sent_at: None,
        }
    }

    /// Set a flag; `false` when it was set already (nothing to write).
    pub fn set(&mut self, flag: OutboxFlag) -> bool {
        let f = match flag {
            OutboxFlag::Started => &mut self.started_emitted,
            OutboxFlag::Finished => &mut self.finished_emitted,
            OutboxFlag::SlotReleased => &mut self.slot_released,
            OutboxFlag::SlotFreed => &mut self.slot_freed_emitted,
            OutboxFlag::Published => &mut self.published,
        };
        !std::mem::replace(f, true)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Owed {
    pub started: bool,
    pub finished: bool,
    pub release_slot: bool,
    pub slot_freed: bool,
}

impl Owed {
    pub fn any(&self) -> bool {
        self.started || self.finished || self.release_slot || self.slot_freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RunStatus::*;

    const ALL: [RunStatus; 8] = [
        Queued, Launching, Launched, InProgress, Stopping, Completed, Failed, Stopped,
    ];

    #[test]
    fn every_pair_of_transitions() {
        for from in ALL {
            for to in ALL {
                let expected = match (from, to) {
                    _ if from == to => false,
                    (Queued, Launching) | (Launching, Queued) => true,
                    (Queued | Launching, _) => true,
                    (Launched, InProgress | Stopping | Completed | Failed | Stopped) => true,
                    (InProgress, Stopping | Completed | Failed | Stopped) => true,
                    (Stopping, Completed | Failed | Stopped) => true,
                    _ => false,
                };
                assert_eq!(may_move(from, to), expected, "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn sagemaker_statuses_map_to_run_statuses_except_deleting() {
        use crate::domain::job::JobStatus as J;
        assert_eq!(RunStatus::observed(J::InProgress), Some(InProgress));
        assert_eq!(RunStatus::observed(J::Stopping), Some(Stopping));
        assert_eq!(RunStatus::observed(J::Completed), Some(Completed));
        assert_eq!(RunStatus::observed(J::Failed), Some(Failed));
        assert_eq!(RunStatus::observed(J::Stopped), Some(Stopped));
        assert_eq!(RunStatus::observed(J::Deleting), None);
    }

    #[test]
    fn terminal_states_never_change() {
        for t in [Completed, Failed, Stopped] {
            for to in ALL {
                assert!(!may_move(t, to), "{t:?} -> {to:?}");
            }
        }
    }

    fn record() -> RunRecord {
        let now = Utc::now();
        RunRecord {
            schema: RUN_SCHEMA,
            revision: 0,
            job_name: JobName::parse("hubtune-r-0123456789abcdef").unwrap(),
            job_arn: None,
            route: "r".into(),
            dataset_uri: "s3://b/d/".into(),
            dataset: None,
            frozen: None,
            manifest_uri: None,
            channels: vec![],
            model_id: "m".into(),
            hub_content_arn: None,
            hub_content_version: None,
            public_hub_content_arn: None,
            instance_type: "ml.g5.2xlarge".into(),
            instance_count: 1,
            status: Launching,
            history: vec![],
            failure_reason: None,
            model_artifacts: None,
            results: None,
            billable_seconds: None,
            model_package_arn: None,
            launch_attempts: vec![],
            relaunched_as: None,
            outbox: Outbox::default(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_late_in_progress_after_completed_changes_nothing() {
        let mut r = record();
        assert_eq!(r.advance(Launched, Utc::now(), None), Applied::Moved);
        assert_eq!(r.advance(Completed, Utc::now(), None), Applied::Moved);
        assert_eq!(r.advance(InProgress, Utc::now(), None), Applied::Unchanged);
        assert_eq!(r.status, Completed);
        assert_eq!(r.history.len(), 2);
    }

    #[test]
    fn a_record_written_before_results_were_kept_still_reads() {
        let mut v = serde_json::to_value(record()).unwrap();
        v.as_object_mut().unwrap().remove("results");
        let r: RunRecord = serde_json::from_value(v).unwrap();
        assert_eq!(r.results, None);
        assert!(!serde_json::to_string(&r).unwrap().contains("results"));
    }

    #[test]
    fn results_are_kept_once_and_only_at_the_end() {
        let mut r = record();
        r.advance(Launched, Utc::now(), None);
        assert!(
            !r.keep_results(None, Some(1.0)),
            "not ended: nothing to keep"
        );
        r.advance(Failed, Utc::now(), None);
        r.failure_reason = Some("gone".into());
        assert!(r.keep_results(None, Some(1.0)));
        let kept = r.results.clone().unwrap();
        assert_eq!(kept.failure_reason.as_deref(), Some("gone"));
        assert_eq!(
            (kept.instance_type.as_str(), kept.instance_count),
            ("ml.g5.2xlarge", 1)
        );
        r.failure_reason = Some("other".into());
        assert!(!r.keep_results(None, Some(1.0)), "kept once");
        assert_eq!(r.results, Some(kept));
    }

    #[test]
    fn owed_events_follow_status_and_flags() {
        let mut r = record();
        assert!(!r.owes().any());
        r.advance(Launched, Utc::now(), None);
        assert!(r.owes().started && !r.owes().finished);
        r.outbox.started_emitted = true;
        r.advance(Failed, Utc::now(), None);
        let o = r.owes();
        assert!(o.finished && o.release_slot && o.slot_freed && !o.started);
        r.outbox = Outbox {
            started_emitted: true,
            finished_emitted: true,
            slot_released: true,
            slot_freed_emitted: true,
            published: false,
            finished_sent_at: None,
        };
        assert!(!r.owes().any());
    }
}
