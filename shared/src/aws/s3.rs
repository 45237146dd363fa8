//! S3 through the SDK: objects, ranged reads, listings and conditional writes, as the `ObjectStore` port.

use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::errors::{http_status, is_s3_not_found, put_failure_outcome, sdk_error};
use super::Aws;
use crate::domain::dataset::DatasetFile;
use crate::domain::error::{Error, ErrorClass, Result};
use crate::domain::s3uri::S3Uri;
use crate::ports::{
    Listing, ObjectHead, ObjectStart, ObjectStore, PutCondition, PutOutcome, StoredObject,
};

const S3: &str = "s3";

impl Aws {
    /// `Ok(None)` when the object does not exist.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>> {
        const OP: &str = "GetObject";
        let out = match self.s3.get_object().bucket(bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if is_s3_not_found(&e) => return Ok(None),
            Err(e) => return Err(sdk_error(S3, OP, &e)),
        };
        let etag = strip_etag(out.e_tag().unwrap_or_default());
        let body = read_body(OP, out.body).await?;
        Ok(Some(StoredObject { body, etag }))
    }

    /// The first `max_bytes` of an object (a ranged GET) and whether the object is longer.
    pub async fn get_object_start(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: usize,
    ) -> Result<ObjectStart> {
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
                return Ok(ObjectStart {
                    bytes: Vec::new(),
                    truncated: false,
                    etag: None,
                    version_id: None,
                })
            }
            Err(e) => return Err(sdk_error(S3, OP, &e)),
        };
        // A ranged GET answers the whole object's ETag and version: which object these bytes are from.
        let etag = out.e_tag().map(strip_etag);
        let version_id = out.version_id().map(str::to_string);
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
        Ok(ObjectStart {
            bytes: body,
            truncated,
            etag,
            version_id,
        })
    }

    /// `Ok(None)` when the object does not exist.
    pub async fn head_object(&self, bucket: &str, key: &str) -> Result<Option<ObjectHead>> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(out) => Ok(Some(ObjectHead {
                size: out.content_length().unwrap_or_default().max(0) as u64,
                etag: strip_etag(out.e_tag().unwrap_or_default()),
                version_id: out.version_id().map(str::to_string),
            })),
            Err(e) if is_s3_not_found(&e) => Ok(None),
            Err(e) => Err(sdk_error(S3, "HeadObject", &e)),
        }
    }

    /// The objects under a prefix (paginated), in key order, at most `max` of them; `more` when the listing went on.
    pub async fn list_objects(&self, bucket: &str, prefix: &str, max: usize) -> Result<Listing> {
        const OP: &str = "ListObjectsV2";
        let mut pages = self
            .s3
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut listing = Listing::default();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error(S3, OP, &e))?;
            for object in page.contents() {
                let Some(key) = object.key() else { continue };
                if listing.objects.len() == max {
                    // Stop here rather than page through an unbounded listing.
                    listing.more = true;
                    return Ok(listing);
                }
                listing.objects.push(DatasetFile {
                    key: key.to_string(),
                    etag: strip_etag(object.e_tag().unwrap_or_default()),
                    size: object.size().unwrap_or_default().max(0) as u64,
                    // ListObjectsV2 names no version (ListObjectVersions would, at the price of every old one).
                    version_id: None,
                    channel: "training".into(),
                });
            }
        }
        // S3 lists in UTF-8 binary order already; sorting keeps the promise for stores that do not.
        listing.objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(listing)
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
}

#[async_trait]
impl ObjectStore for Aws {
    async fn get(&self, uri: &S3Uri) -> Result<Option<StoredObject>> {
        self.get_object(uri.bucket(), uri.key()).await
    }
    async fn get_start(&self, uri: &S3Uri, max_bytes: usize) -> Result<ObjectStart> {
        self.get_object_start(uri.bucket(), uri.key(), max_bytes)
            .await
    }
    async fn head(&self, uri: &S3Uri) -> Result<Option<ObjectHead>> {
        self.head_object(uri.bucket(), uri.key()).await
    }
    async fn list(&self, prefix: &S3Uri, max: usize) -> Result<Listing> {
        self.list_objects(prefix.bucket(), prefix.key(), max).await
    }
    async fn put(
        &self,
        uri: &S3Uri,
        body: Vec<u8>,
        content_type: &str,
        condition: PutCondition,
    ) -> Result<PutOutcome> {
        self.put_object(uri.bucket(), uri.key(), body, content_type, condition)
            .await
    }
    async fn delete(&self, uri: &S3Uri) -> Result<()> {
        self.delete_object(uri.bucket(), uri.key()).await
    }
}

async fn read_body(operation: &'static str, body: ByteStream) -> Result<Vec<u8>> {
    body.collect()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| Error::Aws {
            service: S3,
            operation,
            code: None,
            message: format!("reading the body: {}", DisplayErrorContext(&e)),
            class: ErrorClass::Retry,
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
#[cfg(test)]
mod tests {
    use super::*;

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
}
