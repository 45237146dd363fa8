//! `S3Uri`: a bucket and a key that together always form a valid `s3://` URI.

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
#[error("`{input}` is not an s3:// URI: {reason}")]
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

    /// Length of the `s3://…` form, as SageMaker counts it.
    pub fn len(&self) -> usize {
        5 + self.bucket.len() + 1 + self.key.len()
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
