//! The decision on inputs built by hand and on the repository's fixtures.

use super::*;
use crate::domain::config::{self, DeploymentEnv};
use crate::domain::inbound::parse_message;
use serde_json::{json, Value};

const ROUTES: &str = r#"
[deployment]
bucket = "acme-ml-datasets"
[defaults]
hub = "my-private-hub"
role_arn = "arn:aws:iam::111122223333:role/hubtune-training"
[routes.support-bot]
prefix = "datasets/support-bot/"
model_id = "meta-textgeneration-llama-3-2-1b"
"#;

fn routes() -> Config {
    config::parse(ROUTES, &DeploymentEnv::default(), None).expect("the test routes file parses")
}

fn now() -> DateTime<Utc> {
    "2026-11-27T09:30:00Z".parse().unwrap()
}

fn one(v: &Value) -> Inbound {
    let mut all = parse_message(v);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn decided(function: Function, v: &Value) -> Handling {
    decide(function, one(v), Some(&routes()), now()).expect("routes were given")
}

fn created(key: &str) -> Value {
    json!({"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-27T09:14:03Z",
        "s3": {"bucket": {"name": "acme-ml-datasets"}, "object": {"key": key, "sequencer": "0A1B"}}}]})
}

fn eventbridge(source: &str, detail_type: &str, detail: Value) -> Value {
    json!({"version": "0", "id": "x", "detail-type": detail_type, "source": source, "account": "111122223333",
        "time": "2026-11-27T09:14:03Z", "region": "us-east-1", "resources": [], "detail": detail})
}

#[test]
fn an_s3_test_event_is_ignored_by_the_launcher() {
    let test_event = json!({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"});
    let h = decided(Function::LaunchFinetune, &test_event);
    assert_eq!(
        h,
        Handling::LaunchFinetune(LaunchHandling::Ignore {
            reason: Ignore::S3TestEvent
        })
    );
    assert_eq!(h.ending(), Ending::Ignore);
    assert_eq!(h.to_string(), "ignored: s3 test event");
}

#[test]
fn a_removal_is_ignored() {
    let mut removed = created("datasets/support-bot/d/_SUCCESS");
    removed["Records"][0]["eventName"] = json!("ObjectRemoved:Delete");
    let h = decided(Function::LaunchFinetune, &removed);
    assert!(
        matches!(
            &h,
            Handling::LaunchFinetune(LaunchHandling::Ignore {
                reason: Ignore::NotCreated(_)
            })
        ),
        "{h:?}"
    );
    assert!(
        h.to_string()
            .starts_with("ignored: S3 `ObjectRemoved:Delete`"),
        "{h}"
    );
}

#[test]
fn a_data_file_and_a_placeholder_are_ignored() {
    for key in [
        "datasets/support-bot/d/train.jsonl",
        "datasets/support-bot/d/",
    ] {
        let h = decided(Function::LaunchFinetune, &created(key));
        assert!(
            matches!(
                &h,
                Handling::LaunchFinetune(LaunchHandling::Ignore {
                    reason: Ignore::NotATrigger(_)
                })
            ),
            "{key}: {h:?}"
        );
    }
}

#[test]
fn a_marker_in_the_route_root_is_rejected_as_marker_outside_folder() {
    let h = decided(
        Function::LaunchFinetune,
        &created("datasets/support-bot/_SUCCESS"),
    );
    let Handling::LaunchFinetune(LaunchHandling::Reject(r)) = &h else {
        panic!("{h:?}")
    };
    assert_eq!(r.rejection.reason, RejectionReason::MarkerOutsideFolder);
    assert_eq!(
        r.dataset_uri.as_deref(),
        Some("s3://acme-ml-datasets/datasets/support-bot/_SUCCESS")
    );
    assert_eq!(h.ending(), Ending::Rejected);
    assert!(
        h.to_string()
            .starts_with("rejected: marker_outside_folder ("),
        "{h}"
    );
}

#[test]
fn a_marker_under_no_route_and_an_unusable_notification_are_rejected() {
    let h = decided(Function::LaunchFinetune, &created("elsewhere/d/_SUCCESS"));
    let Handling::LaunchFinetune(LaunchHandling::Reject(r)) = &h else {
        panic!("{h:?}")
    };
    assert_eq!(r.rejection.reason, RejectionReason::UnknownRoute);
    // One rejection per upload: the sequencer is part of the event's id.
    assert!(r.id_key.ends_with("\u{0}0A1B"), "{:?}", r.id_key);
    let mut no_key = created("x");
    no_key["Records"][0]["s3"]["object"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    let h = decided(Function::LaunchFinetune, &no_key);
    let Handling::LaunchFinetune(LaunchHandling::Reject(r)) = &h else {
        panic!("{h:?}")
    };
    assert_eq!(r.rejection.reason, RejectionReason::UnusableNotification);
    assert_eq!(r.dataset_uri, None);
}

#[test]
fn a_marker_in_a_dataset_folder_launches_its_deterministic_job() {
    let key = "datasets/support-bot/d/_SUCCESS";
    let h = decided(Function::LaunchFinetune, &created(key));
    let Handling::LaunchFinetune(LaunchHandling::Launch { job, dataset }) = &h else {
        panic!("{h:?}")
    };
    let c = routes();
    assert_eq!(
        *job,
        dataset.identity.job_name(&c, "support-bot").to_string()
    );
    assert_eq!(
        dataset.location.to_string(),
        "s3://acme-ml-datasets/datasets/support-bot/d/"
    );
    assert_eq!(h.ending(), Ending::Effect);
    assert!(
        h.to_string().starts_with(&format!("launch: job {job} ")),
        "{h}"
    );
}

#[test]
fn an_object_landing_needs_the_routes_file() {
    let landed = one(&created("datasets/support-bot/d/_SUCCESS"));
    assert_eq!(
        decide(Function::LaunchFinetune, landed, None, now()),
        Err(NeedsRoutes {
            function: Function::LaunchFinetune
        })
    );
    // What needs no routes is decided without them.
    let freed = eventbridge("hubtune", "Route Slot Freed", json!({"route": "r"}));
    assert_eq!(
        decide(Function::LaunchFinetune, one(&freed), None, now()),
        Ok(Handling::LaunchFinetune(LaunchHandling::Drain {
            route: "r".into()
        }))
    );
}

#[test]
fn another_deployments_job_is_ignored_and_ours_is_reconciled() {
    let change = |job: &str| {
        eventbridge(
            "aws.sagemaker",
            crate::domain::inbound::SAGEMAKER_STATE_CHANGE,
            json!({"TrainingJobName": job, "TrainingJobStatus": "Failed", "FailureReason": "OOM",
                "CreationTime": 1795770843000_i64, "TrainingEndTime": "1795776062000"}),
        )
    };
    let h = decided(Function::TrainingState, &change("kmeans-1"));
    assert!(
        matches!(
            &h,
            Handling::TrainingState(StateHandling::Ignore {
                reason: Ignore::OtherDeploymentsJob { .. }
            })
        ),
        "{h:?}"
    );
    // A name that merely starts with the prefix's letters is not ours.
    let h = decided(Function::TrainingState, &change("hubtuner-x"));
    assert_eq!(h.ending(), Ending::Ignore, "{h:?}");
    let h = decided(Function::TrainingState, &change("hubtune-support-bot-1"));
    let Handling::TrainingState(StateHandling::Reconcile {
        job,
        status,
        creation,
        end,
        failure_reason,
        ..
    }) = &h
    else {
        panic!("{h:?}")
    };
    assert_eq!(
        (job.as_str(), *status, failure_reason.as_deref()),
        ("hubtune-support-bot-1", JobStatus::Failed, Some("OOM"))
    );
    assert_eq!(creation.unwrap().to_rfc3339(), "2026-11-27T09:14:03+00:00");
    assert_eq!(end.unwrap().to_rfc3339(), "2026-11-27T10:41:02+00:00");
    let said = h.to_string();
    for part in [
        "created 2026-11-27T09:14:03+00:00",
        "ended 2026-11-27T10:41:02+00:00",
        "failure reason OOM",
    ] {
        assert!(said.contains(part), "{said}");
    }
}

#[test]
fn training_run_finished_given_to_the_launcher_fails_to_the_dead_letter_queue() {
    let finished = eventbridge(
        "hubtune",
        TRAINING_RUN_FINISHED,
        json!({"job_name": "hubtune-support-bot-1"}),
    );
    let h = decided(Function::LaunchFinetune, &finished);
    assert_eq!(
        h,
        Handling::LaunchFinetune(LaunchHandling::Fail {
            why: "launch-finetune does not take hubtune's `Training Run Finished`".into()
        })
    );
    assert_eq!(h.ending(), Ending::Failure);
    assert!(h.to_string().contains("dead-letter queue"), "{h}");
    // Its own function publishes it; without a job name it fails there too.
    assert_eq!(
        decided(Function::PublishArtifact, &finished),
        Handling::PublishArtifact(PublishHandling::Publish {
            job: "hubtune-support-bot-1".into()
        })
    );
    let nameless = eventbridge("hubtune", TRAINING_RUN_FINISHED, json!({}));
    assert_eq!(
        decided(Function::PublishArtifact, &nameless).ending(),
        Ending::Failure
    );
}

/// An input whose function cannot be told (a stranger's payload, an event hubtune sends for its subscribers)
/// fails wherever it is delivered: inspect may say so without knowing where it went.
#[test]
fn an_input_no_function_takes_fails_in_every_function() {
    let inputs = [
        json!({"hello": "world"}),
        json!("not an event"),
        eventbridge(
            "hubtune",
            "Model Published",
            json!({"job_name": "hubtune-x-1"}),
        ),
        eventbridge(
            "aws.ec2",
            "EC2 Instance State-change Notification",
            json!({}),
        ),
    ];
    for v in &inputs {
        let inbound = one(v);
        assert_eq!(Function::for_input(&inbound), None, "{v}");
        for f in Function::ALL {
            let h = decide(f, inbound.clone(), Some(&routes()), now()).unwrap();
            assert_eq!(h.ending(), Ending::Failure, "{f}: {v}: {h:?}");
        }
    }
}

#[test]
fn the_function_is_told_from_the_input() {
    let cases = [
        (
            created("datasets/support-bot/d/_SUCCESS"),
            Function::LaunchFinetune,
        ),
        (json!({"Event": "s3:TestEvent"}), Function::LaunchFinetune),
        (
            eventbridge("aws.events", "Scheduled Event", json!({})),
            Function::TrainingState,
        ),
        (
            eventbridge("hubtune", TRAINING_RUN_FINISHED, json!({"job_name": "j"})),
            Function::PublishArtifact,
        ),
    ];
    for (v, f) in cases {
        assert_eq!(Function::for_input(&one(&v)), Some(f), "{v}");
    }
    assert_eq!(
        Function::parse("training-state"),
        Some(Function::TrainingState)
    );
    assert_eq!(Function::parse("nope"), None);
}

/// The JSON `hubtune inspect` prints: the handler's ending as `outcome`, never the id key (it holds NULs).
#[test]
fn the_json_names_the_outcome() {
    let h = decided(
        Function::LaunchFinetune,
        &created("datasets/support-bot/_SUCCESS"),
    );
    let v = serde_json::to_value(&h).unwrap();
    assert_eq!(v["outcome"], "rejected");
    assert_eq!(v["rejection"]["code"], "marker_outside_folder");
    assert!(v.get("id_key").is_none(), "{v}");
    let ignored = decided(Function::LaunchFinetune, &json!({"Event": "s3:TestEvent"}));
    assert_eq!(
        serde_json::to_value(&ignored).unwrap(),
        json!({"outcome": "ignored", "reason": "s3 test event"})
    );
}

mod no_panic {
    use super::*;
    use crate::domain::inbound::parse_body;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any text, as any function receives it, is decided (with or without the routes file), and said.
        #[test]
        fn any_input_is_decided_by_every_function(s in ".{0,200}", key in "[a-z_/.]{0,40}") {
            let c = routes();
            for body in [s.clone(), created(&key).to_string()] {
                for inbound in parse_body(&body) {
                    for f in Function::ALL {
                        let h = decide(f, inbound.clone(), Some(&c), now()).unwrap();
                        prop_assert!(!h.to_string().is_empty());
                        let _ = decide(f, inbound.clone(), None, now());
                    }
                }
            }
        }
    }
}
