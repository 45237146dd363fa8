//! The only module that talks to AWS: SageMaker, S3 and EventBridge through the official SDK clients.
//!
//! Everything here returns hubtune's own types and classes every failure (`error::ErrorClass`): throttling and 5xx
//! are retried by the SDK and then returned as `Retryable`; quota and capacity refusals as `Capacity`; the rest as
//! `Permanent`. Nothing above this module sees an SDK type.

use std::collections::BTreeMap;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_sagemaker::operation::create_training_job::builders::CreateTrainingJobInputBuilder;
use aws_sdk_sagemaker::operation::create_training_job::CreateTrainingJobInput;
use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobOutput;
use aws_sdk_sagemaker::types as sm;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::dataset::DatasetFile;
use crate::error::{Error, ErrorClass, Result};
use crate::event::JobStatus;
use crate::hub::{self, DescribeHubContentResponse, HubContent, HubContentType};
use crate::plan::{self, CreateTrainingJobRequest};
use crate::publish::OutgoingEvent;

/// The smithy runtime's error and raw response types: one pair shared by the three SDK crates.
type SdkError<E> = aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

const DEFAULT_REGION: &str = "us-east-1";
/// PutEvents accepts at most this many entries per call.
const PUT_EVENTS_BATCH: usize = 10;

const SAGEMAKER: &str = "sagemaker";
const S3: &str = "s3";
const EVENTBRIDGE: &str = "eventbridge";

/// The error code `list_objects` gives when a listing holds more than it was allowed to return.
pub const TOO_MANY_OBJECTS: &str = "TooManyObjects";

/// The clients a handler needs, built once per cold start.
#[derive(Clone, Debug)]
pub struct Aws {
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub s3: aws_sdk_s3::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub region: String,
}

/// What a conditional write asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutCondition {
    /// Plain overwrite (idempotent content only).
    None,
    /// `If-None-Match: *`: create only.
    IfNoneMatch,
    /// `If-Match: <etag>`: replace only the version we read.
    IfMatch(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    Written {
        etag: String,
    },
    /// 412: someone else wrote first (re-read and try again), or the object exists (IfNoneMatch).
    PreconditionFailed,
    /// 409: a concurrent conditional write is in progress (retry).
    Conflict,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusTransition {
    pub status: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub message: Option<String>,
}

/// DescribeTrainingJob, reduced to what hubtune uses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobDescription {
    pub name: String,
    pub arn: String,
    pub status: JobStatus,
    pub secondary_status: Option<String>,
    pub failure_reason: Option<String>,
    pub model_artifacts: Option<String>,
    pub creation_time: Option<DateTime<Utc>>,
    pub training_start_time: Option<DateTime<Utc>>,
    pub training_end_time: Option<DateTime<Utc>>,
    pub last_modified_time: Option<DateTime<Utc>>,
    pub billable_seconds: Option<i64>,
    pub final_metrics: BTreeMap<String, f64>,
    pub secondary_transitions: Vec<StatusTransition>,
    pub hyperparameters: BTreeMap<String, String>,
    pub image: Option<String>,
    pub instance_type: Option<String>,
    pub instance_count: Option<i32>,
    pub output_path: Option<String>,
    /// The `training` channel's S3 URI.
    pub training_input: Option<String>,
}

impl Aws {
    /// Standard credential chain and region; `AWS_ENDPOINT_URL` (the local stack) is honoured, with path-style S3.
    pub async fn from_env() -> Aws {
        let region =
            RegionProviderChain::default_provider().or_else(Region::from_static(DEFAULT_REGION));
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(region)
            .retry_config(RetryConfig::standard())
            .load()
            .await;
        // aws-config reads AWS_ENDPOINT_URL(_S3) itself; only the addressing style is ours to choose. The local
        // stack serves buckets by path, not by virtual host.
        let custom_endpoint = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
        Aws::from_sdk_config(&config, custom_endpoint)
    }

    /// Clients for an explicit endpoint (the local stack) with static test credentials.
    pub async fn for_endpoint(endpoint: &str, region: &str) -> Aws {
        let credentials = aws_sdk_s3::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "hubtune-local-stack",
        );
        // An explicit endpoint takes precedence over AWS_ENDPOINT_URL* in the environment.
        let config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .retry_config(RetryConfig::standard())
            .load()
            .await;
        Aws::from_sdk_config(&config, true)
    }

    fn from_sdk_config(config: &SdkConfig, path_style: bool) -> Aws {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Aws {
            sagemaker: aws_sdk_sagemaker::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            events: aws_sdk_eventbridge::Client::new(config),
            region: config
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| DEFAULT_REGION.to_string()),
        }
    }

    // ---- SageMaker hub ----

    /// `Ok(None)` when the hub or the content does not exist (ResourceNotFound).
    pub async fn describe_hub_content(
        &self,
        hub: &str,
        content_type: HubContentType,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<HubContent>> {
        const OP: &str = "DescribeHubContent";
        let sent = self
            .sagemaker
            .describe_hub_content()
            .hub_name(hub)
            .hub_content_type(sdk_hub_content_type(content_type))
            .hub_content_name(name)
            .set_hub_content_version(version.map(str::to_string))
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) if e.code() == Some("ResourceNotFound") => return Ok(None),
            Err(e) => return Err(sdk_error(SAGEMAKER, OP, &e)),
        };
        let missing = |field: &str| Error::Aws {
            service: SAGEMAKER,
            operation: OP,
            code: None,
            message: format!(
                "the response for {content_type} `{name}` in hub `{hub}` has no {field}"
            ),
            class: ErrorClass::Retryable,
        };
        let response = DescribeHubContentResponse {
            hub_content_name: out.hub_content_name().unwrap_or(name).to_string(),
            hub_content_arn: out
                .hub_content_arn()
                .ok_or_else(|| missing("HubContentArn"))?
                .to_string(),
            hub_content_version: out
                .hub_content_version()
                .ok_or_else(|| missing("HubContentVersion"))?
                .to_string(),
            hub_content_type: match out.hub_content_type() {
                Some(sm::HubContentType::Model) => HubContentType::Model,
                Some(sm::HubContentType::ModelReference) => HubContentType::ModelReference,
                _ => content_type,
            },
            hub_name: out.hub_name().unwrap_or(hub::hub_name(hub)).to_string(),
            hub_arn: out
                .hub_arn()
                .or_else(|| hub.starts_with("arn:").then_some(hub))
                .unwrap_or_default()
                .to_string(),
            sage_maker_public_hub_content_arn: out
                .sage_maker_public_hub_content_arn()
                .map(str::to_string),
            reference_min_version: out.reference_min_version().map(str::to_string),
            hub_content_document: out
                .hub_content_document()
                .ok_or_else(|| missing("HubContentDocument"))?
                .to_string(),
        };
        // A document hubtune cannot read will not become readable by asking again.
        HubContent::from_response(response)
            .map(Some)
            .map_err(|e| Error::Aws {
                service: SAGEMAKER,
                operation: OP,
                code: None,
                message: e.to_string(),
                class: ErrorClass::Permanent,
            })
    }

    /// Every version of a hub content, all pages, as the API lists them. Empty when the hub or the content does not
    /// exist (ResourceNotFound), like `describe_hub_content`'s `None`.
    pub async fn list_hub_content_versions(
        &self,
        hub: &str,
        content_type: HubContentType,
        name: &str,
    ) -> Result<Vec<String>> {
        let mut versions = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let sent = self
                .sagemaker
                .list_hub_content_versions()
                .hub_name(hub)
                .hub_content_type(sdk_hub_content_type(content_type))
                .hub_content_name(name)
                .set_next_token(token.clone())
                .send()
                .await;
            let out = match sent {
                Ok(out) => out,
                Err(e) if e.code() == Some("ResourceNotFound") => return Ok(Vec::new()),
                Err(e) => return Err(sdk_error(SAGEMAKER, "ListHubContentVersions", &e)),
            };
            versions.extend(
                out.hub_content_summaries()
                    .iter()
                    .filter_map(|s| s.hub_content_version())
                    .map(str::to_string),
            );
            match out.next_token() {
                // A token that does not move would loop for ever.
                Some(next) if !next.is_empty() && token.as_deref() != Some(next) => {
                    token = Some(next.to_string())
                }
                _ => break,
            }
        }
        Ok(versions)
    }

    // ---- SageMaker training ----

    /// Returns the job ARN. `ResourceInUse` comes back as `Error::Aws { code: Some("ResourceInUse"), class:
    /// Permanent }`; ResourceLimitExceeded and capacity refusals with `class: Capacity`.
    pub async fn create_training_job(&self, req: &CreateTrainingJobRequest) -> Result<String> {
        const OP: &str = "CreateTrainingJob";
        let out = training_job_input(req)?
            .send_with(&self.sagemaker)
            .await
            .map_err(|e| sdk_error(SAGEMAKER, OP, &e))?;
        out.training_job_arn()
            .map(str::to_string)
            .ok_or_else(|| Error::Aws {
                service: SAGEMAKER,
                operation: OP,
                code: None,
                message: format!(
                    "the response for `{}` has no TrainingJobArn",
                    req.training_job_name
                ),
                class: ErrorClass::Retryable,
            })
    }

    /// `Ok(None)` when no job has that name.
    pub async fn describe_training_job(&self, name: &str) -> Result<Option<JobDescription>> {
        match self
            .sagemaker
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
        {
            Ok(out) => job_description(name, &out).map(Some),
            Err(e) if is_training_job_not_found(&e) => Ok(None),
            Err(e) => Err(sdk_error(SAGEMAKER, "DescribeTrainingJob", &e)),
        }
    }

    /// ListTags on the job's ARN, all pages.
    pub async fn list_training_job_tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        let mut pages = self
            .sagemaker
            .list_tags()
            .resource_arn(arn)
            .into_paginator()
            .send();
        let mut tags = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(SAGEMAKER, "ListTags", &e))?;
            for tag in page.tags() {
                if let Some(key) = tag.key() {
                    tags.insert(key.to_string(), tag.value().unwrap_or_default().to_string());
                }
            }
        }
        Ok(tags)
    }

    pub async fn stop_training_job(&self, name: &str) -> Result<()> {
        self.sagemaker
            .stop_training_job()
            .training_job_name(name)
            .send()
            .await
            .map_err(|e| sdk_error(SAGEMAKER, "StopTrainingJob", &e))?;
        Ok(())
    }

    // ---- S3 ----

    /// `Ok(None)` when the object does not exist. Returns the body and its ETag.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<(Vec<u8>, String)>> {
        const OP: &str = "GetObject";
        let out = match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if is_s3_not_found(&e) => return Ok(None),
            Err(e) => return Err(sdk_error(S3, OP, &e)),
        };
        let etag = strip_etag(out.e_tag().unwrap_or_default());
        let body = read_body(OP, out.body).await?;
        Ok(Some((body, etag)))
    }

    /// The first `max_bytes` of an object (a ranged GET) and whether the object is longer.
    pub async fn get_object_head(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, bool)> {
        const OP: &str = "GetObject";
        // `bytes=0-0` for max_bytes = 0 still tells an empty object (416) from a longer one (a Content-Range).
        let last = max_bytes.saturating_sub(1);
        let sent = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(format!("bytes=0-{last}"))
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            // 416: no byte 0, the object is empty.
            Err(e) if http_status(&e) == Some(416) || e.code() == Some("InvalidRange") => {
                return Ok((Vec::new(), false))
            }
            Err(e) => return Err(sdk_error(S3, OP, &e)),
        };
        let range = out.content_range().map(parse_content_range);
        let mut body = read_body(OP, out.body).await?;
        let truncated = match range {
            Some(Some(total)) => total > max_bytes as u64,
            // `bytes 0-N/*`: the length is unknown, and a full range may hide more.
            Some(None) if body.len() >= max_bytes => self
                .head_object(bucket, key)
                .await?
                .is_some_and(|h| h.size > max_bytes as u64),
            Some(None) => false,
            // No Content-Range: the server ignored the range and sent the whole object.
            None => body.len() > max_bytes,
        };
        body.truncate(max_bytes);
        Ok((body, truncated))
    }

    /// `Ok(None)` when the object does not exist.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectHead {
                size: out.content_length().unwrap_or_default().max(0) as u64,
                etag: strip_etag(out.e_tag().unwrap_or_default()),
            })),
            Err(e) if is_s3_not_found(&e) => Ok(None),
            Err(e) => Err(sdk_error(S3, "HeadObject", &e)),
        }
    }

    /// Every object under a prefix (paginated), in key order, at most `max` of them (more is an error).
    pub async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        max: usize,
    ) -> Result<Vec<DatasetFile>> {
        const OP: &str = "ListObjectsV2";
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut files = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(S3, OP, &e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if files.len() == max {
                    // Stop here rather than page through an unbounded listing.
                    return Err(Error::Aws {
                        service: S3,
                        operation: OP,
                        code: Some(TOO_MANY_OBJECTS.to_string()),
                        message: format!("more than {max} objects under s3://{bucket}/{prefix}"),
                        class: ErrorClass::Permanent,
                    });
                }
                files.push(DatasetFile {
                    key: key.to_string(),
                    etag: strip_etag(object.e_tag().unwrap_or_default()),
                    size: object.size().unwrap_or_default().max(0) as u64,
                });
            }
        }
        // S3 lists in UTF-8 binary order already; sorting keeps the promise for stores that do not.
        files.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(files)
    }

    /// A conditional write. 412 (and a vanished object under `IfMatch`) is `PreconditionFailed`, 409 is `Conflict`;
    /// both are outcomes, not errors, because the store decides what to do next.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
        condition: PutCondition,
    ) -> Result<PutOutcome> {
        let request = self
            .s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body));
        let request = match &condition {
            PutCondition::None => request,
            PutCondition::IfNoneMatch => request.if_none_match("*"),
            PutCondition::IfMatch(etag) => request.if_match(quote_etag(etag)),
        };
        match request.send().await {
            Ok(out) => Ok(PutOutcome::Written {
                etag: strip_etag(out.e_tag().unwrap_or_default()),
            }),
            Err(e) => match put_failure_outcome(&e, &condition) {
                Some(outcome) => Ok(outcome),
                None => Err(sdk_error(S3, "PutObject", &e)),
            },
        }
    }

    /// Deleting an object that is not there succeeds.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        match self.s3.delete_object().bucket(bucket).key(key).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_s3_not_found(&e) => Ok(()),
            Err(e) => Err(sdk_error(S3, "DeleteObject", &e)),
        }
    }

    // ---- EventBridge ----

    /// PutEvents, checked entry by entry: one result per entry, in order (`Err` holds the entry's error code and
    /// message). Batches of more than 10 are split.
    pub async fn put_events(
        &self,
        bus: &str,
        events: &[OutgoingEvent],
    ) -> Result<Vec<std::result::Result<(), String>>> {
        let mut results = Vec::with_capacity(events.len());
        for batch in events.chunks(PUT_EVENTS_BATCH) {
            let out = self
                .events
                .put_events()
                .set_entries(Some(batch.iter().map(|e| event_entry(bus, e)).collect()))
                .send()
                .await
                .map_err(|e| sdk_error(EVENTBRIDGE, "PutEvents", &e))?;
            results.extend(entry_results(batch.len(), out.entries()));
        }
        Ok(results)
    }
}

// ---- error classification ----

/// Error codes worth asking again for: throttling (the SDK's own list) and the services' internal errors.
const RETRYABLE_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalFailure",
    "InternalError",
    "InternalException",
    "InternalServerError",
    "InternalServerException",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// Quota and capacity refusals: the dataset waits in the route's queue.
const CAPACITY_CODES: &[&str] = &["ResourceLimitExceeded", "CapacityError"];

/// The class of a service error from its code, message and HTTP status.
pub(crate) fn classify(
    code: Option<&str>,
    message: Option<&str>,
    status: Option<u16>,
) -> ErrorClass {
    if let Some(code) = code {
        if RETRYABLE_CODES.contains(&code) {
            return ErrorClass::Retryable;
        }
        if CAPACITY_CODES.contains(&code) || code.starts_with("InsufficientCapacity") {
            return ErrorClass::Capacity;
        }
    }
    if status.is_some_and(|s| s >= 500 || s == 429 || s == 408) {
        return ErrorClass::Retryable;
    }
    if message.is_some_and(|m| m.to_ascii_lowercase().contains("capacity")) {
        return ErrorClass::Capacity;
    }
    ErrorClass::Permanent
}

/// Any SDK failure as hubtune's error. The message is the service's own (or the transport's), never a request body
/// or a credential.
fn sdk_error<E>(service: &'static str, operation: &'static str, err: &SdkError<E>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let status = http_status(err);
    let context = || DisplayErrorContext(err).to_string();
    let (code, message, class) = match err {
        SdkError::ServiceError(_) => {
            let code = err.code().map(str::to_string);
            let message = err
                .message()
                .filter(|m| !m.trim().is_empty())
                .map(str::to_string)
                .or_else(|| status.map(|s| format!("HTTP {s}")))
                .unwrap_or_else(context);
            let class = classify(code.as_deref(), Some(&message), status);
            (code, message, class)
        }
        // The request could not be built: asking again builds the same request.
        SdkError::ConstructionFailure(_) => (None, context(), ErrorClass::Permanent),
        // A response that could not be read: a client error stays one, anything else is transient.
        SdkError::ResponseError(_) => {
            let class = match status {
                Some(s) if (400..500).contains(&s) => classify(None, None, Some(s)),
                _ => ErrorClass::Retryable,
            };
            (None, context(), class)
        }
        // Timeouts, connection and I/O failures, credentials that could not be fetched: the SDK has retried them.
        _ => (None, context(), ErrorClass::Retryable),
    };
    Error::Aws {
        service,
        operation,
        code,
        message,
        class,
    }
}

fn http_status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// DescribeTrainingJob answers an unknown name with `ValidationException: Requested resource not found`; the local
/// stack says `ResourceNotFound`.
fn is_training_job_not_found<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err.code() {
        Some("ResourceNotFound") => true,
        Some("ValidationException") => err
            .message()
            .is_some_and(|m| m.contains("Requested resource not found")),
        _ => false,
    }
}

/// NoSuchKey, or a 404 (HEAD has no body, hence no code), but not a missing bucket: that is a setup error.
fn is_s3_not_found<E: ProvideErrorMetadata>(err: &SdkError<E>) -> bool {
    match err.code() {
        Some("NoSuchKey") | Some("NotFound") => true,
        Some("NoSuchBucket") => false,
        _ => matches!(err, SdkError::ServiceError(_)) && http_status(err) == Some(404),
    }
}

/// The outcomes a conditional PutObject reports as answers rather than failures.
fn put_failure_outcome<E: ProvideErrorMetadata>(
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

// ---- S3 helpers ----

async fn read_body(operation: &'static str, body: ByteStream) -> Result<Vec<u8>> {
    body.collect()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| Error::Aws {
            service: S3,
            operation,
            code: None,
            message: format!("reading the body: {}", DisplayErrorContext(&e)),
            class: ErrorClass::Retryable,
        })
}

/// S3 quotes ETags (`"9b2cf535f27731c974343645a3985328"`); hubtune keeps them bare.
fn strip_etag(etag: &str) -> String {
    let etag = etag.trim();
    let etag = etag.strip_prefix("W/").unwrap_or(etag);
    etag.trim_matches('"').to_string()
}

/// `If-Match` takes an entity tag, which HTTP quotes.
fn quote_etag(etag: &str) -> String {
    format!("\"{}\"", strip_etag(etag))
}

/// The complete length from `Content-Range: bytes 0-99/1234`; `None` when it is `*` (unknown) or unreadable.
fn parse_content_range(value: &str) -> Option<u64> {
    let (_, total) = value.trim().strip_prefix("bytes")?.rsplit_once('/')?;
    total.trim().parse().ok()
}

// ---- EventBridge helpers ----

fn event_entry(bus: &str, event: &OutgoingEvent) -> PutEventsRequestEntry {
    PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(&event.source)
        .detail_type(&event.detail_type)
        .detail(event.detail.to_string())
        .set_resources((!event.resources.is_empty()).then(|| event.resources.clone()))
        .build()
}

/// PutEvents answers entry by entry, in request order; an entry with an ErrorCode was not accepted.
fn entry_results(
    sent: usize,
    answered: &[aws_sdk_eventbridge::types::PutEventsResultEntry],
) -> Vec<std::result::Result<(), String>> {
    (0..sent)
        .map(|i| match answered.get(i) {
            Some(entry) => match entry.error_code() {
                Some(code) => Err(format!(
                    "{code}: {}",
                    entry.error_message().unwrap_or_default()
                )),
                None => Ok(()),
            },
            None => Err("PutEvents returned no result for this entry".to_string()),
        })
        .collect()
}

// ---- SageMaker mapping ----

fn sdk_hub_content_type(t: HubContentType) -> sm::HubContentType {
    match t {
        HubContentType::ModelReference => sm::HubContentType::ModelReference,
        HubContentType::Model => sm::HubContentType::Model,
    }
}

fn to_utc(t: Option<&aws_smithy_types::DateTime>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
}

/// SageMaker reports metrics as 32-bit floats; widening through their shortest decimal keeps `0.1` as `0.1`.
fn metric_value(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(f64::from(v))
}

/// The parts of DescribeTrainingJob hubtune uses. `name` stands in for a response that omits it.
fn job_description(name: &str, out: &DescribeTrainingJobOutput) -> Result<JobDescription> {
    let status_text = out
        .training_job_status()
        .map(|s| s.as_str())
        .unwrap_or_default();
    let status = JobStatus::parse(status_text).ok_or_else(|| Error::Aws {
        service: SAGEMAKER,
        operation: "DescribeTrainingJob",
        code: None,
        message: format!("training job `{name}` has an unknown TrainingJobStatus `{status_text}`"),
        class: ErrorClass::Retryable,
    })?;
    let resources = out.resource_config();
    Ok(JobDescription {
        name: out.training_job_name().unwrap_or(name).to_string(),
        arn: out.training_job_arn().unwrap_or_default().to_string(),
        status,
        secondary_status: out.secondary_status().map(|s| s.as_str().to_string()),
        failure_reason: out.failure_reason().map(str::to_string),
        model_artifacts: out
            .model_artifacts()
            .and_then(|m| m.s3_model_artifacts())
            .map(str::to_string),
        creation_time: to_utc(out.creation_time()),
        training_start_time: to_utc(out.training_start_time()),
        training_end_time: to_utc(out.training_end_time()),
        last_modified_time: to_utc(out.last_modified_time()),
        billable_seconds: out.billable_time_in_seconds().map(i64::from),
        final_metrics: out
            .final_metric_data_list()
            .iter()
            .filter_map(|m| Some((m.metric_name()?.to_string(), metric_value(m.value()?))))
            .collect(),
        secondary_transitions: out
            .secondary_status_transitions()
            .iter()
            .map(|t| StatusTransition {
                status: t
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                start: to_utc(t.start_time()),
                end: to_utc(t.end_time()),
                message: t.status_message().map(str::to_string),
            })
            .collect(),
        hyperparameters: out
            .hyper_parameters()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        image: out
            .algorithm_specification()
            .and_then(|a| a.training_image())
            .map(str::to_string),
        instance_type: resources
            .and_then(|r| r.instance_type())
            .map(|t| t.as_str().to_string()),
        instance_count: resources.and_then(|r| r.instance_count()),
        output_path: out
            .output_data_config()
            .and_then(|o| o.s3_output_path())
            .map(str::to_string),
        training_input: out
            .input_data_config()
            .iter()
            .find(|c| c.channel_name() == Some("training"))
            .and_then(|c| c.data_source())
            .and_then(|d| d.s3_data_source())
            .and_then(|s| s.s3_uri())
            .map(str::to_string),
    })
}

fn to_i32(value: u32, field: &str) -> Result<i32> {
    i32::try_from(value).map_err(|_| Error::Aws {
        service: SAGEMAKER,
        operation: "CreateTrainingJob",
        code: None,
        message: format!("{field} {value} is out of range"),
        class: ErrorClass::Permanent,
    })
}

/// The SDK input for a planned request, field for field. Every struct of `plan` is destructured without `..`, so a
/// field added there fails to compile here until it is sent.
pub(crate) fn training_job_input(
    req: &CreateTrainingJobRequest,
) -> Result<CreateTrainingJobInputBuilder> {
    let CreateTrainingJobRequest {
        training_job_name,
        algorithm_specification,
        role_arn,
        input_data_config,
        output_data_config,
        resource_config,
        stopping_condition,
        hyper_parameters,
        environment,
        tags,
        enable_network_isolation,
        vpc_config,
        enable_managed_spot_training,
        checkpoint_config,
    } = req;

    let plan::AlgorithmSpecification {
        training_image,
        training_input_mode,
        metric_definitions,
    } = algorithm_specification;
    let algorithm = sm::AlgorithmSpecification::builder()
        .training_image(training_image)
        .training_input_mode(sdk_input_mode(*training_input_mode))
        .set_metric_definitions((!metric_definitions.is_empty()).then(|| {
            metric_definitions
                .iter()
                .map(|hub::MetricDefinition { name, regex }| {
                    sm::MetricDefinition::builder()
                        .name(name)
                        .regex(regex)
                        .build()
                })
                .collect()
        }))
        .build();

    let channels = input_data_config.iter().map(sdk_channel).collect();

    let plan::OutputDataConfig {
        s3_output_path,
        kms_key_id,
    } = output_data_config;
    let output = sm::OutputDataConfig::builder()
        .s3_output_path(s3_output_path.to_string())
        .set_kms_key_id(kms_key_id.clone())
        .build();

    let plan::ResourceConfig {
        instance_type,
        instance_count,
        volume_size_in_gb,
        volume_kms_key_id,
    } = resource_config;
    let resources = sm::ResourceConfig::builder()
        .instance_type(sm::TrainingInstanceType::from(instance_type.as_str()))
        .instance_count(to_i32(*instance_count, "InstanceCount")?)
        .volume_size_in_gb(to_i32(*volume_size_in_gb, "VolumeSizeInGB")?)
        .set_volume_kms_key_id(volume_kms_key_id.clone())
        .build();

    let plan::StoppingCondition {
        max_runtime_in_seconds,
        max_wait_time_in_seconds,
    } = stopping_condition;
    let stopping = sm::StoppingCondition::builder()
        .max_runtime_in_seconds(to_i32(*max_runtime_in_seconds, "MaxRuntimeInSeconds")?)
        .set_max_wait_time_in_seconds(
            max_wait_time_in_seconds
                .map(|v| to_i32(v, "MaxWaitTimeInSeconds"))
                .transpose()?,
        )
        .build();

    let tags = tags
        .iter()
        .map(|plan::Tag { key, value }| sm::Tag::builder().key(key).value(value).build())
        .collect();

    let vpc = vpc_config.as_ref().map(
        |plan::VpcConfig {
             security_group_ids,
             subnets,
         }| {
            sm::VpcConfig::builder()
                .set_security_group_ids(Some(security_group_ids.clone()))
                .set_subnets(Some(subnets.clone()))
                .build()
        },
    );

    let checkpoint = checkpoint_config
        .as_ref()
        .map(|plan::CheckpointConfig { s3_uri }| {
            sm::CheckpointConfig::builder()
                .s3_uri(s3_uri.to_string())
                .build()
        });

    Ok(CreateTrainingJobInput::builder()
        .training_job_name(training_job_name)
        .algorithm_specification(algorithm)
        .role_arn(role_arn)
        .set_input_data_config(Some(channels))
        .output_data_config(output)
        .resource_config(resources)
        .stopping_condition(stopping)
        .set_hyper_parameters(Some(hyper_parameters.clone().into_iter().collect()))
        .set_environment(Some(environment.clone().into_iter().collect()))
        .set_tags(Some(tags))
        .enable_network_isolation(*enable_network_isolation)
        .set_vpc_config(vpc)
        .set_enable_managed_spot_training(*enable_managed_spot_training)
        .set_checkpoint_config(checkpoint))
}

fn sdk_channel(channel: &plan::Channel) -> sm::Channel {
    let plan::Channel {
        channel_name,
        data_source,
        content_type,
        input_mode,
        compression_type,
    } = channel;
    let plan::DataSource { s3_data_source } = data_source;
    let plan::S3DataSource {
        s3_data_type,
        s3_uri,
        s3_data_distribution_type,
        hub_access_config,
        model_access_config,
    } = s3_data_source;
    let s3 = sm::S3DataSource::builder()
        .s3_data_type(match s3_data_type {
            plan::S3DataType::S3Prefix => sm::S3DataType::S3Prefix,
            plan::S3DataType::ManifestFile => sm::S3DataType::ManifestFile,
        })
        .s3_uri(s3_uri.to_string())
        .s3_data_distribution_type(match s3_data_distribution_type {
            plan::S3DataDistributionType::FullyReplicated => {
                sm::S3DataDistribution::FullyReplicated
            }
            plan::S3DataDistributionType::ShardedByS3Key => sm::S3DataDistribution::ShardedByS3Key,
        })
        .set_hub_access_config(hub_access_config.as_ref().map(
            |plan::HubAccessConfig { hub_content_arn }| {
                sm::HubAccessConfig::builder()
                    .hub_content_arn(hub_content_arn)
                    .build()
            },
        ))
        .set_model_access_config(model_access_config.as_ref().map(
            |plan::ModelAccessConfig { accept_eula }| {
                sm::ModelAccessConfig::builder()
                    .accept_eula(*accept_eula)
                    .build()
            },
        ))
        .build();
    sm::Channel::builder()
        .channel_name(channel_name)
        .data_source(sm::DataSource::builder().s3_data_source(s3).build())
        .set_content_type(content_type.clone())
        .set_input_mode(input_mode.map(sdk_input_mode))
        .set_compression_type(compression_type.map(|c| match c {
            hub::CompressionType::None => sm::CompressionType::None,
            hub::CompressionType::Gzip => sm::CompressionType::Gzip,
        }))
        .build()
}

fn sdk_input_mode(mode: plan::TrainingInputMode) -> sm::TrainingInputMode {
    match mode {
        plan::TrainingInputMode::File => sm::TrainingInputMode::File,
        plan::TrainingInputMode::Pipe => sm::TrainingInputMode::Pipe,
        plan::TrainingInputMode::FastFile => sm::TrainingInputMode::Fastfile,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::ConnectorError;
    use aws_sdk_sagemaker::operation::describe_training_job::DescribeTrainingJobError;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;
    use serde_json::{json, Map, Value};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures");

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
    fn classification_by_code_status_and_message() {
        use ErrorClass::*;
        let cases: &[(Option<&str>, Option<&str>, u16, ErrorClass)] = &[
            (Some("ThrottlingException"), Some("Rate exceeded"), 400, Retryable),
            (Some("Throttling"), None, 400, Retryable),
            (Some("TooManyRequestsException"), None, 429, Retryable),
            (Some("SlowDown"), Some("Please reduce your request rate."), 503, Retryable),
            (Some("RequestLimitExceeded"), None, 400, Retryable),
            (Some("InternalFailure"), None, 500, Retryable),
            (Some("InternalError"), None, 500, Retryable),
            (Some("ServiceUnavailable"), None, 503, Retryable),
            (Some("SomethingNew"), None, 502, Retryable),
            (None, None, 504, Retryable),
            (None, None, 429, Retryable),
            (
                Some("ResourceLimitExceeded"),
                Some("The account-level service limit 'ml.g5.2xlarge for training job usage' is 0 Instances"),
                400,
                Capacity,
            ),
            (Some("CapacityError"), None, 400, Capacity),
            (Some("InsufficientCapacityError"), None, 400, Capacity),
            (
                Some("ValidationException"),
                Some("Unable to provision requested ML compute Capacity"),
                400,
                Capacity,
            ),
            (Some("AccessDenied"), Some("Access Denied"), 403, Permanent),
            (Some("AccessDeniedException"), None, 400, Permanent),
            (Some("ValidationException"), Some("1 validation error detected"), 400, Permanent),
            (Some("ResourceInUse"), Some("Training job names must be unique"), 400, Permanent),
            (Some("ResourceNotFound"), None, 400, Permanent),
            (None, None, 403, Permanent),
        ];
        for (code, message, status, want) in cases {
            assert_eq!(
                classify(*code, *message, Some(*status)),
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
            ErrorClass::Retryable
        );
        let io: SdkError<DescribeTrainingJobError> =
            SdkError::dispatch_failure(ConnectorError::io("connection reset by peer".into()));
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &io)),
            ErrorClass::Retryable
        );
        let timeout: SdkError<DescribeTrainingJobError> =
            SdkError::dispatch_failure(ConnectorError::timeout("connect timed out".into()));
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &timeout)),
            ErrorClass::Retryable
        );
        let unreadable: SdkError<DescribeTrainingJobError> =
            SdkError::response_error("invalid XML", response(200));
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &unreadable)),
            ErrorClass::Retryable
        );
        let unreadable_5xx: SdkError<DescribeTrainingJobError> =
            SdkError::response_error("truncated", response(502));
        assert_eq!(
            class_of(&sdk_error(SAGEMAKER, "X", &unreadable_5xx)),
            ErrorClass::Retryable
        );
        let construction: SdkError<DescribeTrainingJobError> =
            SdkError::construction_failure("TrainingJobName was not specified");
        let err = sdk_error(SAGEMAKER, "X", &construction);
        assert_eq!(class_of(&err), ErrorClass::Permanent);
        assert_eq!(err.aws_code(), None);
    }

    #[test]
    fn training_job_not_found_in_both_dialects() {
        assert!(is_training_job_not_found(&sagemaker_error(
            Some("ValidationException"),
            Some("Requested resource not found."),
            400
        )));
        assert!(is_training_job_not_found(&sagemaker_error(
            Some("ResourceNotFound"),
            None,
            400
        )));
        assert!(!is_training_job_not_found(&sagemaker_error(
            Some("ValidationException"),
            Some("1 validation error detected: Value 'a_b' at 'trainingJobName' failed to satisfy constraint"),
            400
        )));
        assert!(!is_training_job_not_found(&sagemaker_error(
            Some("AccessDeniedException"),
            None,
            400
        )));
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

    #[test]
    fn etags_and_content_ranges() {
        assert_eq!(
            strip_etag("\"9b2cf535f27731c974343645a3985328\""),
            "9b2cf535f27731c974343645a3985328"
        );
        assert_eq!(
            strip_etag("\"d41d8cd98f00b204e9800998ecf8427e-3\""),
            "d41d8cd98f00b204e9800998ecf8427e-3"
        );
        assert_eq!(strip_etag("abc"), "abc");
        assert_eq!(strip_etag(""), "");
        assert_eq!(quote_etag("abc"), "\"abc\"");
        assert_eq!(quote_etag("\"abc\""), "\"abc\"");
        assert_eq!(
            parse_content_range("bytes 0-65535/1048576"),
            Some(1_048_576)
        );
        assert_eq!(parse_content_range("bytes 0-9/10"), Some(10));
        assert_eq!(parse_content_range("bytes 0-9/*"), None);
        assert_eq!(parse_content_range("nonsense"), None);
    }

    fn outgoing(n: usize) -> OutgoingEvent {
        OutgoingEvent {
            source: "hubtune".into(),
            detail_type: "Model Published".into(),
            detail: json!({"schema": 1, "event_id": format!("e{n}"), "route": "support-bot"}),
            resources: vec![
                "arn:aws:sagemaker:us-east-1:111122223333:training-job/hubtune-x".into(),
            ],
        }
    }

    #[test]
    fn put_events_entries_and_results() {
        let entry = event_entry("hubtune", &outgoing(1));
        assert_eq!(entry.event_bus_name(), Some("hubtune"));
        assert_eq!(entry.source(), Some("hubtune"));
        assert_eq!(entry.detail_type(), Some("Model Published"));
        let detail: Value = serde_json::from_str(entry.detail().unwrap()).unwrap();
        assert_eq!(detail, outgoing(1).detail);
        assert_eq!(
            entry.resources(),
            ["arn:aws:sagemaker:us-east-1:111122223333:training-job/hubtune-x"]
        );

        use aws_sdk_eventbridge::types::PutEventsResultEntry;
        let answered = [
            PutEventsResultEntry::builder().event_id("1").build(),
            PutEventsResultEntry::builder()
                .error_code("InternalFailure")
                .error_message("try again")
                .build(),
        ];
        assert_eq!(
            entry_results(3, &answered),
            vec![
                Ok(()),
                Err("InternalFailure: try again".to_string()),
                Err("PutEvents returned no result for this entry".to_string())
            ]
        );
        // 23 events go out as 10 + 10 + 3.
        let events: Vec<_> = (0..23).map(outgoing).collect();
        let sizes: Vec<usize> = events.chunks(PUT_EVENTS_BATCH).map(<[_]>::len).collect();
        assert_eq!(sizes, [10, 10, 3]);
    }

    fn fixture_request() -> (CreateTrainingJobRequest, Value) {
        let text = std::fs::read_to_string(format!(
            "{FIXTURES}/sdk/create_training_job.accept_eula.json"
        ))
        .unwrap();
        let raw: Value = serde_json::from_str(&text).unwrap();
        (serde_json::from_str(&text).unwrap(), raw)
    }

    fn insert(m: &mut Map<String, Value>, key: &str, v: Option<Value>) {
        if let Some(v) = v {
            m.insert(key.to_string(), v);
        }
    }

    fn string_map(m: Option<&std::collections::HashMap<String, String>>) -> Option<Value> {
        m.map(|m| Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(v))).collect()))
    }

    /// The SDK input read back in the API's JSON shape, for the fields `plan` can set.
    fn wire_json(i: &CreateTrainingJobInput) -> Value {
        let mut m = Map::new();
        insert(
            &mut m,
            "TrainingJobName",
            i.training_job_name().map(|v| json!(v)),
        );
        insert(
            &mut m,
            "AlgorithmSpecification",
            i.algorithm_specification().map(|a| {
                let mut o = Map::new();
                insert(
                    &mut o,
                    "TrainingImage",
                    a.training_image().map(|v| json!(v)),
                );
                insert(
                    &mut o,
                    "TrainingInputMode",
                    a.training_input_mode().map(|v| json!(v.as_str())),
                );
                if !a.metric_definitions().is_empty() {
                    let defs = a
                        .metric_definitions()
                        .iter()
                        .map(|d| json!({"Name": d.name(), "Regex": d.regex()}))
                        .collect();
                    o.insert("MetricDefinitions".into(), Value::Array(defs));
                }
                Value::Object(o)
            }),
        );
        insert(&mut m, "RoleArn", i.role_arn().map(|v| json!(v)));
        let channels = i
            .input_data_config()
            .iter()
            .map(|c| {
                let s = c.data_source().unwrap().s3_data_source().unwrap();
                let mut s3 = Map::new();
                insert(
                    &mut s3,
                    "S3DataType",
                    s.s3_data_type().map(|v| json!(v.as_str())),
                );
                insert(&mut s3, "S3Uri", s.s3_uri().map(|v| json!(v)));
                insert(
                    &mut s3,
                    "S3DataDistributionType",
                    s.s3_data_distribution_type().map(|v| json!(v.as_str())),
                );
                insert(
                    &mut s3,
                    "HubAccessConfig",
                    s.hub_access_config()
                        .map(|h| json!({"HubContentArn": h.hub_content_arn()})),
                );
                insert(
                    &mut s3,
                    "ModelAccessConfig",
                    s.model_access_config()
                        .map(|h| json!({"AcceptEula": h.accept_eula()})),
                );
                let mut o = Map::new();
                insert(&mut o, "ChannelName", c.channel_name().map(|v| json!(v)));
                o.insert("DataSource".into(), json!({"S3DataSource": s3}));
                insert(&mut o, "ContentType", c.content_type().map(|v| json!(v)));
                insert(
                    &mut o,
                    "InputMode",
                    c.input_mode().map(|v| json!(v.as_str())),
                );
                insert(
                    &mut o,
                    "CompressionType",
                    c.compression_type().map(|v| json!(v.as_str())),
                );
                Value::Object(o)
            })
            .collect();
        m.insert("InputDataConfig".into(), Value::Array(channels));
        insert(
            &mut m,
            "OutputDataConfig",
            i.output_data_config().map(|o| {
                let mut v = Map::new();
                insert(&mut v, "S3OutputPath", o.s3_output_path().map(|x| json!(x)));
                insert(&mut v, "KmsKeyId", o.kms_key_id().map(|x| json!(x)));
                Value::Object(v)
            }),
        );
        insert(
            &mut m,
            "ResourceConfig",
            i.resource_config().map(|r| {
                let mut v = Map::new();
                insert(
                    &mut v,
                    "InstanceType",
                    r.instance_type().map(|x| json!(x.as_str())),
                );
                insert(
                    &mut v,
                    "InstanceCount",
                    r.instance_count().map(|x| json!(x)),
                );
                insert(
                    &mut v,
                    "VolumeSizeInGB",
                    r.volume_size_in_gb().map(|x| json!(x)),
                );
                insert(
                    &mut v,
                    "VolumeKmsKeyId",
                    r.volume_kms_key_id().map(|x| json!(x)),
                );
                Value::Object(v)
            }),
        );
        insert(
            &mut m,
            "StoppingCondition",
            i.stopping_condition().map(|s| {
                let mut v = Map::new();
                insert(
                    &mut v,
                    "MaxRuntimeInSeconds",
                    s.max_runtime_in_seconds().map(|x| json!(x)),
                );
                insert(
                    &mut v,
                    "MaxWaitTimeInSeconds",
                    s.max_wait_time_in_seconds().map(|x| json!(x)),
                );
                Value::Object(v)
            }),
        );
        insert(&mut m, "HyperParameters", string_map(i.hyper_parameters()));
        insert(&mut m, "Environment", string_map(i.environment()));
        let tags = i
            .tags()
            .iter()
            .map(|t| json!({"Key": t.key(), "Value": t.value()}))
            .collect();
        m.insert("Tags".into(), Value::Array(tags));
        insert(
            &mut m,
            "EnableNetworkIsolation",
            i.enable_network_isolation().map(|v| json!(v)),
        );
        insert(
            &mut m,
            "VpcConfig",
            i.vpc_config().map(
                |v| json!({"SecurityGroupIds": v.security_group_ids(), "Subnets": v.subnets()}),
            ),
        );
        insert(
            &mut m,
            "EnableManagedSpotTraining",
            i.enable_managed_spot_training().map(|v| json!(v)),
        );
        insert(
            &mut m,
            "CheckpointConfig",
            i.checkpoint_config().map(|c| json!({"S3Uri": c.s3_uri()})),
        );
        Value::Object(m)
    }

    #[test]
    fn request_mapping_matches_the_sdk_fixture() {
        let (req, mut raw) = fixture_request();
        let input = training_job_input(&req).unwrap().build().unwrap();

        // Spot checks of what matters most on the hub path.
        let model = input
            .input_data_config()
            .iter()
            .find(|c| c.channel_name() == Some("model"))
            .unwrap();
        let s3 = model.data_source().unwrap().s3_data_source().unwrap();
        assert_eq!(
            s3.hub_access_config().unwrap().hub_content_arn(),
            Some(
                "arn:aws:sagemaker:us-east-1:111122223333:hub-content/my-private-hub/ModelReference/\
                 meta-textgeneration-llama-3-2-1b/1.2.0"
            )
        );
        assert_eq!(s3.model_access_config().unwrap().accept_eula(), Some(true));
        assert_eq!(model.content_type(), Some("application/x-sagemaker-model"));
        assert_eq!(model.input_mode(), Some(&sm::TrainingInputMode::File));
        assert_eq!(
            input
                .algorithm_specification()
                .unwrap()
                .metric_definitions()
                .len(),
            3
        );
        assert_eq!(input.enable_network_isolation(), Some(true));
        assert_eq!(
            input.resource_config().unwrap().instance_type(),
            Some(&sm::TrainingInstanceType::MlG52Xlarge)
        );
        assert_eq!(
            input.hyper_parameters().unwrap()["sagemaker_submit_directory"],
            "\"/opt/ml/input/data/code/sourcedir.tar.gz\""
        );
        // Nothing hubtune does not plan.
        assert!(input.debug_hook_config().is_none());
        assert!(input.profiler_config().is_none());

        // Everything the plan holds reaches the SDK input, and it is exactly the SDK's request (less the
        // debugger/profiler configs hubtune leaves out on purpose).
        let wire = wire_json(&input);
        assert_eq!(wire, serde_json::to_value(&req).unwrap());
        let raw = raw.as_object_mut().unwrap();
        raw.remove("DebugHookConfig");
        raw.remove("ProfilerConfig");
        assert_eq!(wire, Value::Object(raw.clone()));
    }

    #[test]
    fn request_mapping_carries_every_optional_field() {
        let (mut req, _) = fixture_request();
        let training = req
            .input_data_config
            .iter_mut()
            .find(|c| c.channel_name == "training")
            .unwrap();
        training.data_source.s3_data_source.s3_data_type = plan::S3DataType::ManifestFile;
        training.data_source.s3_data_source.s3_uri =
            "s3://my-bucket/hubtune-state/manifests/job.manifest"
                .parse()
                .unwrap();
        training
            .data_source
            .s3_data_source
            .s3_data_distribution_type = plan::S3DataDistributionType::ShardedByS3Key;
        training.input_mode = Some(plan::TrainingInputMode::FastFile);
        training.compression_type = Some(hub::CompressionType::Gzip);
        training.content_type = Some("application/jsonlines".into());
        req.output_data_config.kms_key_id =
            Some("arn:aws:kms:us-east-1:111122223333:key/out".into());
        req.resource_config.volume_kms_key_id =
            Some("arn:aws:kms:us-east-1:111122223333:key/vol".into());
        req.resource_config.instance_count = 2;
        req.stopping_condition.max_wait_time_in_seconds = Some(172_800);
        req.environment
            .insert("NCCL_P2P_DISABLE".into(), "1".into());
        req.vpc_config = Some(plan::VpcConfig {
            security_group_ids: vec!["sg-0123".into()],
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
        });
        req.enable_managed_spot_training = Some(true);
        req.checkpoint_config = Some(plan::CheckpointConfig {
            s3_uri: "s3://my-bucket/checkpoints/job/".parse().unwrap(),
        });
        req.algorithm_specification.training_input_mode = plan::TrainingInputMode::Pipe;

        let input = training_job_input(&req).unwrap().build().unwrap();
        let wire = wire_json(&input);
        assert_eq!(wire, serde_json::to_value(&req).unwrap());
        assert_eq!(
            wire["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"],
            "ManifestFile"
        );
        assert_eq!(wire["InputDataConfig"][0]["InputMode"], "FastFile");
        assert_eq!(wire["StoppingCondition"]["MaxWaitTimeInSeconds"], 172_800);
        assert_eq!(
            wire["CheckpointConfig"]["S3Uri"],
            "s3://my-bucket/checkpoints/job/"
        );
    }

    #[test]
    fn request_mapping_refuses_out_of_range_numbers() {
        let (mut req, _) = fixture_request();
        req.stopping_condition.max_runtime_in_seconds = u32::MAX;
        let err = training_job_input(&req).unwrap_err();
        assert_eq!(err.class(), ErrorClass::Permanent);
        assert!(err.to_string().contains("MaxRuntimeInSeconds"), "{err}");
    }

    #[test]
    fn describe_output_becomes_a_job_description() {
        use aws_smithy_types::DateTime as SmithyTime;
        let t = |secs: i64| SmithyTime::from_secs_and_nanos(secs, 500_000_000);
        let out = DescribeTrainingJobOutput::builder()
            .training_job_name("hubtune-support-bot-0123456789abcdef")
            .training_job_arn("arn:aws:sagemaker:us-east-1:111122223333:training-job/hubtune-support-bot-0123456789abcdef")
            .training_job_status(sm::TrainingJobStatus::Completed)
            .secondary_status(sm::SecondaryStatus::Completed)
            .model_artifacts(
                sm::ModelArtifacts::builder()
                    .s3_model_artifacts("s3://my-bucket/out/job/output/model.tar.gz")
                    .build(),
            )
            .creation_time(t(1_748_779_200))
            .training_start_time(t(1_748_779_260))
            .training_end_time(t(1_748_782_800))
            .last_modified_time(t(1_748_782_810))
            .billable_time_in_seconds(3540)
            .final_metric_data_list(
                sm::MetricData::builder()
                    .metric_name("huggingface-textgeneration:train-loss")
                    .value(0.1)
                    .build(),
            )
            .secondary_status_transitions(
                sm::SecondaryStatusTransition::builder()
                    .status(sm::SecondaryStatus::Training)
                    .start_time(t(1_748_779_260))
                    .end_time(t(1_748_782_800))
                    .status_message("Training image download completed.")
                    .build(),
            )
            .hyper_parameters("epoch", "\"2\"")
            .algorithm_specification(
                sm::AlgorithmSpecification::builder()
                    .training_image("763104351884.dkr.ecr.us-east-1.amazonaws.com/hf:latest")
                    .build(),
            )
            .resource_config(
                sm::ResourceConfig::builder()
                    .instance_type(sm::TrainingInstanceType::MlG52Xlarge)
                    .instance_count(1)
                    .build(),
            )
            .output_data_config(sm::OutputDataConfig::builder().s3_output_path("s3://my-bucket/out/").build())
            .input_data_config(
                sm::Channel::builder()
                    .channel_name("model")
                    .data_source(
                        sm::DataSource::builder()
                            .s3_data_source(sm::S3DataSource::builder().s3_uri("s3://jumpstart/model.tar.gz").build())
                            .build(),
                    )
                    .build(),
            )
            .input_data_config(
                sm::Channel::builder()
                    .channel_name("training")
                    .data_source(
                        sm::DataSource::builder()
                            .s3_data_source(sm::S3DataSource::builder().s3_uri("s3://my-bucket/state/m.manifest").build())
                            .build(),
                    )
                    .build(),
            )
            .build();
        let d = job_description("ignored", &out).unwrap();
        assert_eq!(d.name, "hubtune-support-bot-0123456789abcdef");
        assert_eq!(d.status, JobStatus::Completed);
        assert_eq!(d.secondary_status.as_deref(), Some("Completed"));
        assert_eq!(
            d.model_artifacts.as_deref(),
            Some("s3://my-bucket/out/job/output/model.tar.gz")
        );
        assert_eq!(
            d.creation_time.unwrap().to_rfc3339(),
            "2025-06-01T12:00:00.500+00:00"
        );
        assert_eq!(d.billable_seconds, Some(3540));
        assert_eq!(
            d.final_metrics["huggingface-textgeneration:train-loss"],
            0.1
        );
        assert_eq!(d.secondary_transitions.len(), 1);
        assert_eq!(d.secondary_transitions[0].status, "Training");
        assert_eq!(
            d.secondary_transitions[0].message.as_deref(),
            Some("Training image download completed.")
        );
        assert_eq!(d.hyperparameters["epoch"], "\"2\"");
        assert_eq!(
            d.image.as_deref(),
            Some("763104351884.dkr.ecr.us-east-1.amazonaws.com/hf:latest")
        );
        assert_eq!(d.instance_type.as_deref(), Some("ml.g5.2xlarge"));
        assert_eq!(d.instance_count, Some(1));
        assert_eq!(d.output_path.as_deref(), Some("s3://my-bucket/out/"));
        assert_eq!(
            d.training_input.as_deref(),
            Some("s3://my-bucket/state/m.manifest")
        );

        let unknown = DescribeTrainingJobOutput::builder()
            .training_job_status(sm::TrainingJobStatus::from("Paused"))
            .build();
        assert_eq!(
            job_description("j", &unknown).unwrap_err().class(),
            ErrorClass::Retryable
        );
    }

    #[test]
    fn hub_content_types_map_to_the_sdk() {
        assert_eq!(
            sdk_hub_content_type(HubContentType::ModelReference).as_str(),
            HubContentType::ModelReference.as_str()
        );
        assert_eq!(
            sdk_hub_content_type(HubContentType::Model).as_str(),
            HubContentType::Model.as_str()
        );
    }

    #[tokio::test]
    async fn clients_for_an_endpoint_use_its_region_and_path_style() {
        let aws = Aws::for_endpoint("http://127.0.0.1:1", "eu-west-1").await;
        assert_eq!(aws.region, "eu-west-1");
        // Path-style: the bucket is in the path, not in the host name.
        let presigned = aws
            .s3
            .get_object()
            .bucket("my-bucket")
            .key("datasets/a.jsonl")
            .presigned(
                aws_sdk_s3::presigning::PresigningConfig::expires_in(
                    std::time::Duration::from_secs(60),
                )
                .unwrap(),
            )
            .await
            .unwrap();
        assert!(
            presigned
                .uri()
                .starts_with("http://127.0.0.1:1/my-bucket/datasets/a.jsonl?"),
            "{}",
            presigned.uri()
        );
        assert_eq!(
            aws.sagemaker.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
    }
}
