use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;

use super::faults::{lock, Calls, Faults};
use crate::domain::dataset::DatasetFile;
use crate::domain::error::Result;
use crate::domain::s3uri::S3Uri;
use crate::ports::{
    Listing, ObjectHead, ObjectStart, ObjectStore, PutCondition, PutOutcome, StoredObject,
};

#[derive(Default)]
struct State {
    /// By full `s3://bucket/key` URI.
    objects: BTreeMap<String, StoredObject>,
    writes: u64,
    /// Outcomes returned instead of writing, in order (lost races on demand).
    put_answers: VecDeque<PutOutcome>,
}

/// S3 in memory, with its conditional-write semantics.
#[derive(Default)]
pub struct MemoryObjects {
    state: Mutex<State>,
    pub faults: Faults,
    pub calls: Calls,
}

impl MemoryObjects {
    /// Put an object as an outside writer would (no call counted). Returns its ETag.
    pub fn insert(&self, uri: &str, body: impl Into<Vec<u8>>) -> String {
        let mut s = lock(&self.state);
        s.writes += 1;
        let etag = format!("etag-{}", s.writes);
        s.objects.insert(
            uri.to_string(),
            StoredObject {
                body: body.into(),
                etag: etag.clone(),
            },
        );
        etag
    }

    pub fn remove(&self, uri: &str) {
        lock(&self.state).objects.remove(uri);
    }

    pub fn body(&self, uri: &str) -> Option<Vec<u8>> {
        lock(&self.state).objects.get(uri).map(|o| o.body.clone())
    }

    /// The body parsed as JSON (`None` when absent or not JSON).
    pub fn json(&self, uri: &str) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body(uri)?).ok()
    }

    /// Every URI that starts with `prefix`, in order.
    pub fn uris(&self, prefix: &str) -> Vec<String> {
        lock(&self.state)
            .objects
            .keys()
            .filter(|k| k.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// The next puts answer these outcomes instead of writing (a 412 or 409 from a concurrent writer).
    pub fn answer_next_puts(&self, outcomes: impl IntoIterator<Item = PutOutcome>) {
        lock(&self.state).put_answers.extend(outcomes);
    }
}

#[async_trait]
impl ObjectStore for MemoryObjects {
    async fn get(&self, uri: &S3Uri) -> Result<Option<StoredObject>> {
        self.calls.count("GetObject");
        self.faults.check("GetObject", &uri.to_string())?;
        Ok(lock(&self.state).objects.get(&uri.to_string()).cloned())
    }

    async fn get_start(&self, uri: &S3Uri, max_bytes: usize) -> Result<ObjectStart> {
        self.calls.count("GetObject");
        self.faults.check("GetObject", &uri.to_string())?;
        let body = lock(&self.state)
            .objects
            .get(&uri.to_string())
            .map(|o| o.body.clone())
            .unwrap_or_default();
        Ok(ObjectStart {
            truncated: body.len() > max_bytes,
            bytes: body.into_iter().take(max_bytes).collect(),
        })
    }

    async fn head(&self, uri: &S3Uri) -> Result<Option<ObjectHead>> {
        self.calls.count("HeadObject");
        self.faults.check("HeadObject", &uri.to_string())?;
        Ok(lock(&self.state)
            .objects
            .get(&uri.to_string())
            .map(|o| ObjectHead {
                size: o.body.len() as u64,
                etag: o.etag.clone(),
            }))
    }

    async fn list(&self, prefix: &S3Uri, max: usize) -> Result<Listing> {
        self.calls.count("ListObjectsV2");
        self.faults.check("ListObjectsV2", &prefix.to_string())?;
        let bucket = format!("s3://{}/", prefix.bucket());
        let p = prefix.to_string();
        let state = lock(&self.state);
        let mut matching = state.objects.iter().filter(|(k, _)| k.starts_with(&p));
        let objects: Vec<DatasetFile> = matching
            .by_ref()
            .take(max)
            .map(|(k, o)| DatasetFile {
                key: k[bucket.len()..].to_string(),
                etag: o.etag.clone(),
                size: o.body.len() as u64,
            })
            .collect();
        Ok(Listing {
            objects,
            more: matching.next().is_some(),
        })
    }

    async fn put(
        &self,
        uri: &S3Uri,
        body: Vec<u8>,
        _content_type: &str,
        condition: PutCondition,
    ) -> Result<PutOutcome> {
        self.calls.count("PutObject");
        self.faults.check("PutObject", &uri.to_string())?;
        let mut s = lock(&self.state);
        if let Some(answer) = s.put_answers.pop_front() {
            return Ok(answer);
        }
        let current = s.objects.get(&uri.to_string()).map(|o| o.etag.clone());
        let allowed = match (&condition, &current) {
            (PutCondition::None, _) | (PutCondition::IfNoneMatch, None) => true,
            (PutCondition::IfMatch(e), Some(c)) => e == c,
            _ => false,
        };
        if !allowed {
            return Ok(PutOutcome::PreconditionFailed);
        }
        s.writes += 1;
        let etag = format!("etag-{}", s.writes);
        s.objects.insert(
            uri.to_string(),
            StoredObject {
                body,
                etag: etag.clone(),
            },
        );
        Ok(PutOutcome::Written { etag })
    }

    async fn delete(&self, uri: &S3Uri) -> Result<()> {
        self.calls.count("DeleteObject");
        self.faults.check("DeleteObject", &uri.to_string())?;
        lock(&self.state).objects.remove(&uri.to_string());
        Ok(())
    }
}
