//! `S3Uri`: a bucket and a key that together always form a valid `s3://` URI.
//!
//! A person may paste a location as the console's https URL of an object or folder; `parse_location` reads the S3
//! endpoints' virtual-hosted and path-style forms to the same bucket and key, so hubtune lists, reads and sends
//! one form only (`s3://`), which every SageMaker field and hubtune's own S3 calls take.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// SageMaker's limit on `S3Uri` fields (`S3DataSource.S3Uri`, `S3OutputPath`).
pub const SAGEMAKER_MAX_S3_URI_LEN: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct S3Uri {
    bucket: String,
    key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not an S3 location: {reason}")]
pub struct S3UriError {
    pub input: String,
    pub reason: &'static str,
}

impl S3Uri {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Result<Self, S3UriError> {
        let bucket = bucket.into();
        let key = key.into();
        validate_bucket(&bucket).map_err(|reason| S3UriError {
            input: format!("s3://{bucket}/{key}"),
            reason,
        })?;
        Ok(Self { bucket, key })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// Another object in the same bucket (which is valid already, so this cannot fail).
    pub fn with_key(&self, key: impl Into<String>) -> S3Uri {
        S3Uri {
            bucket: self.bucket.clone(),
            key: key.into(),
        }
    }

    /// This URI as a "folder": the key ends in `/` (an empty key stays empty: the bucket root).
    pub fn as_prefix(&self) -> S3Uri {
        let mut key = self.key.clone();
        if !key.is_empty() && !key.ends_with('/') {
            key.push('/');
        }
        S3Uri {
            bucket: self.bucket.clone(),
            key,
        }
    }

    /// A child of this prefix. `join("a/b")` on `s3://b/p/` is `s3://b/p/a/b`.
    pub fn join(&self, rest: &str) -> S3Uri {
        let base = self.as_prefix();
        S3Uri {
            bucket: base.bucket,
            key: format!("{}{}", base.key, rest.trim_start_matches('/')),
        }
    }

    /// Whether this URI lies under `prefix` (same bucket, key starts with the prefix's key).
    pub fn is_under(&self, prefix: &S3Uri) -> bool {
        self.bucket == prefix.bucket && self.key.starts_with(prefix.as_prefix().key())
    }

    /// Length of the `s3://…` form, as SageMaker counts it: in UTF-16 code units (its model's `max`), not bytes.
    /// S3's own limit on the key is in UTF-8 bytes (`validate::MAX_S3_KEY_BYTES`).
    pub fn len(&self) -> usize {
        5 + self.bucket.len() + 1 + self.key.encode_utf16().count()
    }

    /// Whether this names no folder at all: an empty key, or only `/` (S3 would write `s3://bucket//x`, which
    /// every tool shows as the bucket's root).
    pub fn is_bucket_root(&self) -> bool {
        self.key.chars().all(|c| c == '/')
    }

    /// An `s3://bucket/key` URI, or an https URL of an S3 endpoint, virtual-hosted
    /// (`https://bucket.s3.us-east-1.amazonaws.com/key`) or path-style (`https://s3.us-east-1.amazonaws.com/bucket/key`),
    /// read as the bucket and the (percent-decoded) key it addresses. Any other https URL (an access point, a website
    /// endpoint, another host) names no bucket hubtune can list, and is refused.
    pub fn parse_location(s: &str) -> Result<Self, S3UriError> {
        match s.strip_prefix("https://") {
            Some(rest) => https_location(rest).map_err(|reason| S3UriError {
                input: s.to_string(),
                reason,
            }),
            None => s.parse(),
        }
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

fn validate_bucket(bucket: &str) -> Result<(), &'static str> {
    if bucket.len() < 3 || bucket.len() > 63 {
        return Err("a bucket name has 3 to 63 characters");
    }
    if !bucket
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    {
        return Err("a bucket name has only lower-case letters, digits, `-` and `.`");
    }
    Ok(())
}

const HTTPS_FORMS: &str = "an https:// location is an S3 endpoint's URL: https://<bucket>.s3.<region>.amazonaws.com/<key> or https://s3.<region>.amazonaws.com/<bucket>/<key>";

/// The bucket and key of an S3 endpoint's https URL (`rest` is what follows `https://`).
fn https_location(rest: &str) -> Result<S3Uri, &'static str> {
    if rest.contains(['?', '#']) {
        return Err("an S3 location has no query or fragment (`?`, `#`)");
    }
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
        .ok_or(HTTPS_FORMS)?
        .split('.')
        .collect();
    let at = s3_endpoint_label(&labels).ok_or(HTTPS_FORMS)?;
    let path = percent_decode(path)?;
    let (bucket, key) = if at == 0 {
        let (bucket, key) = path.split_once('/').unwrap_or((&path, ""));
        (bucket.to_string(), key.to_string())
    } else {
        (labels[..at].join("."), path)
    };
    S3Uri::new(bucket, key).map_err(|e| e.reason)
}

/// Where the S3 endpoint's label (`s3`, `s3-fips`, `s3-external-1`, `s3-<region>`) is among the host's labels,
/// followed only by `dualstack` and a region: the labels before it are the bucket (virtual-hosted), none is
/// path-style. Access points, website and control endpoints have other labels and are not found.
fn s3_endpoint_label(labels: &[&str]) -> Option<usize> {
    let is_region = |l: &str| {
        let parts: Vec<&str> = l.split('-').collect();
        parts.len() >= 3
            && parts[0].len() == 2
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
    };
    let is_endpoint = |l: &str| {
        matches!(l, "s3" | "s3-fips" | "s3-external-1")
            || l.strip_prefix("s3-").is_some_and(is_region)
    };
    let at = labels.iter().rposition(|l| is_endpoint(l))?;
    let mut tail = labels[at + 1..].iter().copied().peekable();
    tail.next_if_eq(&"dualstack");
    tail.next_if(|l| is_region(l));
    tail.next().is_none().then_some(at)
}

/// An URL path's `%XX` escapes decoded (S3's REST paths escape the key's bytes); `+` stays a plus, as S3 reads it.
fn percent_decode(s: &str) -> Result<String, &'static str> {
    const BAD: &str = "a `%` in an https URL starts a two-digit hex escape of UTF-8";
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = [bytes.next().ok_or(BAD)?, bytes.next().ok_or(BAD)?];
        let hex = std::str::from_utf8(&hex).map_err(|_| BAD)?;
        out.push(u8::from_str_radix(hex, 16).map_err(|_| BAD)?);
    }
    String::from_utf8(out).map_err(|_| BAD)
}

impl FromStr for S3Uri {
    type Err = S3UriError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = s.strip_prefix("s3://").ok_or_else(|| S3UriError {
            input: s.to_string(),
            reason: "it must start with s3://",
        })?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        S3Uri::new(bucket, key).map_err(|e| S3UriError {
            input: s.to_string(),
            reason: e.reason,
        })
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

impl Serialize for S3Uri {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for S3Uri {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let u: S3Uri = "s3://my-bucket/datasets/a b/".parse().unwrap();
        assert_eq!(u.bucket(), "my-bucket");
        assert_eq!(u.key(), "datasets/a b/");
        assert_eq!(u.to_string(), "s3://my-bucket/datasets/a b/");
        let root: S3Uri = "s3://my-bucket".parse().unwrap();
        assert_eq!(root.key(), "");
        assert_eq!(root.to_string(), "s3://my-bucket/");
    }

    #[test]
    fn rejects_bad_input() {
        assert!("https://x/y".parse::<S3Uri>().is_err());
        assert!("s3://UPPER/key".parse::<S3Uri>().is_err());
        assert!("s3://ab/key".parse::<S3Uri>().is_err());
    }

    /// The console's https URLs name the same bucket and key as their s3:// form; other hosts name no bucket.
    #[test]
    fn https_locations_of_s3_endpoints_are_read_as_bucket_and_key() {
        let same = [
            "https://my-bucket.s3.us-east-1.amazonaws.com/datasets/a%20b/",
            "https://my-bucket.s3.amazonaws.com/datasets/a%20b/",
            "https://my-bucket.s3-us-west-2.amazonaws.com/datasets/a%20b/",
            "https://my-bucket.s3.dualstack.eu-west-1.amazonaws.com/datasets/a%20b/",
            "https://s3.us-east-1.amazonaws.com/my-bucket/datasets/a%20b/",
            "https://S3.amazonaws.com/my-bucket/datasets/a%20b/",
            "https://s3.cn-north-1.amazonaws.com.cn/my-bucket/datasets/a%20b/",
            "s3://my-bucket/datasets/a b/",
        ];
        for s in same {
            let u = S3Uri::parse_location(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            assert_eq!(u.to_string(), "s3://my-bucket/datasets/a b/", "{s}");
        }
        let dotted =
            S3Uri::parse_location("https://my.bucket.s3.eu-west-1.amazonaws.com/k+1").unwrap();
        assert_eq!((dotted.bucket(), dotted.key()), ("my.bucket", "k+1"));
        let root = S3Uri::parse_location("https://s3.amazonaws.com/my-bucket").unwrap();
        assert!(root.is_bucket_root());
        for bad in [
            "https://example.com/my-bucket/x",
            "https://ap-1234.s3-accesspoint.us-east-1.amazonaws.com/x",
            "https://my-bucket.s3-website-us-east-1.amazonaws.com/x",
            "https://my-bucket.s3.us-east-1.amazonaws.com/x?versionId=1",
            "https://my-bucket.s3.amazonaws.com/x%2",
            "https://my-bucket.s3.amazonaws.com/x%ff",
            "https://s3.amazonaws.com/UPPER/x",
            "http://my-bucket.s3.amazonaws.com/x",
        ] {
            assert!(S3Uri::parse_location(bad).is_err(), "{bad}");
        }
    }

    /// SageMaker counts a URI in UTF-16 code units: 600 two-byte characters are 600, not 1,200.
    #[test]
    fn length_is_counted_as_sagemaker_counts_it() {
        let u = S3Uri::new("my-bucket", "é".repeat(600)).unwrap();
        assert_eq!(u.len(), "s3://my-bucket/".len() + 600);
        let u = S3Uri::new("my-bucket", "😀".repeat(10)).unwrap();
        assert_eq!(u.len(), "s3://my-bucket/".len() + 20);
        assert!(S3Uri::new("my-bucket", "//").unwrap().is_bucket_root());
        assert!(!S3Uri::new("my-bucket", "a/").unwrap().is_bucket_root());
    }

    #[test]
    fn prefixes() {
        let p: S3Uri = "s3://bkt/out".parse().unwrap();
        assert_eq!(p.as_prefix().to_string(), "s3://bkt/out/");
        assert_eq!(p.join("/x/y.json").to_string(), "s3://bkt/out/x/y.json");
        let child: S3Uri = "s3://bkt/out/x".parse().unwrap();
        assert!(child.is_under(&p));
        let sibling: S3Uri = "s3://bkt/outer/x".parse().unwrap();
        assert!(!sibling.is_under(&p));
    }
}
