//! Structured JSON logs, one line per event, with the job name and dataset as fields wherever they are known.

/// Initialise logging once per process. `RUST_LOG` filters (default `info`). JSON on Lambda; `pretty` elsewhere when
/// `HUBTUNE_LOG_FORMAT=text`.
pub fn init() {
    use tracing_subscriber::{fmt, EnvFilter};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let text = std::env::var("HUBTUNE_LOG_FORMAT").is_ok_and(|v| v == "text");
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = if text {
        builder.without_time().try_init()
    } else {
        // Lambda adds its own timestamps and request ids; the JSON keeps fields queryable in CloudWatch Insights.
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .without_time()
            .try_init()
    };
}
