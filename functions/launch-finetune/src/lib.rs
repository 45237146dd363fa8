//! launch-finetune: a dataset landed (or a route slot was freed), so launch the next fine-tune.
//!
//! One handler takes an SQS batch (the deployed path), or an S3 notification or EventBridge event directly. Every
//! dataset ends as a job, a queue entry, or a `Dataset Rejected` event; anything else returns the message to its
//! queue, which after a few receives sends it to the dead-letter queue (`hubtune redrive` replays it).
//!
//! - `launch`: from a located dataset to a running job, idempotently;
//! - `checks`: the dataset checks, reading only what they need;
//! - `enqueue` and `drain`: a busy route's queue, filled by `launch` and drained when a slot is freed;
//! - `outcome`: how a delivery ended;
//! - `report`: the `Dataset Rejected` event.

mod checks;
mod drain;
mod enqueue;
mod launch;
mod outcome;
mod report;

use hubtune::domain::error::Error;
use hubtune::domain::inbound::{parse_message, Inbound};
use hubtune::runtime::batch::worst;
use hubtune::runtime::context::Context;
use serde_json::Value;
use tracing::Instrument;

pub use launch::{launch_dataset, on_object, rerun};
pub use outcome::{From, Outcome};

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

/// One message: everything in it is handled, the worst failure is returned after the rest were tried.
pub async fn process(ctx: &Context, body: &Value) -> Result<(), Error> {
    let mut first_err = None;
    for inbound in parse_message(body) {
        let r = match inbound {
            Inbound::ObjectLanded(o) => {
                let span = tracing::info_span!("object", key = %o.key);
                on_object(ctx, &o).instrument(span).await.map(|_| ())
            }
            Inbound::SlotFreed { route } => {
                let span = tracing::info_span!("drain", route = %route);
                drain::drain(ctx, &route).instrument(span).await
            }
            Inbound::S3TestEvent => {
                tracing::debug!(
                    "s3:TestEvent ignored: S3 sends it when a notification is configured"
                );
                Ok(())
            }
            Inbound::Ignored { reason } => {
                tracing::debug!(%reason, "ignored");
                Ok(())
            }
            Inbound::Unusable { problem } => report::unusable(ctx, &problem).await.map(|_| ()),
            other => Err(other.not_for("launch-finetune")),
        };
        if let Err(e) = r {
            first_err = worst(first_err, e);
        }
    }
    first_err.map_or(Ok(()), Err)
}
