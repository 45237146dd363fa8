//! The dataset's contents as checked, and the lineage of each file: what is checked is what is trained, and the
//! record says which version that was.
//!
//! SageMaker's `ManifestFile` lists keys only (a prefix, then suffixes: no version id, see AWS's `S3DataSource`
//! reference), so a launch cannot pin the versions it checked. What it can do is look again, just before
//! CreateTrainingJob, and refuse a dataset whose files changed since the checks (`FrozenDataset::changed`).

use serde::{Deserialize, Serialize};

use crate::domain::channels::{ChannelFolder, TRAINING};
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
    /// The input channel the file feeds (`dataset::check_listing` assigns it; records written before channels hold
    /// only training files).
    #[serde(default = "training")]
    pub channel: String,
}

fn training() -> String {
    TRAINING.to_string()
}

impl DatasetFile {
    /// A listed object, before the checks assign its channel.
    pub fn listed(key: String, etag: String, size: u64, version_id: Option<String>) -> Self {
        Self {
            key,
            etag,
            size,
            version_id,
            channel: training(),
        }
    }
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
    /// The subfolder of each channel when the checks ran (empty in records written before channels: every file is
    /// training, read from the folder itself).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channel_folders: Vec<ChannelFolder>,
}

/// One channel of a frozen dataset, as the events and the run record list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSummary {
    pub name: String,
    pub file_count: usize,
    pub total_bytes: u64,
}

impl FrozenDataset {
    /// The channels the dataset feeds, `training` first, then in the route's order (then by name).
    pub fn channel_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for f in &self.files {
            if !names.contains(&f.channel.as_str()) {
                names.push(&f.channel);
            }
        }
        let rank = |n: &str| {
            let pos = self.channel_folders.iter().position(|c| c.channel == n);
            (n != TRAINING, pos.unwrap_or(usize::MAX), n.to_string())
        };
        names.sort_by_key(|n| rank(n));
        names
    }

    /// Each channel's file count and bytes, in `channel_names` order.
    pub fn channel_summaries(&self) -> Vec<ChannelSummary> {
        self.channel_names()
            .into_iter()
            .map(|name| {
                let files = self.files.iter().filter(|f| f.channel == name);
                ChannelSummary {
                    name: name.to_string(),
                    file_count: files.clone().count(),
                    total_bytes: files.map(|f| f.size).sum(),
                }
            })
            .collect()
    }

    /// The training channel's manifest (every file, for a record written before channels).
    pub fn manifest_json(&self) -> String {
        self.channel_manifest_json(TRAINING)
    }

    /// A SageMaker manifest file (`S3DataType: ManifestFile`) of one channel: the common prefix, then each key of
    /// the channel relative to it. The prefix is the channel's subfolder when every file is in it (so the container
    /// sees `validation/x.jsonl` as `x.jsonl` in its validation channel, as with the SDK's prefix per channel), else
    /// the dataset folder.
    pub fn channel_manifest_json(&self, channel: &str) -> String {
        let files: Vec<&DatasetFile> = self.files.iter().filter(|f| f.channel == channel).collect();
        let base = self.channel_base(channel);
        let mut items = vec![serde_json::json!({ "prefix": base.to_string() })];
        items.extend(
            files
                .iter()
                .map(|f| serde_json::Value::String(f.key[base.key().len()..].to_string())),
        );
        serde_json::to_string(&items).expect("strings serialize")
    }

    /// Where a channel's files are: its subfolder when every one of them is in it, else the dataset's folder (the
    /// prefix of its manifest, and the `S3Prefix` that `hubtune plan --dataset` sends in the SDK's form).
    pub fn channel_base(&self, channel: &str) -> S3Uri {
        let base = self.base();
        let mut files = self
            .files
            .iter()
            .filter(|f| f.channel == channel)
            .peekable();
        let folder = self.channel_folders.iter().find(|c| c.channel == channel);
        if let (Some(c), Some(_)) = (folder, files.peek()) {
            let sub = format!("{}{}/", base.key(), c.folder);
            if files.all(|f| f.key.starts_with(&sub)) {
                return base.with_key(sub);
            }
        }
        base
    }

    /// The dataset's folder (an object-mode dataset's own folder).
    fn base(&self) -> S3Uri {
        if self.location.key().ends_with('/') {
            self.location.clone()
        } else {
            self.location.with_key(
                self.location
                    .key()
                    .rsplit_once('/')
                    .map(|(d, _)| format!("{d}/"))
                    .unwrap_or_default(),
            )
        }
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
            channel: "training".into(),
        }
    }

    fn frozen(files: Vec<DatasetFile>) -> FrozenDataset {
        FrozenDataset {
            location: "s3://bkt/d/a/".parse().unwrap(),
            total_bytes: files.iter().map(|f| f.size).sum(),
            files,
            channel_folders: vec![],
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
        // ... and before channels: every file is training, and the manifest is the folder's, as it was.
        assert_eq!(f.files[0].channel, "training");
        assert_eq!(f.channel_names(), ["training"]);
        assert_eq!(
            f.manifest_json(),
            r#"[{"prefix":"s3://bkt/d/a/"},"x.jsonl"]"#
        );
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
            channel_folders: vec![],
        };
        assert_eq!(
            one.manifest_json(),
            r#"[{"prefix":"s3://bkt/raw/"},"one.jsonl"]"#
        );
    }

    fn in_channel(key: &str, channel: &str, size: u64) -> DatasetFile {
        DatasetFile {
            channel: channel.into(),
            ..file(key, "e", size, None)
        }
    }

    #[test]
    fn each_channel_has_its_own_manifest_under_its_subfolder() {
        let mut f = frozen(vec![
            in_channel("d/a/validation/v.jsonl", "validation", 3),
            in_channel("d/a/train/t.jsonl", "training", 5),
            in_channel("d/a/train/template.json", "training", 1),
        ]);
        f.channel_folders = crate::domain::channels::default_channels();
        assert_eq!(f.channel_names(), ["training", "validation"]);
        assert_eq!(
            f.manifest_json(),
            r#"[{"prefix":"s3://bkt/d/a/train/"},"t.jsonl","template.json"]"#
        );
        assert_eq!(
            f.channel_manifest_json("validation"),
            r#"[{"prefix":"s3://bkt/d/a/validation/"},"v.jsonl"]"#
        );
        let s = f.channel_summaries();
        assert_eq!((s[0].file_count, s[0].total_bytes), (2, 6));
        assert_eq!((s[1].name.as_str(), s[1].file_count), ("validation", 1));
        // Root files with the train folder: the training channel reads from the dataset folder.
        f.files.push(in_channel("d/a/root.jsonl", "training", 1));
        assert_eq!(
            f.manifest_json(),
            r#"[{"prefix":"s3://bkt/d/a/"},"train/t.jsonl","train/template.json","root.jsonl"]"#
        );
    }
}
