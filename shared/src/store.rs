//! State objects in S3, read and written conditionally: created with `If-None-Match: *`, replaced with
//! `If-Match: <etag>`. A `412` means another writer won the race: re-read and decide again. A `409` means a
//! concurrent conditional write is in flight: retry. No extra database.

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::domain::error::{Error, Result};
use crate::domain::s3uri::S3Uri;
use crate::domain::versioned::{Revisioned, Versioned};
use crate::ports::{ObjectStore, PutCondition, PutOutcome};

/// How many times a compare-and-swap is tried before the caller gets a retryable error.
pub const MAX_ATTEMPTS: u32 = 10;
/// State objects are JSON.
const CONTENT_TYPE: &str = "application/json";
/// No state prefix holds more objects than this; a listing beyond it is an error rather than a silent cut.
const MAX_LISTED: usize = 100_000;

/// What an update closure decides, seeing the current value.
pub enum Decision<T, R> {
    /// Write this value (its revision is bumped by the store) and return R.
    Write(T, R),
    /// Leave the object as it is and return R.
    Keep(R),
}

/// What a compare-and-swap left behind: the object as written, or the ETag of the object it kept as it was
/// (`None`: there was none).
enum After<T> {
    Written(Versioned<T>),
    Kept(Option<String>),
}

fn vanished(key: &S3Uri) -> Error {
    Error::State {
        key: key.to_string(),
        message: "the state object vanished while it was being updated".into(),
    }
}

/// State objects over the object-store port.
#[derive(Clone)]
pub struct Store {
    objects: Arc<dyn ObjectStore>,
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

impl Store {
    pub fn new(objects: Arc<dyn ObjectStore>) -> Self {
        Self { objects }
    }

    pub async fn read<T: DeserializeOwned>(&self, key: &S3Uri) -> Result<Option<Versioned<T>>> {
        match self.objects.get(key).await? {
            None => Ok(None),
            Some(o) => {
                let value = serde_json::from_slice(&o.body).map_err(|e| corrupt(key, e))?;
                Ok(Some(Versioned {
                    value,
                    etag: o.etag,
                }))
            }
        }
    }

    /// Create if absent. `Ok(false)` when it already exists (someone else created it: that is not an error).
    pub async fn create<T: Serialize>(&self, key: &S3Uri, value: &T) -> Result<bool> {
        Ok(self.create_with_etag(key, value).await?.is_some())
    }

    /// `create`, returning the new object's ETag (`None` when it already existed), so that the next update of it
    /// can start from what was written instead of reading it back (`update_from`).
    pub async fn create_with_etag<T: Serialize>(
        &self,
        key: &S3Uri,
        value: &T,
    ) -> Result<Option<String>> {
        let body = serde_json::to_vec_pretty(value).map_err(|e| corrupt(key, e))?;
        for attempt in 0..MAX_ATTEMPTS {
            match self
                .objects
                .put(key, body.clone(), CONTENT_TYPE, PutCondition::IfNoneMatch)
                .await?
            {
                PutOutcome::Written { etag } => return Ok(Some(etag)),
                PutOutcome::PreconditionFailed => return Ok(None),
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
                .objects
                .put(key, body.clone(), CONTENT_TYPE, PutCondition::None)
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

    /// `read` of an object that must exist: its absence is an error.
    pub async fn read_existing<T: DeserializeOwned>(&self, key: &S3Uri) -> Result<Versioned<T>> {
        self.read(key).await?.ok_or_else(|| vanished(key))
    }

    /// Compare-and-swap loop: read, let `decide` look at the current value (None if absent), write it back only if
    /// nobody wrote in between; on a lost race read again and decide again.
    pub async fn update<T, R, F>(&self, key: &S3Uri, decide: F) -> Result<R>
    where
        T: Serialize + DeserializeOwned + Revisioned,
        F: FnMut(Option<T>) -> Result<Decision<T, R>>,
    {
        Ok(self.cas(key, None, decide).await?.0)
    }

    /// `update`, starting from the object as this caller last read or wrote it (`known`, with its ETag): the first
    /// attempt needs no read, and a lost race (412) reads again as `update` does.
    pub async fn update_from<T, R, F>(
        &self,
        key: &S3Uri,
        known: Versioned<T>,
        decide: F,
    ) -> Result<R>
    where
        T: Serialize + DeserializeOwned + Revisioned,
        F: FnMut(Option<T>) -> Result<Decision<T, R>>,
    {
        Ok(self.cas(key, Some(known), decide).await?.0)
    }

    /// Change an object this caller holds (`known`, as last read or written) and go on with it: `change` edits it in
    /// place and says whether it changed, and only a change is written. Returns the object as written, or when
    /// nothing changed as it was seen (the version given, or what a lost race read), for the next `update_known`.
    /// The first attempt needs no read; a lost race reads again and changes again; an object that is gone is an
    /// error. A version in hand that turns out stale costs its next write a 412 and a read, never correctness.
    pub async fn update_known<T, F>(
        &self,
        key: &S3Uri,
        known: Versioned<T>,
        mut change: F,
    ) -> Result<Versioned<T>>
    where
        T: Serialize + DeserializeOwned + Revisioned,
        F: FnMut(&mut T) -> Result<bool>,
    {
        let (kept, after) = self
            .cas(key, Some(known), |current: Option<T>| {
                let mut v = current.ok_or_else(|| vanished(key))?;
                Ok(if change(&mut v)? {
                    Decision::Write(v, None)
                } else {
                    Decision::Keep(Some(v))
                })
            })
            .await?;
        match (kept, after) {
            (_, After::Written(v)) => Ok(v),
            (Some(value), After::Kept(Some(etag))) => Ok(Versioned { value, etag }),
            _ => Err(vanished(key)),
        }
    }

    async fn cas<T, R, F>(
        &self,
        key: &S3Uri,
        mut known: Option<Versioned<T>>,
        mut decide: F,
    ) -> Result<(R, After<T>)>
    where
        T: Serialize + DeserializeOwned + Revisioned,
        F: FnMut(Option<T>) -> Result<Decision<T, R>>,
    {
        for attempt in 0..MAX_ATTEMPTS {
            let current = match known.take() {
                Some(v) => Some(v),
                None => self.read::<T>(key).await?,
            };
            let (etag, value) = match current {
                Some(v) => (Some(v.etag), Some(v.value)),
                None => (None, None),
            };
            let (mut new, out) = match decide(value)? {
                Decision::Keep(out) => return Ok((out, After::Kept(etag))),
                Decision::Write(new, out) => (new, out),
            };
            *new.revision() += 1;
            let body = serde_json::to_vec_pretty(&new).map_err(|e| corrupt(key, e))?;
            let cond = match etag {
                Some(etag) => PutCondition::IfMatch(etag),
                None => PutCondition::IfNoneMatch,
            };
            match self.objects.put(key, body, CONTENT_TYPE, cond).await? {
                PutOutcome::Written { etag } => {
                    return Ok((out, After::Written(Versioned { value: new, etag })))
                }
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

    /// The keys of every state object under a prefix.
    pub async fn list(&self, prefix: &S3Uri) -> Result<Vec<String>> {
        let listing = self.objects.list(prefix, MAX_LISTED).await?;
        if listing.more {
            return Err(Error::State {
                key: prefix.to_string(),
                message: format!("more than {MAX_LISTED} state objects under this prefix"),
            });
        }
        Ok(listing.objects.into_iter().map(|o| o.key).collect())
    }

    pub async fn delete(&self, key: &S3Uri) -> Result<()> {
        self.objects.delete(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryObjects;
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

    async fn incr(store: &Store) -> u32 {
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

    #[tokio::test(start_paused = true)]
    async fn create_then_update_bumps_the_revision() {
        let store = Store::new(Arc::new(MemoryObjects::default()));
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

    #[tokio::test(start_paused = true)]
    async fn a_409_and_a_412_are_retried_and_nothing_is_lost() {
        let objects = Arc::new(MemoryObjects::default());
        let store = Store::new(objects.clone());
        incr(&store).await;
        objects.answer_next_puts([PutOutcome::Conflict, PutOutcome::PreconditionFailed]);
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

    #[tokio::test(start_paused = true)]
    async fn concurrent_updates_all_land() {
        let store = std::sync::Arc::new(Store::new(Arc::new(MemoryObjects::default())));
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

    #[tokio::test(start_paused = true)]
    async fn update_known_skips_the_read_and_rereads_after_a_lost_race() {
        let objects = Arc::new(MemoryObjects::default());
        let store = Store::new(objects.clone());
        let first = Counter { revision: 0, n: 0 };
        let etag = store
            .create_with_etag(&key(), &first)
            .await
            .unwrap()
            .expect("created");
        assert_eq!(store.create_with_etag(&key(), &first).await.unwrap(), None);
        let add = |c: &mut Counter| {
            c.n += 1;
            Ok(true)
        };
        // From what was just written: no GET at all, and the result chains into the next update.
        let known = Versioned { value: first, etag };
        let now = store.update_known(&key(), known, add).await.unwrap();
        assert_eq!(now.value, Counter { revision: 1, n: 1 });
        let next = store.update_known(&key(), now.clone(), add).await.unwrap();
        assert_eq!(next.value.n, 2);
        assert_eq!(objects.calls.get("GetObject"), 0);
        // `now` is stale (another write came after it): the 412 makes it read and change again, nothing is lost.
        let last = store.update_known(&key(), now, add).await.unwrap();
        assert_eq!(last.value, Counter { revision: 3, n: 3 });
        assert_eq!(objects.calls.get("GetObject"), 1);
        assert_eq!(
            store.read_existing::<Counter>(&key()).await.unwrap(),
            last,
            "the returned version is the stored one, ETag included"
        );
        // No change writes nothing and reads nothing: the version in hand comes back as it was.
        let kept = store
            .update_known(&key(), next.clone(), |_: &mut Counter| Ok(false))
            .await
            .unwrap();
        assert_eq!(kept, next);
        // update_from: the same first attempt from a known version, for callers that need only `decide`'s result.
        let r = store
            .update_from(&key(), last, |c: Option<Counter>| {
                let mut c = c.unwrap();
                c.n += 1;
                Ok(Decision::Write(c, "written"))
            })
            .await
            .unwrap();
        assert_eq!(r, "written");
        // One GET after the lost race, one by the check above; none by update_known(false) or update_from.
        assert_eq!(objects.calls.get("GetObject"), 2);
        assert_eq!(
            store
                .read_existing::<Counter>(&key())
                .await
                .unwrap()
                .value
                .n,
            4
        );
    }

    #[tokio::test(start_paused = true)]
    async fn endless_conflicts_become_a_retryable_error() {
        let objects = Arc::new(MemoryObjects::default());
        let store = Store::new(objects.clone());
        objects.answer_next_puts(std::iter::repeat_n(
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
