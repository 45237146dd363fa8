//! What every benchmark mode shares: the route's settings, the training data, the error type and the statistics.

use serde_json::{json, Value};

/// Every benchmark route may hold this many jobs at once, so 1,000 datasets are 1,000 jobs (no queue entries).
pub const ROUTE_EXTRA: &str = "accept_eula = true\nmax_concurrent_jobs = 1000\n";
pub const TRAIN_JSONL: &str = "{\"instruction\": \"hi\", \"response\": \"hello\"}\n{\"instruction\": \"bye\", \"response\": \"see you\"}\n";

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

// ---- statistics -------------------------------------------------------------------------------------------------

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

pub fn summary(mut xs: Vec<f64>) -> Value {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mean = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    json!({
        "n": xs.len(), "median": percentile(&xs, 50.0), "p95": percentile(&xs, 95.0),
        "p99": percentile(&xs, 99.0), "mean": mean, "min": xs.first(), "max": xs.last(),
    })
}
