//! SDK failures as hubtune's errors, classed from the SDK's error metadata: the error code, the HTTP status and the
//! SDK's own retry classification of modeled errors. The message is kept for people and never read for a decision.

use aws_runtime::retries::classifiers::{THROTTLING_ERRORS, TRANSIENT_ERRORS};
use aws_sdk_s3::config::http::HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::retry::{ErrorKind, ProvideErrorKind};

use crate::domain::error::{Error, ErrorClass};
use crate::domain::naming::is_valid_job_name;
use crate::ports::{PutCondition, PutOutcome};

/// The smithy runtime's error type: one shared by the SDK crates.
pub(crate) type SdkError<E> = aws_sdk_s3::error::SdkError<E, HttpResponse>;

/// Quota and capacity refusals: the dataset waits in the route's queue.
const CAPACITY_CODES: &[&str] = &[
    "ResourceLimitExceeded",
    "CapacityError",
    "InsufficientCapacityError",
];

/// Refusals that only a change to the deployment can cure: credentials, permissions, keys, a missing bucket.
const DEPLOYMENT_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "AllAccessDisabled",
    "AccountProblem",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
    "NoSuchBucket",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
];

/// The class of a service error from its code, HTTP status and the SDK's retry kind for modeled errors.
pub(crate) fn classify(
    code: Option<&str>,
    status: Option<u16>,
    sdk_kind: Option<ErrorKind>,
) -> ErrorClass {
    if sdk_kind.is_some() {
        // The SDK models it as retryable (throttling, transient, server error).
        return ErrorClass::Retry;
    }
    if let Some(code) = code {
        if THROTTLING_ERRORS.contains(&code) || TRANSIENT_ERRORS.contains(&code) {
            return ErrorClass::Retry;
        }
        if CAPACITY_CODES.contains(&code) {
            return ErrorClass::Capacity;
        }
        if DEPLOYMENT_CODES.contains(&code) || code.starts_with("KMS.") {
            return ErrorClass::Deployment;
        }
    }
    match status {
        Some(s) if s >= 500 || s == 429 || s == 408 => ErrorClass::Retry,
        Some(401 | 403) => ErrorClass::Deployment,
        _ => ErrorClass::Permanent,
    }
}

/// Any SDK failure as hubtune's error. The message is the service's own (or the transport's), never a request body
/// or a credential.
pub(crate) fn sdk_error<E>(
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E>,
) -> Error
where
    E: ProvideErrorMetadata + ProvideErrorKind + std::error::Error + 'static,
{
    let status = http_status(err);
    let context = || DisplayErrorContext(err).to_string();
    let (code, message, class) = match err {
        SdkError::ServiceError(service_err) => {
            let code = err.code().map(str::to_string);
            let message = ProvideErrorMetadata::message(err)
                .filter(|m| !m.trim().is_empty())
                .map(str::to_string)
                .or_else(|| status.map(|s| format!("HTTP {s}")))
                .unwrap_or_else(context);
            let kind = service_err.err().retryable_error_kind();
            (
                code.clone(),
                message,
                classify(code.as_deref(), status, kind),
            )
        }
        // The request could not be built: asking again builds the same request.
        SdkError::ConstructionFailure(_) => (None, context(), ErrorClass::Permanent),
        // A response that could not be read: a client error stays one, anything else is transient.
        SdkError::ResponseError(_) => {
            let class = match status {
                Some(s) if (400..500).contains(&s) => classify(None, Some(s), None),
                _ => ErrorClass::Retry,
            };
            (None, context(), class)
        }
        // Timeouts, connection and I/O failures, credentials that could not be fetched: the SDK has retried them.
        _ => (None, context(), ErrorClass::Retry),
    };
    Error::Aws {
        service,
        operation,
        code,
        message,
        class,
    }
}

pub(crate) fn http_status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// DescribeTrainingJob answers an unknown name with a `ValidationException` (the local stack: `ResourceNotFound`).
/// A name that satisfies SageMaker's pattern cannot be invalid, so for it that code can only mean "not found".
pub(crate) fn is_training_job_not_found<E: ProvideErrorMetadata>(
    err: &SdkError<E>,
    name: &str,
) -> bool {
    match err.code() {
        Some("ResourceNotFound") => true,
        Some("ValidationException") => is_valid_job_name(name),
        _ => false,
    }
}

/// NoSuchKey, or a 404 (HEAD has no body, hence no code), but not a missing bucket: that is a setup error.
pub(crate) fn is_s3_not_found<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err.code() {
        Some("NoSuchKey") | Some("NotFound") => true,
        Some("NoSuchBucket") => false,
        _ => matches!(err, SdkError::ServiceError(_)) && http_status(err) == Some(404),
    }
}

/// The outcomes a conditional PutObject reports as answers rather than failures.
pub(crate) fn put_failure_outcome<E: ProvideErrorMetadata>(
    err: &SdkError<E>,
    condition: &PutCondition,
) -> Option<PutOutcome> {
    if !matches!(err, SdkError::ServiceError(_)) {
        return None;
    }
    let status = http_status(err);
    match (err.code(), status) {
        (Some("PreconditionFailed"), _) | (_, Some(412)) => Some(PutOutcome::PreconditionFailed),
        (Some("ConditionalRequestConflict"), _) | (_, Some(409)) => Some(PutOutcome::Conflict),
        // A missing bucket is a setup error, not a lost race.
        (Some("NoSuchBucket"), _) => None,
        // If-Match on an object that is gone: the version we read is not there to replace.
        (Some("NoSuchKey"), _) | (_, Some(404))
            if matches!(condition, PutCondition::IfMatch(_)) =>
        {
            Some(PutOutcome::PreconditionFailed)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_s3::error::ConnectorError;
    use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    const SAGEMAKER: &str = "sagemaker";
    const S3: &str = "s3";

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    fn meta(code: Option<&str>, message: Option<&str>) -> ErrorMetadata {
        let mut b = ErrorMetadata::builder();
        if let Some(c) = code {
            b = b.code(c);
        }
        if let Some(m) = message {
            b = b.message(m);
        }
        b.build()
    }

    fn sagemaker_error(
        code: Option<&str>,
        message: Option<&str>,
        status: u16,
    ) -> SdkError<DescribeTrainingJobError> {
        SdkError::service_error(
            DescribeTrainingJobError::generic(meta(code, message)),
            response(status),
        )
    }

    fn put_error(
        code: Option<&str>,
        status: u16,
    ) -> SdkError<aws_sdk_s3::operation::put_object::PutObjectError> {
        SdkError::service_error(
            aws_sdk_s3::operation::put_object::PutObjectError::generic(meta(code, None)),
            response(status),
        )
    }

    fn class_of(err: &Error) -> ErrorClass {
        err.class()
    }

    #[test]
    fn classification_by_code_status_and_retry_kind() {
        use ErrorClass::*;
        let cases: &[(Option<&str>, Option<&str>, u16, ErrorClass)] = &[
            (Some("ThrottlingException"), Some("Rate exceeded"), 400, Retry),
            (Some("Throttling"), None, 400, Retry),
            (Some("TooManyRequestsException"), None, 429, Retry),
            (Some("SlowDown"), Some("Please reduce your request rate."), 503, Retry),
            (Some("RequestLimitExceeded"), None, 400, Retry),
            (Some("RequestTimeout"), None, 400, Retry),
            (Some("InternalFailure"), None, 500, Retry),
            (Some("InternalError"), None, 500, Retry),
            (Some("ServiceUnavailable"), None, 503, Retry),
            (Some("SomethingNew"), None, 502, Retry),
            (None, None, 504, Retry),
            (None, None, 429, Retry),
            (
                Some("ResourceLimitExceeded"),
                Some("The account-level service limit 'ml.g5.2xlarge for training job usage' is 0 Instances"),
                400,
                Capacity,
            ),
            (Some("CapacityError"), None, 400, Capacity),
            (Some("InsufficientCapacityError"), None, 400, Capacity),
            // The message is never read: a validation error that mentions capacity is still a validation error.
            (
                Some("ValidationException"),
                Some("Unable to provision requested ML compute Capacity"),
                400,
                Permanent,
            ),
            (Some("AccessDenied"), Some("Access Denied"), 403, Deployment),
            (Some("AccessDeniedException"), None, 400, Deployment),
            (Some("KMS.DisabledException"), None, 400, Deployment),
            (Some("ExpiredToken"), None, 400, Deployment),
            (Some("NoSuchBucket"), None, 404, Deployment),
            (None, None, 403, Deployment),
            (Some("ValidationException"), Some("1 validation error detected"), 400, Permanent),
            (Some("ResourceInUse"), Some("Training job names must be unique"), 400, Permanent),
            (Some("ResourceNotFound"), None, 400, Permanent),
        ];
        for (code, message, status, want) in cases {
            assert_eq!(
                classify(*code, Some(*status), None),
                *want,
                "{code:?} {message:?} {status}"
            );
            let err = sdk_error(
                SAGEMAKER,
                "DescribeTrainingJob",
                &sagemaker_error(*code, *message, *status),
            );
            assert_eq!(class_of(&err), *want, "{err}");
        }
        // The SDK's own retry classification of a modeled error wins over a 4xx status.
        assert_eq!(
            classify(
                Some("Whatever"),
                Some(400),
                Some(aws_smithy_types::retry::ErrorKind::ThrottlingError)
            ),
            Retry
        );
    }

    #[test]
    fn service_error_keeps_code_and_message() {
        let err = sdk_error(
            SAGEMAKER,
            "CreateTrainingJob",
            &sagemaker_error(
                Some("ResourceInUse"),
                Some("Training job names must be unique"),
                400,
            ),
        );
        match &err {
            Error::Aws {
                service,
                operation,
                code,
                message,
                class,
            } => {
                assert_eq!(*service, "sagemaker");
                assert_eq!(*operation, "CreateTrainingJob");
                assert_eq!(code.as_deref(), Some("ResourceInUse"));
                assert_eq!(message, "Training job names must be unique");
                assert_eq!(*class, ErrorClass::Permanent);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.aws_code(), Some("ResourceInUse"));
        // A body-less error (HEAD) still says something.
        let err = sdk_error(S3, "HeadObject", &sagemaker_error(None, None, 403));
        assert!(err.to_string().contains("HTTP 403"), "{err}");
    }

    #[test]
    fn transport_failures_are_retryable_and_construction_failures_permanent() {
        let timeout: SdkError<DescribeTrainingJobError> =
            SdkError::timeout_error("operation timed out");
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &timeout)),
            ErrorClass::Retry
        );
        let io: SdkError<DescribeTrainingJobError> =
            SdkError::dispatch_failure(ConnectorError::io("connection reset by peer".into()));
        assert_eq!(class_of(&sdk_error(SAGEMAKER, "X", &io)), ErrorClass::Retry);
        let timeout: SdkError<DescribeTrainingJobError> =
            SdkError::dispatch_failure(ConnectorError::timeout("connect timed out".into()));
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &timeout)),
            ErrorClass::Retry
        );
        let unreadable: SdkError<DescribeTrainingJobError> =
            SdkError::response_error("invalid XML", response(200));
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &unreadable)),
            ErrorClass::Retry
        );
        let unreadable_5xx: SdkError<DescribeTrainingJobError> =
            SdkError::response_error("truncated", response(502));
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &unreadable_5xx)),
            ErrorClass::Retry
        );
        let construction: SdkError<DescribeTrainingJobError> =
            SdkError::construction_failure("TrainingJobName was not specified");
        let err = sdk_error(SAGEMAKER, "X", &construction);
        assert_eq!(class_of(&err), ErrorClass::Permanent);
        assert_eq!(err.aws_code(), None);
    }

    #[test]
    fn training_job_not_found_in_both_dialects() {
        let valid = "hubtune-support-bot-0123456789abcdef";
        // SageMaker answers an unknown (valid) name with a ValidationException; the local stack with ResourceNotFound.
        assert!(is_training_job_not_found(
            &sagemaker_error(
                Some("ValidationException"),
                Some("Requested resource not found."),
                400
            ),
            valid
        ));
        assert!(is_training_job_not_found(
            &sagemaker_error(Some("ResourceNotFound"), None, 400),
            valid
        ));
        // A ValidationException for a name SageMaker cannot accept is not "not found".
        assert!(!is_training_job_not_found(
            &sagemaker_error(Some("ValidationException"), None, 400),
            "a_b"
        ));
        assert!(!is_training_job_not_found(
            &sagemaker_error(Some("AccessDeniedException"), None, 400),
            valid
        ));
    }

    #[test]
    fn s3_not_found() {
        let get = |code: Option<&str>, status: u16| {
            let e: SdkError<aws_sdk_s3::operation::get_object::GetObjectError> =
                SdkError::service_error(
                    aws_sdk_s3::operation::get_object::GetObjectError::generic(meta(code, None)),
                    response(status),
                );
            is_s3_not_found(&e)
        };
        assert!(get(Some("NoSuchKey"), 404));
        assert!(get(None, 404));
        assert!(get(Some("NotFound"), 404));
        assert!(!get(Some("NoSuchBucket"), 404));
        assert!(!get(Some("AccessDenied"), 403));
    }

    #[test]
    fn conditional_put_outcomes() {
        let if_match = PutCondition::IfMatch("abc".into());
        assert_eq!(
            put_failure_outcome(
                &put_error(Some("PreconditionFailed"), 412),
                &PutCondition::IfNoneMatch
            ),
            Some(PutOutcome::PreconditionFailed)
        );
        assert_eq!(
            put_failure_outcome(&put_error(Some("PreconditionFailed"), 412), &if_match),
            Some(PutOutcome::PreconditionFailed)
        );
        assert_eq!(
            put_failure_outcome(
                &put_error(Some("ConditionalRequestConflict"), 409),
                &if_match
            ),
            Some(PutOutcome::Conflict)
        );
        assert_eq!(
            put_failure_outcome(&put_error(Some("NoSuchKey"), 404), &if_match),
            Some(PutOutcome::PreconditionFailed)
        );
        assert_eq!(
            put_failure_outcome(&put_error(Some("NoSuchBucket"), 404), &PutCondition::None),
            None
        );
        assert_eq!(
            put_failure_outcome(&put_error(Some("NoSuchBucket"), 404), &if_match),
            None
        );
        assert_eq!(
            put_failure_outcome(&put_error(Some("SlowDown"), 503), &if_match),
            None
        );
        assert_eq!(
            put_failure_outcome(&put_error(Some("AccessDenied"), 403), &if_match),
            None
        );
        let timeout: SdkError<aws_sdk_s3::operation::put_object::PutObjectError> =
            SdkError::timeout_error("slow");
        assert_eq!(put_failure_outcome(&timeout, &if_match), None);
    }
}
