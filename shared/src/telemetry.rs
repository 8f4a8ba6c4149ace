//! Logging: JSON lines for CloudWatch, or readable text when `LOG_FORMAT=text`
//! (`make dev` sets it). Levels from `RUST_LOG`, default `info`: a level, and levels per
//! target (`warn,shared=debug`). That is `Targets`' syntax; `EnvFilter`'s span and field
//! filters would put a regex engine in every binary, unused.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{fmt, prelude::*};

pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let logs = tracing_subscriber::registry().with(filter);
    let result = if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "text") {
        logs.with(fmt::layer().with_target(false)).try_init()
    } else {
        // CloudWatch stamps each line itself.
        logs.with(
            fmt::layer()
                .json()
                .without_time()
                .with_current_span(true)
                .flatten_event(true)
                .with_ansi(false)
                .with_target(false),
        )
        .try_init()
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}
