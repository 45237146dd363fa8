use super::*;
use crate::domain::plan::{CreateTrainingJobRequest, Tag};

/// The SDK's own request for the fixture model: valid as it is.
fn request() -> CreateTrainingJobRequest {
    serde_json::from_str(include_str!(
        "../../../../fixtures/sdk/create_training_job.accept_eula.json"
    ))
    .unwrap()
}

fn fields(v: &[Violation]) -> Vec<&str> {
    v.iter().map(|v| v.field.as_str()).collect()
}

#[test]
fn every_pattern_of_the_tables_compiles() {
    for rule in model::CREATE_TRAINING_JOB
        .iter()
        .chain(model::PUT_EVENTS_ENTRY)
        .chain(model::CREATE_MODEL_PACKAGE)
    {
        if let rules::Check::Str {
            pattern: Some(p), ..
        } = rule.check
        {
            assert!(rules::compile(p).is_some(), "{}: {p}", rule.path);
        }
    }
}

/// Every pattern but a look-behind compiles with regex-lite (the cheap engine a cold start relies on), and means
/// what it meant under fancy-regex, the full engine it replaced, on values of every kind that reaches a check.
#[test]
fn the_cheap_engine_takes_every_pattern_and_agrees_with_the_full_one() {
    let probes = [
        "",
        "a",
        "A-b_9",
        "-a",
        "a-",
        "abc--def",
        &"x".repeat(63),
        &"x".repeat(64),
        "s3://bucket/key",
        "s3://bucket",
        "https://b.s3.amazonaws.com/k",
        "s3://b/k\nnext",
        "s3://b/k\u{2028}",
        "arn:aws:iam::123456789012:role/x",
        "arn:aws-cn:iam::123456789012:role/a/b",
        "arn:aws:iam::12345678901:role/x",
        "hubtune:deployment",
        "Ünïcödé 123",
        "日本語",
        "٣",
        "a\u{2028}b",
        "tab\there",
        "x!y",
        "fs-0123abcd",
        "sg-0123",
        "ml.g5.xlarge",
        "KEY_1",
        "1KEY",
        "with space",
        "new\nline",
        "\r",
        "\u{85}",
        "alias/my-key",
        "arn:aws:kms:us-east-1:1:key/x",
        "arn:aws:events:us-east-1:123456789012:event-bus/hubtune",
        "hubtune-bus.1",
    ];
    for rule in model::CREATE_TRAINING_JOB
        .iter()
        .chain(model::PUT_EVENTS_ENTRY)
        .chain(model::CREATE_MODEL_PACKAGE)
    {
        let rules::Check::Str {
            pattern: Some(p), ..
        } = rule.check
        else {
            continue;
        };
        let cheap = rules::compile(p).unwrap();
        let full = format!("^(?:{})$", rules::java_to_rust(p));
        let Ok(reference) = fancy_regex::Regex::new(&full) else {
            continue;
        };
        match &cheap {
            rules::Matcher::Lite(_) => {}
            rules::Matcher::Fancy(_) => {
                assert!(
                    p.contains("(?<"),
                    "{}: {p} fell back to the slow engine",
                    rule.path
                );
                continue;
            }
        }
        for probe in probes {
            assert_eq!(
                cheap.is_match(probe),
                reference.is_match(probe).unwrap(),
                "{}: {p} on {probe:?}",
                rule.path
            );
        }
    }
}

#[test]
fn the_sdks_request_is_valid() {
    assert_eq!(training_job(&request()), vec![]);
}

#[test]
fn environment_keys_values_and_count() {
    let mut r = request();
    r.environment.insert("1BAD".into(), "x".into());
    r.environment.insert("GOOD_KEY".into(), "v".repeat(513));
    assert_eq!(
        fields(&training_job(&r)),
        ["Environment.<key 1BAD>", "Environment.GOOD_KEY"]
    );
    let mut r = request();
    for i in 0..101 {
        r.environment.insert(format!("K{i}"), "v".into());
    }
    let v = training_job(&r);
    assert_eq!(fields(&v), ["Environment"]);
    assert!(v[0].rule.contains("at most 100"), "{}", v[0]);
}

#[test]
fn role_arns_that_are_not_iam_roles() {
    for bad in [
        "arn:aws:iam::12345:role/r",
        "arn:aws:iam::123456789012:role/with space",
        "arn:aws:s3:::bucket/role/r",
    ] {
        let mut r = request();
        r.role_arn = bad.into();
        assert_eq!(fields(&training_job(&r)), ["RoleArn"], "{bad}");
    }
}

#[test]
fn vpc_limits_and_ids() {
    let mut r = request();
    r.vpc_config = Some(crate::domain::plan::VpcConfig {
        security_group_ids: (0..6).map(|i| format!("sg-{i}")).collect(),
        subnets: vec!["subnet_bad!".into()],
    });
    assert_eq!(
        fields(&training_job(&r)),
        ["VpcConfig.SecurityGroupIds", "VpcConfig.Subnets[0]"]
    );
}

#[test]
fn reserved_tag_prefix_in_any_case_and_tags_in_any_script() {
    let mut r = request();
    r.tags.push(Tag {
        key: "AWS:owner".into(),
        value: "x".into(),
    });
    r.tags.push(Tag {
        key: "équipe".into(),
        value: "Ωmega 42".into(),
    });
    assert_eq!(fields(&training_job(&r)), ["Tags[3].Key"]);
}

#[test]
fn line_terminators_in_s3_uris() {
    for t in ["\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"] {
        let mut r = request();
        r.output_data_config.s3_output_path = format!("s3://my-bucket/out{t}put/").parse().unwrap();
        assert_eq!(
            fields(&training_job(&r)),
            ["OutputDataConfig.S3OutputPath"],
            "{t:?}"
        );
    }
}

#[test]
fn runtime_over_28_days_and_volume_keys_on_local_storage() {
    let mut r = request();
    r.stopping_condition.max_runtime_in_seconds = 28 * 24 * 3600 + 1;
    assert_eq!(
        fields(&training_job(&r)),
        ["StoppingCondition.MaxRuntimeInSeconds"]
    );
    let mut r = request();
    r.resource_config.instance_type = "ml.trn2.48xlarge".into();
    r.resource_config.volume_kms_key_id = Some("arn:aws:kms:us-east-1:111122223333:key/k".into());
    assert_eq!(fields(&training_job(&r)), ["ResourceConfig.VolumeKmsKeyId"]);
}

#[test]
fn an_output_path_so_long_that_the_models_key_overflows() {
    let mut r = request();
    // The path itself is within SageMaker's 1,024 characters; the keys written under it are not.
    r.output_data_config.s3_output_path = format!("s3://my-bucket/{}/", "p".repeat(990))
        .parse()
        .unwrap();
    let v = training_job(&r);
    assert_eq!(
        fields(&v),
        [
            "OutputDataConfig.S3OutputPath (the model's key)",
            "OutputDataConfig.S3OutputPath (hubtune's manifest beside the model)"
        ],
        "{v:?}"
    );
}

/// S3 counts a key in UTF-8 bytes: the manifest hubtune writes beside the model is two bytes longer than the
/// model's key, so a path that leaves the model exactly 1,024 bytes is refused for the manifest alone; two-byte
/// characters count twice.
#[test]
fn the_manifest_beside_the_model_is_counted_in_utf8_bytes() {
    let mut r = request();
    let job = r.training_job_name.clone();
    let room = MAX_S3_KEY_BYTES - artifact_key(&"s3://bbb/".parse().unwrap(), &job).len();
    let path = |p: String| -> crate::domain::s3uri::S3Uri {
        format!("s3://my-bucket/{p}").parse().unwrap()
    };
    r.output_data_config.s3_output_path = path(format!("{}/", "p".repeat(room - 1)));
    assert_eq!(
        artifact_key(&r.output_data_config.s3_output_path, &job).len(),
        MAX_S3_KEY_BYTES
    );
    assert_eq!(
        fields(&training_job(&r)),
        ["OutputDataConfig.S3OutputPath (hubtune's manifest beside the model)"]
    );
    r.output_data_config.s3_output_path = path(format!("{}/", "p".repeat(room - 3)));
    assert_eq!(training_job(&r), vec![]);
    // The same number of characters, in two-byte ones: within SageMaker's 1,024 (UTF-16), over S3's 1,024 bytes.
    r.output_data_config.s3_output_path = path(format!("{}/", "é".repeat(room - 3)));
    assert!(r.output_data_config.s3_output_path.len() <= 1024);
    assert_eq!(training_job(&r).len(), 2);
}

/// A request in part (what a route decides, as `config` checks it) is checked field by field, and the rules that
/// need two fields apply only when both are there.
#[test]
fn a_partial_request_is_checked_by_the_same_rules() {
    use serde_json::json;
    assert_eq!(check_request(&json!({})), vec![]);
    let v = check_request(&json!({
        "RoleArn": "arn:aws:iam::12345:role/r",
        "ResourceConfig": {"InstanceType": "ml.trn2.48xlarge", "VolumeKmsKeyId": "k"},
        "Tags": [{"Key": "Aws:x", "Value": ""}],
        "StoppingCondition": {"MaxRuntimeInSeconds": 28 * 24 * 3600 + 1},
    }));
    assert_eq!(
        fields(&v),
        [
            "RoleArn",
            "StoppingCondition.MaxRuntimeInSeconds",
            "Tags[0].Key",
            "ResourceConfig.VolumeKmsKeyId"
        ]
    );
    // No instance type, no job name: the rules that need them wait for the whole request.
    let v = check_request(&json!({
        "ResourceConfig": {"VolumeKmsKeyId": "k"},
        "OutputDataConfig": {"S3OutputPath": format!("s3://b-b/{}", "p".repeat(1010))},
    }));
    assert_eq!(v, vec![]);
}

#[test]
fn kms_key_ids_and_https_uris() {
    let mut r = request();
    r.output_data_config.kms_key_id = Some("alias/my key".into());
    assert_eq!(fields(&training_job(&r)), ["OutputDataConfig.KmsKeyId"]);
    let mut r = request();
    r.output_data_config.kms_key_id = Some("k".repeat(2049));
    assert_eq!(fields(&training_job(&r)), ["OutputDataConfig.KmsKeyId"]);
}

#[test]
fn event_bus_names() {
    assert!(event_bus_name("hubtune").is_empty());
    assert!(event_bus_name("arn:aws:events:us-east-1:111122223333:event-bus/hubtune").is_empty());
    for bad in ["", "has space", "bus\u{e9}", &"b".repeat(1601)] {
        assert_eq!(event_bus_name(bad).len(), 1, "{bad:?}");
    }
}

#[test]
fn the_pinned_models_are_botocore_1_44_8() {
    assert_eq!(model::BOTOCORE_VERSION, "1.44.8");
}
