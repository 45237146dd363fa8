//! training-state: follows every job of this deployment to its end.
//!
//! A state-change event is a hint; DescribeTrainingJob is the truth. The run record moves forward only, and on a
//! terminal state the outbox is worked off: `Training Run Finished`, the route slot released, `Route Slot Freed`.
//! The scheduled sweep runs the same repair over every record that is not finished, so a lost event or a crash
//! delays a publication but never loses it.
//!
//! - `reconcile`: one job's record brought up to date (adopting a job with no record, ending a job that is gone);
//! - `sweep`: the scheduled repair over all records, stale slots and waiting queues.

mod reconcile;
mod sweep;

use hubtune::domain::error::{Error, Result};
use hubtune::domain::inbound::{parse_message, Inbound, TrainingUpdate};
use hubtune::runtime::context::Context;
use serde_json::Value;
use tracing::Instrument;

pub use reconcile::{reconcile, GONE_AFTER_SECONDS};
pub use sweep::{sweep, sweep_with, SweepReport, REPUBLISH_AFTER_SECONDS, STUCK_LAUNCH_SECONDS};

/// The Lambda entry point: an SQS batch, or a single event.
pub async fn handle(ctx: &Context, payload: Value) -> Result<Value, Error> {
    handle_until(ctx, payload, || None).await
}

/// `handle`, starting no record that the time left (`remaining`) would not cover: those come back at once.
pub async fn handle_until(
    ctx: &Context,
    payload: Value,
    remaining: impl FnMut() -> Option<std::time::Duration>,
) -> Result<Value, Error> {
    hubtune::runtime::batch::run_until(payload, remaining, |body| async move {
        process(ctx, &body).await
    })
    .await
}

pub async fn process(ctx: &Context, body: &Value) -> Result<()> {
    for inbound in parse_message(body) {
        match inbound {
            Inbound::TrainingUpdate(u) => on_update(ctx, &u).await?,
            Inbound::Sweep => {
                sweep(ctx).instrument(tracing::info_span!("sweep")).await?;
            }
            Inbound::Ignored { reason } => tracing::debug!(%reason, "ignored"),
            other => return Err(other.not_for("training-state")),
        }
    }
    Ok(())
}

pub async fn on_update(ctx: &Context, u: &TrainingUpdate) -> Result<()> {
    let config = ctx.config().await?;
    // Cheap filter: another team's jobs on the default bus cost one string comparison.
    if !config.deployment.job_prefix.owns(&u.job_name) {
        tracing::debug!(job = %u.job_name, "not this deployment's job; ignored");
        return Ok(());
    }
    let span = tracing::info_span!("training_state", job = %u.job_name, hint = u.status.as_str());
    reconcile(ctx, &config, &u.job_name)
        .instrument(span)
        .await
        .map(|_| ())
}
