//! Model registry: a route with a `model_package_group` registers each completed run's model as exactly one model
//! package version, whose ARN the run record keeps and `Model Published` carries, whatever is redelivered or
//! crashes in between.

mod support;

use std::sync::Arc;

use hubtune::domain::config::{self, DeploymentEnv};
use hubtune::domain::error::ErrorClass;
use hubtune::domain::events::MODEL_PUBLISHED;
use hubtune::domain::hub::HubContent;
use hubtune::domain::registry::{client_token, ApprovalStatus};
use hubtune::memory::throttled;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;
use hubtune::runtime::faults;
use support::{finished, routes_toml, Harness, ROUTE};

const GROUP: &str = "support-bot-models";

/// The harness with its route registering in `GROUP`, and the hub describing the model reference.
fn registering(extra: &str) -> Harness {
    let mut h = Harness::new();
    let routes = format!(
        "{}model_package_group = \"{GROUP}\"\n{extra}",
        routes_toml()
    );
    let (cfg, ctx) = h.world.context(&routes);
    h.config = cfg;
    h.ctx = ctx;
    h.world.hub.insert(
        HubContent::from_describe_json(include_str!(
            "../../../fixtures/hub/describe-hub-content.model-reference.json"
        ))
        .expect("the hub fixture parses"),
    );
    h.world.registry.create_group(GROUP);
    h
}

#[tokio::test]
async fn a_completed_run_is_registered_once_and_model_published_names_the_version() {
    let h = registering("");
    let job = h.completed("reg-once").await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());

    let versions = h.world.registry.versions();
    assert_eq!(versions.len(), 1, "{versions:?}");
    let (arn, req) = &versions[0];
    assert_eq!(req.model_package_group_name, GROUP);
    assert_eq!(
        req.model_approval_status,
        ApprovalStatus::PendingManualApproval
    );
    assert_eq!(req.client_token, client_token(&job));
    let c = &req.inference_specification.containers[0];
    assert!(
        c.image.contains("huggingface-pytorch-tgi-inference"),
        "{}",
        c.image
    );
    assert_eq!(
        c.model_data_url.as_deref(),
        Some(h.artifact_uri(&job).as_str())
    );
    assert_eq!(c.model_data_source, None);
    assert_eq!(c.environment["SAGEMAKER_PROGRAM"], "inference.py");
    let meta = &req.customer_metadata_properties;
    assert_eq!(meta["hubtune:job"], job);
    assert_eq!(meta["hubtune:dataset"], h.record(&job).dataset_uri);
    assert!(meta.contains_key("hubtune:hub-content-arn"));

    assert_eq!(
        h.record(&job).model_package_arn.as_deref(),
        Some(arn.as_str())
    );
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].detail["model_package_arn"], arn.as_str());
}

#[tokio::test]
async fn an_uncompressed_artifact_is_registered_as_its_prefix_of_files() {
    let h = registering("");
    let job = h
        .run(
            "reg-dir",
            chrono::Duration::hours(4),
            support::Ends::Completed,
        )
        .await;
    let artifact = h.artifact_uri(&job);
    // Output compression off: no `.tar.gz` object, files under it as a prefix.
    h.world
        .objects
        .insert(&format!("{artifact}/model.safetensors"), vec![0u8; 10]);
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    let versions = h.world.registry.versions();
    let c = &versions[0].1.inference_specification.containers[0];
    assert_eq!(c.model_data_url, None, "ModelDataUrl names an archive only");
    let s3 = &c
        .model_data_source
        .as_ref()
        .expect("a model data source")
        .s3_data_source;
    assert_eq!(s3.s3_uri, format!("{artifact}/"));
    assert_eq!(
        (s3.s3_data_type.as_str(), s3.compression_type.as_str()),
        ("S3Prefix", "None")
    );
}

#[tokio::test]
async fn a_route_without_a_group_registers_nothing_and_its_event_has_no_arn() {
    let h = Harness::new();
    let job = h.completed("reg-none").await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(h.world.registry.calls.get("CreateModelPackage"), 0);
    let published = h.world.bus.of_type(MODEL_PUBLISHED);
    assert!(published[0].detail.get("model_package_arn").is_none());
}

#[tokio::test]
async fn the_approval_status_is_the_routes() {
    let h = registering("model_approval_status = \"Approved\"\n");
    let job = h.completed("reg-approved").await;
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(
        h.world.registry.versions()[0].1.model_approval_status,
        ApprovalStatus::Approved
    );
}

#[tokio::test]
async fn redelivered_publications_make_one_version() {
    let h = registering("");
    let job = h.completed("reg-dup").await;
    assert!(h
        .deliver(&[finished(&job), finished(&job)])
        .await
        .is_empty());
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(h.world.registry.versions().len(), 1);
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn an_announcement_lost_after_the_record_kept_the_arn_reuses_it() {
    let h = registering("");
    let job = h.completed("reg-lost-event").await;
    h.world
        .bus
        .faults
        .fail("PutEvents", "", 1, throttled("events", "PutEvents"));
    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    let kept = h
        .record(&job)
        .model_package_arn
        .expect("kept before the event");
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(
        h.world.registry.calls.get("CreateModelPackage"),
        1,
        "not asked again"
    );
    assert_eq!(
        h.world.bus.of_type(MODEL_PUBLISHED)[0].detail["model_package_arn"],
        kept
    );
}

#[tokio::test]
async fn a_crash_between_create_and_the_records_write_still_makes_one_version() {
    let h = registering("");
    let job = h.completed("reg-crash").await;
    faults::arm("publish.after_create_model_package", &job, 1);
    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert_eq!(
        h.record(&job).model_package_arn,
        None,
        "the crash came before the write"
    );
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(
        h.world.registry.calls.get("CreateModelPackage"),
        2,
        "asked again, same token"
    );
    let versions = h.world.registry.versions();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert_eq!(
        h.record(&job).model_package_arn.as_ref(),
        Some(&versions[0].0)
    );
}

#[tokio::test]
async fn a_throttled_registry_comes_back_and_publishes_nothing_meanwhile() {
    let h = registering("");
    let job = h.completed("reg-throttled").await;
    h.world.registry.faults.fail(
        "CreateModelPackage",
        GROUP,
        2,
        throttled("sagemaker", "CreateModelPackage"),
    );
    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert_eq!(h.deliver(&[finished(&job)]).await, ["m0"]);
    assert!(
        h.world.bus.of_type(MODEL_PUBLISHED).is_empty(),
        "no event without the version"
    );
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(h.world.registry.versions().len(), 1);
}

#[tokio::test]
async fn a_missing_group_is_a_deployment_fault_that_keeps_the_publication() {
    let h = registering("");
    let job = h.completed("reg-no-group").await;
    let h2 = Harness {
        world: h.world.clone(),
        config: h.config.clone(),
        ctx: Context::new(
            hubtune::ports::Ports {
                registry: Arc::new(hubtune::memory::MemoryRegistry::default()),
                ..h.world.ports()
            },
            ConfigSource::Inline(h.config.clone()),
            DeploymentEnv::default(),
        ),
    };
    let err = publish_artifact::publish_run(&h2.ctx, &job)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Deployment, "{err}");
    assert_eq!(
        h2.deliver(&[finished(&job)]).await,
        ["m0"],
        "kept on its queue"
    );
    assert!(!h.record(&job).outbox.published);
    // The group created: the same publication goes through.
    assert!(h.deliver(&[finished(&job)]).await.is_empty());
    assert_eq!(h.world.bus.of_type(MODEL_PUBLISHED).len(), 1);
}

#[tokio::test]
async fn a_hub_document_without_an_inference_image_is_a_deployment_fault() {
    let h = registering("");
    let job = h.completed("reg-no-image").await;
    let mut content = HubContent::from_describe_json(include_str!(
        "../../../fixtures/hub/describe-hub-content.model-reference.json"
    ))
    .unwrap();
    content.document.hosting = Default::default();
    h.world.hub.insert(content);
    let err = publish_artifact::publish_run(&h.ctx, &job)
        .await
        .unwrap_err();
    assert_eq!(err.class(), ErrorClass::Deployment, "{err}");
    assert!(err.to_string().contains("model_package_group"), "{err}");
    assert!(h.world.bus.of_type(MODEL_PUBLISHED).is_empty());
}

#[test]
fn the_routes_file_refuses_a_status_without_a_group_and_a_bad_group() {
    let parse = |extra: &str| {
        config::parse(
            &format!("{}{extra}", routes_toml()),
            &DeploymentEnv::default(),
            None,
        )
    };
    let e = parse("model_approval_status = \"Approved\"\n").unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("routes.{ROUTE}.model_approval_status")),
        "{e}"
    );
    let e = parse("model_package_group = \"g\"\nmodel_approval_status = \"Maybe\"\n").unwrap_err();
    assert!(e.to_string().contains("PendingManualApproval"), "{e}");
    let e = parse("model_package_group = \"bad_name\"\n").unwrap_err();
    assert!(e.to_string().contains("model_package_group"), "{e}");
}
