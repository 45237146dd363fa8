//! The local stand-in judges requests as AWS would: CreateTrainingJob and PutEvents are checked against botocore's service models, so a request AWS would refuse fails here too.
//!
//! The refusals go through hubtune's real SDK adapters (`Aws`), so what is proved is what the SDK puts on the wire;
//! the whole launch proves hubtune's own requests pass the same checks.

use std::time::Duration;

use hubtune::domain::error::Error;
use hubtune::domain::events::OutgoingEvent;
use hubtune::domain::plan::{CreateTrainingJobRequest, Tag};
use hubtune::ports::EventBus;
use hubtune_e2e::{fixture, Env, Setup};
use serde_json::json;

const T: Duration = Duration::from_secs(30);

/// The SageMaker SDK's own CreateTrainingJob request (fixtures/sdk), which AWS accepts.
fn sdk_request(name: &str) -> CreateTrainingJobRequest {
    let path = fixture("sdk/create_training_job.accept_eula.json");
    let text = std::fs::read_to_string(&path).expect("the SDK fixture is readable");
    let mut req: CreateTrainingJobRequest =
        serde_json::from_str(&text).expect("the SDK fixture is a CreateTrainingJobRequest");
    req.training_job_name = name.to_string();
    req
}

/// The code and message of a refusal, or a panic naming what came back instead.
fn refusal<T: std::fmt::Debug>(sent: Result<T, Error>) -> (String, String) {
    match sent {
        Err(Error::Aws { code, message, .. }) => (code.unwrap_or_default(), message),
        other => panic!("expected AWS's refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn a_create_training_job_aws_would_refuse_is_refused_naming_each_field() {
    let env = Env::start(Setup::default()).await;
    // Three values the model forbids: an 11-digit account, a tag key over 128, an environment key off its pattern.
    let mut req = sdk_request("standin-refused");
    req.role_arn = "arn:aws:iam::11112222333:role/SageMakerExecutionRole".into();
    req.tags.push(Tag {
        key: "k".repeat(129),
        value: "v".into(),
    });
    req.environment.insert("1BAD-KEY".into(), "x".into());
    let (code, message) = refusal(env.aws.create_training_job(&req).await);
    assert_eq!(code, "ValidationException", "{message}");
    assert!(
        message.starts_with("3 validation errors detected: "),
        "{message}"
    );
    for field in ["'roleArn'", "'tags.4.member.key'", "'environment'"] {
        assert!(
            message.contains(&format!("at {field} failed to satisfy constraint")),
            "{field} in {message}"
        );
    }
    assert!(
        env.jobs().await.is_empty(),
        "a refused request makes no job"
    );

    // What AWS takes (non-Latin tags, 100 instances) the stand-in takes too.
    let mut ok = sdk_request("standin-accepted");
    ok.tags.push(Tag {
        key: "モデル".into(),
        value: "ラマ 三".into(),
    });
    ok.resource_config.instance_count = 100;
    env.aws
        .create_training_job(&ok)
        .await
        .expect("a request AWS accepts is accepted");
    env.stop().await;
}

#[tokio::test]
async fn a_put_events_aws_would_refuse_is_refused_whole() {
    let env = Env::start(Setup::default()).await;
    let event = OutgoingEvent {
        source: "hubtune".into(),
        detail_type: "Training Run Started".into(),
        detail: json!({"schema": 1, "event_id": "standin"}),
        resources: vec![],
    };
    let (code, message) = refusal(
        env.aws
            .put_events("hub tune", std::slice::from_ref(&event))
            .await,
    );
    assert_eq!(code, "ValidationException", "{message}");
    assert!(
        message.contains("at 'entries.1.member.eventBusName' failed to satisfy constraint"),
        "{message}"
    );
    let huge = OutgoingEvent {
        detail: json!({ "blob": "x".repeat(256 * 1024) }),
        ..event
    };
    let (code, message) = refusal(env.aws.put_events(&env.stack.info.event_bus, &[huge]).await);
    assert_eq!(
        (code.as_str(), message.as_str()),
        (
            "ValidationException",
            "Total size of the entries in the request is over the limit."
        )
    );
    env.stop().await;
}

#[tokio::test]
async fn a_whole_launch_passes_the_stand_ins_checks() {
    let env = Env::start(Setup::default()).await;
    env.drop_good("standin-launch").await;
    // Training Run Started went through PutEvents, after CreateTrainingJob: both passed the checks.
    env.wait_for("Training Run Started", 1, T).await;
    let jobs = env.jobs().await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let calls = env.calls().await;
    assert_eq!(calls.get("sagemaker.CreateTrainingJob").copied(), Some(1));
    env.stop().await;
}
