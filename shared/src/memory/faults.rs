//! Fault injection and call counting shared by the in-memory ports.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::domain::error::{Error, ErrorClass, Result};

struct Fault {
    op: &'static str,
    target: String,
    remaining: u32,
    error: Error,
}

/// Armed failures: the next `times` calls of `op` whose target contains `target` return `error`.
#[derive(Default)]
pub struct Faults {
    armed: Mutex<Vec<Fault>>,
}

impl Faults {
    pub fn fail(&self, op: &'static str, target: &str, times: u32, error: Error) {
        lock(&self.armed).push(Fault {
            op,
            target: target.to_string(),
            remaining: times,
            error,
        });
    }

    /// Fail every matching call until `clear`.
    pub fn fail_always(&self, op: &'static str, target: &str, error: Error) {
        self.fail(op, target, u32::MAX, error);
    }

    pub fn clear(&self) {
        lock(&self.armed).clear();
    }

    /// The armed error for this call, if any (and one use of it spent).
    pub(crate) fn check(&self, op: &str, target: &str) -> Result<()> {
        let mut armed = lock(&self.armed);
        let Some(f) = armed
            .iter_mut()
            .find(|f| f.op == op && target.contains(f.target.as_str()) && f.remaining > 0)
        else {
            return Ok(());
        };
        f.remaining = f.remaining.saturating_sub(1);
        Err(f.error.clone())
    }
}

/// Calls per operation.
#[derive(Default)]
pub struct Calls(Mutex<BTreeMap<&'static str, u32>>);

impl Calls {
    pub(crate) fn count(&self, op: &'static str) {
        *lock(&self.0).entry(op).or_default() += 1;
    }

    pub fn get(&self, op: &str) -> u32 {
        lock(&self.0).get(op).copied().unwrap_or(0)
    }

    pub fn snapshot(&self) -> BTreeMap<&'static str, u32> {
        lock(&self.0).clone()
    }

    pub fn reset(&self) {
        lock(&self.0).clear();
    }
}

/// A poisoned lock in a test twin only means another test thread panicked: carry on with the data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn aws(service: &'static str, operation: &'static str, code: &str, class: ErrorClass) -> Error {
    Error::Aws {
        service,
        operation,
        code: Some(code.to_string()),
        message: format!("{code} (injected)"),
        class,
    }
}

/// Throttling, as the SDK returns it once its own retries are spent.
pub fn throttled(service: &'static str, operation: &'static str) -> Error {
    aws(service, operation, "ThrottlingException", ErrorClass::Retry)
}

/// A 5xx.
pub fn server_error(service: &'static str, operation: &'static str) -> Error {
    aws(service, operation, "InternalFailure", ErrorClass::Retry)
}

/// Access denied: a fault of the deployment.
pub fn access_denied(service: &'static str, operation: &'static str) -> Error {
    aws(service, operation, "AccessDenied", ErrorClass::Deployment)
}

/// SageMaker's quota or capacity refusal.
pub fn capacity_refusal(operation: &'static str) -> Error {
    aws(
        "sagemaker",
        operation,
        "ResourceLimitExceeded",
        ErrorClass::Capacity,
    )
}
