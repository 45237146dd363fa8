//! Crash points: named places between two steps of a handler where a test can make the process "die".
//!
//! In production nothing is ever armed and a crash point costs one uncontended atomic load. Tests (which run the
//! real handlers in-process through the local dispatcher) arm a point for a scope (a job name, a route, a dataset
//! URI) so that concurrent tests do not trip each other's points.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::domain::error::{Error, Result};

static ANY_ARMED: AtomicBool = AtomicBool::new(false);
static ARMED: Mutex<Vec<(String, String, u32)>> = Mutex::new(Vec::new());

/// Arm `point` to fire `count` times for scopes containing `scope`.
pub fn arm(point: &str, scope: &str, count: u32) {
    let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
    armed.push((point.to_string(), scope.to_string(), count));
    ANY_ARMED.store(true, Ordering::Release);
}

/// Returns `Err(InjectedCrash)` when armed for this point and scope: the caller returns it at once, as a process
/// killed at that instant would leave things.
pub fn crash_point(point: &str, scope: &str) -> Result<()> {
    if !ANY_ARMED.load(Ordering::Acquire) {
        return Ok(());
    }
    let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(entry) = armed
        .iter_mut()
        .find(|(p, s, n)| p == point && scope.contains(s.as_str()) && *n > 0)
    {
        entry.2 -= 1;
        tracing::warn!(point, scope, "injected crash");
        return Err(Error::InjectedCrash(point.to_string()));
    }
    Ok(())
}

/// Stop `point` firing for `scope` (what is left of its count is dropped).
pub fn disarm(point: &str, scope: &str) {
    let mut armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
    armed.retain(|(p, s, _)| !(p == point && s == scope));
}

/// How many armed crashes for `point` have not fired yet.
pub fn remaining(point: &str, scope: &str) -> u32 {
    let armed = ARMED.lock().unwrap_or_else(|p| p.into_inner());
    armed
        .iter()
        .filter(|(p, s, _)| p == point && s == scope)
        .map(|(_, _, n)| n)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_only_for_its_point_and_scope_and_count() {
        assert!(crash_point("unit.a", "job-1").is_ok());
        arm("unit.a", "job-1", 1);
        assert!(crash_point("unit.b", "job-1").is_ok());
        assert!(crash_point("unit.a", "job-2").is_ok());
        assert!(matches!(
            crash_point("unit.a", "xx-job-1-yy"),
            Err(Error::InjectedCrash(_))
        ));
        assert!(crash_point("unit.a", "job-1").is_ok());
        assert_eq!(remaining("unit.a", "job-1"), 0);
    }
}
