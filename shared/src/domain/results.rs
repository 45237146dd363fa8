//! What a finished run produced, as a person wants to read it in a notification: its final metrics (named and
//! ordered by the hub document's metric definitions), how long it trained and was billed for, on what, what spot
//! saved, why it failed and where it was when it did, and an estimated cost when the route names an hourly price.
//!
//! Decided here from DescribeTrainingJob (already reduced to a `JobDescription`) and the route's price; the run
//! record keeps the value, and `Training Run Finished`, `Model Published` and `Fine-tune Failed` carry it.

use serde::{Deserialize, Serialize};

use crate::domain::job::{JobDescription, StatusTransition};

/// One final metric: SageMaker's `FinalMetricDataList` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinalMetric {
    pub name: String,
    pub value: f64,
}

/// The job's secondary status (its stage) and SageMaker's message for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryStatus {
    pub status: String,
    #[serde(default)]
    pub message: Option<String>,
}

/// A finished run's results. Every field but the instance is optional: a job SageMaker no longer describes still
/// has results, from the run record alone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunResults {
    /// In the order of the hub document's metric definitions; metrics the job reported that the document does not
    /// define come after, by name.
    #[serde(default)]
    pub final_metrics: Vec<FinalMetric>,
    /// Metrics the document defines that the job reported no final value for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing_metrics: Vec<String>,
    /// `TrainingTimeInSeconds`.
    #[serde(default)]
    pub training_seconds: Option<i64>,
    /// `BillableTimeInSeconds`.
    #[serde(default)]
    pub billable_seconds: Option<i64>,
    pub instance_type: String,
    pub instance_count: u32,
    /// Present only when the job used managed spot training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spot: Option<SpotResults>,
    #[serde(default)]
    pub failure_reason: Option<String>,
    /// For a run that did not complete: the stage it was in when it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_secondary_status: Option<SecondaryStatus>,
    /// Present only when the route names `hourly_price_usd` and the billable time is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_cost: Option<CostEstimate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpotResults {
    /// SageMaker's figure: `(1 - billable / training) × 100`, one decimal; `None` when either time is unknown.
    pub savings_percent: Option<f64>,
}

/// An estimate, not a bill: billable seconds / 3600 × instance count × the route's hourly price per instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostEstimate {
    /// Rounded to the cent.
    pub usd: f64,
    pub hourly_price_usd: f64,
    pub basis: String,
}

pub const COST_BASIS: &str =
    "estimate: billable seconds / 3600 × instance count × the route's hourly_price_usd";

/// What the results are computed from: the description (none once SageMaker forgot the job), and what the run
/// record and its route know.
pub struct ResultsInput<'a> {
    pub desc: Option<&'a JobDescription>,
    /// The record's instance type and count (what was asked), used when the description has none.
    pub instance_type: &'a str,
    pub instance_count: u32,
    /// The record's failure reason (hubtune's own, such as a job gone), which wins over SageMaker's.
    pub failure_reason: Option<&'a str>,
    /// Whether the run completed: a completed run has no failure stage to report.
    pub completed: bool,
    pub hourly_price_usd: Option<f64>,
}

impl RunResults {
    pub fn of(input: ResultsInput<'_>) -> Self {
        let d = input.desc;
        let (final_metrics, missing_metrics) = d.map(ordered_metrics).unwrap_or_default();
        let training_seconds = d.and_then(|d| d.training_seconds);
        let billable_seconds = d.and_then(|d| d.billable_seconds);
        let instance_type = d
            .and_then(|d| d.instance_type.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| input.instance_type.to_string());
        let instance_count = d
            .and_then(|d| d.instance_count)
            .and_then(|c| u32::try_from(c).ok())
            .filter(|c| *c > 0)
            .unwrap_or(input.instance_count);
        let spot = d.filter(|d| d.managed_spot).map(|_| SpotResults {
            savings_percent: spot_savings_percent(training_seconds, billable_seconds),
        });
        let failure_reason = input
            .failure_reason
            .map(str::to_string)
            .or_else(|| d.and_then(|d| d.failure_reason.clone()));
        let last_secondary_status = if input.completed {
            None
        } else {
            d.and_then(|d| last_stage(&d.secondary_transitions))
        };
        let estimated_cost = input
            .hourly_price_usd
            .and_then(|p| estimate_cost(billable_seconds, instance_count, p));
        RunResults {
            final_metrics,
            missing_metrics,
            training_seconds,
            billable_seconds,
            instance_type,
            instance_count,
            spot,
            failure_reason,
            last_secondary_status,
            estimated_cost,
        }
    }

    /// One line for a person: metrics, times, instance, spot, cost, and on failure the reason and the stage.
    pub fn line(&self) -> String {
        let mut parts = Vec::new();
        if let Some(reason) = &self.failure_reason {
            parts.push(format!("reason: {reason}"));
        }
        if let Some(s) = &self.last_secondary_status {
            parts.push(match &s.message {
                Some(m) => format!("last status: {} ({m})", s.status),
                None => format!("last status: {}", s.status),
            });
        }
        if !self.final_metrics.is_empty() {
            let m: Vec<String> = self
                .final_metrics
                .iter()
                .map(|m| format!("{}={}", m.name, m.value))
                .collect();
            parts.push(format!("metrics: {}", m.join(", ")));
        }
        // A failed run reports no metrics as a rule: naming each missing one would only crowd its reason out.
        if !self.missing_metrics.is_empty() && self.failure_reason.is_none() {
            parts.push(format!("no value for: {}", self.missing_metrics.join(", ")));
        }
        parts.push(self.time_line());
        if let Some(s) = &self.spot {
            parts.push(match s.savings_percent {
                Some(p) => format!("spot saved {p}%"),
                None => "spot".to_string(),
            });
        }
        if let Some(c) = &self.estimated_cost {
            parts.push(format!(
                "estimated cost ${:.2} (at ${}/h per instance)",
                c.usd, c.hourly_price_usd
            ));
        }
        parts.join(" · ")
    }

    fn time_line(&self) -> String {
        let on = format!("{} × {}", self.instance_count, self.instance_type);
        match (self.training_seconds, self.billable_seconds) {
            (Some(t), Some(b)) => format!("trained {t} s, billed {b} s on {on}"),
            (Some(t), None) => format!("trained {t} s on {on}"),
            (None, Some(b)) => format!("billed {b} s on {on}"),
            (None, None) => format!("on {on}"),
        }
    }
}

/// The reported metrics in the definitions' order, then the undefined ones by name; and the defined names with no
/// value. SageMaker reports only what a definition's regex matched, plus its own (such as `ObjectiveMetric`).
fn ordered_metrics(d: &JobDescription) -> (Vec<FinalMetric>, Vec<String>) {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for name in &d.metric_names {
        match d.final_metrics.get(name) {
            Some(v) => out.push(FinalMetric {
                name: name.clone(),
                value: *v,
            }),
            None if !missing.contains(name) => missing.push(name.clone()),
            None => {}
        }
    }
    for (name, v) in &d.final_metrics {
        if !d.metric_names.contains(name) {
            out.push(FinalMetric {
                name: name.clone(),
                value: *v,
            });
        }
    }
    (out, missing)
}

/// As SageMaker defines spot savings: `1 - billable / training`, as a percentage with one decimal, within 0..=100.
pub fn spot_savings_percent(training: Option<i64>, billable: Option<i64>) -> Option<f64> {
    let (t, b) = (training?, billable?);
    if t <= 0 || b < 0 {
        return None;
    }
    let saved = (1.0 - b as f64 / t as f64).clamp(0.0, 1.0);
    Some((saved * 1000.0).round() / 10.0)
}

/// Billable seconds / 3600 × instances × price, to the cent. `None` without billable time or with a price that is
/// not a finite number >= 0 (the routes file refuses those; a hand-edited record must not make a NaN).
pub fn estimate_cost(billable: Option<i64>, instances: u32, price: f64) -> Option<CostEstimate> {
    let b = billable?;
    if !price.is_finite() || price < 0.0 || b < 0 {
        return None;
    }
    let usd = b as f64 / 3600.0 * f64::from(instances) * price;
    Some(CostEstimate {
        usd: (usd * 100.0).round() / 100.0,
        hourly_price_usd: price,
        basis: COST_BASIS.to_string(),
    })
}

/// The stage a job was in when it ended: the last transition before the terminal one (which only repeats the
/// outcome), or the last one when there is nothing before it.
fn last_stage(transitions: &[StatusTransition]) -> Option<SecondaryStatus> {
    const TERMINAL: [&str; 3] = ["Completed", "Failed", "Stopped"];
    let pick = transitions
        .iter()
        .rev()
        .find(|t| !TERMINAL.contains(&t.status.as_str()))
        .or_else(|| transitions.last())?;
    Some(SecondaryStatus {
        status: pick.status.clone(),
        message: pick.message.clone(),
    })
}

#[cfg(test)]
mod tests;
