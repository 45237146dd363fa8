//! Hub and hub-content ARNs: parsing, building, and the partition of a region.

use std::fmt;

use serde::{Deserialize, Serialize};

/// `ModelReference` (a pointer into the public hub) or `Model` (a model imported straight into the hub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum HubContentType {
    ModelReference,
    Model,
}

impl HubContentType {
    pub fn as_str(&self) -> &'static str {
        match self {
            HubContentType::ModelReference => "ModelReference",
            HubContentType::Model => "Model",
        }
    }
}

impl fmt::Display for HubContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `aws`, `aws-cn` or `aws-us-gov`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The parts of a hub ARN: `arn:{partition}:sagemaker:{region}:{account}:hub/{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubArnParts<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub hub_name: &'a str,
}

pub fn parse_hub_arn(arn: &str) -> Option<HubArnParts<'_>> {
    let mut it = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(partition),
        Some("sagemaker"),
        Some(region),
        Some(account),
        Some(resource),
    ) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    )
    else {
        return None;
    };
    let hub_name = resource.strip_prefix("hub/")?;
    (!hub_name.is_empty() && !hub_name.contains('/')).then_some(HubArnParts {
        partition,
        region,
        account,
        hub_name,
    })
}

/// The parts of a hub-content ARN: `…:hub-content/{hub}/{type}/{name}[/{version}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubContentArnParts<'a> {
    pub partition: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub hub_name: &'a str,
    pub content_type: &'a str,
    pub name: &'a str,
    pub version: Option<&'a str>,
}

pub fn parse_hub_content_arn(arn: &str) -> Option<HubContentArnParts<'_>> {
    let mut it = arn.splitn(6, ':');
    let (
        Some("arn"),
        Some(partition),
        Some("sagemaker"),
        Some(region),
        Some(account),
        Some(resource),
    ) = (
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
        it.next(),
    )
    else {
        return None;
    };
    let mut seg = resource.strip_prefix("hub-content/")?.split('/');
    let (Some(hub_name), Some(content_type), Some(name)) = (seg.next(), seg.next(), seg.next())
    else {
        return None;
    };
    let version = seg.next();
    if seg.next().is_some() || name.is_empty() {
        return None;
    }
    Some(HubContentArnParts {
        partition,
        region,
        account,
        hub_name,
        content_type,
        name,
        version,
    })
}

/// The hub's ARN from its name (in this region and account), or the ARN itself when given one.
pub fn hub_arn(region: &str, account: &str, name_or_arn: &str) -> String {
    if parse_hub_arn(name_or_arn).is_some() {
        return name_or_arn.to_string();
    }
    format!(
        "arn:{}:sagemaker:{region}:{account}:hub/{name_or_arn}",
        partition(region)
    )
}

/// The hub name, from a name or a hub ARN.
pub fn hub_name(name_or_arn: &str) -> &str {
    parse_hub_arn(name_or_arn)
        .map(|p| p.hub_name)
        .unwrap_or(name_or_arn)
}

/// A hub content ARN. With `version: None` it is the unversioned form IAM policies use.
pub fn hub_content_arn(
    region: &str,
    account: &str,
    hub_name_or_arn: &str,
    content_type: HubContentType,
    name: &str,
    version: Option<&str>,
) -> String {
    let hub = hub_arn(region, account, hub_name_or_arn);
    let p = parse_hub_arn(&hub).expect("hub_arn always returns a hub ARN");
    let mut arn = format!(
        "arn:{}:sagemaker:{}:{}:hub-content/{}/{}/{}",
        p.partition, p.region, p.account, p.hub_name, content_type, name
    );
    if let Some(v) = version {
        arn.push('/');
        arn.push_str(v);
    }
    arn
}
