//! training-state: follows every job of this deployment to its end.
//!
//! A state-change event is a hint; DescribeTrainingJob is the truth. The run record moves forward only, and on a
//! terminal state the outbox is worked off: `Training Run Finished`, the route slot released, `Route Slot Freed`.
//! The scheduled sweep runs the same repair over every record that is not finished, so a lost event or a crash
//! delays a publication but never loses it.
//!
//! - `reconcile`: one job's record brought up to date (adopting a job with no record, ending a job that is gone);
//! - `relaunch`: a job failed at start for capacity goes back to the queue on the route's next instance type;
//! - `sweep`: the scheduled repair over all records, stale slots and waiting queues.

mod reconcile;
mod relaunch;
mod sweep;

use std::sync::Arc;

use hubtune::domain::config::Config;
use hubtune::domain::error::{Error, Result};
use hubtune::domain::handling::{self, StateHandling, Triage};
use hubtune::domain::inbound::parse_message;
use hubtune::runtime::context::Context;
use serde_json::Value;
use tracing::Instrument;

pub use reconcile::{reconcile, GONE_AFTER_SECONDS};
pub use sweep::{
    sweep, sweep_until, sweep_with, SweepReport, MAX_RECORDS_PER_SWEEP, REPUBLISH_AFTER_SECONDS,
    STUCK_LAUNCH_SECONDS, SWEEP_RESERVE,
};

/// The Lambda entry point: an SQS batch, or a single event.
pub async fn handle(ctx: &Context, payload: Value) -> Result<Value, Error> {
    handle_until(ctx, payload, || None).await
}

/// `handle`, starting no record that the time left (`remaining`) would not cover: those come back at once.
pub async fn handle_until(
    ctx: &Context,
    payload: Value,
    mut remaining: impl FnMut() -> Option<std::time::Duration>,
) -> Result<Value, Error> {
    // The sweep stops starting records before the invocation's deadline: it learns it here.
    let deadline = remaining().map(|left| std::time::Instant::now() + left);
    hubtune::runtime::batch::run_until(payload, remaining, |body| async move {
        process_until(ctx, &body, deadline).await
    })
    .await
}

/// One message: its inputs in order, as `handling` decides them (the decision `hubtune inspect` prints); the first
/// failure returns the message.
pub async fn process(ctx: &Context, body: &Value) -> Result<()> {
    process_until(ctx, body, None).await
}

/// `process`, with the invocation's deadline (`None`: none) for the sweep.
pub async fn process_until(
    ctx: &Context,
    body: &Value,
    deadline: Option<std::time::Instant>,
) -> Result<()> {
    for inbound in parse_message(body) {
        // The routes file is read only for a state change (it says which jobs are this deployment's).
        let (config, h) = match handling::training_state(inbound) {
            Triage::Decided(h) => (None, h),
            Triage::NeedsRoutes(u) => {
                let config = ctx.config().await?;
                let h = handling::training_update(&config, u);
                (Some(config), h)
            }
        };
        carry_out(ctx, config, h, deadline).await?;
    }
    Ok(())
}

/// What the decision says, done.
async fn carry_out(
    ctx: &Context,
    config: Option<Arc<Config>>,
    h: StateHandling,
    deadline: Option<std::time::Instant>,
) -> Result<()> {
    match h {
        StateHandling::Reconcile { job, status, .. } => {
            let config = match config {
                Some(c) => c,
                None => ctx.config().await?,
            };
            let span = tracing::info_span!("training_state", job = %job, hint = status.as_str());
            reconcile(ctx, &config, &job).instrument(span).await?;
        }
        StateHandling::Sweep => {
            sweep_until(ctx, REPUBLISH_AFTER_SECONDS, deadline)
                .instrument(tracing::info_span!("sweep"))
                .await?;
        }
        StateHandling::Ignore { reason } => tracing::debug!(%reason, "ignored"),
        StateHandling::Fail { why } => return Err(Error::Invalid(why)),
    }
    Ok(())
}
