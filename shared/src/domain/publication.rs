//! What a publication writes: the manifest beside the artifact, and the route's `latest.json`, which moves only to
//! a newer dataset.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::dataset::DatasetFile;
use crate::domain::job::JobDescription;
use crate::domain::run::RunRecord;
use crate::domain::s3uri::S3Uri;
use crate::domain::versioned::Revisioned;

/// The schema of the manifest and of `latest.json`.
pub const SCHEMA: u32 = 1;

/// Written beside the artifact: everything needed to know what this model is and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactManifest {
    pub schema: u32,
    pub route: String,
    pub job_name: String,
    pub job_arn: Option<String>,
    pub dataset_uri: String,
    pub dataset_marker_etag: Option<String>,
    pub dataset_time: String,
    pub dataset_sort_key: String,
    pub dataset_files: usize,
    pub dataset_bytes: u64,
    /// Exactly what the job was given (its frozen manifest): each file's key, size, ETag and, where S3 named one,
    /// version id. The launcher re-checked these against S3 just before CreateTrainingJob. Absent from manifests
    /// published before lineage was kept.
    #[serde(default)]
    pub dataset_contents: Vec<DatasetFile>,
    pub model_id: String,
    pub hub_content_arn: Option<String>,
    pub hub_content_version: Option<String>,
    pub public_hub_content_arn: Option<String>,
    pub image: Option<String>,
    pub instance_type: String,
    pub instance_count: u32,
    pub hyperparameters: BTreeMap<String, String>,
    pub billable_seconds: Option<i64>,
    pub training_start_time: Option<String>,
    pub training_end_time: Option<String>,
    pub final_metrics: BTreeMap<String, f64>,
    pub artifact_uri: String,
    pub artifact_bytes: u64,
}

/// `latest.json` of a route: moved only to a newer dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatestPointer {
    pub schema: u32,
    pub route: String,
    pub job_name: String,
    pub dataset_uri: String,
    pub dataset_sort_key: String,
    pub artifact_uri: String,
    pub manifest_uri: String,
    pub model_id: String,
    pub published_at: String,
}

impl LatestPointer {
    /// Whether `candidate` should replace `self`: only a newer dataset does, so a slow old job never replaces a
    /// newer model. The same job is "not newer" (idempotent).
    pub fn is_replaced_by(&self, candidate: &LatestPointer) -> bool {
        candidate.dataset_sort_key > self.dataset_sort_key
    }
}

/// `latest.json` as stored: the pointer and its revision counter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    pub revision: u64,
    #[serde(flatten)]
    pub pointer: LatestPointer,
}

impl Revisioned for Latest {
    fn revision(&mut self) -> &mut u64 {
        &mut self.revision
    }
}

/// What `latest.json` becomes when `candidate` is published: `Some` to write, and whether it names the candidate now
/// (already naming it counts: a redelivered publication is the same publication).
pub fn next_latest(current: Option<&Latest>, candidate: &LatestPointer) -> (Option<Latest>, bool) {
    match current {
        Some(cur) if cur.pointer.job_name == candidate.job_name => (None, true),
        Some(cur) if !cur.pointer.is_replaced_by(candidate) => (None, false),
        Some(cur) => (
            Some(Latest {
                revision: cur.revision,
                pointer: candidate.clone(),
            }),
            true,
        ),
        None => (
            Some(Latest {
                revision: 0,
                pointer: candidate.clone(),
            }),
            true,
        ),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl ArtifactManifest {
    /// The manifest of a completed run: its record, what SageMaker still describes of the job (nothing once the job
    /// was deleted), and the artifact as found.
    pub fn of_run(
        r: &RunRecord,
        desc: Option<&JobDescription>,
        artifact: &S3Uri,
        artifact_bytes: u64,
    ) -> Self {
        let d = r.dataset.as_ref();
        ArtifactManifest {
            schema: SCHEMA,
            route: r.route.clone(),
            job_name: r.job_name.to_string(),
            job_arn: r.job_arn.clone(),
            dataset_uri: r.dataset_uri.clone(),
            dataset_marker_etag: None,
            dataset_time: d.map(|d| rfc3339(d.time)).unwrap_or_default(),
            dataset_sort_key: d.map(|d| d.sort_key()).unwrap_or_default(),
            dataset_files: r.frozen.as_ref().map(|f| f.files.len()).unwrap_or(0),
            dataset_bytes: r.frozen.as_ref().map(|f| f.total_bytes).unwrap_or(0),
            dataset_contents: r
                .frozen
                .as_ref()
                .map(|f| f.files.clone())
                .unwrap_or_default(),
            model_id: r.model_id.clone(),
            hub_content_arn: r.hub_content_arn.clone(),
            hub_content_version: r.hub_content_version.clone(),
            public_hub_content_arn: r.public_hub_content_arn.clone(),
            image: desc.and_then(|d| d.image.clone()),
            instance_type: r.instance_type.clone(),
            instance_count: r.instance_count,
            hyperparameters: desc.map(|d| d.hyperparameters.clone()).unwrap_or_default(),
            billable_seconds: desc.and_then(|d| d.billable_seconds),
            training_start_time: desc.and_then(|d| d.training_start_time).map(rfc3339),
            training_end_time: desc.and_then(|d| d.training_end_time).map(rfc3339),
            final_metrics: desc.map(|d| d.final_metrics.clone()).unwrap_or_default(),
            artifact_uri: artifact.to_string(),
            artifact_bytes,
        }
    }

    /// The `latest.json` that names this manifest's model.
    pub fn pointer(&self, manifest_uri: &S3Uri, now: DateTime<Utc>) -> LatestPointer {
        LatestPointer {
            schema: SCHEMA,
            route: self.route.clone(),
            job_name: self.job_name.clone(),
            dataset_uri: self.dataset_uri.clone(),
            dataset_sort_key: self.dataset_sort_key.clone(),
            artifact_uri: self.artifact_uri.clone(),
            manifest_uri: manifest_uri.to_string(),
            model_id: self.model_id.clone(),
            published_at: rfc3339(now),
        }
    }
}

/// `s3://out/route/JOB/output/model.tar.gz` → `s3://out/route/JOB/`: the manifest sits beside the job's output.
pub fn artifact_dir(artifact: &S3Uri, job: &str) -> S3Uri {
    let key = artifact.key();
    let dir = match key.find(&format!("{job}/")) {
        Some(i) => key[..i + job.len() + 1].to_string(),
        None => key
            .rsplit_once('/')
            .map(|(d, _)| format!("{d}/"))
            .unwrap_or_default(),
    };
    artifact.with_key(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latest_moves_forward_only() {
        let p = |k: &str| LatestPointer {
            schema: 1,
            route: "r".into(),
            job_name: k.into(),
            dataset_uri: String::new(),
            dataset_sort_key: k.into(),
            artifact_uri: String::new(),
            manifest_uri: String::new(),
            model_id: String::new(),
            published_at: String::new(),
        };
        assert!(p("20260101").is_replaced_by(&p("20260102")));
        assert!(!p("20260102").is_replaced_by(&p("20260101")));
        assert!(!p("20260102").is_replaced_by(&p("20260102")));
    }

    #[test]
    fn manifest_sits_in_the_job_folder() {
        let a: S3Uri = "s3://bkt/hubtune/output/r/hubtune-r-1/output/model.tar.gz"
            .parse()
            .unwrap();
        assert_eq!(
            artifact_dir(&a, "hubtune-r-1").to_string(),
            "s3://bkt/hubtune/output/r/hubtune-r-1/"
        );
        let other: S3Uri = "s3://bkt/x/model.tar.gz".parse().unwrap();
        assert_eq!(artifact_dir(&other, "job").to_string(), "s3://bkt/x/");
    }
}
