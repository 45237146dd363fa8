//! A route's registry settings, apart from the request so that the routes file's parser can hold them without
//! depending on the run record.

use serde::{Deserialize, Serialize};

use crate::domain::validate::model;
use crate::domain::validate::rules::{check, Violation};

/// `ModelApprovalStatus`: what a new version starts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ApprovalStatus {
    Approved,
    Rejected,
    #[default]
    PendingManualApproval,
}

impl ApprovalStatus {
    pub const ALL: [&'static str; 3] = ["Approved", "Rejected", "PendingManualApproval"];

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "Approved" => Some(Self::Approved),
            "Rejected" => Some(Self::Rejected),
            "PendingManualApproval" => Some(Self::PendingManualApproval),
            _ => None,
        }
    }
}

/// A route's registry settings (`model_package_group`, `model_approval_status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registry {
    /// The group's name or ARN.
    pub group: String,
    pub approval: ApprovalStatus,
}

/// Every way the model says a group name (or ARN) would be refused, for the routes file's parser.
pub fn group_violations(group: &str) -> Vec<Violation> {
    check(
        model::CREATE_MODEL_PACKAGE,
        &serde_json::json!({ "ModelPackageGroupName": group }),
    )
}
