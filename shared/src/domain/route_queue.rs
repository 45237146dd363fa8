//! A route's concurrency and daily spend: its slots (which jobs hold them), what it launched this UTC day, and the
//! queue of datasets waiting for either.
//!
//! Slots and the day's ledger live in one object per route, changed by compare-and-swap, so two launchers can never
//! both take the last slot, and taking a slot charges the day in the same write. Each waiting dataset is one object
//! named by its dataset time, so a LIST returns the queue in order.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::capacity::LaunchAttempt;
use crate::domain::config::DailyBudget;
use crate::domain::dataset::{DatasetLanded, FrozenDataset};
use crate::domain::plan::CreateTrainingJobRequest;
use crate::domain::rejection::{Rejection, RejectionReason};
use crate::domain::versioned::Revisioned;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Slots {
    pub revision: u64,
    pub route: String,
    /// Job names holding a slot, with when they took it (the sweep frees a slot whose launch never happened).
    pub holders: BTreeMap<String, DateTime<Utc>>,
    /// What a capped route launched on the current UTC day (absent on an uncapped route, and before its first
    /// launch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub today: Option<DaySpend>,
}

/// One UTC day's launches on a route: each job charged, with the training hours reserved for it. Keyed by job, so
/// a redelivery (or a dataset re-taken after a capacity refusal) is charged once a day, never twice.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DaySpend {
    pub day: NaiveDate,
    pub jobs: BTreeMap<String, f64>,
}

impl DaySpend {
    pub fn hours(&self) -> f64 {
        self.jobs.values().sum()
    }
}

/// Which daily cap a launch would go over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    Jobs,
    Hours,
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
    /// The route's daily cap is reached: the dataset waits for the next UTC day.
    OverBudget(OverBudget),
}

/// Training hours one job reserves: its MaxRuntimeInSeconds on each of its instances (the only number known before
/// it ends).
pub fn reserved_hours(max_runtime_seconds: u32, instance_count: u32) -> f64 {
    f64::from(max_runtime_seconds) * f64::from(instance_count) / 3600.0
}

/// What the planned request reserves of the day.
pub fn request_hours(request: &CreateTrainingJobRequest) -> f64 {
    reserved_hours(
        request.stopping_condition.max_runtime_in_seconds,
        request.resource_config.instance_count,
    )
}

/// A job that alone reserves more than the route's whole day would wait for ever: refused before anything is spent
/// (`cap_exceeded`). The routes file check catches a route's own `max_runtime_seconds`; this catches a runtime that
/// came from the model's document.
pub fn check_reservation(route: &str, budget: &DailyBudget, hours: f64) -> Option<Rejection> {
    let cap = budget.max_training_hours_per_day?;
    (hours > cap + HOURS_EPSILON).then(|| {
        Rejection::new(
            RejectionReason::CapExceeded,
            format!(
                "the job reserves {hours} training hours (MaxRuntimeInSeconds × InstanceCount) and route {route} \
                 allows {cap} a day (max_training_hours_per_day): set max_runtime_seconds lower, or the cap higher"
            ),
        )
    })
}

/// Slack for sums of hours in floating point: a cap of 3 takes three one-hour jobs.
const HOURS_EPSILON: f64 = 1e-9;

impl Slots {
    /// A slot with no daily cap.
    pub fn take(&mut self, job: &str, max: u32, now: DateTime<Utc>) -> Take {
        self.take_within(job, max, &DailyBudget::default(), 0.0, now)
    }

    /// A slot for `job`, charging `hours` (its reservation) and one job to today under `budget`. The daily cap is
    /// looked at first: a dataset over it waits for a day, not a slot, and its `Dataset Queued` says so. A job
    /// already charged today (a redelivery, a retry after a capacity refusal) is not charged again.
    pub fn take_within(
        &mut self,
        job: &str,
        max: u32,
        budget: &DailyBudget,
        hours: f64,
        now: DateTime<Utc>,
    ) -> Take {
        if self.holders.contains_key(job) {
            return Take::AlreadyHeld;
        }
        if let Some(over) = self.over_budget(job, budget, hours, now) {
            return Take::OverBudget(over);
        }
        if self.holders.len() as u32 >= max {
            return Take::Full;
        }
        if budget.is_capped() {
            let today = self.today_mut(now);
            today.jobs.entry(job.to_string()).or_insert(hours);
        }
        self.holders.insert(job.to_string(), now);
        Take::Taken
    }

    /// Which cap charging `job` (reserving `hours`) today would break, if any.
    pub fn over_budget(
        &self,
        job: &str,
        budget: &DailyBudget,
        hours: f64,
        now: DateTime<Utc>,
    ) -> Option<OverBudget> {
        let today = self.spent_today(now);
        if today.is_some_and(|t| t.jobs.contains_key(job)) {
            return None;
        }
        let (jobs, spent) = today.map_or((0, 0.0), |t| (t.jobs.len(), t.hours()));
        if budget
            .max_jobs_per_day
            .is_some_and(|max| jobs >= max as usize)
        {
            return Some(OverBudget::Jobs);
        }
        if budget
            .max_training_hours_per_day
            .is_some_and(|cap| spent + hours > cap + HOURS_EPSILON)
        {
            return Some(OverBudget::Hours);
        }
        None
    }

    /// Whether the day leaves room for another job at all (the sweep nudges only such routes; whether the next
    /// job's reservation fits is the launch's to find out).
    pub fn budget_open(&self, budget: &DailyBudget, now: DateTime<Utc>) -> bool {
        let Some(today) = self.spent_today(now) else {
            return true;
        };
        let jobs_left = budget
            .max_jobs_per_day
            .is_none_or(|max| today.jobs.len() < max as usize);
        let hours_left = budget
            .max_training_hours_per_day
            .is_none_or(|cap| today.hours() + HOURS_EPSILON < cap);
        jobs_left && hours_left
    }

    /// A finished job's reservation replaced by what it really used (`hours`), if it was charged today: the rest of
    /// the day may launch more. Returns whether anything changed. A job charged on an earlier day changes nothing:
    /// that day's ledger is gone.
    pub fn settle(&mut self, job: &str, hours: f64, now: DateTime<Utc>) -> bool {
        let Some(today) = self.today.as_mut().filter(|t| t.day == now.date_naive()) else {
            return false;
        };
        match today.jobs.get_mut(job) {
            Some(h) if hours.is_finite() && hours >= 0.0 && hours < *h => {
                *h = hours;
                true
            }
            _ => false,
        }
    }

    fn spent_today(&self, now: DateTime<Utc>) -> Option<&DaySpend> {
        self.today.as_ref().filter(|t| t.day == now.date_naive())
    }

    /// Today's ledger, a fresh one when the UTC day rolled over.
    fn today_mut(&mut self, now: DateTime<Utc>) -> &mut DaySpend {
        let day = now.date_naive();
        let today = self.today.get_or_insert_with(DaySpend::default);
        if today.day != day {
            *today = DaySpend {
                day,
                jobs: BTreeMap::new(),
            };
        }
        today
    }

    /// Whether the job held a slot (false: nothing to write).
    pub fn release(&mut self, job: &str) -> bool {
        self.holders.remove(job).is_some()
    }

    /// A launch that did not happen (refused, queued for capacity, rejected after its slot was taken): the slot
    /// and today's charge both go back, so a cap counts only jobs that ran. A later launch of the same job is
    /// charged again when it takes its slot. Returns whether anything changed.
    pub fn give_back(&mut self, job: &str, now: DateTime<Utc>) -> bool {
        let released = self.release(job);
        let uncharged = self
            .today
            .as_mut()
            .filter(|t| t.day == now.date_naive())
            .is_some_and(|t| t.jobs.remove(job).is_some());
        released || uncharged
    }

    pub fn free(&self, max: u32) -> u32 {
        max.saturating_sub(self.holders.len() as u32)
    }
}

/// Why a dataset waits: `Dataset Queued`'s `reason` code (its `message` says it in words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueReason {
    /// The route has no free training slot (`max_concurrent_jobs`).
    RouteFull,
    /// SageMaker refused the launch for quota or capacity.
    Capacity,
    /// The route's daily cap is reached (`max_jobs_per_day`, `max_training_hours_per_day`): it waits for the next
    /// UTC day.
    Budget,
}

impl QueueReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RouteFull => "route_full",
            Self::Capacity => "capacity",
            Self::Budget => "budget",
        }
    }
}

/// Why a dataset over the daily cap waits, in words.
pub fn over_budget_message(
    over: OverBudget,
    route: &str,
    budget: &DailyBudget,
    hours: f64,
) -> String {
    match (over, budget.max_jobs_per_day, budget.max_training_hours_per_day) {
        (OverBudget::Jobs, Some(max), _) => format!(
            "route {route} launched its {max} job(s) of today (max_jobs_per_day): it launches after 00:00 UTC"
        ),
        (OverBudget::Hours, _, Some(cap)) => format!(
            "this job reserves {hours} training hours and route {route} has reserved what is left of its {cap} \
             for today (max_training_hours_per_day): it launches after 00:00 UTC"
        ),
        _ => format!("route {route} reached its daily cap: it launches after 00:00 UTC"),
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
    /// A relaunch after a failure at start for capacity: the instance type to try first (the route's next).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_type: Option<String>,
    /// The attempts made for this dataset before (carried into the new run's record).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub launch_attempts: Vec<LaunchAttempt>,
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
            start_at_type: None,
            launch_attempts: vec![],
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

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2026, 12, day, hour, 0, 0).unwrap()
    }

    fn jobs(max: u32) -> DailyBudget {
        DailyBudget {
            max_jobs_per_day: Some(max),
            ..Default::default()
        }
    }

    fn hours(cap: f64) -> DailyBudget {
        DailyBudget {
            max_training_hours_per_day: Some(cap),
            ..Default::default()
        }
    }

    #[test]
    fn the_job_cap_takes_jobs_under_it_and_queues_the_one_at_it() {
        let (mut s, b) = (Slots::default(), jobs(2));
        assert_eq!(s.take_within("a", 10, &b, 1.0, at(4, 1)), Take::Taken);
        assert!(s.budget_open(&b, at(4, 2)));
        assert_eq!(s.take_within("b", 10, &b, 1.0, at(4, 2)), Take::Taken);
        // At the cap: a free slot does not help, and the day is closed.
        assert!(s.release("a") && s.release("b"));
        assert_eq!(
            s.take_within("c", 10, &b, 1.0, at(4, 23)),
            Take::OverBudget(OverBudget::Jobs)
        );
        assert!(!s.budget_open(&b, at(4, 23)));
        assert!(!s.holders.contains_key("c"));
    }

    #[test]
    fn a_new_utc_day_opens_the_cap_again() {
        let (mut s, b) = (Slots::default(), jobs(1));
        assert_eq!(s.take_within("a", 10, &b, 1.0, at(4, 23)), Take::Taken);
        assert_eq!(
            s.take_within("b", 10, &b, 1.0, at(4, 23)),
            Take::OverBudget(OverBudget::Jobs)
        );
        let midnight = at(5, 0);
        assert!(s.budget_open(&b, midnight));
        assert_eq!(s.take_within("b", 10, &b, 1.0, midnight), Take::Taken);
        let today = s.today.as_ref().expect("a ledger");
        assert_eq!(today.day, midnight.date_naive());
        assert_eq!(today.jobs.keys().collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn the_hours_cap_counts_each_jobs_reservation() {
        let (mut s, b) = (Slots::default(), hours(10.0));
        assert_eq!(reserved_hours(3 * 3600, 2), 6.0);
        assert_eq!(s.take_within("a", 10, &b, 6.0, at(4, 1)), Take::Taken);
        // 6 + 6 > 10: over; 6 + 4 is exactly the cap: taken.
        assert_eq!(
            s.take_within("b", 10, &b, 6.0, at(4, 1)),
            Take::OverBudget(OverBudget::Hours)
        );
        assert!(s.budget_open(&b, at(4, 1)));
        assert_eq!(s.take_within("c", 10, &b, 4.0, at(4, 1)), Take::Taken);
        assert!(!s.budget_open(&b, at(4, 1)));
        // A finished job's reservation corrected to what it used frees the rest of the day.
        assert!(s.settle("a", 1.5, at(4, 3)));
        assert!(!s.settle("a", 2.0, at(4, 3)), "never more than reserved");
        assert_eq!(s.take_within("b", 10, &b, 4.5, at(4, 3)), Take::Taken);
        // Tomorrow, the correction of yesterday's job changes nothing.
        assert!(!s.settle("b", 0.0, at(5, 1)));
    }

    #[test]
    fn a_job_is_charged_once_a_day_however_often_it_is_taken() {
        let (mut s, b) = (Slots::default(), jobs(1));
        assert_eq!(s.take_within("a", 1, &b, 1.0, at(4, 1)), Take::Taken);
        assert_eq!(s.take_within("a", 1, &b, 1.0, at(4, 1)), Take::AlreadyHeld);
        // Given back (SageMaker refused for capacity), then taken again the same day: no second charge.
        assert!(s.release("a"));
        assert_eq!(s.take_within("a", 1, &b, 1.0, at(4, 2)), Take::Taken);
        assert_eq!(s.today.as_ref().map(|t| t.jobs.len()), Some(1));
    }

    #[test]
    fn a_launch_that_did_not_happen_gives_its_charge_back_with_its_slot() {
        let (mut s, b) = (Slots::default(), jobs(1));
        assert_eq!(s.take_within("a", 1, &b, 1.0, at(4, 1)), Take::Taken);
        // SageMaker refused every type (or the dataset was rejected after its slot): no job ran.
        assert!(s.give_back("a", at(4, 1)));
        assert!(!s.give_back("a", at(4, 1)), "nothing left to give back");
        assert_eq!(s.take_within("b", 1, &b, 1.0, at(4, 2)), Take::Taken);
        // Yesterday's ledger is not today's: a give-back tomorrow only frees the slot.
        assert!(s.give_back("b", at(5, 1)));
        assert_eq!(s.today.as_ref().map(|t| t.jobs.len()), Some(1));
    }

    #[test]
    fn the_daily_cap_is_looked_at_before_the_slots_and_an_uncapped_route_keeps_no_ledger() {
        let (mut s, b) = (Slots::default(), jobs(1));
        assert_eq!(s.take_within("a", 1, &b, 1.0, at(4, 1)), Take::Taken);
        assert_eq!(
            s.take_within("b", 1, &b, 1.0, at(4, 1)),
            Take::OverBudget(OverBudget::Jobs)
        );
        // A free day but a full route: `Full`, and nothing charged.
        assert_eq!(s.take_within("b", 1, &b, 1.0, at(5, 1)), Take::Full);
        assert!(s
            .today
            .as_ref()
            .is_some_and(|t| t.day == at(4, 1).date_naive()));
        let mut uncapped = Slots::default();
        assert_eq!(uncapped.take("x", 1, at(4, 1)), Take::Taken);
        assert_eq!(uncapped.today, None);
    }
}
