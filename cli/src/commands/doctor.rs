//! `hubtune doctor`: everything that must hold before the first dataset, each reported as ok, as the exact fix, or
//! as not checked (with why: a check this caller may not run is not a failure of the deployment).

use std::fmt;
use std::process::ExitCode;

use hubtune::aws::Aws;
use hubtune::domain::config::{Guardrails, Route};
use hubtune::domain::hub::HubDocument;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;

use crate::commands::common::{aws, Res};

pub async fn doctor(config_uri: &str, endpoint: Option<&str>) -> Res {
    let sdk = sdk_config(endpoint).await;
    let aws = aws(endpoint).await;
    let ctx = Context::new(
        aws.ports(),
        ConfigSource::parse(config_uri)?,
        hubtune::runtime::env::deployment_env(),
    );
    let checks = run(&ctx, &aws, config_uri, &sdk).await;
    for c in &checks {
        println!("{c}");
    }
    let count = |status: Status| checks.iter().filter(|c| c.status == status).count();
    let fixes = count(Status::Fix);
    println!(
        "{} check(s): {} ok, {fixes} to fix, {} not checked",
        checks.len(),
        count(Status::Ok),
        count(Status::Skip)
    );
    Ok(if fixes == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The SDK configuration for clients hubtune's own `Aws` does not hold (IAM, Service Quotas).
async fn sdk_config(endpoint: Option<&str>) -> aws_config::SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    match endpoint {
        Some(e) => {
            loader
                .endpoint_url(e)
                .region(aws_config::Region::new(
                    std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                ))
                .credentials_provider(aws_sdk_iam::config::Credentials::new(
                    "testing",
                    "testing",
                    None,
                    None,
                    "hubtune-local",
                ))
                .load()
                .await
        }
        None => loader.load().await,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Fix,
    Skip,
}

#[derive(Debug, Clone)]
struct Check {
    status: Status,
    what: String,
    /// The fix (Fix) or why it was not checked (Skip).
    detail: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Status::Ok => write!(f, "ok    {}", self.what),
            Status::Fix => write!(f, "FIX   {}: {}", self.what, self.detail),
            Status::Skip => write!(f, "SKIP  {}: {}", self.what, self.detail),
        }
    }
}

fn ok(what: String) -> Check {
    Check {
        status: Status::Ok,
        what,
        detail: String::new(),
    }
}
fn fix(what: String, detail: String) -> Check {
    Check {
        status: Status::Fix,
        what,
        detail,
    }
}
fn skip(what: String, detail: String) -> Check {
    Check {
        status: Status::Skip,
        what,
        detail,
    }
}

/// Every check, in order: the routes file, then per route its hub, role and quota, then the bucket.
async fn run(
    ctx: &Context,
    aws: &Aws,
    config_uri: &str,
    sdk: &aws_config::SdkConfig,
) -> Vec<Check> {
    let mut out = Vec::new();
    let config = match ctx.config().await {
        Ok(c) => {
            out.push(ok(format!(
                "routes file {config_uri} ({} route(s))",
                c.routes.len()
            )));
            c
        }
        Err(e) => {
            out.push(fix(format!("routes file {config_uri}"), e.to_string()));
            return out;
        }
    };
    let iam = aws_sdk_iam::Client::new(sdk);
    let quotas = aws_sdk_servicequotas::Client::new(sdk);
    let mut roles_checked = Vec::new();
    for r in &config.routes {
        let instances = hub_checks(ctx, r, &config.deployment.guardrails, &mut out).await;
        if !roles_checked.contains(&r.training.role_arn) {
            roles_checked.push(r.training.role_arn.clone());
            out.push(role_check(&iam, &r.training.role_arn).await);
        }
        // Every type of a capacity-fallback list: a type with no quota is only a wasted attempt, but one to know of.
        for instance in instances {
            out.push(quota_check(&quotas, r, &instance).await);
        }
    }
    let bucket = &config.deployment.bucket;
    out.push(
        match aws
            .s3
            .get_bucket_notification_configuration()
            .bucket(bucket)
            .send()
            .await
        {
            Ok(n) if n.event_bridge_configuration.is_some() => {
                ok(format!("bucket {bucket} sends its events to EventBridge"))
            }
            Ok(_) => fix(
                format!("bucket {bucket} sends its events to EventBridge"),
                format!("run `hubtune enable-eventbridge --bucket {bucket}`"),
            ),
            Err(e) => skip(
                format!("bucket {bucket} notifications"),
                format!("s3:GetBucketNotification failed: {}", err_text(&e)),
            ),
        },
    );
    out
}

/// The model reference, its trainability on each of the route's instance types (its `instance_types`, or the
/// document's default), the deployment's guardrails and its EULA. Returns the instance types.
async fn hub_checks(
    ctx: &Context,
    r: &Route,
    guardrails: &Guardrails,
    out: &mut Vec<Check>,
) -> Vec<String> {
    let hub = match ctx
        .hubs
        .resolve(
            ctx.hub.as_ref(),
            &r.hub,
            &r.model_id,
            r.model_version.as_deref(),
        )
        .await
    {
        Ok(Some(h)) => h,
        Ok(None) => {
            out.push(fix(
                format!("route {}: model reference", r.name),
                format!("hub {} has no {}: add it with `aws sagemaker create-hub-content-reference --hub-name {} --sage-maker-public-hub-content-arn <the public model's ARN>`", r.hub, r.model_id, r.hub),
            ));
            return vec![];
        }
        Err(e) => {
            out.push(fix(
                format!("route {}: hub {}", r.name, r.hub),
                format!("{e} (the caller needs sagemaker:DescribeHubContent on the hub)"),
            ));
            return vec![];
        }
    };
    out.push(ok(format!(
        "route {}: hub {} has {} {}",
        r.name, r.hub, r.model_id, hub.hub_content_version
    )));
    let instances = if r.instance_types.is_empty() {
        hub.document
            .default_training_instance_type
            .iter()
            .cloned()
            .collect()
    } else {
        r.instance_types.clone()
    };
    for (i, instance) in instances.iter().enumerate() {
        recipe_checks(r, guardrails, &hub.document, instance, i == 0, out);
    }
    instances
}

/// Whether the model trains on `instance`, within the guardrails; the EULA once (`first`): it is the model's.
fn recipe_checks(
    r: &Route,
    guardrails: &Guardrails,
    document: &HubDocument,
    instance: &str,
    first: bool,
    out: &mut Vec<Check>,
) {
    match document.recipe(instance) {
        Ok(recipe) => {
            out.push(ok(format!(
                "route {}: {} trains on {instance}",
                r.name, r.model_id
            )));
            out.push(guardrail_check(
                r,
                guardrails,
                instance,
                recipe.network_isolation,
            ));
            if !first {
                return;
            }
            out.push(if !recipe.gated || r.training.accept_eula {
                ok(format!("route {}: EULA", r.name))
            } else {
                fix(
                    format!("route {}: EULA", r.name),
                    format!(
                        "the model is gated: read {} and set accept_eula = true in [routes.{}]",
                        recipe.eula_uri.as_deref().unwrap_or("its EULA"),
                        r.name
                    ),
                )
            });
        }
        Err(rej) => out.push(fix(
            format!("route {}: training on {instance}", r.name),
            rej.to_string(),
        )),
    }
}

/// The job the recipe makes is within the deployment's guardrails: the route's own keys were checked when the
/// routes file was read; the hub's default instance type and the recipe's network isolation only show here.
fn guardrail_check(r: &Route, g: &Guardrails, instance: &str, isolated: bool) -> Check {
    let what = format!("route {}: within the deployment's guardrails", r.name);
    match g.job_refusal(instance, isolated) {
        None => ok(what),
        Some(why) => fix(what, why),
    }
}

/// The execution role exists and SageMaker may assume it.
async fn role_check(iam: &aws_sdk_iam::Client, arn: &str) -> Check {
    let what = format!("training role {arn}");
    let Some(name) = arn
        .rsplit_once(":role/")
        .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
    else {
        return fix(what, "not an IAM role ARN".into());
    };
    match iam.get_role().role_name(name).send().await {
        Ok(r) => {
            let trust = r
                .role
                .and_then(|r| r.assume_role_policy_document)
                .unwrap_or_default();
            // IAM returns the trust policy URL-encoded.
            let trust = percent_encoding::percent_decode_str(&trust)
                .decode_utf8_lossy()
                .into_owned();
            if trust.contains("sagemaker.amazonaws.com") {
                ok(what)
            } else {
                fix(what, "its trust policy does not let sagemaker.amazonaws.com assume it: add that service principal".into())
            }
        }
        Err(e) if aws_sdk_iam::error::ProvideErrorMetadata::code(&e) == Some("NoSuchEntity") => {
            fix(
                what,
                "no such role: create it (the template's TrainingRole) or correct role_arn".into(),
            )
        }
        Err(e) => skip(what, format!("iam:GetRole failed: {}", err_text(&e))),
    }
}

/// SageMaker's quota for the route's instance type ("<type> for training job usage", or "for spot training job
/// usage" on a spot route) covers one job's instances. ListServiceQuotas returns only the quotas whose applied value
/// it knows, so a quota still at its default is missing there: it is read from ListAWSDefaultServiceQuotas then.
async fn quota_check(quotas: &aws_sdk_servicequotas::Client, r: &Route, instance: &str) -> Check {
    let what = format!("route {}: training quota for {instance}", r.name);
    let wanted = quota_name(instance, r.training.spot.is_some());
    let needed = f64::from(r.training.instance_count);
    let applied = quotas
        .list_service_quotas()
        .service_code("sagemaker")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await;
    let applied = match applied {
        Ok(list) => find_quota(list.iter().map(|q| (q.quota_name(), q.value())), &wanted),
        Err(e) => {
            return skip(
                what,
                format!("servicequotas:ListServiceQuotas failed: {}", err_text(&e)),
            )
        }
    };
    let found = match applied {
        Some(v) => Some(v),
        None => {
            let defaults = quotas
                .list_aws_default_service_quotas()
                .service_code("sagemaker")
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await;
            match defaults {
                Ok(list) => find_quota(list.iter().map(|q| (q.quota_name(), q.value())), &wanted),
                Err(e) => {
                    let why = format!(
                        "servicequotas:ListAWSDefaultServiceQuotas failed: {}",
                        err_text(&e)
                    );
                    return skip(what, why);
                }
            }
        }
    };
    judge_quota(what, &wanted, found, needed)
}

/// The Service Quotas name of SageMaker's training quota for `instance`.
fn quota_name(instance: &str, spot: bool) -> String {
    let kind = if spot {
        "spot training job usage"
    } else {
        "training job usage"
    };
    format!("{instance} for {kind}")
}

/// The quota named `wanted` among `(name, value)` pairs: `None` when not listed, `Some(None)` when listed without a
/// value. Names are compared ignoring case and surrounding spaces (the console's and the API's spellings differ).
fn find_quota<'a>(
    quotas: impl Iterator<Item = (Option<&'a str>, Option<f64>)>,
    wanted: &str,
) -> Option<Option<f64>> {
    let mut quotas = quotas;
    quotas
        .find(|(name, _)| name.is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted.trim())))
        .map(|(_, value)| value)
}

/// The verdict on a quota: a problem only when a value is known and below what one job needs. A quota listed
/// nowhere or without a value is not known to be a problem: doctor says it could not tell.
fn judge_quota(what: String, wanted: &str, found: Option<Option<f64>>, needed: f64) -> Check {
    match found {
        Some(Some(value)) if value >= needed => ok(format!("{what} ({value})")),
        Some(Some(value)) => fix(
            what,
            format!("the account's quota is {value}, the route needs {needed}: request an increase of \"{wanted}\" in the Service Quotas console"),
        ),
        Some(None) => skip(what, format!("Service Quotas lists \"{wanted}\" without a value")),
        None => skip(
            what,
            format!("Service Quotas lists no \"{wanted}\" (in this region's applied or default quotas): check the instance type is offered for training here"),
        ),
    }
}

fn err_text<E: std::error::Error>(e: &E) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(found: Option<Option<f64>>, needed: f64) -> Status {
        judge_quota(
            "q".into(),
            "ml.g5.2xlarge for training job usage",
            found,
            needed,
        )
        .status
    }

    #[test]
    fn a_quota_at_its_default_is_found_by_name_and_judged_on_its_value() {
        let listed = [
            (Some("ml.g5.xlarge for training job usage"), Some(0.0)),
            (Some("ml.g5.2xlarge for spot training job usage"), Some(0.0)),
            (Some("ml.g5.2xlarge for training job usage"), Some(2.0)),
        ];
        let wanted = quota_name("ml.g5.2xlarge", false);
        let found = find_quota(listed.iter().copied(), &wanted);
        assert_eq!(found, Some(Some(2.0)));
        assert!(matches!(judged(found, 1.0), Status::Ok));
        // The spot route reads the spot quota, which is 0 here.
        let spot = find_quota(listed.iter().copied(), &quota_name("ml.g5.2xlarge", true));
        assert!(matches!(judged(spot, 1.0), Status::Fix));
    }

    #[test]
    fn only_a_known_value_below_one_job_is_a_problem() {
        assert!(matches!(judged(Some(Some(1.0)), 2.0), Status::Fix));
        assert!(matches!(judged(Some(Some(2.0)), 2.0), Status::Ok));
        // Listed without a value, or listed nowhere: doctor cannot tell, which is not a problem found.
        assert!(matches!(judged(Some(None), 1.0), Status::Skip));
        assert!(matches!(judged(None, 1.0), Status::Skip));
    }

    #[test]
    fn names_compare_ignoring_case_and_spaces() {
        let listed = [(Some(" ML.G5.2xlarge for Training Job Usage"), Some(4.0))];
        assert_eq!(
            find_quota(listed.iter().copied(), &quota_name("ml.g5.2xlarge", false)),
            Some(Some(4.0))
        );
        assert_eq!(
            find_quota(
                listed.iter().copied(),
                "ml.g5.4xlarge for training job usage"
            ),
            None
        );
    }
}
