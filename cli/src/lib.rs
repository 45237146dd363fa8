//! The `hubtune` command's library: the local stack (moto plus hubtune's stand-in, started and stopped on
//! loopback), the dispatcher that feeds the stack's queues to the three real handlers with SQS semantics, and the
//! operator commands. The end-to-end tests drive the same code.

pub mod local;
pub mod ops;

/// The repository root: `HUBTUNE_HOME`, else the workspace this binary was built from.
pub fn home() -> std::path::PathBuf {
    std::env::var_os("HUBTUNE_HOME")
        .map(Into::into)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("cli/ has a parent")
                .to_path_buf()
        })
}
