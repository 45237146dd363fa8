//! The dataset checks before any money is spent, reading only what they need: the listing (or the one object), and
//! the first 64 KiB of each `.jsonl` file; and, just before the job is created, the listing again
//! (`changed_since_checks`). The decisions are the core's (`dataset::check_listing`, `dataset::check_jsonl_head`,
//! `FrozenDataset::changed`); this module only reads.

use hubtune::domain::config::Route;
use hubtune::domain::dataset::{self, DatasetFile, DatasetLanded, FrozenDataset};
use hubtune::domain::error::Result;
use hubtune::domain::rejection::{Rejection, RejectionReason};
use hubtune::runtime::context::Context;

/// S3's answer to a read of an object in an archive storage class.
const INVALID_OBJECT_STATE: &str = "InvalidObjectState";

fn archived(key: &str) -> Rejection {
    Rejection::new(
        RejectionReason::ArchivedObject,
        "the object is in an archive storage class (restore it, or copy it to a readable class, then upload the marker again)",
    )
    .at(key.to_string(), None)
}

/// `Ok(Err(problems))`: the dataset cannot be launched, and why.
pub type Checked = std::result::Result<FrozenDataset, Vec<Rejection>>;

pub async fn check_dataset(ctx: &Context, route: &Route, d: &DatasetLanded) -> Result<Checked> {
    let loc = &d.location;
    let listing = match list(ctx, route, d).await? {
        Ok(l) => l,
        Err(problem) => return Ok(Err(vec![problem])),
    };
    let mut frozen = match dataset::check_listing(route, loc, &listing) {
        Ok(f) => f,
        Err(problems) => return Ok(Err(problems)),
    };
    let mut problems = Vec::new();
    for f in frozen
        .files
        .iter_mut()
        .filter(|f| dataset::needs_content_check(&f.key))
    {
        let uri = loc.with_key(f.key.clone());
        let start = match ctx
            .objects
            .get_start(&uri, dataset::JSONL_CHECK_BYTES)
            .await
        {
            Ok(start) => start,
            // An archived object (Glacier, Deep Archive) cannot be read, by hubtune or by SageMaker.
            Err(e) if e.aws_code() == Some(INVALID_OBJECT_STATE) => {
                problems.push(archived(&f.key));
                continue;
            }
            Err(e) => return Err(e),
        };
        // The bytes judged must be the object listed (its size was checked): an overwrite in between is caught here.
        if start.etag.as_ref().is_some_and(|e| *e != f.etag) {
            let why = "was overwritten while it was being checked";
            problems.push(dataset::changed_after_checks(&f.key, why));
            continue;
        }
        // The version read is the version checked: the record keeps it (ListObjectsV2 names none).
        f.version_id = dataset::version_id(start.version_id.as_deref());
        if let Err(p) = dataset::check_jsonl_head(&f.key, &start.bytes, start.truncated) {
            problems.push(p);
        }
    }
    Ok(if problems.is_empty() {
        Ok(frozen)
    } else {
        Err(problems)
    })
}

/// The dataset's objects: a folder's listing (the marker and `_`/`.` files too, so a few beyond `max_files` are
/// allowed before refusing), or the one object in object mode.
async fn list(
    ctx: &Context,
    route: &Route,
    d: &DatasetLanded,
) -> Result<std::result::Result<Vec<DatasetFile>, Rejection>> {
    let loc = &d.location;
    if !d.is_folder() {
        return Ok(Ok(match ctx.objects.head(loc).await? {
            Some(h) => vec![DatasetFile {
                key: loc.key().to_string(),
                etag: h.etag,
                size: h.size,
                version_id: dataset::version_id(h.version_id.as_deref()),
                channel: "training".into(),
            }],
            None => vec![],
        }));
    }
    let max = route.dataset.max_files;
    let listing = ctx.objects.list(loc, max + 10).await?;
    if listing.more {
        return Ok(Err(Rejection::new(
            RejectionReason::TooManyFiles,
            format!(
                "more than {max} files; route {} allows at most {max} (max_files)",
                route.name
            ),
        )
        .at(loc.to_string(), None)));
    }
    Ok(Ok(listing.objects))
}

/// Just before CreateTrainingJob (the manifest is written): is every frozen file still the object the checks read?
/// SageMaker reads the manifest's keys, not versions (a `ManifestFile` cannot pin one), so a file overwritten since
/// the checks, maybe hours ago in the route's queue, would be trained unchecked. One listing of the folder answers
/// for up to 1,000 files (HeadObject per file would cost one call each); an object-mode dataset is one HeadObject.
/// Returns one `changed_after_checks` problem per file that changed or went.
pub async fn changed_since_checks(
    ctx: &Context,
    route: &Route,
    frozen: &FrozenDataset,
) -> Result<Vec<Rejection>> {
    let loc = &frozen.location;
    if !loc.key().ends_with('/') {
        let now = ctx.objects.head(loc).await?.map(|h| DatasetFile {
            key: loc.key().to_string(),
            etag: h.etag,
            size: h.size,
            version_id: dataset::version_id(h.version_id.as_deref()),
            channel: "training".into(),
        });
        return Ok(frozen.changed(now.as_slice()));
    }
    let listing = ctx.objects.list(loc, route.dataset.max_files + 10).await?;
    let mut now = listing.objects;
    if listing.more {
        // Files added since pushed some frozen ones past the cut: ask for those one by one.
        let unseen: Vec<&DatasetFile> = frozen
            .files
            .iter()
            .filter(|f| !now.iter().any(|n| n.key == f.key))
            .collect();
        for f in unseen {
            if let Some(h) = ctx.objects.head(&loc.with_key(f.key.clone())).await? {
                now.push(DatasetFile {
                    key: f.key.clone(),
                    etag: h.etag,
                    size: h.size,
                    version_id: dataset::version_id(h.version_id.as_deref()),
                    channel: "training".into(),
                });
            }
        }
    }
    Ok(frozen.changed(&now))
}
