//! The registration step: a completed run of a route with a `model_package_group` becomes one model package
//! version, whose ARN the run record keeps before `Model Published` announces it.
//!
//! Once per run, across redeliveries and crashes: a record that kept an ARN is never registered again, and a crash
//! between CreateModelPackage and the record's write resends the same request with the same `ClientToken` (the job
//! name's), which SageMaker answers with the version it already made.

use hubtune::domain::config::{Config, ConfigError};
use hubtune::domain::error::{Error, Result};
use hubtune::domain::hub::Hosting;
use hubtune::domain::registry::{create_request, violations, ModelData};
use hubtune::domain::run::RunRecord;
use hubtune::runtime::context::Context;
use hubtune::runtime::faults::crash_point;
use hubtune::store::Decision;

/// A registration the route asks for and cannot be made as configured: the deployment's to fix (the record stays
/// on its queue, alarmed), never a publication dropped.
fn cannot(route: &str, message: String) -> Error {
    Error::Config(ConfigError::Invalid {
        path: format!("routes.{route}.model_package_group"),
        message,
    })
}

/// The model package of this run: the one its record kept, else registered now and kept. `None`: its route names
/// no group (or no longer exists).
pub async fn model_package(
    ctx: &Context,
    config: &Config,
    r: &RunRecord,
    model_data: ModelData,
) -> Result<Option<String>> {
    if let Some(arn) = &r.model_package_arn {
        return Ok(Some(arn.clone()));
    }
    let Some(route) = config.route(&r.route) else {
        // A deliberate, documented ignore (docs/events.md, `model_package_arn`): the route was removed while its job
        // ran, so no group is known; the artifact the job produced is still published.
        tracing::warn!(route = %r.route, job = %r.job_name, "the route is no longer in the routes file: the model is published without registering it");
        return Ok(None);
    };
    let Some(registry) = &route.registry else {
        return Ok(None);
    };
    let hosting = hosting(ctx, &route.hub, r).await?;
    let metrics = r
        .results
        .as_ref()
        .map(|x| x.final_metrics.as_slice())
        .unwrap_or_default();
    let request = create_request(registry, r, &hosting, model_data, metrics);
    if let Some(v) = violations(&request).into_iter().next() {
        return Err(cannot(
            &r.route,
            format!("CreateModelPackage would refuse {v}"),
        ));
    }
    let arn = ctx.registry.create_model_package(&request).await?;
    crash_point(
        "publish.after_create_model_package",
        &format!("{} {}", r.job_name, r.dataset_uri),
    )?;
    let key = config.deployment.run_key(r.job_name.as_str());
    // Kept unless a concurrent delivery kept one first (the same token made it the same ARN).
    let kept = ctx
        .store
        .update::<RunRecord, String, _>(&key, |cur| {
            let Some(mut cur) = cur else {
                return Err(Error::State {
                    key: key.to_string(),
                    message: "the run record vanished".into(),
                });
            };
            Ok(match cur.model_package_arn.clone() {
                Some(existing) => Decision::Keep(existing),
                None => {
                    cur.model_package_arn = Some(arn.clone());
                    Decision::Write(cur, arn.clone())
                }
            })
        })
        .await?;
    tracing::info!(model_package_arn = %kept, "model registered");
    Ok(Some(kept))
}

/// The inference container the run's hub document names (the version the run trained, through the hub cache).
async fn hosting(ctx: &Context, hub: &str, r: &RunRecord) -> Result<Hosting> {
    let content = ctx
        .hubs
        .resolve(
            ctx.hub.as_ref(),
            hub,
            &r.model_id,
            r.hub_content_version.as_deref(),
        )
        .await?
        .ok_or_else(|| {
            cannot(
                &r.route,
                format!(
                    "the hub no longer describes {} {}: its inference image is unknown",
                    r.model_id,
                    r.hub_content_version.as_deref().unwrap_or("(latest)")
                ),
            )
        })?;
    content.document.hosting.hosting().ok_or_else(|| {
        cannot(
            &r.route,
            format!(
                "the hub document of {} names no inference image (HostingEcrUri)",
                r.model_id
            ),
        )
    })
}
