//! A private hub's model reference, as DescribeHubContent returns it, and what it takes to fine-tune it on one
//! instance type (`TrainingRecipe`). Pure: the AWS adapter fills `DescribeHubContentResponse` and nothing here does
//! I/O.
//!
//! The rules are those of the SageMaker Python SDK 2.245's hub path (the reference implementation a user would
//! otherwise reach for), read from its source, with its known faults on this path fixed rather than copied:
//! - variants are looked up by the instance type as written (`ml.g4dn.12xlarge`, `g4dn`); the SDK renames keys with
//!   a letter after a digit (`g4dn` -> `g4_dn`), so it never finds them;
//! - a variant `TrainingArtifactUri` may be a full `s3://` URI (the SDK raises `UnboundLocalError` on it) or, as
//!   the SDK expects, a key in the region's JumpStart bucket;
//! - variant `EnvironmentVariables` keep their names (the SDK turns `NCCL_P2P_DISABLE` into
//!   `n_c_c_l_p2_p_d_i_s_a_b_l_e`).

pub mod arn;
pub mod content;
pub mod document;
pub mod hosting;
pub mod hyperparameters;
pub mod instances;
pub mod python;

pub use arn::*;
pub use content::*;
pub use document::*;
pub use hosting::*;
pub use hyperparameters::*;
pub use instances::*;
pub use python::*;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rejection::Rejection;

    /// The repository's hub fixtures, embedded.
    fn fixture(name: &str) -> String {
        match name {
            "describe-hub-content.model-reference.json" => {
                include_str!("../../../../fixtures/hub/describe-hub-content.model-reference.json")
            }
            "meta-textgeneration-llama-2-13b-f.document.json" => include_str!(
                "../../../../fixtures/hub/meta-textgeneration-llama-2-13b-f.document.json"
            ),
            "meta-textgeneration-llama-3-2-1b.document.json" => {
                include_str!(
                    "../../../../fixtures/hub/meta-textgeneration-llama-3-2-1b.document.json"
                )
            }
            other => panic!("no fixture {other}"),
        }
        .to_string()
    }

    fn llama_3_2_1b() -> HubDocument {
        HubDocument::from_json(&fixture("meta-textgeneration-llama-3-2-1b.document.json")).unwrap()
    }

    fn llama_2_13b_f() -> HubDocument {
        HubDocument::from_json(&fixture("meta-textgeneration-llama-2-13b-f.document.json")).unwrap()
    }

    const IMAGE: &str = "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-training:2.0.0-transformers4.28.1-gpu-py310-cu118-ubuntu20.04";

    #[test]
    fn describe_fixture_parses_with_its_document() {
        let hub =
            HubContent::from_describe_json(&fixture("describe-hub-content.model-reference.json"))
                .unwrap();
        assert_eq!(hub.hub_content_name, "meta-textgeneration-llama-3-2-1b");
        assert_eq!(hub.hub_content_version, "1.2.0");
        assert_eq!(hub.hub_content_type, HubContentType::ModelReference);
        assert_eq!(hub.hub_name, "my-private-hub");
        assert_eq!(
            hub.hub_arn,
            "arn:aws:sagemaker:us-east-1:111122223333:hub/my-private-hub"
        );
        assert_eq!(
            hub.hub_content_arn,
            "arn:aws:sagemaker:us-east-1:111122223333:hub-content/my-private-hub/ModelReference/meta-textgeneration-llama-3-2-1b/1.2.0"
        );
        assert_eq!(hub.reference_min_version.as_deref(), Some("1.0.0"));
        assert_eq!(hub.public_model_id(), "meta-textgeneration-llama-3-2-1b");
        assert!(hub.is_reference());
        // The embedded document is the same as the standalone fixture.
        assert_eq!(hub.document, llama_3_2_1b());
    }

    #[test]
    fn alias_reference_reports_the_public_model_id() {
        let mut hub =
            HubContent::from_describe_json(&fixture("describe-hub-content.model-reference.json"))
                .unwrap();
        hub.hub_content_name = "our-llama".into();
        assert_eq!(hub.public_model_id(), "meta-textgeneration-llama-3-2-1b");
        hub.sagemaker_public_hub_content_arn = None;
        assert_eq!(hub.public_model_id(), "our-llama");
    }

    #[test]
    fn document_keeps_only_training_keys() {
        let d = llama_3_2_1b();
        assert!(d.training_supported);
        assert!(d.gated_bucket && d.is_gated());
        assert_eq!(
            d.default_training_instance_type.as_deref(),
            Some("ml.g5.2xlarge")
        );
        assert_eq!(
            d.supported_training_instance_types,
            ["ml.g5.2xlarge", "ml.g5.4xlarge", "ml.g5.12xlarge"]
        );
        assert_eq!(d.training_volume_size, Some(256));
        assert_eq!(d.max_runtime_in_seconds, Some(360000));
        assert_eq!(d.hyperparameters.len(), 23);
        assert_eq!(d.training_metrics.len(), 3);
        let v = d.training_instance_type_variants.as_ref().unwrap();
        // Variant level specs use lower-case keys.
        let g4dn = &v.variants["ml.g4dn.12xlarge"].properties.hyperparameters;
        assert_eq!(g4dn[2].name, "epoch");
        assert_eq!(g4dn[2].kind, HyperparameterType::Int);
        assert_eq!(g4dn[2].default, serde_json::json!(2));
        assert_eq!(g4dn[2].scope, HyperparameterScope::Other);
        // Nothing but the training keys survives a round trip.
        let back = serde_json::to_value(&d).unwrap();
        assert!(back.get("InferenceConfigs").is_none() && back.get("HostingEulaUri").is_some());
    }

    #[test]
    fn recipe_for_the_default_instance() {
        let r = llama_3_2_1b().recipe("ml.g5.2xlarge").unwrap();
        assert_eq!(r.image_uri, IMAGE);
        assert_eq!(
            r.model_artifact,
            ModelArtifact::Uri(
                "s3://jumpstart-private-cache-prod-us-east-1/meta-training/v1.1.0/train-meta-textgeneration-llama-3-2-1b.tar.gz"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(
            r.gated_model_env_var_uri.as_deref(),
            Some("s3://jumpstart-private-cache-prod-us-east-1/meta-training/g5/v1.0.0/train-meta-textgeneration-llama-3-2-1b.tar.gz")
        );
        assert_eq!(
            r.code_uri.to_string(),
            "s3://jumpstart-cache-prod-us-east-1/source-directory-tarballs/training/meta-textgeneration/prepack/inference-meta-textgeneration/v1.2.0/sourcedir.tar.gz"
        );
        assert!(r.network_isolation && r.gated);
        assert_eq!(
            r.eula_uri.as_deref(),
            Some("s3://jumpstart-cache-prod-us-east-1/fmhMetadata/eula/llamaEula.txt")
        );
        assert_eq!(r.volume_size_gb, 30, "g5 takes no EBS volume size");
        assert_eq!(r.max_runtime_seconds, Some(360000));
        // The 20 algorithm specs; the container ones (sagemaker_program…) are not the model's knobs.
        assert_eq!(r.hyperparameters.len(), 20);
        assert!(r.hyperparameter("sagemaker_program").is_none());
        assert_eq!(
            r.hyperparameter("learning_rate").unwrap().default_string(),
            "0.0001"
        );
        assert_eq!(r.metric_definitions.len(), 3);
        assert!(r.environment.is_empty());
    }

    #[test]
    fn g4dn_variants_are_found() {
        // The SDK renames `ml.g4dn.12xlarge` to `ml._g4_dn.12_xlarge` and never finds it.
        let r = llama_2_13b_f().recipe("ml.g4dn.12xlarge").unwrap();
        assert_eq!(
            r.gated_model_env_var_uri.as_deref(),
            Some("s3://jumpstart-private-cache-prod-us-east-1/meta-training/g4dn/v1.0.0/train-meta-textgeneration-llama-2-13b-f.tar.gz")
        );
        let default = |n: &str| r.hyperparameter(n).unwrap().default_string();
        assert_eq!(default("epoch"), "2");
        assert_eq!(default("int8_quantization"), "True");
        assert_eq!(default("enable_fsdp"), "False");
        assert_eq!(default("lora_r"), "8");
        assert_eq!(r.volume_size_gb, 30, "g4dn has local NVMe storage");
        // p3dn: family variant found, local storage too.
        let r = llama_2_13b_f().recipe("ml.p3dn.24xlarge").unwrap();
        assert!(r
            .gated_model_env_var_uri
            .as_deref()
            .unwrap()
            .contains("/p3dn/"));
        assert_eq!(r.volume_size_gb, 30);
        assert_eq!(r.hyperparameter("epoch").unwrap().default_string(), "1");
    }

    #[test]
    fn instance_type_must_be_supported() {
        let e = llama_3_2_1b().recipe("ml.p3.16xlarge").unwrap_err();
        assert_eq!(e.reason.as_str(), "instance_type_not_supported");
        assert!(
            e.message
                .contains("ml.g5.2xlarge, ml.g5.4xlarge, ml.g5.12xlarge"),
            "{}",
            e.message
        );
    }

    #[test]
    fn untrainable_models_are_refused() {
        let mut d = llama_3_2_1b();
        d.training_supported = false;
        assert_eq!(
            d.recipe("ml.g5.2xlarge").unwrap_err().reason.as_str(),
            "model_not_trainable"
        );
        let mut d = llama_3_2_1b();
        d.training_script_uri = None;
        let e = d.recipe("ml.g5.2xlarge").unwrap_err();
        assert_eq!(e.reason.as_str(), "model_not_trainable");
        assert!(e.message.contains("TrainingScriptUri"), "{}", e.message);
    }

    #[test]
    fn exact_variant_beats_family_property_by_property() {
        let mut d = llama_3_2_1b();
        d.supported_training_instance_types.clear();
        let variants = &mut d.training_instance_type_variants.as_mut().unwrap().variants;
        let mut exact = VariantProperties {
            image_uri: Some("exact-image".into()),
            training_artifact_uri: Some("meta-training/exact/weights.tar.gz".into()),
            ..Default::default()
        };
        exact
            .environment_variables
            .insert("A".into(), "exact".into());
        exact.metrics.push(MetricDefinition {
            name: "huggingface-textgeneration:eval-loss".into(),
            regex: "loss=(\\S+)".into(),
        });
        variants.insert(
            "ml.g5.48xlarge".into(),
            InstanceTypeVariant { properties: exact },
        );
        let g5 = &mut variants.get_mut("g5").unwrap().properties;
        g5.environment_variables.insert("A".into(), "family".into());
        g5.environment_variables.insert("B".into(), "family".into());

        let r = d.recipe("ml.g5.48xlarge").unwrap();
        assert_eq!(r.image_uri, "exact-image");
        // The gated env var comes from the family: there is none on the exact variant.
        assert!(r.gated_model_env_var_uri.unwrap().contains("/g5/"));
        assert_eq!(r.environment["A"], "exact");
        assert_eq!(r.environment["B"], "family");
        // A relative artifact key lives in the region's gated JumpStart bucket, as the SDK resolves it.
        assert_eq!(
            r.model_artifact.uri("eu-west-1").unwrap().to_string(),
            "s3://jumpstart-private-cache-prod-eu-west-1/meta-training/exact/weights.tar.gz"
        );
        // The variant metric replaces the document's and moves to the end.
        assert_eq!(r.metric_definitions.len(), 3);
        assert_eq!(r.metric_definitions[2].regex, "loss=(\\S+)");
        // A full s3:// URI on a variant works too (the SDK raises UnboundLocalError on it).
        let variants = &mut d.training_instance_type_variants.as_mut().unwrap().variants;
        variants
            .get_mut("ml.g5.48xlarge")
            .unwrap()
            .properties
            .training_artifact_uri = Some("s3://my-weights/llama/".into());
        let r = d.recipe("ml.g5.48xlarge").unwrap();
        assert_eq!(
            r.model_artifact.uri("us-east-1").unwrap().to_string(),
            "s3://my-weights/llama/"
        );
        // A non-gated model's keys resolve in the public bucket.
        d.gated_bucket = false;
        variants_set_relative(&mut d);
        let r = d.recipe("ml.g5.48xlarge").unwrap();
        assert_eq!(
            r.model_artifact.uri("us-east-1").unwrap().bucket(),
            "jumpstart-cache-prod-us-east-1"
        );
    }

    fn variants_set_relative(d: &mut HubDocument) {
        let variants = &mut d.training_instance_type_variants.as_mut().unwrap().variants;
        variants
            .get_mut("ml.g5.48xlarge")
            .unwrap()
            .properties
            .training_artifact_uri = Some("k/w.tar.gz".into());
    }

    #[test]
    fn prepacked_script_wins() {
        let mut d = llama_3_2_1b();
        d.training_prepacked_script_uri =
            Some("s3://jumpstart-cache-prod-us-east-1/prepacked/sourcedir.tar.gz".into());
        assert_eq!(
            d.recipe("ml.g5.2xlarge").unwrap().code_uri.to_string(),
            "s3://jumpstart-cache-prod-us-east-1/prepacked/sourcedir.tar.gz"
        );
    }

    #[test]
    fn gated_by_eula_uri_alone() {
        let mut d = llama_3_2_1b();
        d.gated_bucket = false;
        assert!(d.is_gated());
        d.hosting_eula_uri = None;
        assert!(!d.is_gated());
    }

    #[test]
    fn volume_rule_matches_the_sdk() {
        for (t, supported) in [
            ("ml.g5.2xlarge", false),
            ("ml.g6e.xlarge", false),
            ("ml.p5.48xlarge", false),
            ("ml.p5en.48xlarge", false),
            ("ml.trn1.32xlarge", false),
            ("ml.trn1n.32xlarge", false),
            ("ml.g4dn.12xlarge", false),
            ("ml.p4d.24xlarge", false),
            ("ml.p4de.24xlarge", false),
            ("ml.c5d.xlarge", false),
            ("ml.p3.16xlarge", true),
            ("ml.m5.xlarge", true),
            ("ml.trn2.48xlarge", true),
            ("local_gpu", false),
        ] {
            assert_eq!(volume_size_supported(t), supported, "{t}");
        }
        assert_eq!(sdk_volume_size_gb("ml.p3.16xlarge", Some(256)), 256);
        assert_eq!(sdk_volume_size_gb("ml.p3.16xlarge", None), 30);
        assert_eq!(sdk_volume_size_gb("ml.g5.2xlarge", Some(256)), 30);
    }

    #[test]
    fn families() {
        assert_eq!(instance_family("ml.g5.2xlarge"), Some("g5"));
        assert_eq!(instance_family("ml.g4dn.12xlarge"), Some("g4dn"));
        assert_eq!(instance_family("ml.p5en.48xlarge"), Some("p5en"));
        assert_eq!(instance_family("ml_g5"), Some("g5"));
        assert_eq!(instance_family("g5.2xlarge"), None);
        assert_eq!(instance_family("local_gpu"), None);
    }

    #[test]
    fn arns() {
        assert_eq!(
            hub_arn("us-east-1", "111122223333", "my-private-hub"),
            "arn:aws:sagemaker:us-east-1:111122223333:hub/my-private-hub"
        );
        let shared = "arn:aws:sagemaker:us-west-2:444455556666:hub/shared-hub";
        assert_eq!(hub_arn("us-east-1", "111122223333", shared), shared);
        assert_eq!(
            hub_arn("cn-north-1", "1", "h"),
            "arn:aws-cn:sagemaker:cn-north-1:1:hub/h"
        );
        assert_eq!(hub_name(shared), "shared-hub");
        assert_eq!(hub_name("plain"), "plain");
        assert_eq!(
            hub_content_arn("us-east-1", "111122223333", "my-private-hub", HubContentType::ModelReference, "m", Some("1.2.0")),
            "arn:aws:sagemaker:us-east-1:111122223333:hub-content/my-private-hub/ModelReference/m/1.2.0"
        );
        // A shared hub's ARN decides region and account; IAM's form has no version.
        assert_eq!(
            hub_content_arn(
                "us-east-1",
                "111122223333",
                shared,
                HubContentType::Model,
                "m",
                None
            ),
            "arn:aws:sagemaker:us-west-2:444455556666:hub-content/shared-hub/Model/m"
        );
        let p = parse_hub_content_arn(
            "arn:aws:sagemaker:us-east-1:aws:hub-content/SageMakerPublicHub/Model/meta-textgeneration-llama-3-2-1b/1.2.0",
        )
        .unwrap();
        assert_eq!(
            (p.hub_name, p.content_type, p.name, p.version),
            (
                PUBLIC_HUB_NAME,
                "Model",
                "meta-textgeneration-llama-3-2-1b",
                Some("1.2.0")
            )
        );
        assert!(parse_hub_arn("arn:aws:sagemaker:us-east-1:1:hub-content/h/Model/m").is_none());
        assert!(parse_hub_arn("my-hub").is_none());
    }

    #[test]
    fn python_strings() {
        use serde_json::json;
        for (v, s) in [
            (json!(1), "1"),
            (json!(-1), "-1"),
            (json!(0.0001), "0.0001"),
            (json!(1e-08), "1e-08"),
            (json!(0.00001), "1e-05"),
            (json!(0.2), "0.2"),
            (json!(1.0), "1.0"),
            (json!(0), "0"),
            (json!(0.0), "0.0"),
            (json!(1e16), "1e+16"),
            (json!(1234567890123456.0), "1234567890123456.0"),
            (json!(123.456), "123.456"),
            (json!(true), "True"),
            (json!(null), "None"),
            (json!("q_proj,v_proj"), "q_proj,v_proj"),
        ] {
            assert_eq!(python_str(&v), s, "{v}");
        }
        assert_eq!(python_json_string("2"), "\"2\"");
        assert_eq!(python_json_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(
            python_json_string("é😀\u{7f}"),
            "\"\\u00e9\\ud83d\\ude00\\u007f\""
        );
    }

    #[test]
    fn hyperparameter_checks_follow_the_sdk() {
        let r = llama_3_2_1b().recipe("ml.g5.2xlarge").unwrap();
        let check = |n: &str, v: &str| r.hyperparameter(n).unwrap().check(v);
        assert!(check("epoch", "2").is_ok());
        assert!(check("epoch", "+2").is_ok());
        assert!(check("epoch", "0").unwrap_err().contains("at least 1"));
        assert!(check("epoch", "1001").unwrap_err().contains("at most 1000"));
        assert!(check("epoch", "2.5").unwrap_err().contains("integer"));
        assert!(check("epoch", "two").unwrap_err().contains("integer"));
        assert!(check("learning_rate", "1e-5").is_ok());
        assert!(check("learning_rate", "2")
            .unwrap_err()
            .contains("at most 1"));
        assert!(check("learning_rate", "NaN").is_err());
        assert!(check("instruction_tuned", "True").is_ok());
        assert!(check("instruction_tuned", "true")
            .unwrap_err()
            .contains("True, False"));
        assert!(check("target_modules", "q_proj").is_ok());
        assert_eq!(
            r.hyperparameter("epoch").unwrap().describe_rule(),
            "int, value >= 1.0, value <= 1000.0"
        );
        let b = HyperparameterSpec {
            name: "flag".into(),
            kind: HyperparameterType::Bool,
            default: serde_json::json!(false),
            scope: HyperparameterScope::Algorithm,
            options: None,
            min: None,
            max: None,
            exclusive_min: None,
            exclusive_max: None,
        };
        assert!(b.check("TRUE").is_ok() && b.check("yes").is_err());
        assert_eq!(b.default_string(), "False");
    }

    #[test]
    fn bad_documents_name_the_key() {
        let e =
            HubDocument::from_json(r#"{"TrainingSupported": true, "TrainingVolumeSize": "big"}"#)
                .unwrap_err();
        assert!(e.to_string().contains("TrainingVolumeSize"), "{e}");
        let e = HubDocument::from_json(r#"{"Hyperparameters": [{"Name": "x"}]}"#).unwrap_err();
        assert!(e.to_string().contains("Hyperparameters[0]"), "{e}");
        // Null, numeric strings and non-string environment values are tolerated.
        let d = HubDocument::from_json(
            r#"{"TrainingSupported": null, "TrainingVolumeSize": "100", "TrainingInstanceTypeVariants":
                {"Variants": {"g5": {"Properties": {"EnvironmentVariables": {"N": 1}}}}}}"#,
        )
        .unwrap();
        assert!(!d.training_supported);
        assert_eq!(d.training_volume_size, Some(100));
        let g5 = &d.training_instance_type_variants.unwrap().variants["g5"];
        assert_eq!(g5.properties.environment_variables["N"], "1");
        let e = HubContent::from_describe_json(
            &fixture("describe-hub-content.model-reference.json").replace(
                "\\\"TrainingSupported\\\": true",
                "\\\"TrainingSupported\\\": 7",
            ),
        )
        .unwrap_err();
        assert!(
            matches!(&e, HubError::Document { arn, path, .. } if arn.contains("ModelReference") && path == "TrainingSupported"),
            "{e}"
        );
        let r: Rejection = e.into();
        assert_eq!(r.reason.as_str(), "bad_hub_document");
        assert!(r.message.contains("TrainingSupported"), "{}", r.message);
    }
}
