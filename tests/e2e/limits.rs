//! The request validator's table (shared/src/domain/validate/model.rs) is what the pinned botocore's service models
//! say: regenerated from them and compared, so a new botocore pin without a regenerated table fails here.

use std::process::Command;

#[test]
fn the_validators_table_matches_the_pinned_service_models() {
    let repo = hubtune_e2e::repo();
    let out = Command::new(repo.join(".venv/bin/python"))
        .arg(repo.join("scripts/gen-aws-limits"))
        .arg("--check")
        .current_dir(&repo)
        .output()
        .expect("run scripts/gen-aws-limits with the local stack's python");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
