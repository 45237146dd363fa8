//! What a dataset is, what identifies it, and the checks it must pass before any money is spent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::config::{channel_of, Config, DatasetRules, Route, Trigger, TRAINING};
use crate::domain::inbound::ObjectLanded;
use crate::domain::naming::{identity_hash, JobName};
use crate::domain::rejection::{Rejection, RejectionReason};
use crate::domain::s3uri::{S3Uri, SAGEMAKER_MAX_S3_URI_LEN};

#[cfg(test)]
mod channel_tests;
mod frozen;
pub use frozen::{changed_after_checks, version_id, DatasetFile, FrozenDataset};

/// How much of each `.jsonl` file is checked: enough to catch a wrong format, cheap enough for every dataset.
pub const JSONL_CHECK_BYTES: usize = 64 * 1024;

/// What makes one dataset delivery unique. The marker's ETag will not do: every empty marker has the same one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DatasetIdentity {
    pub bucket: String,
    /// The object that triggered: the marker, or the object itself in `object` mode.
    pub key: String,
    /// `v:<version-id>` on a versioned bucket, else `s:<sequencer>`: every delivery of one PUT shares it.
    pub version: String,
    /// 0 for the landing itself; a deliberate rerun counts up.
    pub attempt: u32,
}

impl DatasetIdentity {
    pub fn from_landing(o: &ObjectLanded) -> Result<Self, Rejection> {
        // A bucket whose versioning is suspended reports every upload's version as `null`: that tells uploads
        // apart no better than no version at all, so the sequencer does.
        let version_id = o.version_id.as_deref().filter(|v| *v != "null");
        let version = match (version_id, &o.sequencer) {
            (Some(v), _) => format!("v:{v}"),
            (None, Some(s)) => format!("s:{s}"),
            (None, None) => {
                return Err(Rejection::new(RejectionReason::NoIdentity,
                    "the S3 event carries neither a version-id nor a sequencer, so this upload cannot be told apart from another",
                )
                .at(o.key.clone(), None))
            }
        };
        Ok(Self {
            bucket: o.bucket.clone(),
            key: o.key.clone(),
            version,
            attempt: 0,
        })
    }

    /// The canonical text that is hashed: NUL-separated, so no key can imitate another identity.
    pub fn canonical(&self) -> String {
        format!(
            "{}\0{}\0{}\0{}",
            self.bucket, self.key, self.version, self.attempt
        )
    }

    pub fn hash(&self, salt: &str) -> String {
        identity_hash(salt, &self.canonical())
    }

    pub fn job_name(&self, config: &Config, route: &str) -> JobName {
        let d = &config.deployment;
        JobName::for_dataset(&d.job_prefix, route, &d.name, &self.canonical())
    }

    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// A dataset that has landed on a route: what launch-finetune works on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetLanded {
    pub route: String,
    pub identity: DatasetIdentity,
    /// The folder that is the dataset (marker mode), or the object itself (object mode).
    pub location: S3Uri,
    /// Orders a route's datasets: the trigger's event time, ties broken by the S3 sequencer, then the key.
    pub time: DateTime<Utc>,
    /// The trigger's S3 sequencer: it grows with every write of one key, so it orders two uploads of one marker
    /// within the same second (an EventBridge time has only seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
}

impl DatasetLanded {
    /// Sortable text of the dataset time (`latest.json` comparisons): the time, then the sequencer (right-padded
    /// with zeros to a common length, as S3 says to compare them), then the key.
    pub fn sort_key(&self) -> String {
        format!(
            "{}-{:0<32}-{}",
            self.time.format("%Y%m%dT%H%M%S%.3fZ"),
            self.sequencer.as_deref().unwrap_or_default(),
            self.identity.key
        )
    }

    pub fn is_folder(&self) -> bool {
        self.location.key().ends_with('/')
    }
}

/// What an object landing means.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Located {
    Dataset(DatasetLanded),
    /// Not a trigger: the reason says why (a data file waiting for its marker, hubtune's own object, …).
    Ignored {
        reason: String,
    },
    /// No route claims the object: reported, since the rule let it through.
    NoRoute {
        object: String,
    },
}

/// Which dataset (if any) an object that landed announces. `now` stands in for an envelope without a time.
pub fn locate(config: &Config, o: &ObjectLanded, now: DateTime<Utc>) -> Result<Located, Rejection> {
    let object = S3Uri::new(o.bucket.clone(), o.key.clone())
        .map_err(|e| Rejection::new(RejectionReason::BadObject, e.to_string()))?;
    if config.is_own_object(&object) {
        return Ok(Located::Ignored {
            reason: "hubtune's own state, output or routes file".into(),
        });
    }
    let Some(route) = config.route_for(&object) else {
        return Ok(Located::NoRoute {
            object: object.to_string(),
        });
    };
    let location = match &route.trigger {
        Trigger::Object => {
            if o.key.ends_with('/') {
                return Ok(Located::Ignored {
                    reason: "a folder placeholder".into(),
                });
            }
            object.clone()
        }
        Trigger::Marker { marker } => {
            let (folder, name) = o.key.rsplit_once('/').unwrap_or(("", o.key.as_str()));
            if name != marker {
                return Ok(Located::Ignored {
                    reason: format!("a data file: the dataset launches when `{marker}` lands"),
                });
            }
            let folder = object.with_key(if folder.is_empty() {
                String::new()
            } else {
                format!("{folder}/")
            });
            // A marker with no dataset folder of its own: whoever put it meant a dataset, so it is reported.
            if folder.key().is_empty() || folder == route.prefix {
                return Err(Rejection::new(
                    RejectionReason::MarkerOutsideFolder,
                    format!(
                        "a marker directly in the route prefix {}: put each dataset in a folder under it, then its marker in that folder",
                        route.prefix
                    ),
                )
                .at(object.to_string(), None));
            }
            folder
        }
    };
    Ok(Located::Dataset(DatasetLanded {
        route: route.name.clone(),
        identity: DatasetIdentity::from_landing(o)?,
        location,
        time: o.event_time.unwrap_or(now),
        sequencer: o.sequencer.clone(),
    }))
}

/// Files that are not data: the marker, folder placeholders, and the `_`/`.`-prefixed files that Spark, Hadoop and
/// desktop tools leave behind.
pub fn is_data_file(key: &str, route: &Route) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key);
    if key.ends_with('/') || name.is_empty() {
        return false;
    }
    if let Trigger::Marker { marker } = &route.trigger {
        if name == marker {
            return false;
        }
    }
    !(name.starts_with('_') || name.starts_with('.'))
}

fn extension(key: &str) -> Option<String> {
    let name = key.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    Some(ext.to_ascii_lowercase())
}

/// The listing checks: at least one data file, sizes and file types within the route's rules, and URIs that
/// SageMaker accepts. Returns every problem, so `hubtune validate` can list them all.
pub fn check_listing(
    route: &Route,
    location: &S3Uri,
    listing: &[DatasetFile],
) -> Result<FrozenDataset, Vec<Rejection>> {
    let rules: &DatasetRules = &route.dataset;
    let mut problems = Vec::new();
    let files = assign_channels(route, location, listing);
    if files.is_empty() {
        problems.push(
            Rejection::new(RejectionReason::EmptyDataset,
                "the dataset has no data file besides the marker: upload the files first, then the marker",
            )
            .at(location.to_string(), None),
        );
    }
    if !files.is_empty() && !files.iter().any(|f| f.channel == TRAINING) {
        problems.push(
            Rejection::new(
                RejectionReason::EmptyDataset,
                format!(
                    "the dataset has no training data: put its training files at the folder root or in `{}/`",
                    training_folder(rules)
                ),
            )
            .at(location.to_string(), None),
        );
    }
    if files.len() > rules.max_files {
        problems.push(Rejection::new(
            RejectionReason::TooManyFiles,
            format!(
                "{} files; this route allows at most {} (max_files)",
                files.len(),
                rules.max_files
            ),
        ));
    }
    for f in &files {
        problems.extend(check_file(route, location, f));
    }
    let total_bytes: u64 = files.iter().map(|f| f.size).sum();
    if !files.is_empty() && total_bytes < rules.min_total_bytes {
        problems.push(Rejection::new(RejectionReason::DatasetTooSmall,
            format!("the dataset holds {total_bytes} bytes; route {} needs at least {} (min_dataset_bytes)", route.name, rules.min_total_bytes),
        ).at(location.to_string(), None));
    }
    if total_bytes > rules.max_total_bytes {
        problems.push(Rejection::new(RejectionReason::DatasetTooLarge,
            format!("the dataset holds {total_bytes} bytes; route {} allows at most {} (max_dataset_bytes)", route.name, rules.max_total_bytes),
        ).at(location.to_string(), None));
    }
    if location.len() > SAGEMAKER_MAX_S3_URI_LEN {
        problems.push(Rejection::new(RejectionReason::UriTooLong,
            format!("the dataset URI has {} characters; SageMaker accepts at most {SAGEMAKER_MAX_S3_URI_LEN}", location.len()),
        ).at(location.to_string(), None));
    }
    if problems.is_empty() {
        Ok(FrozenDataset {
            location: location.clone(),
            files,
            total_bytes,
            channel_folders: rules.channels.clone(),
        })
    } else {
        Err(problems)
    }
}

/// One file's own problems: its type, and its URI's length.
/// The data files of the listing, each with its channel (by its subfolder under the dataset folder; the one object
/// of an object-mode dataset is training).
fn assign_channels(route: &Route, location: &S3Uri, listing: &[DatasetFile]) -> Vec<DatasetFile> {
    let folder = location.key().ends_with('/').then_some(location.key());
    listing
        .iter()
        .filter(|f| is_data_file(&f.key, route))
        .map(|f| {
            let relative = folder
                .and_then(|d| f.key.strip_prefix(d))
                .unwrap_or_default();
            DatasetFile {
                channel: channel_of(relative, &route.dataset.channels).to_string(),
                ..f.clone()
            }
        })
        .collect()
}

fn training_folder(rules: &DatasetRules) -> &str {
    rules
        .channels
        .iter()
        .find(|c| c.channel == TRAINING)
        .map_or("train", |c| c.folder.as_str())
}

fn check_file(route: &Route, location: &S3Uri, f: &DatasetFile) -> Vec<Rejection> {
    let rules = &route.dataset;
    let mut problems = Vec::new();
    match extension(&f.key) {
        Some(ext) if rules.allowed_extensions.contains(&ext) => {}
        ext => problems.push(
            Rejection::new(
                RejectionReason::FileTypeNotAllowed,
                format!(
                    "file type `{}` is not allowed on route {}: allowed are {} (allowed_extensions)",
                    ext.unwrap_or_else(|| "(none)".into()),
                    route.name,
                    rules.allowed_extensions.join(", ")
                ),
            )
            .at(f.key.clone(), None),
        ),
    }
    // SageMaker counts its S3Uri limit in UTF-16 units, as its model does (not UTF-8 bytes: that refused non-ASCII).
    let uri_len = 5 + location.bucket().len() + 1 + f.key.encode_utf16().count();
    if uri_len > SAGEMAKER_MAX_S3_URI_LEN {
        problems.push(
            Rejection::new(RejectionReason::UriTooLong,
                format!("the object's S3 URI has {uri_len} characters; SageMaker accepts at most {SAGEMAKER_MAX_S3_URI_LEN}"),
            )
            .at(f.key.clone(), None),
        );
    }
    problems
}

/// Which files get their head read: the `.jsonl` ones.
pub fn needs_content_check(key: &str) -> bool {
    extension(key).as_deref() == Some("jsonl")
}

/// `.jsonl`: every complete line in the first 64 KiB is one JSON object. `truncated` says the bytes stop before the
/// file does, so the last (partial) line is not judged.
pub fn check_jsonl_head(key: &str, head: &[u8], truncated: bool) -> Result<(), Rejection> {
    let mut lines: Vec<&[u8]> = head.split(|b| *b == b'\n').collect();
    if truncated && lines.len() > 1 {
        lines.pop();
    }
    let mut objects = 0;
    for (i, line) in lines.iter().enumerate() {
        let line_no = i as u64 + 1;
        let text = match std::str::from_utf8(line) {
            Ok(t) => t.trim(),
            Err(_) => {
                return Err(Rejection::new(
                    RejectionReason::MalformedJsonl,
                    "the line is not UTF-8 text",
                )
                .at(key, Some(line_no)))
            }
        };
        if text.is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(_)) => objects += 1,
            Ok(_) => {
                return Err(Rejection::new(
                    RejectionReason::MalformedJsonl,
                    "the line is JSON but not an object",
                )
                .at(key, Some(line_no)))
            }
            Err(e) => {
                return Err(Rejection::new(
                    RejectionReason::MalformedJsonl,
                    format!("the line is not valid JSON: {e}"),
                )
                .at(key, Some(line_no)))
            }
        }
    }
    if objects == 0 && !truncated {
        return Err(Rejection::new(
            RejectionReason::MalformedJsonl,
            "the file holds no JSON object",
        )
        .at(key, None));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }
    use crate::domain::config::{parse, DeploymentEnv};

    fn config() -> Config {
        parse(
            r#"
[deployment]
bucket = "acme-ml-datasets"
[defaults]
hub = "my-private-hub"
role_arn = "arn:aws:iam::111122223333:role/R"
[routes.support-bot]
prefix = "datasets/support-bot/"
model_id = "m"
[routes.raw]
prefix = "raw/"
model_id = "m"
trigger = "object"
"#,
            // Route `raw`'s object trigger needs a rule that delivers every object.
            &DeploymentEnv {
                delivered_markers: Some("*".into()),
                ..Default::default()
            },
            None,
        )
        .unwrap()
    }

    fn landing(key: &str) -> ObjectLanded {
        ObjectLanded {
            bucket: "acme-ml-datasets".into(),
            key: key.into(),
            size: 0,
            etag: Some("d41d8cd98f00b204e9800998ecf8427e".into()),
            version_id: None,
            sequencer: Some("0066F9A1B2C3D4E5F6".into()),
            event_time: Some("2026-11-27T09:14:03Z".parse().unwrap()),
        }
    }

    /// Versioning suspended: every upload's version is `null`, so the sequencer tells two uploads apart.
    #[test]
    fn a_null_version_id_does_not_make_two_uploads_one_dataset() {
        let mut first = landing("datasets/support-bot/a/_SUCCESS");
        first.version_id = Some("null".into());
        let mut second = first.clone();
        second.sequencer = Some("0066F9A1B2C3D4E5F7".into());
        let (a, b) = (
            DatasetIdentity::from_landing(&first).unwrap(),
            DatasetIdentity::from_landing(&second).unwrap(),
        );
        assert_ne!(a, b);
        assert_eq!(a.version, "s:0066F9A1B2C3D4E5F6");
    }

    /// Two uploads of one marker within one second (EventBridge times have seconds only): the later upload, by its
    /// sequencer, sorts after the earlier one, even when its sequencer is shorter.
    #[test]
    fn the_sequencer_orders_uploads_of_one_second() {
        let c = config();
        let mut first = landing("datasets/support-bot/a/_SUCCESS");
        first.sequencer = Some("0066F9A1B2C3D4E5F6".into());
        let mut second = first.clone();
        second.sequencer = Some("0066F9A1B2C3D4E6".into());
        let key = |o: &ObjectLanded| match locate(&c, o, now()).unwrap() {
            Located::Dataset(d) => d.sort_key(),
            other => panic!("{other:?}"),
        };
        assert!(
            key(&second) > key(&first),
            "{} vs {}",
            key(&second),
            key(&first)
        );
    }

    #[test]
    fn a_marker_launches_its_folder() {
        let c = config();
        let Located::Dataset(d) = locate(
            &c,
            &landing("datasets/support-bot/2026-11-27 release#1/_SUCCESS"),
            now(),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(d.route, "support-bot");
        assert_eq!(
            d.location.to_string(),
            "s3://acme-ml-datasets/datasets/support-bot/2026-11-27 release#1/"
        );
        assert_eq!(d.identity.version, "s:0066F9A1B2C3D4E5F6");
    }

    #[test]
    fn data_files_own_objects_and_strangers_do_not_launch() {
        let c = config();
        assert!(matches!(
            locate(&c, &landing("datasets/support-bot/a/train.jsonl"), now()).unwrap(),
            Located::Ignored { .. }
        ));
        assert!(matches!(
            locate(&c, &landing("hubtune/state/runs/x.json"), now()).unwrap(),
            Located::Ignored { .. }
        ));
        assert!(matches!(
            locate(&c, &landing("hubtune/output/support-bot/_SUCCESS"), now()).unwrap(),
            Located::Ignored { .. }
        ));
        assert!(matches!(
            locate(&c, &landing("elsewhere/a/_SUCCESS"), now()).unwrap(),
            Located::NoRoute { .. }
        ));
    }

    /// A marker with no folder of its own meant a dataset: it is rejected with the reason, not ignored.
    #[test]
    fn a_marker_directly_in_the_route_prefix_is_rejected() {
        let e = locate(&config(), &landing("datasets/support-bot/_SUCCESS"), now()).unwrap_err();
        assert_eq!(e.reason, RejectionReason::MarkerOutsideFolder);
        assert!(e.message.contains("put each dataset in a folder"), "{e}");
    }

    #[test]
    fn object_mode_every_object_is_a_dataset() {
        let Located::Dataset(d) = locate(&config(), &landing("raw/one.jsonl"), now()).unwrap()
        else {
            panic!()
        };
        assert_eq!(d.location.key(), "raw/one.jsonl");
        assert!(!d.is_folder());
    }

    #[test]
    fn identity_prefers_version_id_and_needs_one_of_them() {
        let mut o = landing("datasets/support-bot/a/_SUCCESS");
        o.version_id = Some("v1".into());
        assert_eq!(DatasetIdentity::from_landing(&o).unwrap().version, "v:v1");
        o.version_id = None;
        o.sequencer = None;
        assert_eq!(
            DatasetIdentity::from_landing(&o)
                .unwrap_err()
                .reason
                .as_str(),
            "no_identity"
        );
    }

    #[test]
    fn a_new_put_is_a_new_job_and_a_repeat_is_not() {
        let c = config();
        let a = DatasetIdentity::from_landing(&landing("datasets/support-bot/a/_SUCCESS")).unwrap();
        let mut again = landing("datasets/support-bot/a/_SUCCESS");
        assert_eq!(
            DatasetIdentity::from_landing(&again)
                .unwrap()
                .job_name(&c, "support-bot"),
            a.job_name(&c, "support-bot")
        );
        again.sequencer = Some("0066F9A1B2C3D4E5F7".into());
        assert_ne!(
            DatasetIdentity::from_landing(&again)
                .unwrap()
                .job_name(&c, "support-bot"),
            a.job_name(&c, "support-bot")
        );
        let rerun = DatasetIdentity {
            attempt: 1,
            ..a.clone()
        };
        assert_ne!(
            rerun.job_name(&c, "support-bot"),
            a.job_name(&c, "support-bot")
        );
    }

    fn file(key: &str, size: u64) -> DatasetFile {
        DatasetFile {
            key: key.into(),
            etag: "e".into(),
            size,
            version_id: None,
            channel: "training".into(),
        }
    }

    #[test]
    fn listing_checks() {
        let c = config();
        let r = c.route("support-bot").unwrap();
        let loc: S3Uri = "s3://acme-ml-datasets/datasets/support-bot/a/"
            .parse()
            .unwrap();
        let ok = check_listing(
            r,
            &loc,
            &[
                file("datasets/support-bot/a/_SUCCESS", 0),
                file("datasets/support-bot/a/train.jsonl", 10),
            ],
        )
        .unwrap();
        assert_eq!(ok.files.len(), 1);
        assert_eq!(ok.total_bytes, 10);
        assert_eq!(
            ok.manifest_json(),
            r#"[{"prefix":"s3://acme-ml-datasets/datasets/support-bot/a/"},"train.jsonl"]"#
        );
        let empty =
            check_listing(r, &loc, &[file("datasets/support-bot/a/_SUCCESS", 0)]).unwrap_err();
        assert_eq!(empty[0].reason.as_str(), "empty_dataset");
        let bad = check_listing(
            r,
            &loc,
            &[
                file("datasets/support-bot/a/model.exe", 10),
                file("datasets/support-bot/a/x.jsonl", 0),
            ],
        )
        .unwrap_err();
        assert_eq!(bad[0].reason.as_str(), "file_type_not_allowed");
        assert_eq!(
            bad[0].file.as_deref(),
            Some("datasets/support-bot/a/model.exe")
        );
        let long_key = format!("datasets/support-bot/a/{}.jsonl", "k".repeat(1000));
        let long = check_listing(r, &loc, &[file(&long_key, 5)]).unwrap_err();
        assert_eq!(long[0].reason.as_str(), "uri_too_long");
    }

    #[test]
    fn jsonl_checks_name_the_line() {
        assert!(check_jsonl_head("a.jsonl", b"{\"a\":1}\n{\"b\":2}\n", false).is_ok());
        let e = check_jsonl_head("a.jsonl", b"{\"a\":1}\n{oops\n", false).unwrap_err();
        assert_eq!((e.reason.as_str(), e.line), ("malformed_jsonl", Some(2)));
        let e = check_jsonl_head("a.jsonl", b"[1,2]\n", false).unwrap_err();
        assert_eq!(e.line, Some(1));
        // A head cut mid-line judges only complete lines.
        assert!(check_jsonl_head("a.jsonl", b"{\"a\":1}\n{\"b\":", true).is_ok());
        assert!(check_jsonl_head("a.jsonl", b"\n\n", false).is_err());
    }
}
