use std::sync::Mutex;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::faults::lock;
use crate::ports::Clock;

/// A clock that moves only when a test moves it.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl Default for ManualClock {
    /// 2026-01-15T12:00:00Z: any fixed instant will do.
    fn default() -> Self {
        Self(Mutex::new(
            Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
                .single()
                .unwrap_or_default(),
        ))
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        *lock(&self.0) += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *lock(&self.0) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *lock(&self.0)
    }
}
