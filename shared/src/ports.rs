//! The ports: what hubtune asks of the outside world, as five small traits and a clock.
//!
//! The handlers and the store see only these. `aws` implements them with the AWS SDK; `memory` (feature
//! `test-util`) implements them in memory, with fault injection, for in-process tests. Every method returns
//! hubtune's own types and errors already classed (`ErrorClass`), so nothing above a port sees an SDK type.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::dataset::DatasetFile;
use crate::domain::error::Result;
use crate::domain::events::OutgoingEvent;
use crate::domain::hub::{HubContent, HubContentType};
use crate::domain::job::JobDescription;
use crate::domain::plan::CreateTrainingJobRequest;
use crate::domain::registry::CreateModelPackageRequest;
use crate::domain::s3uri::S3Uri;

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

/// How a conditional write ended. Losing a race is an answer, not an error: the store decides what to do next.
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

/// An object's body and ETag (bare, without quotes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub body: Vec<u8>,
    pub etag: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectHead {
    pub size: u64,
    pub etag: String,
    /// The version S3 answered for (`x-amz-version-id`): absent on an unversioned bucket, `null` once suspended.
    pub version_id: Option<String>,
}

/// The first bytes of an object and whether it is longer than that, with the ETag and version of the object they
/// were read from (`None` when the object is empty or gone: no bytes were read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectStart {
    pub bytes: Vec<u8>,
    pub truncated: bool,
    pub etag: Option<String>,
    pub version_id: Option<String>,
}

/// A listing in key order, cut at the limit asked for; `more` says objects were left out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Listing {
    pub objects: Vec<DatasetFile>,
    pub more: bool,
}

/// S3, as hubtune uses it: datasets, state objects with conditional writes, manifests and artifacts.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// `Ok(None)` when the object does not exist.
    async fn get(&self, uri: &S3Uri) -> Result<Option<StoredObject>>;
    /// The first `max_bytes` of an object (an empty object answers no bytes, not an error).
    async fn get_start(&self, uri: &S3Uri, max_bytes: usize) -> Result<ObjectStart>;
    /// `Ok(None)` when the object does not exist.
    async fn head(&self, uri: &S3Uri) -> Result<Option<ObjectHead>>;
    /// The objects under a prefix, in key order, at most `max` of them.
    async fn list(&self, prefix: &S3Uri, max: usize) -> Result<Listing>;
    async fn put(
        &self,
        uri: &S3Uri,
        body: Vec<u8>,
        content_type: &str,
        condition: PutCondition,
    ) -> Result<PutOutcome>;
    /// Deleting an object that is not there succeeds.
    async fn delete(&self, uri: &S3Uri) -> Result<()>;
}

/// SageMaker training jobs.
#[async_trait]
pub trait TrainingJobs: Send + Sync {
    /// Returns the job ARN. A name in use is `Error::Aws { code: Some("ResourceInUse"), .. }`; quota and capacity
    /// refusals are class `Capacity`.
    async fn create(&self, request: &CreateTrainingJobRequest) -> Result<String>;
    /// `Ok(None)` when no job has that name.
    async fn describe(&self, name: &str) -> Result<Option<JobDescription>>;
    /// The job's tags, all pages.
    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>>;
    async fn stop(&self, name: &str) -> Result<()>;
}

/// One PutEvents entry's answer: accepted, or refused with the service's code and message.
pub type EntryResult = std::result::Result<(), String>;

/// EventBridge.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// One result per event, in order (an entry can fail while the call succeeds).
    async fn put_events(&self, bus: &str, events: &[OutgoingEvent]) -> Result<Vec<EntryResult>>;
}

/// The SageMaker private hub.
#[async_trait]
pub trait Hub: Send + Sync {
    /// `Ok(None)` when the hub or the content does not exist.
    async fn describe_content(
        &self,
        hub: &str,
        content_type: HubContentType,
        name: &str,
        version: Option<&str>,
    ) -> Result<Option<HubContent>>;
}

/// The SageMaker model registry.
#[async_trait]
pub trait ModelRegistry: Send + Sync {
    /// Returns the model package version's ARN. The same `ClientToken` again answers the version it made, and makes
    /// no other. A missing group is `Error::Aws { class: Permanent, .. }` (a deployment fault).
    async fn create_model_package(&self, request: &CreateModelPackageRequest) -> Result<String>;
}

/// The time, passed in rather than read, so that tests can move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The ports a handler's context is built from: AWS (`aws::Aws::ports`) or memory (`memory::World::ports`).
#[derive(Clone)]
pub struct Ports {
    pub objects: std::sync::Arc<dyn ObjectStore>,
    pub jobs: std::sync::Arc<dyn TrainingJobs>,
    pub bus: std::sync::Arc<dyn EventBus>,
    pub hub: std::sync::Arc<dyn Hub>,
    pub registry: std::sync::Arc<dyn ModelRegistry>,
    pub clock: std::sync::Arc<dyn Clock>,
}
