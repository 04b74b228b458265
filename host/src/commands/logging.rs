//! Log setup: human-readable by default, JSON lines with `VALIDIBOT_LOG_FORMAT=json`.
//! Events inside a run carry its `run` span (run id, attempt) and `step` span
//! (key, validator), so a log pipeline can group every line of one run.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_env("VALIDIBOT_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("VALIDIBOT_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .init();
    } else {
        builder.init();
    }
}
