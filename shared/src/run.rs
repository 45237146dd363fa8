//! The run record: one per training job, the memory of hubtune. Its status only moves forward, and its outbox flags
//! say which events have been accepted by EventBridge, so a crash anywhere leads to a resend, never to silence.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::dataset::{DatasetLanded, FrozenDataset};
use crate::event::JobStatus;
use crate::naming::JobName;

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

/// Flags set only after EventBridge accepted the entry (PutEvents checked entry by entry).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    pub started_emitted: bool,
    pub finished_emitted: bool,
    pub slot_released: bool,
    pub slot_freed_emitted: bool,
    pub published: bool,
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
    pub manifest_uri: Option<String>,
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
    pub outbox: Outbox,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl crate::store::Revisioned for RunRecord {
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

    pub fn duration_seconds(&self) -> Option<i64> {
        let start = self
            .history
            .iter()
            .find(|c| c.status == RunStatus::Launched)?
            .at;
        let end = self
            .history
            .iter()
            .find(|c| c.status.is_terminal())
            .map(|c| c.at)
            .unwrap_or_else(Utc::now);
        Some((end - start).num_seconds())
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
        use crate::event::JobStatus as J;
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
        };
        assert!(!r.owes().any());
    }
}
