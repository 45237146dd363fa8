//! The dataset's contents as checked, and the lineage of each file: what is checked is what is trained, and the
//! record says which version that was.
//!
//! SageMaker's `ManifestFile` lists keys only (a prefix, then suffixes: no version id, see AWS's `S3DataSource`
//! reference), so a launch cannot pin the versions it checked. What it can do is look again, just before
//! CreateTrainingJob, and refuse a dataset whose files changed since the checks (`FrozenDataset::changed`).

use serde::{Deserialize, Serialize};

use crate::domain::rejection::{Rejection, RejectionReason};
use crate::domain::s3uri::S3Uri;

/// One object of a dataset, as it was when checked. What is checked is what is trained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetFile {
    pub key: String,
    pub etag: String,
    pub size: u64,
    /// The S3 version read by the checks (the object's HEAD, or the ranged GET of a `.jsonl` file's head);
    /// `None` on an unversioned bucket, and for files the checks only listed (ListObjectsV2 names no version).
    /// Records written before lineage was kept have none either.
    #[serde(default)]
    pub version_id: Option<String>,
}

/// A version id worth recording: S3's `null` (an unversioned or suspended bucket's only version) names whatever
/// was written last, so it identifies nothing.
pub fn version_id(raw: Option<&str>) -> Option<String> {
    raw.filter(|v| !v.is_empty() && *v != "null")
        .map(str::to_string)
}

/// The dataset's contents, frozen at check time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrozenDataset {
    pub location: S3Uri,
    pub files: Vec<DatasetFile>,
    pub total_bytes: u64,
}

impl FrozenDataset {
    /// A SageMaker manifest file (`S3DataType: ManifestFile`): the common prefix, then each key relative to it.
    pub fn manifest_json(&self) -> String {
        let base = if self.location.key().ends_with('/') {
            self.location.clone()
        } else {
            self.location.with_key(
                self.location
                    .key()
                    .rsplit_once('/')
                    .map(|(d, _)| format!("{d}/"))
                    .unwrap_or_default(),
            )
        };
        let mut items = vec![serde_json::json!({ "prefix": base.to_string() })];
        items.extend(
            self.files
                .iter()
                .map(|f| serde_json::Value::String(f.key[base.key().len()..].to_string())),
        );
        serde_json::to_string(&items).expect("strings serialize")
    }

    /// The frozen files that are not, in `current` (what S3 holds now), the object that was checked: removed,
    /// another ETag or size, or another version where both versions are known. One `changed_after_checks` problem
    /// per file. Files added since are not listed in the manifest, so they are not trained and not a problem.
    pub fn changed(&self, current: &[DatasetFile]) -> Vec<Rejection> {
        self.files
            .iter()
            .filter_map(|f| {
                let now = current.iter().find(|c| c.key == f.key);
                let why = match now {
                    None => "was removed".to_string(),
                    Some(c) if c.etag != f.etag || c.size != f.size => format!(
                        "was overwritten (ETag {} and {} bytes when checked, ETag {} and {} bytes now)",
                        f.etag, f.size, c.etag, c.size
                    ),
                    Some(c) => match (&f.version_id, &c.version_id) {
                        (Some(was), Some(is)) if was != is => {
                            format!("was overwritten (version {was} when checked, {is} now)")
                        }
                        _ => return None,
                    },
                };
                Some(changed_after_checks(&f.key, &why))
            })
            .collect()
    }
}

/// A file that is not what the checks read: it would be trained unchecked.
pub fn changed_after_checks(key: &str, why: &str) -> Rejection {
    Rejection::new(
        RejectionReason::ChangedAfterChecks,
        format!(
            "the file {why} after the dataset was checked, before its training job started: hubtune trains only \
             what it checked. Upload the marker again to check and train the new contents"
        ),
    )
    .at(key.to_string(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, etag: &str, size: u64, version: Option<&str>) -> DatasetFile {
        DatasetFile {
            key: key.into(),
            etag: etag.into(),
            size,
            version_id: version.map(str::to_string),
        }
    }

    fn frozen(files: Vec<DatasetFile>) -> FrozenDataset {
        FrozenDataset {
            location: "s3://bkt/d/a/".parse().unwrap(),
            total_bytes: files.iter().map(|f| f.size).sum(),
            files,
        }
    }

    #[test]
    fn an_unchanged_dataset_and_files_added_since_are_not_problems() {
        let f = frozen(vec![
            file("d/a/x.jsonl", "e1", 10, Some("v1")),
            file("d/a/y.csv", "e2", 5, None),
        ]);
        let mut now = f.files.clone();
        now.push(file("d/a/late.jsonl", "e9", 3, None));
        // The listing names no version: a known version is compared only with a known version.
        now[1].version_id = None;
        now[0].version_id = None;
        assert!(f.changed(&now).is_empty());
    }

    #[test]
    fn an_overwritten_a_resized_a_removed_and_a_re_versioned_file_are_each_named() {
        let f = frozen(vec![
            file("d/a/etag.jsonl", "e1", 10, None),
            file("d/a/size.jsonl", "e2", 10, None),
            file("d/a/gone.jsonl", "e3", 10, None),
            file("d/a/version.jsonl", "e4", 10, Some("v1")),
        ]);
        let now = [
            file("d/a/etag.jsonl", "e9", 10, None),
            file("d/a/size.jsonl", "e2", 11, None),
            file("d/a/version.jsonl", "e4", 10, Some("v2")),
        ];
        let problems = f.changed(&now);
        let named: Vec<_> = problems
            .iter()
            .map(|p| (p.reason.as_str(), p.file.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(
            named,
            [
                ("changed_after_checks", "d/a/etag.jsonl"),
                ("changed_after_checks", "d/a/size.jsonl"),
                ("changed_after_checks", "d/a/gone.jsonl"),
                ("changed_after_checks", "d/a/version.jsonl"),
            ]
        );
        assert!(
            problems[2].message.contains("was removed"),
            "{}",
            problems[2]
        );
    }

    /// A run record or queue entry written before lineage was kept still reads, without versions.
    #[test]
    fn frozen_contents_written_before_versions_were_kept_still_read() {
        let old = r#"{"location":"s3://bkt/d/a/","files":[{"key":"d/a/x.jsonl","etag":"e1","size":10}],"total_bytes":10}"#;
        let f: FrozenDataset = serde_json::from_str(old).unwrap();
        assert_eq!(f.files[0].version_id, None);
        assert_eq!(f.files[0].etag, "e1");
    }

    #[test]
    fn the_null_version_is_no_version() {
        assert_eq!(version_id(Some("null")), None);
        assert_eq!(version_id(Some("")), None);
        assert_eq!(version_id(None), None);
        assert_eq!(
            version_id(Some("3HL4kqtJlcpXroDTDmJ")).as_deref(),
            Some("3HL4kqtJlcpXroDTDmJ")
        );
    }

    #[test]
    fn the_manifest_lists_keys_under_the_common_prefix() {
        let one = FrozenDataset {
            location: "s3://bkt/raw/one.jsonl".parse().unwrap(),
            files: vec![file("raw/one.jsonl", "e", 1, Some("v"))],
            total_bytes: 1,
        };
        assert_eq!(
            one.manifest_json(),
            r#"[{"prefix":"s3://bkt/raw/"},"one.jsonl"]"#
        );
    }
}
