//! A route's concurrency: its slots (which jobs hold them) and the queue of datasets waiting for one.
//!
//! Slots live in one object per route, changed by compare-and-swap, so two launchers can never both take the last
//! slot. Each waiting dataset is one object named by its dataset time, so a LIST returns the queue in order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::dataset::{DatasetLanded, FrozenDataset};
use crate::domain::versioned::Revisioned;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slots {
    pub revision: u64,
    pub route: String,
    /// Job names holding a slot, with when they took it (the sweep frees a slot whose launch never happened).
    pub holders: BTreeMap<String, DateTime<Utc>>,
}

impl Revisioned for Slots {
    fn revision(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    /// Newly taken.
    Taken,
    /// This job already held one (a redelivery): nothing to write.
    AlreadyHeld,
    Full,
}

impl Slots {
    pub fn take(&mut self, job: &str, max: u32, now: DateTime<Utc>) -> Take {
        if self.holders.contains_key(job) {
            Take::AlreadyHeld
        } else if self.holders.len() as u32 >= max {
            Take::Full
        } else {
            self.holders.insert(job.to_string(), now);
            Take::Taken
        }
    }

    /// Whether the job held a slot (false: nothing to write).
    pub fn release(&mut self, job: &str) -> bool {
        self.holders.remove(job).is_some()
    }

    pub fn free(&self, max: u32) -> u32 {
        max.saturating_sub(self.holders.len() as u32)
    }
}

/// A dataset waiting for a slot (or refused for quota or capacity, waiting to try again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueEntry {
    pub revision: u64,
    pub dataset: DatasetLanded,
    pub reason: String,
    pub enqueued_at: DateTime<Utc>,
    /// Set by the launcher that is taking this entry; a stale claim (a crashed launcher) may be taken over.
    pub claimed_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    /// The contents as checked when the dataset was queued: what trains when it launches (a file added while it
    /// waits is not). `None` in entries the sweep re-queues, whose run record holds them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<FrozenDataset>,
}

impl Revisioned for QueueEntry {
    fn revision(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

/// How long a claim protects an entry: longer than any launch takes.
pub const CLAIM_TTL_SECONDS: i64 = 300;

impl QueueEntry {
    /// A dataset entering the queue (one definition of a fresh entry, for the launcher and the sweep).
    pub fn new(dataset: DatasetLanded, reason: &str, now: DateTime<Utc>) -> Self {
        Self {
            revision: 0,
            dataset,
            reason: reason.to_string(),
            enqueued_at: now,
            claimed_at: None,
            attempts: 0,
            frozen: None,
        }
    }

    /// Take the entry for a launch attempt; `false` when another launcher holds a fresh claim.
    pub fn claim(&mut self, now: DateTime<Utc>) -> bool {
        if !self.is_claimable(now) {
            return false;
        }
        self.claimed_at = Some(now);
        self.attempts += 1;
        true
    }

    /// The key of an entry under the state prefix: `queue/<route>/<dataset time>-<identity hash>.json`, so that a
    /// listing is the queue in order. The time is taken to the second: S3 notifications carry milliseconds and
    /// EventBridge only seconds, and one upload delivered in both envelopes must be one entry.
    pub fn key(dataset: &DatasetLanded, identity_hash: &str) -> String {
        format!(
            "queue/{}/{}-{}.json",
            dataset.route,
            dataset.time.format("%Y%m%dT%H%M%SZ"),
            &identity_hash[..16]
        )
    }

    pub fn is_claimable(&self, now: DateTime<Utc>) -> bool {
        self.claimed_at
            .is_none_or(|c| (now - c).num_seconds() > CLAIM_TTL_SECONDS)
    }

    pub fn is_expired(&self, now: DateTime<Utc>, max_age: std::time::Duration) -> bool {
        (now - self.enqueued_at).num_seconds() > max_age.as_secs() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_slot_goes_to_one_job() {
        let mut s = Slots::default();
        let now = Utc::now();
        assert_eq!(s.take("a", 2, now), Take::Taken);
        assert_eq!(s.take("a", 2, now), Take::AlreadyHeld);
        assert_eq!(s.take("b", 2, now), Take::Taken);
        assert_eq!(s.take("c", 2, now), Take::Full);
        assert_eq!(s.free(2), 0);
        assert!(s.release("a"));
        assert!(!s.release("a"));
        assert_eq!(s.take("c", 2, now), Take::Taken);
    }
}
