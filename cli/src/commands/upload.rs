//! `hubtune upload`: a local folder into a route's prefix, the files first and the marker last.

use std::path::Path;
use std::process::ExitCode;

use hubtune::domain::config::Trigger;
use hubtune::ports::PutCondition;

use crate::commands::common::{aws, load_config, Res};
use crate::commands::local_dataset::{check_local, local_listing};

pub async fn upload(
    dir: &Path,
    route: &str,
    config_path: &Path,
    name: Option<&str>,
    endpoint: Option<&str>,
) -> Res {
    let config = load_config(config_path)?;
    let (location, problems) = check_local(&config, route, dir)?;
    for p in &problems {
        eprintln!("warning: {p}");
    }
    let route = config.route(route).expect("checked");
    let location = match name {
        Some(n) => route.prefix.join(&format!("{n}/")),
        None => location,
    };
    let aws = aws(endpoint).await;
    let marker = match &route.trigger {
        Trigger::Marker { marker } => Some(marker.clone()),
        Trigger::Object => None,
    };
    let listing = local_listing(dir, location.key())?;
    for (f, path) in &listing {
        aws.put_object(
            location.bucket(),
            &f.key,
            std::fs::read(path)?,
            "application/octet-stream",
            PutCondition::None,
        )
        .await?;
        println!("uploaded s3://{}/{}", location.bucket(), f.key);
    }
    if let Some(m) = marker {
        let key = format!("{}{m}", location.key());
        aws.put_object(
            location.bucket(),
            &key,
            vec![],
            "application/octet-stream",
            PutCondition::None,
        )
        .await?;
        println!(
            "uploaded s3://{}/{key} (the marker: the dataset launches now)",
            location.bucket()
        );
    }
    Ok(ExitCode::SUCCESS)
}
