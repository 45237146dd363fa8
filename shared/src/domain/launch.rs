//! The launcher's decisions that do not need I/O: where a delivery starts from, and what a CreateTrainingJob
//! failure means for the dataset.

use crate::domain::error::{Error, ErrorClass};
use crate::domain::run::RunRecord;

/// Where a delivery of a dataset starts, given its run record (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// No record: check, plan, take a slot, launch.
    Fresh,
    /// A record from an earlier delivery that did not launch (crashed, or queued for capacity): its frozen contents
    /// stand; plan and launch again under the same name.
    Resume,
    /// The job exists: only what the record still owes is left to do.
    AlreadyLaunched,
}

pub fn start(existing: Option<&RunRecord>) -> Start {
    match existing {
        None => Start::Fresh,
        Some(r) if r.status.is_pre_launch() => Start::Resume,
        Some(_) => Start::AlreadyLaunched,
    }
}

/// What a failed CreateTrainingJob means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateFailure {
    /// The deterministic name is taken: ours (a redelivery after a crash) or a stranger's.
    NameInUse,
    /// Quota or capacity: the dataset waits in the route's queue.
    Capacity,
    /// Try again later, or fix the deployment: the message stays on its queue (then the dead-letter queue, which
    /// `hubtune redrive` replays once the cause is fixed).
    KeepMessage,
}

pub fn create_failure(e: &Error) -> CreateFailure {
    if e.aws_code() == Some("ResourceInUse") {
        return CreateFailure::NameInUse;
    }
    match e.class() {
        ErrorClass::Capacity => CreateFailure::Capacity,
        // The request passed the validator built from SageMaker's own model before it was sent, and every field of it
        // comes from the routes file, the hub document and the deployment, never from the dataset. A refusal now is
        // the deployment's: a training role SageMaker cannot assume, a KMS key, subnet or image it cannot use (each a
        // plain `ValidationException`, the code of a malformed request too). Rejecting the dataset would lose it for
        // a fault that a fix and `hubtune redrive` repair, so the message stays.
        ErrorClass::Permanent | ErrorClass::Retry | ErrorClass::Deployment => {
            CreateFailure::KeepMessage
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws(code: &str, class: ErrorClass) -> Error {
        Error::Aws {
            service: "sagemaker",
            operation: "CreateTrainingJob",
            code: Some(code.into()),
            message: "m".into(),
            class,
        }
    }

    #[test]
    fn each_failure_class_has_its_ending() {
        use CreateFailure::*;
        assert_eq!(
            create_failure(&aws("ResourceInUse", ErrorClass::Permanent)),
            NameInUse
        );
        assert_eq!(
            create_failure(&aws("ResourceLimitExceeded", ErrorClass::Capacity)),
            Capacity
        );
        // "Could not assume role …": a fault of the deployment, whatever the code says.
        assert_eq!(
            create_failure(&aws("ValidationException", ErrorClass::Permanent)),
            KeepMessage
        );
        assert_eq!(
            create_failure(&aws("ThrottlingException", ErrorClass::Retry)),
            KeepMessage
        );
        // Denied access is the deployment's fault: never a rejected dataset.
        assert_eq!(
            create_failure(&aws("AccessDeniedException", ErrorClass::Deployment)),
            KeepMessage
        );
    }
}
