//! launch-finetune: a dataset landed (or a route slot was freed), so launch the next fine-tune.
//!
//! One handler takes an SQS batch (the deployed path), or an S3 notification or EventBridge event directly. Every
//! dataset ends as a job, a queue entry, or a `Dataset Rejected` event; anything else returns the message to its
//! queue, which after a few receives sends it to the dead-letter queue (`hubtune redrive` replays it). What to do
//! with each input is `hubtune::domain::handling`'s decision, the one `hubtune inspect` prints.
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

use std::sync::Arc;

use hubtune::domain::config::Config;
use hubtune::domain::error::Error;
use hubtune::domain::events::EventContext;
use hubtune::domain::handling::{self, LaunchHandling, Triage};
use hubtune::domain::inbound::{parse_message, Inbound, ObjectLanded};
use hubtune::runtime::batch::worst;
use hubtune::runtime::context::Context;
use serde_json::Value;
use tracing::Instrument;

pub use launch::{launch_dataset, rerun};
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
        if let Err(e) = handle_input(ctx, inbound).await {
            first_err = worst(first_err, e);
        }
    }
    first_err.map_or(Ok(()), Err)
}

/// One input, as `handling` decides it (the decision `hubtune inspect` prints).
async fn handle_input(ctx: &Context, inbound: Inbound) -> Result<(), Error> {
    match handling::launch_finetune(inbound) {
        Triage::NeedsRoutes(o) => {
            let span = tracing::info_span!("object", key = %o.key);
            on_object(ctx, &o).instrument(span).await.map(|_| ())
        }
        Triage::Decided(h) => carry_out(ctx, None, h).await.map(|_| ()),
    }
}

/// An object landed: find its dataset and launch it, or say why not.
pub async fn on_object(ctx: &Context, o: &ObjectLanded) -> Result<Outcome, Error> {
    let config = ctx.config().await?;
    let h = handling::launch_object(&config, o, ctx.now());
    carry_out(ctx, Some(config), h).await
}

/// What the decision says, done. `config` is read here only if the decision needs it and it was not read yet
/// (an S3 test event or a removal costs no call).
async fn carry_out(
    ctx: &Context,
    config: Option<Arc<Config>>,
    h: LaunchHandling,
) -> Result<Outcome, Error> {
    match h {
        LaunchHandling::Launch { dataset, .. } => {
            let config = routes(ctx, config).await?;
            launch_dataset(ctx, &config, &dataset, From::Landing).await
        }
        LaunchHandling::Drain { route } => {
            let span = tracing::info_span!("drain", route = %route);
            drain::drain(ctx, &route).instrument(span).await?;
            Ok(Outcome::Drained)
        }
        LaunchHandling::Ignore { reason } => {
            tracing::debug!(%reason, "ignored");
            Ok(Outcome::Ignored {
                reason: reason.to_string(),
            })
        }
        LaunchHandling::Reject(r) => {
            let ev = EventContext {
                dataset_uri: r.dataset_uri.unwrap_or_default(),
                ..Default::default()
            };
            let config = routes(ctx, config).await?;
            report::reject(ctx, &config, &ev, &r.id_key, r.rejection).await
        }
        LaunchHandling::Fail { why } => Err(Error::Invalid(why)),
    }
}

/// The routes file: as already read, or read now.
async fn routes(ctx: &Context, read: Option<Arc<Config>>) -> Result<Arc<Config>, Error> {
    match read {
        Some(c) => Ok(c),
        None => ctx.config().await,
    }
}
