//! State objects in S3, read and written conditionally: created with `If-None-Match: *`, replaced with
//! `If-Match: <etag>`. A `412` means another writer won the race: re-read and decide again. A `409` means a
//! concurrent conditional write is in flight: retry. No extra database.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::aws::{Aws, PutCondition, PutOutcome};
use crate::error::{Error, Result};
use crate::s3uri::S3Uri;

/// How many times a compare-and-swap is tried before the caller gets a retryable error.
pub const MAX_ATTEMPTS: u32 = 10;

/// The object operations the store needs; `Aws` in production, an in-memory map in this module's unit tests.
pub trait Backend: Send + Sync {
    fn get(&self, key: &S3Uri) -> impl Future<Output = Result<Option<(Vec<u8>, String)>>> + Send;
    fn put(
        &self,
        key: &S3Uri,
        body: Vec<u8>,
        cond: PutCondition,
    ) -> impl Future<Output = Result<PutOutcome>> + Send;
    fn list(&self, prefix: &S3Uri) -> impl Future<Output = Result<Vec<String>>> + Send;
    fn delete(&self, key: &S3Uri) -> impl Future<Output = Result<()>> + Send;
}

impl Backend for Aws {
    async fn get(&self, key: &S3Uri) -> Result<Option<(Vec<u8>, String)>> {
        self.get_object(key.bucket(), key.key()).await
    }
    async fn put(&self, key: &S3Uri, body: Vec<u8>, cond: PutCondition) -> Result<PutOutcome> {
        self.put_object(key.bucket(), key.key(), body, "application/json", cond)
            .await
    }
    async fn list(&self, prefix: &S3Uri) -> Result<Vec<String>> {
        Ok(self
            .list_objects(prefix.bucket(), prefix.key(), 100_000)
            .await?
            .into_iter()
            .map(|f| f.key)
            .collect())
    }
    async fn delete(&self, key: &S3Uri) -> Result<()> {
        self.delete_object(key.bucket(), key.key()).await
    }
}

/// A state object that carries its own revision counter.
pub trait Revisioned {
    fn revision(&mut self) -> &mut u64;
}

#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub etag: String,
}

/// What an update closure decides, seeing the current value.
pub enum Decision<T, R> {
    /// Write this value (its revision is bumped by the store) and return R.
    Write(T, R),
    /// Leave the object as it is and return R.
    Keep(R),
}

#[derive(Debug, Clone)]
pub struct Store<B> {
    pub backend: B,
}

fn corrupt(key: &S3Uri, e: impl std::fmt::Display) -> Error {
    Error::State {
        key: key.to_string(),
        message: format!("unreadable state object: {e}"),
    }
}

async fn backoff(attempt: u32) {
    // Short and jittered: the competing writer is usually one round trip ahead.
    let base = 20u64 << attempt.min(5);
    let jitter = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        % 20) as u64;
    tokio::time::sleep(Duration::from_millis(base + jitter)).await;
}

impl<B: Backend> Store<B> {
    pub fn new(backend: B) -> Self {
        Self { backend }
    }

    pub async fn read<T: DeserializeOwned>(&self, key: &S3Uri) -> Result<Option<Versioned<T>>> {
        match self.backend.get(key).await? {
            None => Ok(None),
            Some((bytes, etag)) => {
                let value = serde_json::from_slice(&bytes).map_err(|e| corrupt(key, e))?;
                Ok(Some(Versioned { value, etag }))
            }
        }
    }

    /// Create if absent. `Ok(false)` when it already exists (someone else created it: that is not an error).
    pub async fn create<T: Serialize>(&self, key: &S3Uri, value: &T) -> Result<bool> {
        let body = serde_json::to_vec_pretty(value).map_err(|e| corrupt(key, e))?;
        for attempt in 0..MAX_ATTEMPTS {
            match self
                .backend
                .put(key, body.clone(), PutCondition::IfNoneMatch)
                .await?
            {
                PutOutcome::Written { .. } => return Ok(true),
                PutOutcome::PreconditionFailed => return Ok(false),
                PutOutcome::Conflict => backoff(attempt).await,
            }
        }
        Err(Error::State {
            key: key.to_string(),
            message: "create kept conflicting (409)".into(),
        })
    }

    /// Unconditional write, for objects whose content is the same whoever writes them (idempotent).
    pub async fn put_idempotent(&self, key: &S3Uri, body: Vec<u8>) -> Result<()> {
        for attempt in 0..MAX_ATTEMPTS {
            match self
                .backend
                .put(key, body.clone(), PutCondition::None)
                .await?
            {
                PutOutcome::Written { .. } => return Ok(()),
                PutOutcome::Conflict | PutOutcome::PreconditionFailed => backoff(attempt).await,
            }
        }
        Err(Error::State {
            key: key.to_string(),
            message: "write kept conflicting (409)".into(),
        })
    }

    /// Compare-and-swap loop: read, let `decide` look at the current value (None if absent), write it back only if
    /// nobody wrote in between; on a lost race read again and decide again.
    pub async fn update<T, R, F>(&self, key: &S3Uri, mut decide: F) -> Result<R>
    where
        T: Serialize + DeserializeOwned + Revisioned,
        F: FnMut(Option<T>) -> Result<Decision<T, R>>,
    {
        for attempt in 0..MAX_ATTEMPTS {
            let current = self.read::<T>(key).await?;
            let (cond, value) = match current {
                Some(v) => (PutCondition::IfMatch(v.etag), Some(v.value)),
                None => (PutCondition::IfNoneMatch, None),
            };
            let (mut new, out) = match decide(value)? {
                Decision::Keep(out) => return Ok(out),
                Decision::Write(new, out) => (new, out),
            };
            *new.revision() += 1;
            let body = serde_json::to_vec_pretty(&new).map_err(|e| corrupt(key, e))?;
            match self.backend.put(key, body, cond).await? {
                PutOutcome::Written { .. } => return Ok(out),
                PutOutcome::PreconditionFailed => {
                    tracing::debug!(key = %key, attempt, "lost a compare-and-swap race (412); re-reading");
                }
                PutOutcome::Conflict => {
                    tracing::debug!(key = %key, attempt, "concurrent conditional write (409); retrying");
                    backoff(attempt).await;
                }
            }
        }
        Err(Error::State {
            key: key.to_string(),
            message: format!("no compare-and-swap succeeded in {MAX_ATTEMPTS} attempts"),
        })
    }

    pub async fn list(&self, prefix: &S3Uri) -> Result<Vec<String>> {
        self.backend.list(prefix).await
    }

    pub async fn delete(&self, key: &S3Uri) -> Result<()> {
        self.backend.delete(key).await
    }
}

#[cfg(test)]
pub(crate) mod memory {
    //! An in-memory backend with S3's conditional-write semantics, for unit tests of the store and its users.
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    #[derive(Default)]
    pub struct Memory {
        pub objects: Mutex<BTreeMap<String, (Vec<u8>, u64)>>,
        /// Outcomes to return instead of writing, consumed in order (fault injection).
        pub faults: Mutex<Vec<PutOutcome>>,
        counter: Mutex<u64>,
    }

    impl Backend for Memory {
        async fn get(&self, key: &S3Uri) -> Result<Option<(Vec<u8>, String)>> {
            Ok(self
                .objects
                .lock()
                .unwrap()
                .get(&key.to_string())
                .map(|(b, v)| (b.clone(), v.to_string())))
        }
        async fn put(&self, key: &S3Uri, body: Vec<u8>, cond: PutCondition) -> Result<PutOutcome> {
            if let Some(f) = {
                let mut f = self.faults.lock().unwrap();
                (!f.is_empty()).then(|| f.remove(0))
            } {
                return Ok(f);
            }
            let mut objects = self.objects.lock().unwrap();
            let current = objects.get(&key.to_string()).map(|(_, v)| v.to_string());
            let ok = match (&cond, &current) {
                (PutCondition::None, _) => true,
                (PutCondition::IfNoneMatch, None) => true,
                (PutCondition::IfMatch(e), Some(c)) => e == c,
                _ => false,
            };
            if !ok {
                return Ok(PutOutcome::PreconditionFailed);
            }
            let mut c = self.counter.lock().unwrap();
            *c += 1;
            objects.insert(key.to_string(), (body, *c));
            Ok(PutOutcome::Written {
                etag: c.to_string(),
            })
        }
        async fn list(&self, prefix: &S3Uri) -> Result<Vec<String>> {
            let p = prefix.to_string();
            Ok(self
                .objects
                .lock()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with(&p))
                .map(|k| k[5 + prefix.bucket().len() + 1..].to_string())
                .collect())
        }
        async fn delete(&self, key: &S3Uri) -> Result<()> {
            self.objects.lock().unwrap().remove(&key.to_string());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::Memory;
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Counter {
        revision: u64,
        n: u32,
    }
    impl Revisioned for Counter {
        fn revision(&mut self) -> &mut u64 {
            &mut self.revision
        }
    }

    fn key() -> S3Uri {
        "s3://bkt/state/c.json".parse().unwrap()
    }

    async fn incr(store: &Store<Memory>) -> u32 {
        store
            .update::<Counter, u32, _>(&key(), |c| {
                let mut c = c.unwrap_or(Counter { revision: 0, n: 0 });
                c.n += 1;
                let n = c.n;
                Ok(Decision::Write(c, n))
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn create_then_update_bumps_the_revision() {
        let store = Store::new(Memory::default());
        assert!(store
            .create(&key(), &Counter { revision: 0, n: 0 })
            .await
            .unwrap());
        assert!(!store
            .create(&key(), &Counter { revision: 0, n: 9 })
            .await
            .unwrap());
        assert_eq!(incr(&store).await, 1);
        let v = store.read::<Counter>(&key()).await.unwrap().unwrap().value;
        assert_eq!(v, Counter { revision: 1, n: 1 });
    }

    #[tokio::test]
    async fn a_409_and_a_412_are_retried_and_nothing_is_lost() {
        let store = Store::new(Memory::default());
        incr(&store).await;
        store
            .backend
            .faults
            .lock()
            .unwrap()
            .extend([PutOutcome::Conflict, PutOutcome::PreconditionFailed]);
        assert_eq!(incr(&store).await, 2);
        assert_eq!(
            store
                .read::<Counter>(&key())
                .await
                .unwrap()
                .unwrap()
                .value
                .n,
            2
        );
    }

    #[tokio::test]
    async fn concurrent_updates_all_land() {
        let store = std::sync::Arc::new(Store::new(Memory::default()));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let s = store.clone();
                tokio::spawn(async move { incr(&s).await })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(
            store
                .read::<Counter>(&key())
                .await
                .unwrap()
                .unwrap()
                .value
                .n,
            8
        );
    }

    #[tokio::test]
    async fn endless_conflicts_become_a_retryable_error() {
        let store = Store::new(Memory::default());
        store
            .backend
            .faults
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(
                PutOutcome::Conflict,
                MAX_ATTEMPTS as usize,
            ));
        let e = store
            .update::<Counter, (), _>(&key(), |_| {
                Ok(Decision::Write(Counter { revision: 0, n: 1 }, ()))
            })
            .await
            .unwrap_err();
        assert!(e.is_retryable());
    }
}
