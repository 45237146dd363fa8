//! The repository's event fixtures, as the handlers' replay tests read them.

use serde_json::{json, Value};

/// Every event fixture in the repository's `fixtures/events/`, sorted by name, one body per S3 record (so each
/// record's ending can be seen alone).
pub fn event_fixtures() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/events");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/events/ is there")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        match body["Records"].as_array() {
            Some(records) if records.len() > 1 => out.extend(
                records
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (format!("{name} record {i}"), json!({ "Records": [r] }))),
            ),
            _ => out.push((name, body)),
        }
    }
    assert!(out.len() >= 8, "the event fixtures: {out:?}");
    out
}
