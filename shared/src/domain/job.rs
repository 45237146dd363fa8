//! A training job as SageMaker describes it, reduced to what hubtune uses: its status and the description the
//! AWS adapter maps DescribeTrainingJob into.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// SageMaker's training job status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum JobStatus {
    InProgress,
    Stopping,
    Completed,
    Failed,
    Stopped,
    /// DeleteTrainingJob was called (possible only after the job ended); then SageMaker forgets the job, so how it
    /// ended is no longer known to the API.
    Deleting,
}

impl JobStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "InProgress" => Self::InProgress,
            "Stopping" => Self::Stopping,
            "Completed" => Self::Completed,
            "Failed" => Self::Failed,
            "Stopped" => Self::Stopped,
            "Deleting" => Self::Deleting,
            _ => return None,
        })
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Stopped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InProgress => "InProgress",
            Self::Stopping => "Stopping",
            Self::Completed => "Completed",
            Self::Failed => "Failed",
            Self::Stopped => "Stopped",
            Self::Deleting => "Deleting",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusTransition {
    pub status: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// DescribeTrainingJob, reduced to what hubtune uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobDescription {
    pub name: String,
    pub arn: String,
    pub status: JobStatus,
    pub secondary_status: Option<String>,
    pub failure_reason: Option<String>,
    pub model_artifacts: Option<String>,
    pub creation_time: Option<DateTime<Utc>>,
    pub training_start_time: Option<DateTime<Utc>>,
    pub training_end_time: Option<DateTime<Utc>>,
    pub last_modified_time: Option<DateTime<Utc>>,
    /// `TrainingTimeInSeconds`.
    pub training_seconds: Option<i64>,
    pub billable_seconds: Option<i64>,
    /// `EnableManagedSpotTraining`.
    pub managed_spot: bool,
    pub final_metrics: BTreeMap<String, f64>,
    /// The names of `AlgorithmSpecification.MetricDefinitions`: the hub document's training metrics as hubtune sent
    /// them at launch, in the document's order.
    pub metric_names: Vec<String>,
    pub secondary_transitions: Vec<StatusTransition>,
    pub hyperparameters: BTreeMap<String, String>,
    pub image: Option<String>,
    pub instance_type: Option<String>,
    pub instance_count: Option<i32>,
    pub output_path: Option<String>,
    /// The `training` channel's S3 URI.
    pub training_input: Option<String>,
}
