use std::collections::BTreeMap;

use super::*;
use crate::domain::job::JobStatus;

fn desc(status: JobStatus) -> JobDescription {
    JobDescription {
        name: "hubtune-r-0123456789abcdef".into(),
        arn: "arn:aws:sagemaker:us-east-1:111122223333:training-job/hubtune-r-0123456789abcdef"
            .into(),
        status,
        secondary_status: Some(status.as_str().into()),
        failure_reason: None,
        model_artifacts: None,
        creation_time: None,
        training_start_time: None,
        training_end_time: None,
        last_modified_time: None,
        training_seconds: Some(3600),
        billable_seconds: Some(3540),
        managed_spot: false,
        final_metrics: BTreeMap::from([
            ("train-loss".to_string(), 0.41),
            ("ObjectiveMetric".to_string(), 0.5),
            ("eval-loss".to_string(), 0.52),
        ]),
        metric_names: vec!["train-loss".into(), "eval-loss".into(), "perplexity".into()],
        secondary_transitions: vec![
            transition("Starting", "Preparing the instances for training"),
            transition("Training", "Training in progress."),
            transition("Failed", "AlgorithmError: CUDA out of memory"),
        ],
        hyperparameters: BTreeMap::new(),
        image: None,
        instance_type: Some("ml.g5.2xlarge".into()),
        instance_count: Some(2),
        output_path: None,
        training_input: None,
    }
}

fn transition(status: &str, message: &str) -> StatusTransition {
    StatusTransition {
        status: status.into(),
        start: None,
        end: None,
        message: Some(message.into()),
    }
}

fn input<'a>(d: Option<&'a JobDescription>, price: Option<f64>) -> ResultsInput<'a> {
    ResultsInput {
        desc: d,
        instance_type: "ml.g5.xlarge",
        instance_count: 1,
        failure_reason: None,
        completed: true,
        hourly_price_usd: price,
    }
}

#[test]
fn metrics_follow_the_documents_definitions_then_the_rest_by_name() {
    let d = desc(JobStatus::Completed);
    let r = RunResults::of(input(Some(&d), None));
    let names: Vec<&str> = r.final_metrics.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["train-loss", "eval-loss", "ObjectiveMetric"]);
    assert_eq!(r.final_metrics[1].value, 0.52);
    assert_eq!(r.missing_metrics, ["perplexity"]);
    assert!(
        r.line().contains("no value for: perplexity"),
        "{}",
        r.line()
    );
}

#[test]
fn times_and_instances_come_from_the_description_else_the_record() {
    let d = desc(JobStatus::Completed);
    let r = RunResults::of(input(Some(&d), None));
    assert_eq!(
        (r.training_seconds, r.billable_seconds),
        (Some(3600), Some(3540))
    );
    assert_eq!(
        (r.instance_type.as_str(), r.instance_count),
        ("ml.g5.2xlarge", 2)
    );
    let gone = RunResults::of(input(None, Some(1.0)));
    assert_eq!(
        (gone.instance_type.as_str(), gone.instance_count),
        ("ml.g5.xlarge", 1)
    );
    assert!(gone.final_metrics.is_empty() && gone.estimated_cost.is_none());
}

#[test]
fn spot_savings_only_when_spot_was_used() {
    let mut d = desc(JobStatus::Completed);
    d.billable_seconds = Some(1080);
    assert_eq!(RunResults::of(input(Some(&d), None)).spot, None);
    d.managed_spot = true;
    let r = RunResults::of(input(Some(&d), None));
    assert_eq!(
        r.spot,
        Some(SpotResults {
            savings_percent: Some(70.0)
        })
    );
    assert!(r.line().contains("spot saved 70%"), "{}", r.line());
    d.training_seconds = None;
    let r = RunResults::of(input(Some(&d), None));
    assert_eq!(
        r.spot,
        Some(SpotResults {
            savings_percent: None
        })
    );
}

#[test]
fn spot_savings_as_sagemaker_defines_them() {
    assert_eq!(spot_savings_percent(Some(3600), Some(3600)), Some(0.0));
    assert_eq!(spot_savings_percent(Some(3000), Some(1000)), Some(66.7));
    // More billed than trained cannot be a negative saving.
    assert_eq!(spot_savings_percent(Some(100), Some(120)), Some(0.0));
    assert_eq!(spot_savings_percent(Some(0), Some(0)), None);
    assert_eq!(spot_savings_percent(None, Some(10)), None);
}

#[test]
fn the_cost_is_an_estimate_from_billable_time_instances_and_price() {
    let d = desc(JobStatus::Completed);
    let r = RunResults::of(input(Some(&d), Some(1.5)));
    let c = r.estimated_cost.clone().unwrap();
    // 3540 s / 3600 × 2 instances × $1.5.
    assert_eq!(c.usd, 2.95);
    assert_eq!(c.hourly_price_usd, 1.5);
    assert!(c.basis.starts_with("estimate"));
    assert!(r.line().contains("estimated cost $2.95"), "{}", r.line());
    assert_eq!(RunResults::of(input(Some(&d), None)).estimated_cost, None);
    assert_eq!(estimate_cost(Some(3600), 1, f64::NAN), None);
    assert_eq!(estimate_cost(Some(3600), 1, -1.0), None);
    assert_eq!(estimate_cost(None, 1, 1.0), None);
    assert_eq!(estimate_cost(Some(3600), 1, 0.0).unwrap().usd, 0.0);
}

#[test]
fn a_failure_names_its_reason_and_the_stage_it_ended_in() {
    let mut d = desc(JobStatus::Failed);
    d.failure_reason = Some("AlgorithmError: CUDA out of memory".into());
    let mut i = input(Some(&d), None);
    i.completed = false;
    let r = RunResults::of(i);
    assert_eq!(
        r.failure_reason.as_deref(),
        Some("AlgorithmError: CUDA out of memory")
    );
    assert_eq!(
        r.last_secondary_status,
        Some(SecondaryStatus {
            status: "Training".into(),
            message: Some("Training in progress.".into())
        })
    );
    let line = r.line();
    assert!(
        line.starts_with("reason: AlgorithmError: CUDA out of memory · last status: Training"),
        "{line}"
    );
    assert!(
        !line.contains("no value for"),
        "a failure's line names no missing metric: {line}"
    );
    // hubtune's own reason (a job gone, an artifact deleted) wins over SageMaker's.
    let mut i = input(Some(&d), None);
    i.completed = false;
    i.failure_reason = Some("deleted");
    assert_eq!(RunResults::of(i).failure_reason.as_deref(), Some("deleted"));
    // A completed run has no failure stage.
    assert_eq!(
        RunResults::of(input(Some(&d), None)).last_secondary_status,
        None
    );
}

#[test]
fn a_stage_only_terminal_is_still_reported() {
    let t = [transition("Failed", "x")];
    assert_eq!(last_stage(&t).unwrap().status, "Failed");
    assert_eq!(last_stage(&[]), None);
}

#[test]
fn results_read_back_from_json_with_fields_missing() {
    let r: RunResults =
        serde_json::from_str(r#"{"instance_type": "ml.g5.2xlarge", "instance_count": 1}"#).unwrap();
    assert!(r.final_metrics.is_empty() && r.spot.is_none() && r.billable_seconds.is_none());
}
