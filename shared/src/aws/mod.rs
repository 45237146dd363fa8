//! The AWS adapters: the ports implemented with the official SDK clients (feature `aws`).
//!
//! `Aws` holds the clients, built once per cold start, and implements every port: `s3` (ObjectStore),
//! `sagemaker` (TrainingJobs, Hub), `eventbridge` (EventBus). `errors` classes every SDK failure from its metadata;
//! `training_input` maps the planned request onto the SDK's input; `tls` gives the HTTPS client a trust store
//! of the AWS roots only (the system store costs half a cold start) and no throw-away connector per client at
//! init. Nothing outside this module sees an SDK type.

mod errors;
mod eventbridge;
mod registry;
mod s3;
mod sagemaker;
mod tls;
mod training_input;

use std::sync::Arc;
use std::time::Duration;

use aws_config::meta::region::RegionProviderChain;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::domain::error::Result;
use crate::ports::{Ports, SystemClock};
use crate::runtime::config_cache::ConfigSource;
use crate::runtime::context::Context;
use crate::runtime::hub_cache::DEFAULT_HUB_CACHE_TTL;

const DEFAULT_REGION: &str = "us-east-1";

/// The clients a handler needs, built once per cold start.
#[derive(Clone, Debug)]
pub struct Aws {
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub s3: aws_sdk_s3::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub region: String,
}

impl Aws {
    /// Standard credential chain and region; `AWS_ENDPOINT_URL` (the local stack) is honoured, with path-style S3.
    pub async fn from_env() -> Aws {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(tls::https_client(tls::Roots::from_env()))
            .retry_config(RetryConfig::standard());
        // On Lambda the role's credentials and the region are always in the environment. Taking them from there,
        // instead of building the SDK's default chains, skips an STS client and an IMDS client that a function
        // never calls (measured: a fifth of a cold start's instructions once the routes check was cheap). The
        // default chains still run wherever the environment does not say (a profile, an instance role).
        loader = match env("AWS_REGION") {
            Some(region) => loader.region(Region::new(region)),
            None => loader.region(
                RegionProviderChain::default_provider()
                    .or_else(Region::from_static(DEFAULT_REGION)),
            ),
        };
        if env("AWS_ACCESS_KEY_ID").is_some() && env("AWS_SECRET_ACCESS_KEY").is_some() {
            loader = loader.credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            );
        }
        let config = loader.load().await;
        // aws-config reads AWS_ENDPOINT_URL(_S3) itself; only the addressing style is ours to choose. The local
        // stack serves buckets by path, not by virtual host.
        let custom_endpoint = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"]
            .iter()
            .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
        Aws::from_sdk_config(&config, custom_endpoint)
    }

    /// Clients for an explicit endpoint (the local stack) with static test credentials.
    pub async fn for_endpoint(endpoint: &str, region: &str) -> Aws {
        let credentials = aws_sdk_s3::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "hubtune-local-stack",
        );
        // An explicit endpoint takes precedence over AWS_ENDPOINT_URL* in the environment.
        let config = aws_config::defaults(BehaviorVersion::latest())
            .http_client(tls::https_client(tls::Roots::from_env()))
            .region(Region::new(region.to_string()))
            .endpoint_url(endpoint)
            .credentials_provider(credentials)
            .retry_config(RetryConfig::standard())
            .load()
            .await;
        Aws::from_sdk_config(&config, true)
    }

    fn from_sdk_config(config: &SdkConfig, path_style: bool) -> Aws {
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(path_style)
            .build();
        Aws {
            sagemaker: aws_sdk_sagemaker::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3),
            events: aws_sdk_eventbridge::Client::new(config),
            region: config
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| DEFAULT_REGION.to_string()),
        }
    }

    /// Every port, served by these clients, with the system clock.
    pub fn ports(&self) -> Ports {
        let aws = Arc::new(self.clone());
        Ports {
            objects: aws.clone(),
            jobs: aws.clone(),
            bus: aws.clone(),
            hub: aws.clone(),
            registry: aws,
            clock: Arc::new(SystemClock),
        }
    }
}

/// The Lambda's context: clients from the environment, the routes file from `HUBTUNE_CONFIG`, the hub cache's
/// lifetime from `HUBTUNE_HUB_CACHE_TTL_SECONDS`.
pub async fn context_from_env() -> Result<Context> {
    let aws = Aws::from_env().await;
    let hub_ttl = std::env::var("HUBTUNE_HUB_CACHE_TTL_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_HUB_CACHE_TTL);
    Ok(Context::with_hub_ttl(
        aws.ports(),
        ConfigSource::from_env()?,
        crate::runtime::env::deployment_env(),
        hub_ttl,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clients_for_an_endpoint_use_its_region_and_path_style() {
        let aws = Aws::for_endpoint("http://127.0.0.1:1", "eu-west-1").await;
        assert_eq!(aws.region, "eu-west-1");
        // Path-style: the bucket is in the path, not in the host name.
        let presigned = aws
            .s3
            .get_object()
            .bucket("my-bucket")
            .key("datasets/a.jsonl")
            .presigned(
                aws_sdk_s3::presigning::PresigningConfig::expires_in(
                    std::time::Duration::from_secs(60),
                )
                .unwrap(),
            )
            .await
            .unwrap();
        assert!(
            presigned
                .uri()
                .starts_with("http://127.0.0.1:1/my-bucket/datasets/a.jsonl?"),
            "{}",
            presigned.uri()
        );
        assert_eq!(
            aws.sagemaker.config().region().map(|r| r.as_ref()),
            Some("eu-west-1")
        );
    }
}
