//! A run's launch attempts (capacity fallback): what the launcher and training-state keep in the run record of each
//! instance type tried. Apart from `capacity` (the attempt types, which the run record holds) so the record's own
//! module stays about its status and outbox.

use chrono::{DateTime, Utc};

use crate::domain::capacity::{is_capacity_failure, next_type, AttemptOutcome, LaunchAttempt};
use crate::domain::job::{JobDescription, JobStatus};
use crate::domain::run::RunRecord;

/// A run's attempts: what the launcher and training-state keep of each instance type tried.
impl RunRecord {
    /// CreateTrainingJob refused `instance_type` for quota or capacity: the attempt is kept, and the record names
    /// the type tried next (`None`: none is left, the dataset goes back to its queue).
    pub fn refused_on(
        &mut self,
        instance_type: &str,
        next: Option<&str>,
        detail: String,
        at: DateTime<Utc>,
    ) {
        self.launch_attempts.push(LaunchAttempt {
            job_name: self.job_name.to_string(),
            instance_type: instance_type.to_string(),
            outcome: AttemptOutcome::Refused,
            at,
            detail: Some(detail),
        });
        if let Some(next) = next {
            self.instance_type = next.to_string();
        }
        self.updated_at = at;
    }

    /// The job launched on `instance_type`: kept as the last attempt when there were others before it (a run that
    /// launched on its first try lists none).
    pub fn launched_on(&mut self, instance_type: &str, at: DateTime<Utc>) {
        self.instance_type = instance_type.to_string();
        let tried = self
            .launch_attempts
            .iter()
            .any(|a| a.job_name == self.job_name.as_str() && a.outcome == AttemptOutcome::Launched);
        if !self.launch_attempts.is_empty() && !tried {
            self.launch_attempts.push(LaunchAttempt {
                job_name: self.job_name.to_string(),
                instance_type: instance_type.to_string(),
                outcome: AttemptOutcome::Launched,
                at,
                detail: None,
            });
        }
    }

    /// The type to relaunch this run's dataset on, when SageMaker describes its job as failed at start for capacity
    /// and the route (`types`, its `instance_types`) has a type after the one that failed. Only before the record
    /// ended (the relaunch is decided before the failure is kept), and only for a dataset the record froze.
    pub fn relaunch_type(&self, d: &JobDescription, types: &[String]) -> Option<String> {
        let failed_at_start = d.status == JobStatus::Failed
            && d.failure_reason.as_deref().is_some_and(is_capacity_failure);
        if !failed_at_start
            || self.status.is_terminal()
            || self.dataset.is_none()
            || self.frozen.is_none()
        {
            return None;
        }
        let failed_on = d.instance_type.as_deref().unwrap_or(&self.instance_type);
        next_type(types, failed_on).map(|k| types[k].clone())
    }

    /// The attempts a relaunch carries into its new record: this run's, then its own failure at start.
    pub fn attempts_with_failure(
        &self,
        d: &JobDescription,
        at: DateTime<Utc>,
    ) -> Vec<LaunchAttempt> {
        let mut all = self.launch_attempts.clone();
        all.push(LaunchAttempt {
            job_name: self.job_name.to_string(),
            instance_type: d
                .instance_type
                .clone()
                .unwrap_or_else(|| self.instance_type.clone()),
            outcome: AttemptOutcome::FailedToStart,
            at,
            detail: d.failure_reason.clone(),
        });
        all
    }
}
