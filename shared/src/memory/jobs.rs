use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::faults::{lock, Calls, Faults};
use crate::domain::error::{Error, ErrorClass, Result};
use crate::domain::job::{JobDescription, JobStatus, StatusTransition};
use crate::domain::plan::CreateTrainingJobRequest;
use crate::ports::{Clock, TrainingJobs};

const ARN_PREFIX: &str = "arn:aws:sagemaker:us-east-1:111122223333:training-job/";

/// A training job the twin holds: what was asked, and how SageMaker would describe it now.
#[derive(Debug, Clone)]
pub struct MemoryJob {
    pub request: CreateTrainingJobRequest,
    pub description: JobDescription,
}

/// SageMaker training jobs in memory. Jobs start `InProgress` and move only when a test moves them.
pub struct MemoryJobs {
    jobs: Mutex<BTreeMap<String, MemoryJob>>,
    clock: Arc<dyn Clock>,
    pub faults: Faults,
    pub calls: Calls,
}

impl MemoryJobs {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            jobs: Mutex::default(),
            clock,
            faults: Faults::default(),
            calls: Calls::default(),
        }
    }

    /// Every job created, in name order.
    pub fn all(&self) -> Vec<MemoryJob> {
        lock(&self.jobs).values().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<MemoryJob> {
        lock(&self.jobs).get(name).cloned()
    }

    pub fn count(&self) -> usize {
        lock(&self.jobs).len()
    }

    /// Move a job to `status` as SageMaker would report it: a terminal state sets its end time, its training and
    /// billable seconds (billable 30% of training under managed spot: a 70% saving) and closes its secondary status
    /// transitions (after `Training`); `Completed` sets its artifact under the output path and a final value for
    /// each metric definition; `Failed` its reason.
    pub fn set_status(&self, name: &str, status: JobStatus, failure_reason: Option<&str>) {
        let now = self.clock.now();
        let mut jobs = lock(&self.jobs);
        let Some(job) = jobs.get_mut(name) else {
            return;
        };
        let d = &mut job.description;
        d.status = status;
        d.secondary_status = Some(status.as_str().to_string());
        d.last_modified_time = Some(now);
        d.failure_reason = failure_reason.map(str::to_string);
        if status.is_terminal() {
            let start = *d
                .training_start_time
                .get_or_insert(d.creation_time.unwrap_or(now));
            d.training_end_time = Some(now);
            let trained = (now - start).num_seconds().max(1);
            d.training_seconds = Some(trained);
            d.billable_seconds = Some(if d.managed_spot {
                (trained * 3 + 9) / 10
            } else {
                trained
            });
            if !d
                .secondary_transitions
                .iter()
                .any(|t| t.status == "Training")
            {
                transition(
                    d,
                    "Training",
                    "Training image download completed. Training in progress.",
                    now,
                );
            }
        }
        if status == JobStatus::Completed {
            let output = job.request.output_data_config.s3_output_path.to_string();
            d.model_artifacts = Some(format!(
                "{}/{name}/output/model.tar.gz",
                output.trim_end_matches('/')
            ));
            d.final_metrics = d
                .metric_names
                .iter()
                .enumerate()
                .map(|(i, m)| (m.clone(), 0.5 / (i as f64 + 1.0)))
                .collect();
        }
        let message = d
            .failure_reason
            .clone()
            .unwrap_or_else(|| format!("Training job {}", status.as_str().to_lowercase()));
        transition(d, status.as_str(), &message, now);
        if status.is_terminal() {
            if let Some(last) = d.secondary_transitions.last_mut() {
                last.end = Some(now);
            }
        }
    }

    /// Change what SageMaker describes of a job (a test's own figures: spot, times, metrics).
    pub fn update(&self, name: &str, f: impl FnOnce(&mut JobDescription)) {
        if let Some(job) = lock(&self.jobs).get_mut(name) {
            f(&mut job.description);
        }
    }

    /// What SageMaker bills the job (`BillableTimeInSeconds`), as it reports it once the job ended.
    pub fn set_billable_seconds(&self, name: &str, seconds: i64) {
        if let Some(job) = lock(&self.jobs).get_mut(name) {
            job.description.billable_seconds = Some(seconds);
        }
    }

    /// Forget a job (DeleteTrainingJob, then the API no longer knows it).
    pub fn remove(&self, name: &str) {
        lock(&self.jobs).remove(name);
    }

    fn describe_new(&self, r: &CreateTrainingJobRequest) -> JobDescription {
        let now = self.clock.now();
        JobDescription {
            name: r.training_job_name.clone(),
            arn: format!("{ARN_PREFIX}{}", r.training_job_name),
            status: JobStatus::InProgress,
            secondary_status: Some("Starting".into()),
            failure_reason: None,
            model_artifacts: None,
            creation_time: Some(now),
            training_start_time: None,
            training_end_time: None,
            last_modified_time: Some(now),
            training_seconds: None,
            billable_seconds: None,
            managed_spot: r.enable_managed_spot_training.unwrap_or(false),
            final_metrics: BTreeMap::new(),
            metric_names: r
                .algorithm_specification
                .metric_definitions
                .iter()
                .map(|m| m.name.clone())
                .collect(),
            secondary_transitions: vec![StatusTransition {
                status: "Starting".into(),
                start: Some(now),
                end: None,
                message: Some("Preparing the instances for training".into()),
            }],
            hyperparameters: r.hyper_parameters.clone(),
            image: Some(r.algorithm_specification.training_image.clone()),
            instance_type: Some(r.resource_config.instance_type.clone()),
            instance_count: i32::try_from(r.resource_config.instance_count).ok(),
            output_path: Some(r.output_data_config.s3_output_path.to_string()),
            training_input: r
                .channel("training")
                .map(|c| c.data_source.s3_data_source.s3_uri.to_string()),
        }
    }
}

/// The previous transition ends where the next begins, as SageMaker's `SecondaryStatusTransitions`.
fn transition(
    d: &mut JobDescription,
    status: &str,
    message: &str,
    at: chrono::DateTime<chrono::Utc>,
) {
    if let Some(last) = d.secondary_transitions.last_mut() {
        last.end.get_or_insert(at);
    }
    d.secondary_transitions.push(StatusTransition {
        status: status.to_string(),
        start: Some(at),
        end: None,
        message: Some(message.to_string()),
    });
}

#[async_trait]
impl TrainingJobs for MemoryJobs {
    async fn create(&self, request: &CreateTrainingJobRequest) -> Result<String> {
        self.calls.count("CreateTrainingJob");
        // A fault's target may name the job or the instance type (a type SageMaker has no capacity for).
        let target = format!(
            "{} {}",
            request.training_job_name, request.resource_config.instance_type
        );
        self.faults.check("CreateTrainingJob", &target)?;
        let description = self.describe_new(request);
        let mut jobs = lock(&self.jobs);
        if jobs.contains_key(&request.training_job_name) {
            return Err(Error::Aws {
                service: "sagemaker",
                operation: "CreateTrainingJob",
                code: Some("ResourceInUse".into()),
                message: format!(
                    "Training job names must be unique within an AWS account and region, and a training job with this name already exists ({ARN_PREFIX}{})",
                    request.training_job_name
                ),
                class: ErrorClass::Permanent,
            });
        }
        let arn = description.arn.clone();
        jobs.insert(
            request.training_job_name.clone(),
            MemoryJob {
                request: request.clone(),
                description,
            },
        );
        Ok(arn)
    }

    async fn describe(&self, name: &str) -> Result<Option<JobDescription>> {
        self.calls.count("DescribeTrainingJob");
        self.faults.check("DescribeTrainingJob", name)?;
        Ok(lock(&self.jobs).get(name).map(|j| j.description.clone()))
    }

    async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>> {
        self.calls.count("ListTags");
        self.faults.check("ListTags", arn)?;
        let name = arn.strip_prefix(ARN_PREFIX).unwrap_or(arn);
        Ok(lock(&self.jobs)
            .get(name)
            .map(|j| {
                j.request
                    .tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn stop(&self, name: &str) -> Result<()> {
        self.calls.count("StopTrainingJob");
        self.faults.check("StopTrainingJob", name)?;
        self.set_status(name, JobStatus::Stopping, None);
        Ok(())
    }
}
