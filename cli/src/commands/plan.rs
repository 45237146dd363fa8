//! `hubtune plan`: the CreateTrainingJob request hubtune would send for a dataset, checked as AWS would check it.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use hubtune::domain::config::{Config, DeploymentEnv, Route};
use hubtune::domain::dataset::DatasetIdentity;
use hubtune::domain::hub::HubContent;
use hubtune::domain::naming::dataset_tag_value;
use hubtune::domain::plan::{self, DataChannel, PlanInput, TrainingChannel};
use hubtune::domain::s3uri::S3Uri;
use hubtune::domain::validate;
use hubtune::runtime::config_cache::ConfigSource;
use hubtune::runtime::context::Context;

use crate::commands::common::{aws, load_config, read, Res};
use crate::commands::local_dataset::{check_local, local_channels};

/// What to plan: a local folder (with its route) or a URI, and the channels beside training.
pub struct PlanTarget<'a> {
    pub dir: Option<&'a Path>,
    pub route: Option<&'a str>,
    pub uri: Option<&'a str>,
    /// `NAME=URI`, each sent as an `S3Prefix` channel after training, in the order given.
    pub channels: &'a [String],
}

pub async fn plan(
    config_path: &Path,
    hub_content: Option<&Path>,
    target: PlanTarget<'_>,
    endpoint: Option<&str>,
) -> Res {
    let config = load_config(config_path)?;
    let mut more_channels = parse_channels(target.channels)?;
    let (route, mut location) = plan_target(&config, target.dir, target.route, target.uri)?;
    if let Some(dir) = target.dir {
        // A local folder's channel subfolders are planned as the channels they become.
        let mut found = local_channels(&config, &route.name, dir, &location)?.into_iter();
        if let Some((_, training)) = found.next() {
            location = training;
        }
        let given = std::mem::take(&mut more_channels);
        more_channels = found
            .map(|(name, uri)| DataChannel {
                name,
                source: TrainingChannel::Prefix(uri),
            })
            .chain(given)
            .collect();
    }
    let hub = plan_hub(&config, &route, hub_content, endpoint).await?;
    // With only a URI there is no marker event: the identity is the folder itself.
    let identity = DatasetIdentity {
        bucket: location.bucket().into(),
        key: location.key().into(),
        version: "plan".into(),
        attempt: 0,
    };
    let job = identity.job_name(&config, &route.name);
    let request = plan::plan(&PlanInput {
        job_name: &job,
        region: &config.deployment.region,
        hub: &hub,
        settings: &route.training,
        training_channel: TrainingChannel::Prefix(location.clone()),
        more_channels,
        route: &route.name,
        dataset_tag: dataset_tag_value(
            &location.to_string(),
            &identity.hash(&config.deployment.name),
        ),
        deployment: &config.deployment.name,
    })
    .map_err(|r| r.to_string())?;
    // The same check the launcher makes before any money is spent.
    let invalid = validate::training_job(&request);
    if !invalid.is_empty() {
        for v in &invalid {
            eprintln!("AWS would refuse {v}");
        }
        return Err(format!("{} field(s) AWS would refuse: no plan", invalid.len()).into());
    }
    println!("{}", serde_json::to_string_pretty(&request)?);
    Ok(ExitCode::SUCCESS)
}

/// `--channel NAME=URI` values as the plan's data channels (the plan checks the names).
fn parse_channels(raw: &[String]) -> Result<Vec<DataChannel>, Box<dyn std::error::Error>> {
    raw.iter()
        .map(|item| {
            let (name, uri) = item
                .split_once('=')
                .ok_or_else(|| format!("--channel {item}: expected NAME=URI"))?;
            let uri = uri
                .parse::<S3Uri>()
                .map_err(|e| format!("--channel {item}: {e}"))?;
            Ok(DataChannel {
                name: name.to_string(),
                source: TrainingChannel::Prefix(uri),
            })
        })
        .collect()
}

/// The route and the dataset's location: a local folder checked first, or an S3 URI.
fn plan_target(
    config: &Config,
    dir: Option<&Path>,
    route: Option<&str>,
    uri: Option<&str>,
) -> Result<(Route, S3Uri), Box<dyn std::error::Error>> {
    match (dir, uri) {
        (Some(dir), _) => {
            let route = route.ok_or("--dataset needs --route")?;
            let (location, problems) = check_local(config, route, dir)?;
            if !problems.is_empty() {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Err(
                    format!("the dataset has {} problem(s): no plan", problems.len()).into(),
                );
            }
            Ok((config.route(route).expect("checked").clone(), location))
        }
        (None, Some(uri)) => {
            let location = uri.parse::<S3Uri>().map_err(|e| e.to_string())?.as_prefix();
            let route = match route {
                Some(r) => config.route(r).ok_or_else(|| format!("no route `{r}`"))?,
                None => config
                    .route_for(&location)
                    .ok_or_else(|| format!("no route's prefix holds {location}"))?,
            };
            Ok((route.clone(), location))
        }
        (None, None) => Err("give the dataset's S3 URI, or --dataset DIR --route R".into()),
    }
}

/// The model reference: from a saved DescribeHubContent response, or the hub itself.
async fn plan_hub(
    config: &Config,
    route: &Route,
    hub_content: Option<&Path>,
    endpoint: Option<&str>,
) -> Result<HubContent, Box<dyn std::error::Error>> {
    if let Some(p) = hub_content {
        return Ok(HubContent::from_describe_json(&read(p)?)
            .map_err(|e| format!("{}: {e}", p.display()))?);
    }
    let ctx = Context::new(
        aws(endpoint).await.ports(),
        ConfigSource::Inline(Arc::new(config.clone())),
        DeploymentEnv::default(),
    );
    let found = ctx
        .hubs
        .resolve(
            ctx.hub.as_ref(),
            &route.hub,
            &route.model_id,
            route.model_version.as_deref(),
        )
        .await?;
    let found = found.ok_or_else(|| {
        format!(
            "hub {} has no model reference {}",
            route.hub, route.model_id
        )
    })?;
    Ok((*found).clone())
}
