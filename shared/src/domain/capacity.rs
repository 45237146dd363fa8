//! Capacity fallback: a route's instance types in the order it prefers them, and every launch attempt a run made on
//! them.
//!
//! SageMaker refuses a CreateTrainingJob for quota (`ResourceLimitExceeded`: the account's limit for that instance
//! type) or capacity, or accepts it and fails the job at start (`CapacityError: Unable to provision requested ML
//! compute capacity`). Either way the next type of the route's `instance_types` is tried, with the hub document's
//! variant for it; only when every type was refused does the dataset wait in its route's queue.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most instance types a route may list: each is a CreateTrainingJob per delivery at worst.
pub const MAX_INSTANCE_TYPES: usize = 8;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// CreateTrainingJob accepted it.
    Launched,
    /// CreateTrainingJob refused it for quota or capacity: no job exists.
    Refused,
    /// The job was created and failed at start for capacity: the next type runs as a new job.
    FailedToStart,
}

/// One try of one instance type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchAttempt {
    pub job_name: String,
    pub instance_type: String,
    pub outcome: AttemptOutcome,
    pub at: DateTime<Utc>,
    /// SageMaker's words for a refusal or a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A job that failed at start for capacity, relaunched as a new attempt of its dataset (a new deterministic job
/// name) on the route's next instance type. Kept in the failed run's record before the queue entry is written, so a
/// repeated state change makes the same entry, never a second job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relaunch {
    /// The dataset identity's attempt number the new job is named from.
    pub attempt: u32,
    pub job_name: String,
    pub instance_type: String,
}

/// The order a relaunch tries the route's types in: from `start` (the type after the one that failed), then round
/// to the ones before it, so every type is tried before the dataset waits. A type the route no longer lists starts
/// the list from its first.
pub fn rotated(types: &[String], start: Option<&str>) -> Vec<String> {
    let k = start
        .and_then(|s| types.iter().position(|t| t == s))
        .unwrap_or(0);
    types[k..].iter().chain(&types[..k]).cloned().collect()
}

/// Whether a failed job's `FailureReason` says SageMaker could not provision its instances (as opposed to the
/// training script failing). SageMaker's spelling: `CapacityError: Unable to provision requested ML compute
/// capacity. Please retry using a different ML instance type.`; EC2's `InsufficientInstanceCapacity` shows through
/// in some reasons.
pub fn is_capacity_failure(reason: &str) -> bool {
    let r = reason.trim_start();
    r.starts_with("CapacityError")
        || r.contains("InsufficientInstanceCapacity")
        || r.contains("Unable to provision requested ML compute capacity")
}

/// The type after `current` in the route's list, for a job that failed at start: `None` when `current` is the last
/// (or the route no longer lists it: a routes file changed since the launch starts the list again).
pub fn next_type(types: &[String], current: &str) -> Option<usize> {
    match types.iter().position(|t| t == current) {
        Some(i) if i + 1 < types.len() => Some(i + 1),
        Some(_) => None,
        None => (!types.is_empty()).then_some(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capacity_failures_are_told_from_algorithm_errors() {
        assert!(is_capacity_failure("CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type."));
        assert!(is_capacity_failure(
            "InternalServerError: InsufficientInstanceCapacity for ml.p4d.24xlarge"
        ));
        assert!(!is_capacity_failure(
            "AlgorithmError: ExecuteUserScriptError: CUDA out of memory (22.20 GiB total capacity)"
        ));
        assert!(!is_capacity_failure(""));
    }

    #[test]
    fn the_next_type_follows_the_current_one_and_ends_with_the_list() {
        let types = vec!["a".to_string(), "b".into(), "c".into()];
        assert_eq!(next_type(&types, "a"), Some(1));
        assert_eq!(next_type(&types, "b"), Some(2));
        assert_eq!(next_type(&types, "c"), None);
        assert_eq!(next_type(&types, "gone"), Some(0));
        assert_eq!(next_type(&[], "a"), None);
    }

    #[test]
    fn a_relaunch_starts_at_its_type_and_comes_round_to_the_others() {
        let types = vec!["a".to_string(), "b".into(), "c".into()];
        assert_eq!(rotated(&types, Some("b")), ["b", "c", "a"]);
        assert_eq!(rotated(&types, None), ["a", "b", "c"]);
        assert_eq!(rotated(&types, Some("gone")), ["a", "b", "c"]);
        assert!(rotated(&[], Some("a")).is_empty());
    }
}
