//! Why a dataset is refused: a reason from a closed list (the documented `reason` values of `Dataset Rejected`) with
//! a human sentence and, where known, the file and line at fault.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The `reason` of a `Dataset Rejected` event (and `code` of each of its problems). Adding a variant adds a
/// documented value: docs/events.md lists them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    // The dataset itself.
    EmptyDataset,
    FileTypeNotAllowed,
    TooManyFiles,
    DatasetTooSmall,
    DatasetTooLarge,
    MalformedJsonl,
    UriTooLong,
    NoIdentity,
    BadObject,
    UnusableNotification,
    MarkerOutsideFolder,
    ArchivedObject,
    /// The dataset has a channel (a subfolder) the model's hub document says it does not take.
    ChannelNotSupported,
    // Its route.
    UnknownRoute,
    RouteBusy,
    QueueMaxAge,
    // The model and the request.
    ModelReferenceNotFound,
    ModelNotTrainable,
    BadHubDocument,
    InstanceTypeMissing,
    InstanceTypeNotSupported,
    EulaNotAccepted,
    UnknownHyperparameter,
    BadHyperparameter,
    BadSpotSettings,
    CapExceeded,
    TooManyTags,
    /// The planned request breaks a rule of AWS's service models or a documented limit.
    InvalidRequest,
    // The launch.
    JobNameCollision,
    /// A checked file was overwritten or removed before the job started: it would be trained unchecked.
    ChangedAfterChecks,
}

impl RejectionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EmptyDataset => "empty_dataset",
            Self::FileTypeNotAllowed => "file_type_not_allowed",
            Self::TooManyFiles => "too_many_files",
            Self::DatasetTooSmall => "dataset_too_small",
            Self::DatasetTooLarge => "dataset_too_large",
            Self::MalformedJsonl => "malformed_jsonl",
            Self::UriTooLong => "uri_too_long",
            Self::NoIdentity => "no_identity",
            Self::BadObject => "bad_object",
            Self::UnusableNotification => "unusable_notification",
            Self::MarkerOutsideFolder => "marker_outside_folder",
            Self::ArchivedObject => "archived_object",
            Self::ChannelNotSupported => "channel_not_supported",
            Self::UnknownRoute => "unknown_route",
            Self::RouteBusy => "route_busy",
            Self::QueueMaxAge => "queue_max_age",
            Self::ModelReferenceNotFound => "model_reference_not_found",
            Self::ModelNotTrainable => "model_not_trainable",
            Self::BadHubDocument => "bad_hub_document",
            Self::InstanceTypeMissing => "instance_type_missing",
            Self::InstanceTypeNotSupported => "instance_type_not_supported",
            Self::EulaNotAccepted => "eula_not_accepted",
            Self::UnknownHyperparameter => "unknown_hyperparameter",
            Self::BadHyperparameter => "bad_hyperparameter",
            Self::BadSpotSettings => "bad_spot_settings",
            Self::CapExceeded => "cap_exceeded",
            Self::TooManyTags => "too_many_tags",
            Self::InvalidRequest => "invalid_request",
            Self::JobNameCollision => "job_name_collision",
            Self::ChangedAfterChecks => "changed_after_checks",
        }
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a dataset (or a run) was refused, with where the problem is, for the `Dataset Rejected` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// Serialised as `code`: the field name the events have always used.
    #[serde(rename = "code")]
    pub reason: RejectionReason,
    /// One human sentence that says what is wrong and what to do.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
}

impl Rejection {
    pub fn new(reason: RejectionReason, message: impl Into<String>) -> Self {
        Self {
            reason,
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

/// Every problem found with one dataset: never empty, the first one names the event's `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    first: Rejection,
    more: Vec<Rejection>,
}

impl Problems {
    /// `None` for an empty list: "rejected for no reason" cannot be said.
    pub fn from_vec(mut all: Vec<Rejection>) -> Option<Self> {
        if all.is_empty() {
            return None;
        }
        let first = all.remove(0);
        Some(Self { first, more: all })
    }

    pub fn first(&self) -> &Rejection {
        &self.first
    }

    pub fn len(&self) -> usize {
        1 + self.more.len()
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn iter(&self) -> impl Iterator<Item = &Rejection> {
        std::iter::once(&self.first).chain(&self.more)
    }
}

impl From<Rejection> for Problems {
    fn from(first: Rejection) -> Self {
        Self {
            first,
            more: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_serialise_as_their_documented_names() {
        for r in [
            RejectionReason::EmptyDataset,
            RejectionReason::ModelReferenceNotFound,
            RejectionReason::JobNameCollision,
            RejectionReason::BadHubDocument,
            RejectionReason::ChangedAfterChecks,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        let j = serde_json::to_value(
            Rejection::new(RejectionReason::MalformedJsonl, "bad line").at("a.jsonl", Some(3)),
        )
        .unwrap();
        assert_eq!(
            j,
            serde_json::json!({"code": "malformed_jsonl", "message": "bad line", "file": "a.jsonl", "line": 3})
        );
    }
}
