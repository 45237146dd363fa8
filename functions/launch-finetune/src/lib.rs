//! launch-finetune: a dataset landed (or a route slot was freed), so launch the next fine-tune.
//!
//! One handler takes an SQS batch (the deployed path), or an S3 notification or EventBridge event directly. Every
//! dataset ends as a job, a queue entry, or a `Dataset Rejected` event; nothing is dropped and nothing is retried
//! forever (a retryable failure returns the SQS record, which after a few receives goes to the dead-letter queue).

mod launch;
mod queue;

use hubtune::batch::worst;
use hubtune::context::Context;
use hubtune::event::{parse_message, Inbound};
use hubtune::Error;
use serde_json::Value;

pub use launch::{launch_dataset, rerun, Outcome};

/// The Lambda entry point: an SQS batch, or a single event.
pub async fn handle(ctx: &Context, payload: Value) -> Result<Value, Error> {
    hubtune::batch::run(payload, |body| async move { process(ctx, &body).await }).await
}

/// One message: everything in it is handled, the first retryable failure is returned after the rest were tried.
pub async fn process(ctx: &Context, body: &Value) -> Result<(), Error> {
    let mut first_err = None;
    for inbound in parse_message(body) {
        let r = match inbound {
            Inbound::ObjectLanded(o) => launch::on_object(ctx, &o).await.map(|_| ()),
            Inbound::SlotFreed { route } => queue::drain(ctx, &route).await,
            Inbound::S3TestEvent => {
                tracing::info!("s3:TestEvent ignored");
                Ok(())
            }
            Inbound::Unrecognized { shape } => {
                tracing::warn!(%shape, "payload not understood; ignored");
                Ok(())
            }
            other => {
                tracing::warn!(kind = ?std::mem::discriminant(&other), "not an input of launch-finetune; ignored");
                Ok(())
            }
        };
        if let Err(e) = r {
            first_err = worst(first_err, e);
        }
    }
    first_err.map_or(Ok(()), Err)
}
