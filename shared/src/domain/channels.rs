//! The route's `channels` key: which subfolder of a dataset folder feeds which input channel of the training job.
//!
//! By default `train/` (and any file at the folder root) is the `training` channel and `validation/` the
//! `validation` channel, the SDK's own names (`estimator.fit({"training": ..., "validation": ...})`). A route may map
//! other subfolders: `channels = { training = "train", validation = "dev" }`; the map replaces the default.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::rejection::{Rejection, RejectionReason};

/// The channel every dataset has: its root files, and the files of its training subfolder.
pub const TRAINING: &str = "training";
/// The SDK's name for held-out data.
pub const VALIDATION: &str = "validation";
/// Channels hubtune sends itself (the model artifact, and the code under network isolation).
pub const RESERVED_CHANNELS: &[&str] = &["model", "code"];

/// One channel and the dataset subfolder (one path segment, no `/`) that feeds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelFolder {
    pub channel: String,
    pub folder: String,
}

/// The route's channels, `training` first, then the others by name (the order they are sent in).
pub fn default_channels() -> Vec<ChannelFolder> {
    vec![
        ChannelFolder {
            channel: TRAINING.into(),
            folder: "train".into(),
        },
        ChannelFolder {
            channel: VALIDATION.into(),
            folder: "validation".into(),
        },
    ]
}

/// A channel name as botocore's model allows it (`InputDataConfig[].ChannelName`: 1 to 64 of `[A-Za-z0-9.\-_]`).
pub fn valid_channel_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// The route's `channels` map checked: valid names, none hubtune sends itself, one plain folder name each, no folder
/// twice. `None` keeps the default.
/// An error is the key (`<path>.<channel>`) and what is wrong with it.
pub(crate) fn route_channels(
    path: &str,
    raw: Option<&BTreeMap<String, String>>,
) -> Result<Vec<ChannelFolder>, (String, String)> {
    let Some(raw) = raw else {
        return Ok(default_channels());
    };
    let mut out: Vec<ChannelFolder> = Vec::new();
    for (channel, folder) in raw {
        let at = format!("{path}.{channel}");
        if !valid_channel_name(channel) {
            return Err((
                at,
                "a channel name is 1 to 64 letters, digits, `.`, `-` or `_` (SageMaker's ChannelName)".into(),
            ));
        }
        if RESERVED_CHANNELS.contains(&channel.as_str()) {
            return Err((
                at,
                format!("`{channel}` is a channel hubtune sends itself (the model, or its code): pick another name"),
            ));
        }
        let plain = !folder.is_empty() && !folder.contains('/') && folder != "." && folder != "..";
        if !plain || folder.starts_with('_') || folder.starts_with('.') {
            return Err((
                at,
                format!("`{folder}` is not a subfolder name: one path segment, not starting with `_` or `.`"),
            ));
        }
        if let Some(other) = out.iter().find(|c| c.folder == *folder) {
            return Err((
                at,
                format!(
                    "folder `{folder}` already feeds channel `{}`",
                    other.channel
                ),
            ));
        }
        out.push(ChannelFolder {
            channel: channel.clone(),
            folder: folder.clone(),
        });
    }
    // training first, as the SDK sends it; the rest by name (the map's order).
    out.sort_by_key(|c| c.channel != TRAINING);
    Ok(out)
}

/// Why a data channel beside training cannot be planned, if it cannot: a name SageMaker refuses, one hubtune
/// sends itself or that comes twice (`taken`), or one the hub document says the model does not take
/// (`hub_says == Some(false)`; where the document says nothing, the channel is accepted).
pub fn data_channel_problem(
    name: &str,
    taken: bool,
    hub_says: Option<bool>,
    model: &str,
    route: &str,
) -> Option<Rejection> {
    if !valid_channel_name(name) || taken || name == TRAINING || RESERVED_CHANNELS.contains(&name) {
        return Some(Rejection::new(
            RejectionReason::InvalidRequest,
            format!(
                "channel `{name}`: a channel is named once, by 1 to 64 letters, digits, `.`, `-` or `_`, and not \
                 training, model or code"
            ),
        ));
    }
    (hub_says == Some(false)).then(|| {
        Rejection::new(
            RejectionReason::ChannelNotSupported,
            format!(
                "the dataset has a `{name}` channel, but model {model} does not take one (its hub document says \
                 ValidationSupported is false): remove that subfolder, or map it elsewhere in routes.{route}.channels"
            ),
        )
    })
}

/// The channel of a file, by its key relative to the dataset folder: a file in a mapped subfolder feeds that
/// subfolder's channel; a file at the root, or in a subfolder no channel names, feeds `training` (as every file did
/// before channels).
pub fn channel_of<'a>(relative_key: &str, channels: &'a [ChannelFolder]) -> &'a str {
    let Some((first, _)) = relative_key.split_once('/') else {
        return TRAINING;
    };
    channels
        .iter()
        .find(|c| c.folder == first)
        .map_or(TRAINING, |c| c.channel.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_are_assigned_by_their_first_folder() {
        let d = default_channels();
        assert_eq!(channel_of("a.jsonl", &d), "training");
        assert_eq!(channel_of("train/a.jsonl", &d), "training");
        assert_eq!(channel_of("validation/b.jsonl", &d), "validation");
        assert_eq!(channel_of("validation/deep/b.jsonl", &d), "validation");
        // Only the first segment decides, and an unmapped folder is training data, as before channels.
        assert_eq!(channel_of("part1/validation/b.jsonl", &d), "training");
        assert_eq!(channel_of("validation.jsonl", &d), "training");
        assert_eq!(channel_of("dev/b.jsonl", &d), "training");
    }

    #[test]
    fn a_route_maps_its_own_folders_and_the_map_replaces_the_default() {
        let m = map(&[("validation", "dev"), ("training", "train")]);
        let c = route_channels("routes.a.channels", Some(&m)).unwrap();
        assert_eq!(c[0].channel, "training", "training comes first");
        assert_eq!(channel_of("dev/b.jsonl", &c), "validation");
        assert_eq!(channel_of("validation/b.jsonl", &c), "training");
        assert_eq!(route_channels("p", None).unwrap(), default_channels());
    }

    #[test]
    fn bad_maps_are_refused_with_the_key() {
        for (pairs, says) in [
            (vec![("model", "m")], "hubtune sends itself"),
            (vec![("code", "c")], "hubtune sends itself"),
            (vec![("bad name", "x")], "ChannelName"),
            (vec![("validation", "a/b")], "not a subfolder name"),
            (vec![("validation", "")], "not a subfolder name"),
            (vec![("validation", "_x")], "not a subfolder name"),
            (
                vec![("training", "d"), ("validation", "d")],
                "already feeds",
            ),
        ] {
            let (at, e) = route_channels("routes.a.channels", Some(&map(&pairs))).unwrap_err();
            let e = format!("{at}: {e}");
            assert!(e.starts_with("routes.a.channels."), "{e}");
            assert!(e.contains(says), "{pairs:?}: {e}");
        }
        assert!(valid_channel_name(&"x".repeat(64)));
        assert!(!valid_channel_name(&"x".repeat(65)));
    }
}
