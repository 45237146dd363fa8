use super::*;
use crate::domain::naming::JobName;
use crate::domain::run::{Outbox, RunStatus, RUN_SCHEMA};
use chrono::Utc;

fn record() -> RunRecord {
    let now = Utc::now();
    RunRecord {
        schema: RUN_SCHEMA,
        revision: 0,
        job_name: JobName::parse("hubtune-a-0123456789abcdef").unwrap(),
        job_arn: None,
        route: "a".into(),
        dataset_uri: "s3://acme/datasets/a/2026-12-04 (final)/".into(),
        dataset: None,
        frozen: None,
        manifest_uri: None,
        model_id: "meta-textgeneration-llama-3-2-1b".into(),
        hub_content_arn: Some(
            "arn:aws:sagemaker:us-east-1:111122223333:hub-content/h/ModelReference/m/1.0.0".into(),
        ),
        hub_content_version: Some("1.0.0".into()),
        public_hub_content_arn: None,
        instance_type: "ml.g5.2xlarge".into(),
        instance_count: 1,
        status: RunStatus::Completed,
        history: vec![],
        failure_reason: None,
        model_artifacts: None,
        results: None,
        model_package_arn: None,
        launch_attempts: vec![],
        relaunched_as: None,
        billable_seconds: None,
        channels: vec![],
        outbox: Outbox::default(),
        created_at: now,
        updated_at: now,
    }
}

fn hosting() -> Hosting {
    Hosting {
        image: "763104351884.dkr.ecr.us-east-1.amazonaws.com/tgi:2.0".into(),
        environment: [("SAGEMAKER_PROGRAM".to_string(), "inference.py".to_string())].into(),
    }
}

fn archive() -> ModelData {
    ModelData::Archive("s3://acme/m.tar.gz".into())
}

fn registry() -> Registry {
    Registry {
        group: "support-bot-models".into(),
        approval: ApprovalStatus::default(),
    }
}

fn metric(name: &str, value: f64) -> FinalMetric {
    FinalMetric {
        name: name.into(),
        value,
    }
}

#[test]
fn the_token_is_the_jobs_alone_and_fits_the_model() {
    let a = client_token("hubtune-a-0123456789abcdef");
    assert_eq!(a, client_token("hubtune-a-0123456789abcdef"));
    assert_ne!(a, client_token("hubtune-a-0123456789abcdee"));
    assert_eq!(a.len(), 36);
    assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
}

#[test]
fn the_request_is_valid_and_says_where_the_model_came_from() {
    let r = record();
    let req = create_request(
        &registry(),
        &r,
        &hosting(),
        ModelData::Archive("s3://acme/out/a/hubtune-a-0123456789abcdef/output/model.tar.gz".into()),
        &[metric("eval:loss", 0.25)],
    );
    assert_eq!(violations(&req), vec![]);
    let wire = serde_json::to_value(&req).unwrap();
    assert_eq!(wire["ModelApprovalStatus"], "PendingManualApproval");
    assert_eq!(wire["ClientToken"], client_token(r.job_name.as_str()));
    let c = &wire["InferenceSpecification"]["Containers"][0];
    assert_eq!(c["Image"], hosting().image);
    assert!(c["ModelDataUrl"]
        .as_str()
        .unwrap()
        .ends_with("model.tar.gz"));
    assert_eq!(c["Environment"]["SAGEMAKER_PROGRAM"], "inference.py");
    let meta = &req.customer_metadata_properties;
    assert_eq!(meta["hubtune:job"], "hubtune-a-0123456789abcdef");
    assert_eq!(meta["hubtune:hub-content-arn"], r.hub_content_arn.unwrap());
    assert_eq!(meta["metric:eval:loss"], "0.25");
    // `(` and `)` are outside the metadata pattern: replaced, the rest kept.
    assert_eq!(
        meta["hubtune:dataset"],
        "s3://acme/datasets/a/2026-12-04 _final_/"
    );
}

#[test]
fn metadata_keeps_to_fifty_entries_and_the_lengths_of_the_model() {
    let metrics: Vec<FinalMetric> = (0..80)
        .map(|i| metric(&format!("{i:02}{}", "m".repeat(200)), i as f64))
        .collect();
    let mut r = record();
    r.dataset_uri = format!("s3://acme/{}", "d".repeat(400));
    let req = create_request(&registry(), &r, &hosting(), archive(), &metrics);
    let meta = &req.customer_metadata_properties;
    assert_eq!(meta.len(), MAX_METADATA_ENTRIES);
    assert!(
        meta.contains_key("hubtune:job"),
        "the run's entries come first"
    );
    assert!(meta
        .keys()
        .all(|k| k.chars().count() <= MAX_METADATA_KEY_CHARS));
    assert!(meta
        .values()
        .all(|v| v.chars().count() <= MAX_METADATA_VALUE_CHARS));
    assert_eq!(violations(&req), vec![]);
}

#[test]
fn an_empty_value_is_left_out() {
    let mut r = record();
    r.hub_content_arn = None;
    let req = create_request(&registry(), &r, &hosting(), archive(), &[]);
    assert!(!req
        .customer_metadata_properties
        .contains_key("hubtune:hub-content-arn"));
    assert_eq!(violations(&req), vec![]);
}

#[test]
fn what_the_model_refuses_is_named() {
    let mut req = create_request(&registry(), &record(), &hosting(), archive(), &[]);
    req.model_package_group_name = "ends-with-".into();
    req.inference_specification.containers[0].model_data_url = Some("file:///m.tar.gz".into());
    let mut fields: Vec<String> = violations(&req).into_iter().map(|v| v.field).collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "InferenceSpecification.Containers[0].ModelDataUrl".to_string(),
            "ModelPackageGroupName".to_string(),
        ]
    );
    assert!(
        group_violations("arn:aws:sagemaker:us-east-1:111122223333:model-package-group/g")
            .is_empty()
    );
    assert!(!group_violations(&"g".repeat(64)).is_empty());
}

#[test]
fn an_uncompressed_artifact_is_named_as_a_prefix_of_files() {
    let prefix = "s3://acme/out/a/hubtune-a-0123456789abcdef/output/model/".to_string();
    let req = create_request(
        &registry(),
        &record(),
        &hosting(),
        ModelData::Prefix(prefix.clone()),
        &[],
    );
    assert_eq!(violations(&req), vec![]);
    let c = &serde_json::to_value(&req).unwrap()["InferenceSpecification"]["Containers"][0];
    assert!(c.get("ModelDataUrl").is_none(), "{c}");
    let s3 = &c["ModelDataSource"]["S3DataSource"];
    assert_eq!(s3["S3Uri"], prefix.as_str());
    assert_eq!(s3["S3DataType"], "S3Prefix");
    assert_eq!(s3["CompressionType"], "None");
}
