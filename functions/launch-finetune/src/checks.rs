//! The dataset checks before any money is spent, reading only what they need: the listing (or the one object), and
//! the first 64 KiB of each `.jsonl` file. The decisions are the core's (`dataset::check_listing`,
//! `dataset::check_jsonl_head`); this module only reads.

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
    let frozen = match dataset::check_listing(route, loc, &listing) {
        Ok(f) => f,
        Err(problems) => return Ok(Err(problems)),
    };
    let mut problems = Vec::new();
    for f in frozen
        .files
        .iter()
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
