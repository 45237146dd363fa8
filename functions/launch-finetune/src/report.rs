//! The `Dataset Rejected` event: the one ending of a dataset that can never be launched as it is.

use hubtune::domain::config::Config;
use hubtune::domain::error::Result;
use hubtune::domain::events::{self, EventContext};
use hubtune::domain::rejection::{Problems, Rejection};
use hubtune::domain::run::RunRecord;
use hubtune::domain::s3uri::S3Uri;
use hubtune::runtime::context::Context;
use hubtune::runtime::metrics;
use hubtune::store::Decision;

use crate::outcome::Outcome;

/// Send `Dataset Rejected` (its id from `id_key`, so a redelivery sends the same event) and end the dataset there.
pub async fn reject(
    ctx: &Context,
    config: &Config,
    ev: &EventContext,
    id_key: &str,
    problems: impl Into<Problems>,
) -> Result<Outcome> {
    let problems = problems.into();
    let reason = problems.first().reason;
    tracing::warn!(route = %ev.route, dataset = %ev.dataset_uri, %reason, problems = ?problems, "dataset rejected");
    ctx.emit(config, &events::dataset_rejected(ev, id_key, &problems))
        .await?;
    let (deployment, now) = (&config.deployment.name, ctx.now());
    metrics::dataset(now, deployment, &ev.route, metrics::DATASETS_REJECTED);
    Ok(Outcome::Rejected { reason })
}

/// A dataset that will not be launched: its record, while no job exists, ends `Failed` with the rejection.
pub(crate) async fn mark_refused(ctx: &Context, key: &S3Uri, rej: &Rejection) -> Result<()> {
    let now = ctx.now();
    ctx.store
        .update::<RunRecord, (), _>(key, |r| {
            let Some(mut r) = r else {
                return Ok(Decision::Keep(()));
            };
            Ok(if r.refuse(rej, now) {
                Decision::Write(r, ())
            } else {
                Decision::Keep(())
            })
        })
        .await
}
