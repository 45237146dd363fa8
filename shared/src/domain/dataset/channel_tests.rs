//! The channels of a dataset folder, as the checks assign them.

use super::*;
use crate::domain::config::{parse, DeploymentEnv};

const ROUTES: &str = r#"
[deployment]
bucket = "bkt"
[defaults]
hub = "h"
role_arn = "arn:aws:iam::111122223333:role/R"
instance_type = "ml.g5.2xlarge"
model_id = "m"
[routes.plain]
prefix = "plain/"
[routes.dev]
prefix = "dev/"
channels = { training = "train", validation = "dev" }
"#;

fn file(key: &str, size: u64) -> DatasetFile {
    DatasetFile::listed(key.into(), "e".into(), size, None)
}

fn channels(f: &FrozenDataset) -> Vec<(String, String)> {
    f.files
        .iter()
        .map(|f| (f.key.clone(), f.channel.clone()))
        .collect()
}

#[test]
fn train_and_root_files_are_training_validation_files_are_validation() {
    let c = parse(ROUTES, &DeploymentEnv::default(), None).unwrap();
    let r = c.route("plain").unwrap();
    let loc: S3Uri = "s3://bkt/plain/d1/".parse().unwrap();
    let f = check_listing(
        r,
        &loc,
        &[
            file("plain/d1/_SUCCESS", 0),
            file("plain/d1/train/t.jsonl", 10),
            file("plain/d1/validation/v.jsonl", 4),
            file("plain/d1/validation.jsonl", 3),
        ],
    )
    .unwrap();
    assert_eq!(
        channels(&f),
        [
            ("plain/d1/train/t.jsonl".into(), "training".into()),
            ("plain/d1/validation/v.jsonl".into(), "validation".into()),
            // A root file is training whatever its name: only the subfolder decides.
            ("plain/d1/validation.jsonl".into(), "training".into()),
        ]
    );
    assert_eq!(f.channel_names(), ["training", "validation"]);
    assert_eq!(
        f.channel_manifest_json("validation"),
        r#"[{"prefix":"s3://bkt/plain/d1/validation/"},"v.jsonl"]"#
    );
    // The whole folder is checked: a bad file in the validation channel rejects the dataset.
    let bad = check_listing(
        r,
        &loc,
        &[
            file("plain/d1/train/t.jsonl", 10),
            file("plain/d1/validation/v.exe", 4),
        ],
    )
    .unwrap_err();
    assert_eq!(bad[0].reason.as_str(), "file_type_not_allowed");
    assert_eq!(bad[0].file.as_deref(), Some("plain/d1/validation/v.exe"));
}

#[test]
fn a_route_mapping_moves_the_validation_folder_and_training_data_is_required() {
    let c = parse(ROUTES, &DeploymentEnv::default(), None).unwrap();
    let r = c.route("dev").unwrap();
    let loc: S3Uri = "s3://bkt/dev/d1/".parse().unwrap();
    let f = check_listing(
        r,
        &loc,
        &[
            file("dev/d1/train/t.jsonl", 10),
            file("dev/d1/dev/v.jsonl", 4),
            file("dev/d1/validation/x.jsonl", 4),
        ],
    )
    .unwrap();
    let got = channels(&f);
    assert_eq!(got[1], ("dev/d1/dev/v.jsonl".into(), "validation".into()));
    // Unmapped on this route: training data, as before channels.
    assert_eq!(
        got[2],
        ("dev/d1/validation/x.jsonl".into(), "training".into())
    );
    let only_validation = check_listing(r, &loc, &[file("dev/d1/dev/v.jsonl", 4)]).unwrap_err();
    assert_eq!(only_validation[0].reason.as_str(), "empty_dataset");
    assert!(only_validation[0].message.contains("`train/`"));
}
