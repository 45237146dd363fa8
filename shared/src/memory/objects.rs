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
    /// Each object's current version id, as a versioned bucket gives one to every write.
    versions: BTreeMap<String, String>,
    /// Outside writes armed to happen right after a call (`overwrite_after`).
    after: Vec<AfterCall>,
}

/// After the next call of `op` whose target contains `target`, an outside writer puts `body` at `uri`.
struct AfterCall {
    op: &'static str,
    target: String,
    uri: String,
    body: Vec<u8>,
}

impl State {
    /// One write: a new ETag and a new version, as S3 with versioning on.
    fn write(&mut self, uri: &str, body: Vec<u8>) -> String {
        self.writes += 1;
        let etag = format!("etag-{}", self.writes);
        self.versions
            .insert(uri.to_string(), format!("version-{}", self.writes));
        self.objects.insert(
            uri.to_string(),
            StoredObject {
                body,
                etag: etag.clone(),
            },
        );
        etag
    }
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
        lock(&self.state).write(uri, body.into())
    }

    pub fn remove(&self, uri: &str) {
        let mut s = lock(&self.state);
        s.objects.remove(uri);
        s.versions.remove(uri);
    }

    /// The object's current ETag.
    pub fn etag(&self, uri: &str) -> Option<String> {
        lock(&self.state).objects.get(uri).map(|o| o.etag.clone())
    }

    /// The object's current version id (every write makes a new one).
    pub fn version(&self, uri: &str) -> Option<String> {
        lock(&self.state).versions.get(uri).cloned()
    }

    /// Right after the next call of `op` (`GetObject`, `PutObject`, …) whose target contains `target`, an outside
    /// writer overwrites `uri` with `body`: a race between two of a handler's own steps, on demand.
    pub fn overwrite_after(
        &self,
        op: &'static str,
        target: &str,
        uri: &str,
        body: impl Into<Vec<u8>>,
    ) {
        lock(&self.state).after.push(AfterCall {
            op,
            target: target.to_string(),
            uri: uri.to_string(),
            body: body.into(),
        });
    }

    /// Run the outside write armed for this call, if any (once).
    fn after_call(&self, op: &str, target: &str) {
        let mut s = lock(&self.state);
        if let Some(i) = s
            .after
            .iter()
            .position(|a| a.op == op && target.contains(a.target.as_str()))
        {
            let a = s.after.remove(i);
            s.write(&a.uri, a.body);
        }
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
        let found = lock(&self.state).objects.get(&uri.to_string()).cloned();
        self.after_call("GetObject", &uri.to_string());
        Ok(found)
    }

    async fn get_start(&self, uri: &S3Uri, max_bytes: usize) -> Result<ObjectStart> {
        self.calls.count("GetObject");
        self.faults.check("GetObject", &uri.to_string())?;
        let key = uri.to_string();
        let (body, etag, version_id) = {
            let s = lock(&self.state);
            match s.objects.get(&key) {
                Some(o) => (
                    o.body.clone(),
                    Some(o.etag.clone()),
                    s.versions.get(&key).cloned(),
                ),
                None => (Vec::new(), None, None),
            }
        };
        self.after_call("GetObject", &key);
        Ok(ObjectStart {
            truncated: body.len() > max_bytes,
            bytes: body.into_iter().take(max_bytes).collect(),
            etag,
            version_id,
        })
    }

    async fn head(&self, uri: &S3Uri) -> Result<Option<ObjectHead>> {
        self.calls.count("HeadObject");
        self.faults.check("HeadObject", &uri.to_string())?;
        let key = uri.to_string();
        let head = {
            let s = lock(&self.state);
            s.objects.get(&key).map(|o| ObjectHead {
                size: o.body.len() as u64,
                etag: o.etag.clone(),
                version_id: s.versions.get(&key).cloned(),
            })
        };
        self.after_call("HeadObject", &key);
        Ok(head)
    }

    async fn list(&self, prefix: &S3Uri, max: usize) -> Result<Listing> {
        self.calls.count("ListObjectsV2");
        self.faults.check("ListObjectsV2", &prefix.to_string())?;
        let bucket = format!("s3://{}/", prefix.bucket());
        let p = prefix.to_string();
        let listing = {
            let state = lock(&self.state);
            let mut matching = state.objects.iter().filter(|(k, _)| k.starts_with(&p));
            let objects: Vec<DatasetFile> = matching
                .by_ref()
                .take(max)
                .map(|(k, o)| DatasetFile {
                    key: k[bucket.len()..].to_string(),
                    etag: o.etag.clone(),
                    size: o.body.len() as u64,
                    // As ListObjectsV2: no version.
                    version_id: None,
                    channel: "training".into(),
                })
                .collect();
            Listing {
                objects,
                more: matching.next().is_some(),
            }
        };
        self.after_call("ListObjectsV2", &p);
        Ok(listing)
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
        let etag = s.write(&uri.to_string(), body);
        drop(s);
        self.after_call("PutObject", &uri.to_string());
        Ok(PutOutcome::Written { etag })
    }

    async fn delete(&self, uri: &S3Uri) -> Result<()> {
        self.calls.count("DeleteObject");
        self.faults.check("DeleteObject", &uri.to_string())?;
        self.remove(&uri.to_string());
        Ok(())
    }
}
