//! The `hubtune` command's library: the local stack (moto plus hubtune's stand-in, started and stopped on
//! loopback), the dispatcher that feeds the stack's queues to the three real handlers with SQS semantics, and the
//! operator commands. The end-to-end tests drive the same code.

pub mod local;

/// The repository root (where `infra/template.yaml` and the local stack live): `HUBTUNE_HOME`, else the first folder
/// above the running executable that holds them (the binary lives in the repository's target/), else the first above
/// the current folder. Nothing about the machine it was built on is baked in.
pub fn home() -> std::path::PathBuf {
    if let Some(h) = std::env::var_os("HUBTUNE_HOME") {
        return h.into();
    }
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let cwd = std::env::current_dir().ok();
    exe.iter()
        .chain(cwd.iter())
        .find_map(|start| find_home(start))
        .or(cwd)
        .unwrap_or_else(|| ".".into())
}

/// The first folder at or above `start` that is a hubtune repository.
pub fn find_home(start: &std::path::Path) -> Option<std::path::PathBuf> {
    start
        .ancestors()
        .find(|d| {
            d.join("infra/template.yaml").is_file()
                && d.join("localstack/hubtune_localstack").is_dir()
        })
        .map(std::path::Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_home_is_found_above_a_nested_path_and_nowhere_else() {
        let root = std::env::temp_dir().join(format!("hubtune-home-{}", std::process::id()));
        let nested = root.join("target/debug/deps");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::create_dir_all(root.join("infra")).unwrap();
        std::fs::create_dir_all(root.join("localstack/hubtune_localstack")).unwrap();
        assert_eq!(find_home(&nested), None, "no template yet");
        std::fs::write(root.join("infra/template.yaml"), "").unwrap();
        assert_eq!(find_home(&nested).as_deref(), Some(root.as_path()));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn the_test_binary_finds_this_repository() {
        let exe = std::env::current_exe().unwrap();
        let found = find_home(&exe).expect("a test binary lives under the repository's target/");
        assert!(found.join("Cargo.toml").is_file());
    }
}
