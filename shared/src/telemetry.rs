//! Logging: JSON lines for CloudWatch, or readable text when `LOG_FORMAT=text`
//! (`make dev` sets it). Level from `RUST_LOG`, default `info`.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "text") {
        builder.try_init()
    } else {
        // CloudWatch stamps each line itself.
        builder
            .json()
            .without_time()
            .with_current_span(true)
            .flatten_event(true)
            .with_ansi(false)
            .try_init()
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
