//! Deterministic, always-valid names: training job names, route slugs and tag values.
//!
//! A job name is `<job prefix>-<route slug>-<hash>`: the prefix lets the EventBridge rule and the IAM policies name
//! `training-job/<prefix>-*` and nothing else; the slug makes names readable in the console; the hash (64 bits of
//! SHA-256 over the deployment's salt and the dataset identity) makes a repeated event yield the same name, so
//! SageMaker's `ResourceInUse` is our idempotency check, and a new upload of the same folder a new one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// SageMaker's limit on a training job name.
pub const MAX_JOB_NAME_LEN: usize = 63;
/// Hex digits of the identity hash in a job name: 16 = 64 bits.
pub const HASH_HEX_LEN: usize = 16;
/// The longest job prefix we accept, so a readable slug always fits beside it.
pub const MAX_JOB_PREFIX_LEN: usize = 24;
/// AWS tag value limit.
pub const MAX_TAG_VALUE_LEN: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("job prefix `{0}` must be 1 to {MAX_JOB_PREFIX_LEN} characters of letters, digits and single hyphens, starting and ending with a letter or digit")]
    BadPrefix(String),
    #[error("`{0}` is not a valid SageMaker training job name (1 to 63 characters, `^[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,62}}`)")]
    BadJobName(String),
}

/// The deployment's fixed job-name prefix (default `hubtune`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobPrefix(String);

impl JobPrefix {
    pub fn new(s: &str) -> Result<Self, NameError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_JOB_PREFIX_LEN
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric();
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(NameError::BadPrefix(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a job name belongs to this deployment (cheap filter for foreign events).
    pub fn owns(&self, job_name: &str) -> bool {
        job_name
            .strip_prefix(self.0.as_str())
            .is_some_and(|rest| rest.starts_with('-'))
    }
}

impl Default for JobPrefix {
    fn default() -> Self {
        Self("hubtune".to_string())
    }
}

impl fmt::Display for JobPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A SageMaker training job name that is valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobName(String);

impl JobName {
    /// Parse a name that came from outside (an event, the CLI).
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if is_valid_job_name(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(NameError::BadJobName(s.to_string()))
        }
    }

    /// The deterministic name for one dataset identity on one route.
    pub fn for_dataset(prefix: &JobPrefix, route: &str, salt: &str, identity: &str) -> Self {
        Self::with_hash(
            prefix,
            route,
            &identity_hash(salt, identity)[..HASH_HEX_LEN],
        )
    }

    /// A name of the length and shape every job of `route` has (the hash all zeros): what the routes-file check
    /// measures the state keys and the request with, without hashing an identity.
    pub fn shape_of_route(prefix: &JobPrefix, route: &str) -> Self {
        Self::with_hash(prefix, route, &"0".repeat(HASH_HEX_LEN))
    }

    /// prefix + '-' + slug + '-' + hash (`HASH_HEX_LEN` hex digits).
    fn with_hash(prefix: &JobPrefix, route: &str, hash: &str) -> Self {
        let budget = MAX_JOB_NAME_LEN - prefix.as_str().len() - 2 - HASH_HEX_LEN;
        let slug = slug(route, budget);
        let name = format!("{prefix}-{slug}-{hash}");
        debug_assert!(is_valid_job_name(&name), "{name}");
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for JobName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JobName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        JobName::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`, written out: alphanumerics and hyphens, 1 to 63 characters, starting and
/// ending with an alphanumeric.
pub fn is_valid_job_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_JOB_NAME_LEN
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Full hex SHA-256 of the salt and the identity (the salt keeps two deployments in one account apart).
pub fn identity_hash(salt: &str, identity: &str) -> String {
    let mut h = Sha256::new();
    h.update(salt.as_bytes());
    h.update([0u8]);
    h.update(identity.as_bytes());
    hex::encode(h.finalize())
}

/// Lower-case ASCII alphanumerics with single hyphens, at most `max` characters, never empty.
pub fn slug(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut pending_hyphen = false;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
        if out.len() >= max {
            break;
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('r');
    }
    out
}

/// A value SageMaker's tag rules accept: letters, digits, spaces and `_.:/=+-@`, at most 256 characters.
/// The identity hash goes first so truncation can never lose what makes the value unique.
pub fn dataset_tag_value(dataset_uri: &str, hash: &str) -> String {
    let mut out = String::with_capacity(MAX_TAG_VALUE_LEN);
    out.push_str(&hash[..HASH_HEX_LEN.min(hash.len())]);
    out.push(' ');
    for c in dataset_uri.chars() {
        if out.len() >= MAX_TAG_VALUE_LEN {
            break;
        }
        out.push(if is_tag_char(c) { c } else { '_' });
    }
    out
}

/// Sanitise any string into a tag value (route names, model ids).
pub fn tag_value(s: &str) -> String {
    s.chars()
        .map(|c| if is_tag_char(c) { c } else { '_' })
        .take(MAX_TAG_VALUE_LEN)
        .collect()
}

pub fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " _.:/=+-@".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn job_name_shape() {
        let p = JobPrefix::default();
        let n = JobName::for_dataset(&p, "support-bot", "hubtune", "s3://b/k\0v1\0a0");
        assert!(n.as_str().starts_with("hubtune-support-bot-"));
        assert_eq!(n.as_str().len(), "hubtune-support-bot-".len() + 16);
        assert!(p.owns(n.as_str()));
        assert!(!p.owns("hubtunex-a"));
        assert!(!JobPrefix::new("prod").unwrap().owns(n.as_str()));
    }

    #[test]
    fn a_routes_shape_is_as_long_as_each_of_its_jobs_names() {
        for (p, route) in [
            (JobPrefix::default(), "support-bot"),
            (
                JobPrefix::new("a-very-long-prefix-24chr").unwrap(),
                &*"long route ".repeat(9),
            ),
        ] {
            let shape = JobName::shape_of_route(&p, route);
            let real = JobName::for_dataset(&p, route, "dep", "s3://b/k\0v1\0a0");
            assert_eq!(shape.as_str().len(), real.as_str().len());
            assert_eq!(
                shape.as_str()[..shape.as_str().len() - HASH_HEX_LEN],
                real.as_str()[..real.as_str().len() - HASH_HEX_LEN]
            );
            assert!(is_valid_job_name(shape.as_str()));
        }
    }

    #[test]
    fn salt_and_identity_change_the_name() {
        let p = JobPrefix::default();
        let a = JobName::for_dataset(&p, "r", "dep-a", "id");
        assert_ne!(a, JobName::for_dataset(&p, "r", "dep-b", "id"));
        assert_ne!(a, JobName::for_dataset(&p, "r", "dep-a", "id2"));
        assert_eq!(a, JobName::for_dataset(&p, "r", "dep-a", "id"));
    }

    #[test]
    fn long_and_odd_routes_fit() {
        let p = JobPrefix::new("a-very-long-prefix-24chr").unwrap();
        let n = JobName::for_dataset(&p, &"Ünïcode route #1 ".repeat(40), "s", "x");
        assert!(is_valid_job_name(n.as_str()), "{n}");
        let n = JobName::for_dataset(&p, "###", "s", "x");
        assert!(n.as_str().contains("-r-"), "{n}");
    }

    #[test]
    fn prefixes_are_checked() {
        assert!(JobPrefix::new("").is_err());
        assert!(JobPrefix::new("-a").is_err());
        assert!(JobPrefix::new("a_b").is_err());
        assert!(JobPrefix::new(&"a".repeat(25)).is_err());
        assert!(JobPrefix::new("team-ml").is_ok());
    }

    #[test]
    fn tag_values_are_sanitised() {
        let hash = identity_hash("s", "x");
        let v = dataset_tag_value("s3://b/datasets/support-bot/2026-11-27 release#1/", &hash);
        assert!(v.chars().all(is_tag_char), "{v}");
        assert!(v.starts_with(&hash[..16]));
        assert!(v.contains("2026-11-27 release_1"));
        let long = dataset_tag_value(&"é".repeat(1000), &hash);
        assert!(long.len() <= MAX_TAG_VALUE_LEN);
    }

    proptest! {
        #[test]
        fn any_key_gives_a_valid_stable_name(route in ".{0,80}", key in ".{0,1000}", prefix in "[a-z0-9]([a-z0-9-]{0,22}[a-z0-9])?") {
            let p = JobPrefix::new(&prefix).unwrap();
            let a = JobName::for_dataset(&p, &route, "salt", &key);
            prop_assert!(is_valid_job_name(a.as_str()), "{}", a);
            prop_assert!(p.owns(a.as_str()));
            prop_assert_eq!(a, JobName::for_dataset(&p, &route, "salt", &key));
        }

        #[test]
        fn any_uri_gives_a_valid_tag(uri in ".{0,1200}") {
            let v = dataset_tag_value(&uri, &identity_hash("s", &uri));
            prop_assert!(v.len() <= MAX_TAG_VALUE_LEN);
            prop_assert!(v.chars().all(is_tag_char));
        }
    }
}
