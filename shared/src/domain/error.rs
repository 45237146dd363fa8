//! One error type, classed by what the caller must do with the message that caused it.
//!
//! - `Retry`: throttling, 5xx, timeouts, lost races past their retry budget, a crash. The message comes back (and
//!   after a few receives lands in the dead-letter queue, which `hubtune redrive` replays).
//! - `Capacity`: SageMaker refused for quota or capacity. The dataset waits in its route's queue.
//! - `Permanent`: this input can never succeed as it is (a bad dataset, an unknown route, an EULA not accepted, a
//!   request SageMaker refuses). The launcher reports it as `Dataset Rejected` with a reason and is done with it.
//! - `Deployment`: the deployment is at fault (the routes file, denied access, a key that cannot be used). Never a
//!   reason to drop or reject a dataset: the message stays on its queue until the deployment is fixed.
//!
//! The AWS adapters build the class from the SDK's error metadata (code, HTTP status, the SDK's own retry
//! classification), never from message text.

use serde::Serialize;

use crate::domain::config::ConfigError;
use crate::domain::rejection::{Rejection, RejectionReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Retry,
    Capacity,
    Permanent,
    Deployment,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    #[error("rejected: {0}")]
    Rejected(Rejection),

    #[error("routes file: {0}")]
    Config(#[from] ConfigError),

    #[error("{service} {operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Aws {
        service: &'static str,
        operation: &'static str,
        code: Option<String>,
        message: String,
        class: ErrorClass,
    },

    /// A state object could not be read or written as expected (unreadable JSON, endless write conflicts).
    #[error("state object {key}: {message}")]
    State { key: String, message: String },

    /// Work that must wait for something else to happen first (a run not finished yet): asked again later.
    #[error("not yet: {0}")]
    NotYet(String),

    /// A value from outside (an object key, a job name) that hubtune cannot use; the input is done.
    #[error("{0}")]
    Invalid(String),

    #[error("crash injected at `{0}` (test fault)")]
    InjectedCrash(String),
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Rejected(_) | Error::Invalid(_) => ErrorClass::Permanent,
            Error::Config(_) => ErrorClass::Deployment,
            Error::Aws { class, .. } => *class,
            Error::State { .. } | Error::NotYet(_) | Error::InjectedCrash(_) => ErrorClass::Retry,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retry
    }

    pub fn rejected(reason: RejectionReason, message: impl Into<String>) -> Self {
        Error::Rejected(Rejection::new(reason, message))
    }

    /// The AWS error code, when there is one.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Error::Aws { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Self {
        Error::Rejected(r)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_the_class_its_caller_needs() {
        assert_eq!(
            Error::rejected(RejectionReason::EmptyDataset, "x").class(),
            ErrorClass::Permanent
        );
        assert_eq!(
            Error::Config(ConfigError::Syntax("x".into())).class(),
            ErrorClass::Deployment
        );
        assert_eq!(
            Error::State {
                key: "k".into(),
                message: "m".into()
            }
            .class(),
            ErrorClass::Retry
        );
        assert_eq!(Error::NotYet("x".into()).class(), ErrorClass::Retry);
        assert_eq!(Error::Invalid("x".into()).class(), ErrorClass::Permanent);
        assert!(Error::InjectedCrash("p".into()).is_retryable());
        let e = Error::Aws {
            service: "s3",
            operation: "GetObject",
            code: Some("AccessDenied".into()),
            message: "no".into(),
            class: ErrorClass::Deployment,
        };
        assert_eq!(e.class(), ErrorClass::Deployment);
        assert_eq!(e.aws_code(), Some("AccessDenied"));
        assert_eq!(e.to_string(), "s3 GetObject failed (AccessDenied): no");
    }
}
