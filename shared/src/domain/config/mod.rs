//! The routes file (`hubtune.toml`) and the deployment settings, validated into types that cannot hold bad values.
//!
//! Every error names where it is: `routes.support-bot.instance_count: must be at least 1`. Unknown keys are errors
//! too, because a misspelt `acept_eula` silently ignored would cost a day of debugging.

mod deployment;
pub mod duration;
pub mod model;
mod parse;
mod prefixes;
mod raw;
mod request;
mod route;

pub use crate::domain::channels::{channel_of, ChannelFolder, TRAINING, VALIDATION};
pub use duration::parse_duration;
pub use model::*;
pub use parse::parse;

/// The table of routes-file cases AWS refuses or accepts, for the core's test and the CLI's (feature `test-util`).
#[cfg(any(test, feature = "test-util"))]
pub mod check_cases;
#[cfg(test)]
mod check_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::s3uri::S3Uri;
    use std::time::Duration;

    const GOOD: &str = r#"
[deployment]
bucket = "acme-ml-datasets"

[defaults]
hub = "my-private-hub"
role_arn = "arn:aws:iam::111122223333:role/SageMakerExecutionRole"

[routes.support-bot]
prefix = "datasets/support-bot/"
model_id = "meta-textgeneration-llama-3-2-1b"
accept_eula = true
instance_type = "ml.g5.2xlarge"
hyperparameters = { epoch = 2, instruction_tuned = true, learning_rate = "0.0002" }
tags = { team = "support" }
max_concurrent_jobs = 2
queue_max_age = "3d"
"#;

    fn parse_ok(s: &str) -> Config {
        parse(s, &DeploymentEnv::default(), None).unwrap()
    }

    fn parse_err(s: &str) -> String {
        parse(s, &DeploymentEnv::default(), None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_good_file_gets_its_defaults() {
        let c = parse_ok(GOOD);
        let r = c.route("support-bot").unwrap();
        assert_eq!(
            r.prefix.to_string(),
            "s3://acme-ml-datasets/datasets/support-bot/"
        );
        assert_eq!(
            r.trigger,
            Trigger::Marker {
                marker: "_SUCCESS".into()
            }
        );
        assert_eq!(r.busy_policy, BusyPolicy::Queue);
        assert_eq!(r.queue_max_age, Duration::from_secs(3 * 86400));
        assert_eq!(
            r.training.output_path.to_string(),
            "s3://acme-ml-datasets/hubtune/output/support-bot/"
        );
        assert_eq!(r.training.hyperparameters["epoch"], "2");
        assert_eq!(r.training.hyperparameters["instruction_tuned"], "True");
        assert_eq!(r.training.instance_count, 1);
        assert!(r.training.accept_eula);
        assert_eq!(c.deployment.job_prefix.as_str(), "hubtune");
        assert_eq!(
            c.deployment.state_prefix.to_string(),
            "s3://acme-ml-datasets/hubtune/state/"
        );
    }

    #[test]
    fn env_overrides_the_deployment_table() {
        let env = DeploymentEnv {
            bucket: Some("other-bucket".into()),
            job_prefix: Some("ml".into()),
            ..Default::default()
        };
        let c = parse(GOOD, &env, None).unwrap();
        assert_eq!(c.deployment.bucket, "other-bucket");
        assert_eq!(c.deployment.job_prefix.as_str(), "ml");
    }

    #[test]
    fn unknown_keys_name_route_and_key() {
        let e = parse_err(&GOOD.replace("accept_eula = true", "acept_eula = true"));
        assert!(
            e.contains("routes.support-bot") && e.contains("acept_eula"),
            "{e}"
        );
    }

    #[test]
    fn instance_types_are_tried_in_order_and_a_route_list_replaces_the_defaults_type() {
        let one = parse_ok(GOOD);
        let r = one.route("support-bot").unwrap();
        assert_eq!(r.instance_types, ["ml.g5.2xlarge"]);
        let listed = GOOD.replace(
            "instance_type = \"ml.g5.2xlarge\"",
            "instance_types = [\"ml.g5.4xlarge\", \"ml.g5.2xlarge\"]",
        );
        // The defaults' single type is not inherited beside the route's list (the route would name both).
        let listed = listed.replace(
            "[defaults]\n",
            "[defaults]\ninstance_type = \"ml.g5.12xlarge\"\n",
        );
        let c = parse_ok(&listed);
        let r = c.route("support-bot").unwrap();
        assert_eq!(r.instance_types, ["ml.g5.4xlarge", "ml.g5.2xlarge"]);
        assert_eq!(r.training.instance_type.as_deref(), Some("ml.g5.4xlarge"));
    }

    #[test]
    fn bad_values_name_route_and_key() {
        let e = parse_err(&GOOD.replace("max_concurrent_jobs = 2", "max_concurrent_jobs = 0"));
        assert!(
            e.starts_with("routes.support-bot.max_concurrent_jobs:"),
            "{e}"
        );
        let e = parse_err(&GOOD.replace("queue_max_age = \"3d\"", "queue_max_age = \"3 weeks\""));
        assert!(e.starts_with("routes.support-bot.queue_max_age:"), "{e}");
        let e = parse_err(&GOOD.replace(
            "instance_type = \"ml.g5.2xlarge\"",
            "instance_type = \"g5\"",
        ));
        assert!(e.starts_with("routes.support-bot.instance_type:"), "{e}");
        let e =
            parse_err(&GOOD.replace("max_concurrent_jobs = 2", "max_concurrent_jobs = \"two\""));
        assert!(e.contains("routes.support-bot.max_concurrent_jobs"), "{e}");
    }

    #[test]
    fn state_under_a_dataset_prefix_is_refused() {
        let e = parse_err(&GOOD.replace(
            "[deployment]\n",
            "[deployment]\nstate_prefix = \"datasets/support-bot/state/\"\n",
        ));
        assert!(
            e.contains("routes.support-bot.prefix") && e.contains("state_prefix"),
            "{e}"
        );
        let e = parse_err(&GOOD.replace(
            "tags = {",
            "output_path = \"s3://acme-ml-datasets/datasets/support-bot/out/\"\ntags = {",
        ));
        assert!(e.contains("output_path"), "{e}");
    }

    #[test]
    fn routes_outside_the_forwarded_prefix_are_refused() {
        let env = DeploymentEnv {
            dataset_prefix: Some("incoming/".into()),
            ..Default::default()
        };
        let e = parse(GOOD, &env, None).unwrap_err().to_string();
        assert!(
            e.starts_with("routes.support-bot.prefix:") && e.contains("incoming/"),
            "{e}"
        );
        let env = DeploymentEnv {
            dataset_prefix: Some("datasets/".into()),
            ..Default::default()
        };
        assert!(parse(GOOD, &env, None).is_ok());
    }

    #[test]
    fn nested_routes_are_refused() {
        let e = parse_err(&format!(
            "{GOOD}\n[routes.inner]\nprefix = \"datasets/support-bot/inner/\"\nmodel_id = \"m\"\n"
        ));
        assert!(
            e.contains("routes.inner.prefix") && e.contains("two routes"),
            "{e}"
        );
    }

    #[test]
    fn missing_things_are_named() {
        let e = parse_err("[deployment]\nbucket = \"abc\"\n");
        assert!(e.starts_with("routes:"), "{e}");
        let e = parse_err("[routes.a]\nprefix = \"d/\"\n");
        assert!(e.contains("deployment.bucket"), "{e}");
        let e = parse_err(&GOOD.replace("model_id = \"meta-textgeneration-llama-3-2-1b\"", ""));
        assert!(e.starts_with("routes.support-bot.model_id:"), "{e}");
        assert!(parse_err("[routes.a\n").contains("parse"));
    }

    #[test]
    fn routing_and_own_objects() {
        let c = parse_ok(GOOD);
        let key = |k: &str| S3Uri::new("acme-ml-datasets", k).unwrap();
        assert_eq!(
            c.route_for(&key("datasets/support-bot/x/_SUCCESS"))
                .unwrap()
                .name,
            "support-bot"
        );
        assert!(c.route_for(&key("datasets/other/x/_SUCCESS")).is_none());
        assert!(c.is_own_object(&key("hubtune/state/runs/a.json")));
        assert!(!c.is_own_object(&key("datasets/support-bot/x/_SUCCESS")));
    }

    #[test]
    fn durations() {
        use toml::Value::*;
        assert_eq!(
            parse_duration(&String("45s".into())).unwrap(),
            Duration::from_secs(45)
        );
        assert_eq!(
            parse_duration(&String("2h".into())).unwrap(),
            Duration::from_secs(7200)
        );
        assert_eq!(
            parse_duration(&Integer(60)).unwrap(),
            Duration::from_secs(60)
        );
        assert!(parse_duration(&Integer(0)).is_err());
        assert!(parse_duration(&String("5y".into())).is_err());
    }

    /// What the API accepts is accepted: tags in any script, counts above 64, and the reserved prefix in any case
    /// refused.
    #[test]
    fn refuses_nothing_the_api_accepts() {
        let c = parse_ok(&GOOD.replace(
            "tags = { team = \"support\" }",
            "tags = { \"équipe\" = \"Ωmega 42\" }\ninstance_count = 100",
        ));
        assert_eq!(c.routes[0].training.instance_count, 100);
        let e = parse_err(&GOOD.replace("team = \"support\"", "\"AWS:owner\" = \"x\""));
        assert!(e.contains("reserved"), "{e}");
        let e = parse_err(&GOOD.replace(
            "queue_max_age = \"3d\"",
            "queue_max_age = \"9999999999999999d\"",
        ));
        assert!(e.contains("queue_max_age"), "{e}");
    }
}
