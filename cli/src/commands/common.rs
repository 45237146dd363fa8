//! What every command family uses: the result type, reading a file, loading a routes file, the AWS clients.

use std::path::Path;
use std::process::ExitCode;

use hubtune::aws::Aws;
use hubtune::domain::config::{self, Config};

/// A command's result: its exit code, or an error main prints to stderr with exit 2.
pub(crate) type Res = Result<ExitCode, Box<dyn std::error::Error>>;

/// A file's text; the error names the file.
pub(crate) fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A routes file, parsed with the deployment's environment; the error names the file.
pub(crate) fn load_config(path: &Path) -> Result<Config, String> {
    config::parse(&read(path)?, &hubtune::runtime::env::deployment_env(), None)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// hubtune's AWS clients: for `endpoint` (the local stack) when given, else from the environment.
pub(crate) async fn aws(endpoint: Option<&str>) -> Aws {
    match endpoint {
        Some(e) => {
            Aws::for_endpoint(
                e,
                &std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
            )
            .await
        }
        None => Aws::from_env().await,
    }
}
