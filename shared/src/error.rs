//! Errors, classed the way the handlers must treat them.
//!
//! - `Retryable`: throttling, 5xx, lost races past their retry budget, a crash. The SQS record fails and comes back
//!   (and after a few receives lands in the dead-letter queue, which `hubtune redrive` replays).
//! - `Permanent`: the input can never succeed (a bad dataset, an unknown route, an EULA not accepted, a model that
//!   cannot be trained). It is reported (`Dataset Rejected` / `Fine-tune Failed`) and the message is done.
//! - `Capacity`: SageMaker refused for quota or capacity. The dataset waits in the route's queue.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    Retryable,
    Permanent,
    Capacity,
}

/// Why a dataset (or a run) was refused, with where the problem is, for the `Dataset Rejected` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Rejection {
    /// A stable machine-readable code (`empty_dataset`, `eula_not_accepted`, …).
    pub code: String,
    /// One human sentence that says what is wrong and what to do.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
}

impl Rejection {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            code: code.to_string(),
            message: message.into(),
            file: None,
            line: None,
        }
    }

    pub fn at(mut self, file: impl Into<String>, line: Option<u64>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{file}:{line}: {}", self.message),
            (Some(file), None) => write!(f, "{file}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("rejected: {0}")]
    Rejected(Rejection),

    #[error("routes file: {0}")]
    Config(#[from] crate::config::ConfigError),

    #[error("{service} {operation} failed{}: {message}", code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Aws {
        service: &'static str,
        operation: &'static str,
        code: Option<String>,
        message: String,
        class: ErrorClass,
    },

    #[error("state object {key}: {message}")]
    State { key: String, message: String },

    #[error("crash injected at `{0}` (test fault)")]
    InjectedCrash(String),

    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Rejected(_) | Error::Config(_) => ErrorClass::Permanent,
            Error::Aws { class, .. } => *class,
            Error::State { .. } | Error::InjectedCrash(_) | Error::Other(_) => {
                ErrorClass::Retryable
            }
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.class() == ErrorClass::Retryable
    }

    pub fn rejected(code: &str, message: impl Into<String>) -> Self {
        Error::Rejected(Rejection::new(code, message))
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
