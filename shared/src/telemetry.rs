//! Logs, and one line per request that is both its access-log entry and its metrics.
//!
//! **Format.** JSON lines, as Lambda's JSON log format expects (`level`, `message`, and
//! the request's span with its `request_id` and X-Ray `trace_id`), unless
//! `LOG_FORMAT=text` asks for readable text (`make dev` does). Lambda sets
//! `AWS_LAMBDA_LOG_FORMAT=JSON` when the function's log format is JSON: that wins, so a
//! local run with it set prints exactly what the deployed function prints.
//!
//! **Levels** from `RUST_LOG` (a level, and levels per target: `warn,shared=debug`;
//! `Targets`' syntax: `EnvFilter`'s span and field filters would put a regex engine in
//! every binary, unused), else from Lambda's application log level
//! (`AWS_LAMBDA_LOG_LEVEL`), else `info`.
//!
//! **The request line** ([`request_done`]): in JSON, one object holding the access-log
//! fields (`request_id`, `trace_id`, `method`, `route`, `status`, `duration_ms`,
//! `db_ms`, `cold_start`) and, in the same object, CloudWatch's Embedded Metric Format
//! (`_aws`): `Latency`, `DbLatency`, `Requests`, `Errors5xx`, `Errors4xx`, `ColdStart`
//! and the request's events (`LoginFailed`, `DatabaseUnavailable`, …), by function and
//! by function and route, in the namespace `METRICS_NAMESPACE` (default `TodoApi`).
//! CloudWatch turns the line into metrics as it ingests the log: no API call, no added
//! latency. It carries no `level`, which Lambda reads as INFO: the template allows no
//! application log level above INFO, so the metrics are never filtered out. No
//! token, password, secret or task content is ever in it: only the route's template,
//! never the raw path. Why not the `metrics_cloudwatch_embedded` crate: it goes through
//! the `metrics` facade's global recorder and flushes on its own schedule, where one
//! line per request written at the end of the request is all this needs, in a few lines.

use crate::metrics::Record;
use serde_json::{Number, json};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::{fmt, prelude::*};

/// How this process writes its logs, decided once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Text,
}

impl Format {
    /// From the environment: `AWS_LAMBDA_LOG_FORMAT=JSON` (Lambda's), else
    /// `LOG_FORMAT=text`, else JSON.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        if var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")) {
            Self::Json
        } else if var("LOG_FORMAT").is_some_and(|f| f == "text") {
            Self::Text
        } else {
            Self::Json
        }
    }
}

struct Settings {
    format: Format,
    function: &'static str,
    namespace: String,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();
/// True until the first request of this instance is answered.
static COLD: AtomicBool = AtomicBool::new(true);

impl Settings {
    fn from_env(function: &'static str) -> Self {
        let env = |name: &str| std::env::var(name).ok();
        Self {
            format: Format::from_env(env),
            function,
            namespace: env("METRICS_NAMESPACE")
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "TodoApi".to_owned()),
        }
    }
}

/// As [`init`] set them (tests that call the HTTP edge directly get a function named
/// `unnamed`).
fn settings() -> &'static Settings {
    SETTINGS.get_or_init(|| Settings::from_env("unnamed"))
}

/// Sets up logging for the function `function` (its name in metrics: `tasks`, `auth`, …).
pub fn init(function: &'static str) {
    let env = |name: &str| std::env::var(name).ok();
    let _ = SETTINGS.set(Settings::from_env(function));
    let filter = env("RUST_LOG")
        .and_then(|spec| spec.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(lambda_level(env("AWS_LAMBDA_LOG_LEVEL"))));
    let logs = tracing_subscriber::registry().with(filter);
    let result = match settings().format {
        Format::Text => logs.with(fmt::layer().with_target(false)).try_init(),
        // CloudWatch stamps each line itself.
        Format::Json => logs
            .with(
                fmt::layer()
                    .json()
                    .without_time()
                    .with_current_span(true)
                    .flatten_event(true)
                    .with_ansi(false)
                    .with_target(false),
            )
            .try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    drop(result);
}

/// Lambda's application log level as a filter (`FATAL` is tracing's `ERROR`).
fn lambda_level(level: Option<String>) -> LevelFilter {
    match level.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("TRACE") => LevelFilter::TRACE,
        Some("DEBUG") => LevelFilter::DEBUG,
        Some("WARN") => LevelFilter::WARN,
        Some("ERROR" | "FATAL") => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    }
}

/// What the HTTP edge knows when it has answered a request.
pub struct Done<'a> {
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    pub method: &'a str,
    /// `GET /api/{user_id}/tasks`: the route's template, never the raw path.
    pub route: &'a str,
    pub status: u16,
    pub duration: Duration,
    pub record: &'a Record,
}

/// Writes the request's line (see the module's documentation).
pub fn request_done(done: &Done<'_>) {
    let cold_start = COLD.swap(false, Ordering::Relaxed);
    let settings = settings();
    match settings.format {
        Format::Json => {
            let line = request_line(
                done,
                cold_start,
                settings.function,
                &settings.namespace,
                now_millis(),
            );
            // One line, under stdout's lock (tests capture it, as they capture print!).
            println!("{line}");
        }
        Format::Text => tracing::info!(
            route = done.route,
            status = done.status,
            duration_ms = millis(done.duration),
            db_ms = millis(done.record.database()),
            cold_start,
            "request done"
        ),
    }
}

fn now_millis() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Milliseconds with microseconds, as a number.
fn millis(duration: Duration) -> f64 {
    (duration.as_micros() as f64) / 1000.0
}

/// The request's line, one JSON object: the access-log fields and the EMF document.
/// Serialised straight into the string, with no intermediate JSON values.
pub fn request_line(
    done: &Done<'_>,
    cold_start: bool,
    function: &str,
    namespace: &str,
    timestamp_ms: u64,
) -> String {
    let line = Line {
        done,
        cold_start,
        function,
        namespace,
        timestamp_ms,
    };
    serde_json::to_string(&line).unwrap_or_default()
}

struct Line<'a> {
    done: &'a Done<'a>,
    cold_start: bool,
    function: &'a str,
    namespace: &'a str,
    timestamp_ms: u64,
}

impl Line<'_> {
    /// Every metric of the line: name, unit, value.
    fn metrics(&self) -> impl Iterator<Item = (&'static str, &'static str, Number)> + '_ {
        let done = self.done;
        let ms = |d: Duration| Number::from_f64(millis(d)).unwrap_or_else(|| 0.into());
        let count = |yes: bool| Number::from(u8::from(yes));
        let base = [
            ("Latency", "Milliseconds", ms(done.duration)),
            ("DbLatency", "Milliseconds", ms(done.record.database())),
            ("Requests", "Count", count(true)),
            ("Errors5xx", "Count", count(done.status >= 500)),
            (
                "Errors4xx",
                "Count",
                count((400..500).contains(&done.status)),
            ),
            ("ColdStart", "Count", count(self.cold_start)),
        ];
        let events = done.record.events().into_iter();
        base.into_iter()
            .chain(events.map(move |name| (name, "Count", count(true))))
    }
}

impl serde::Serialize for Line<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let done = self.done;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("message", "request")?;
        map.serialize_entry("request_id", done.request_id)?;
        map.serialize_entry("trace_id", &done.trace_id)?;
        map.serialize_entry("method", done.method)?;
        map.serialize_entry("route", done.route)?;
        map.serialize_entry("status", &done.status)?;
        map.serialize_entry("duration_ms", &millis(done.duration))?;
        map.serialize_entry("db_ms", &millis(done.record.database()))?;
        map.serialize_entry("cold_start", &self.cold_start)?;
        map.serialize_entry("Function", self.function)?;
        map.serialize_entry("Route", done.route)?;
        for (name, _, value) in self.metrics() {
            map.serialize_entry(name, &value)?;
        }
        map.serialize_entry("_aws", &Aws(self))?;
        map.end()
    }
}

/// The EMF metadata: which members of the line are metrics, in which dimensions.
struct Aws<'a>(&'a Line<'a>);

impl serde::Serialize for Aws<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let line = self.0;
        let metrics: Vec<_> = line
            .metrics()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        serde::Serialize::serialize(
            &json!({
            "Timestamp": line.timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": line.namespace,
                "Dimensions": [["Function"], ["Function", "Route"]],
                "Metrics": metrics,
            }],
            }),
            serializer,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// What CloudWatch requires of an EMF document (its specification): `_aws` with a
    /// millisecond timestamp and one or more directives, each with a namespace, at most
    /// 30 dimensions per set and 100 metrics; every dimension a string member of the
    /// line and every metric a number member.
    fn assert_valid_emf(line: &Value) {
        let aws = &line["_aws"];
        assert!(aws["Timestamp"].is_u64(), "{line}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert!(!directives.is_empty());
        for directive in directives {
            assert!(
                directive["Namespace"]
                    .as_str()
                    .is_some_and(|n| !n.is_empty())
            );
            for set in directive["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(!set.is_empty() && set.len() <= 30);
                for dimension in set {
                    let name = dimension.as_str().unwrap();
                    assert!(line[name].is_string(), "dimension {name}: {line}");
                }
            }
            let metrics = directive["Metrics"].as_array().unwrap();
            assert!(!metrics.is_empty() && metrics.len() <= 100);
            for metric in metrics {
                let name = metric["Name"].as_str().unwrap();
                assert!(line[name].is_number(), "metric {name}: {line}");
                assert!(matches!(
                    metric["Unit"].as_str(),
                    Some("Milliseconds" | "Count")
                ));
            }
        }
    }

    #[tokio::test]
    async fn the_request_line_is_the_access_log_and_valid_emf() {
        let ((), record) = crate::metrics::scope(async {
            crate::metrics::event("LoginFailed");
            crate::metrics::database(Duration::from_micros(1500));
        })
        .await;
        let done = Done {
            request_id: "req-1",
            trace_id: Some("Root=1-abc"),
            method: "POST",
            route: "POST /api/auth/login",
            status: 401,
            duration: Duration::from_micros(2750),
            record: &record,
        };
        let line: Value = serde_json::from_str(&request_line(
            &done,
            true,
            "auth",
            "TodoApi",
            1_700_000_000_000,
        ))
        .unwrap();
        assert_valid_emf(&line);
        assert_eq!(line["request_id"], "req-1");
        assert_eq!(line["trace_id"], "Root=1-abc");
        assert_eq!(line["route"], "POST /api/auth/login");
        assert_eq!(line["status"], 401);
        assert_eq!(line["duration_ms"], 2.75);
        assert_eq!(line["db_ms"], 1.5);
        assert_eq!(line["cold_start"], true);
        assert_eq!(line["Function"], "auth");
        assert_eq!(
            (&line["Errors4xx"], &line["Errors5xx"], &line["LoginFailed"]),
            (&json!(1), &json!(0), &json!(1))
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "TodoApi");
    }

    #[test]
    fn lambda_sets_the_format_and_the_level() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(Format::from_env(env(&[])), Format::Json);
        assert_eq!(
            Format::from_env(env(&[("LOG_FORMAT", "text")])),
            Format::Text
        );
        let lambda = env(&[("LOG_FORMAT", "text"), ("AWS_LAMBDA_LOG_FORMAT", "JSON")]);
        assert_eq!(Format::from_env(lambda), Format::Json);
        assert_eq!(lambda_level(Some("warn".into())), LevelFilter::WARN);
        assert_eq!(lambda_level(Some("FATAL".into())), LevelFilter::ERROR);
        assert_eq!(lambda_level(None), LevelFilter::INFO);
    }
}
