//! A dataset in a local folder: its files as the S3 listing they would become, and every problem the launcher would
//! find in them (used by `plan --dataset`, `validate`, `upload` and the demo).

use std::path::{Path, PathBuf};

use hubtune::domain::config::Config;
use hubtune::domain::dataset::{self, DatasetFile, JSONL_CHECK_BYTES};
use hubtune::domain::rejection::Rejection;
use hubtune::domain::s3uri::S3Uri;

/// A local folder as a listing under `prefix` (ETags are content hashes: there is no S3 object yet).
pub(crate) fn local_listing(
    dir: &Path,
    prefix: &str,
) -> Result<Vec<(DatasetFile, PathBuf)>, String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let entry = entry.map_err(|e| e.to_string())?;
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let etag = hubtune::domain::naming::identity_hash("", &String::from_utf8_lossy(&bytes))
                [..32]
                .to_string();
            out.push((
                DatasetFile {
                    key: format!("{prefix}{rel}"),
                    etag,
                    size: bytes.len() as u64,
                    version_id: None,
                    channel: "training".into(),
                },
                path,
            ));
        }
    }
    out.sort_by(|a, b| a.0.key.cmp(&b.0.key));
    Ok(out)
}

fn folder_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "dataset".into())
}

/// Every problem of a local dataset, as the launcher would find them, and where the dataset would land.
pub(crate) fn check_local(
    config: &Config,
    route: &str,
    dir: &Path,
) -> Result<(S3Uri, Vec<Rejection>), String> {
    let r = config.route(route).ok_or_else(|| {
        format!(
            "no route `{route}` in the routes file (routes: {})",
            config
                .routes
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let location = r.prefix.join(&format!("{}/", folder_name(dir)));
    let listing = local_listing(dir, location.key())?;
    let files: Vec<DatasetFile> = listing.iter().map(|(f, _)| f.clone()).collect();
    let mut problems = match dataset::check_listing(r, &location, &files) {
        Ok(_) => vec![],
        Err(p) => p,
    };
    for (f, path) in &listing {
        if dataset::needs_content_check(&f.key) && dataset::is_data_file(&f.key, r) {
            let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
            let truncated = bytes.len() > JSONL_CHECK_BYTES;
            let rel = path.strip_prefix(dir).unwrap_or(path).display().to_string();
            if let Err(mut p) = dataset::check_jsonl_head(
                &rel,
                &bytes[..bytes.len().min(JSONL_CHECK_BYTES)],
                truncated,
            ) {
                p.file = Some(path.display().to_string());
                problems.push(p);
            }
        }
    }
    Ok((location, problems))
}

/// Where each channel of a checked local folder would be read from once uploaded under `location` (training first):
/// `hubtune plan --dataset` sends these prefixes, as the SDK's `fit()` would get them.
pub(crate) fn local_channels(
    config: &Config,
    route: &str,
    dir: &Path,
    location: &S3Uri,
) -> Result<Vec<(String, S3Uri)>, String> {
    let r = config
        .route(route)
        .ok_or_else(|| format!("no route `{route}`"))?;
    let listing = local_listing(dir, location.key())?;
    let files: Vec<DatasetFile> = listing.into_iter().map(|(f, _)| f).collect();
    let frozen = dataset::check_listing(r, location, &files)
        .map_err(|p| format!("the dataset has {} problem(s)", p.len()))?;
    Ok(frozen
        .channel_names()
        .into_iter()
        .map(|c| (c.to_string(), frozen.channel_base(c)))
        .collect())
}
