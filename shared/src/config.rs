//! Configuration from the environment, resolved once per cold start.
//!
//! Secrets (`DATABASE_URL`, `BETTER_AUTH_SECRET`) come from the variable itself or, when
//! only `<NAME>_SECRET_ARN` is set, from AWS Secrets Manager. Values are never logged:
//! errors name the variable and the rule it broke, not what it held.

use std::fmt;

/// Reads one environment variable; injected so tests need not touch the process env.
pub type Lookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Why a function refused to start. `Debug` prints the message too, because that is
/// what a `main` returning this error shows in the function's log.
#[derive(thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not set (set it, or {arn} to read it from Secrets Manager)")]
    Missing {
        name: &'static str,
        arn: &'static str,
    },
    #[error("{name} is invalid: {problem}")]
    Invalid { name: &'static str, problem: String },
    #[error("could not read {name} from Secrets Manager: {problem}")]
    Secret { name: &'static str, problem: String },
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn invalid(name: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        problem: problem.into(),
    }
}

/// A string that must never be printed; `Debug` shows a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Everything the database layer needs.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: Secret,
    pub pool_max_size: usize,
    pub auto_migrate: bool,
    /// How long one piece of database work may take ([`REQUEST_BUDGET`]; a setting
    /// only so that tests need not wait that long).
    pub request_budget: std::time::Duration,
    /// `TASK_EVENTS=outbox`: every task change also records its event, in the same
    /// statement (`db::tasks`, docs/EVENTS.md). `None` (`off`, the default): no events.
    pub task_events: Option<TaskEvents>,
}

/// How task events are recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEvents {
    /// The CloudEvents `source` of every event (`TASK_EVENTS_SOURCE`, `/todo-api`).
    pub source: String,
    /// Events older than this many days are pruned (`TASK_EVENTS_RETENTION_DAYS`, 7).
    pub retention_days: i32,
}

/// Everything the token and password code needs.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub secret: Secret,
    pub expires_in: u64,
    /// `JWT_ISSUER`/`JWT_AUDIENCE`: issued by `auth` and required of every HS256 token
    /// when set; unset, `auth` issues `todo-api` and nothing is required.
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub bcrypt_cost: u32,
    /// Also accept Better Auth's asymmetric tokens from this key set.
    pub jwks: Option<JwksConfig>,
    /// Login throttling.
    pub throttle: Throttle,
}

/// Login throttling: after `max_failures` failed logins for an account from one client
/// address within `window`, or `max_address_failures` from one address across accounts,
/// further attempts (from that address) are refused (429) until the window has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub max_failures: u32,
    pub max_address_failures: u32,
    pub window: std::time::Duration,
}

/// Where Better Auth's keys are and what their tokens must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksConfig {
    pub url: String,
    pub issuer: String,
    pub audience: String,
}

/// Settings of the HTTP edge.
#[derive(Debug, Clone, Default)]
pub struct HttpConfig {
    /// Origins allowed by CORS: empty means CORS headers are never sent.
    pub cors_allow_origins: Vec<String>,
}

/// The whole configuration of a function that serves authenticated routes.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    pub auth: AuthConfig,
    pub http: HttpConfig,
}

pub const MIN_SECRET_BYTES: usize = 32;

/// A request's one deadline, counted from its start (crate::deadline): all of its
/// database work (pool, connect, every statement) ends by then, plus at most
/// `db::CANCEL_BUDGET` to hear a cancel confirmed, or the request is answered 503 (504
/// for a change whose outcome is unknown). That stays well inside the functions'
/// timeouts in template.yaml (a test holds it to them), so a slow database never makes
/// API Gateway answer instead of the function.
pub const REQUEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(4);

impl Config {
    /// Reads the process environment (and Secrets Manager where an ARN is given).
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::resolve(&|name| std::env::var(name).ok()).await
    }

    pub async fn resolve(var: Lookup<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            database: DatabaseConfig::resolve(var).await?,
            auth: AuthConfig::resolve(var).await?,
            http: HttpConfig::resolve(var),
        })
    }
}

impl DatabaseConfig {
    pub async fn from_env() -> Result<Self, ConfigError> {
        Self::resolve(&|name| std::env::var(name).ok()).await
    }

    pub async fn resolve(var: Lookup<'_>) -> Result<Self, ConfigError> {
        let url = secret(var, "DATABASE_URL", "DATABASE_URL_SECRET_ARN").await?;
        Ok(Self {
            url: Secret::new(url),
            pool_max_size: number(var, "DB_POOL_MAX_SIZE", 2, 1..=64)?,
            auto_migrate: boolean(var, "AUTO_MIGRATE", true)?,
            request_budget: REQUEST_BUDGET,
            task_events: task_events(var)?,
        })
    }
}

fn task_events(var: Lookup<'_>) -> Result<Option<TaskEvents>, ConfigError> {
    match non_empty(var, "TASK_EVENTS")
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None | Some("off") => Ok(None),
        Some("outbox") => Ok(Some(TaskEvents {
            source: non_empty(var, "TASK_EVENTS_SOURCE").unwrap_or_else(|| "/todo-api".into()),
            retention_days: number(var, "TASK_EVENTS_RETENTION_DAYS", 7, 1..=3650)?,
        })),
        Some(_) => Err(invalid("TASK_EVENTS", "must be off or outbox")),
    }
}

impl AuthConfig {
    pub async fn resolve(var: Lookup<'_>) -> Result<Self, ConfigError> {
        let secret = secret(var, "BETTER_AUTH_SECRET", "BETTER_AUTH_SECRET_ARN").await?;
        if secret.len() < MIN_SECRET_BYTES {
            return Err(invalid(
                "BETTER_AUTH_SECRET",
                format!(
                    "must be at least {MIN_SECRET_BYTES} bytes, got {}",
                    secret.len()
                ),
            ));
        }
        Ok(Self {
            secret: Secret::new(secret),
            // A day at most: a stolen token cannot be revoked, only outlived.
            expires_in: number(var, "JWT_EXPIRES_IN", 1800, 60..=86_400)?,
            issuer: non_empty(var, "JWT_ISSUER"),
            audience: non_empty(var, "JWT_AUDIENCE"),
            bcrypt_cost: number(var, "BCRYPT_COST", 10, 10..=14)?,
            jwks: jwks(var)?,
            throttle: Throttle {
                max_failures: number(var, "LOGIN_MAX_FAILURES", 10, 1..=1000)?,
                max_address_failures: number(var, "LOGIN_MAX_ADDRESS_FAILURES", 100, 1..=100_000)?,
                window: std::time::Duration::from_secs(number(
                    var,
                    "LOGIN_WINDOW_SECONDS",
                    900,
                    1..=86_400,
                )?),
            },
        })
    }
}

/// `BETTER_AUTH_JWKS_URL`, with `BETTER_AUTH_ISSUER`/`BETTER_AUTH_AUDIENCE` defaulting to
/// the URL's origin (Better Auth's base URL). The keys decide who may call: they come
/// over `https`, or plain `http` only from this machine (a local Better Auth).
fn jwks(var: Lookup<'_>) -> Result<Option<JwksConfig>, ConfigError> {
    let Some(url) = non_empty(var, "BETTER_AUTH_JWKS_URL") else {
        return Ok(None);
    };
    let loopback = |u: &url::Url| match u.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let parsed = url::Url::parse(&url)
        .ok()
        .filter(|u| u.host().is_some())
        .filter(|u| u.scheme() == "https" || (u.scheme() == "http" && loopback(u)))
        .ok_or_else(|| {
            invalid(
                "BETTER_AUTH_JWKS_URL",
                "must be an https URL (http only for localhost)",
            )
        })?;
    let origin = parsed.origin().ascii_serialization();
    Ok(Some(JwksConfig {
        url,
        issuer: non_empty(var, "BETTER_AUTH_ISSUER").unwrap_or_else(|| origin.clone()),
        audience: non_empty(var, "BETTER_AUTH_AUDIENCE").unwrap_or(origin),
    }))
}

impl HttpConfig {
    pub fn resolve(var: Lookup<'_>) -> Self {
        let cors_allow_origins = non_empty(var, "CORS_ALLOW_ORIGINS")
            .map(|list| {
                list.split(',')
                    .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                    .filter(|origin| !origin.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Self { cors_allow_origins }
    }
}

fn non_empty(var: Lookup<'_>, name: &str) -> Option<String> {
    var(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn number<T>(
    var: Lookup<'_>,
    name: &'static str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + fmt::Display + Copy,
{
    let Some(raw) = non_empty(var, name) else {
        return Ok(default);
    };
    match raw.parse::<T>() {
        Ok(value) if range.contains(&value) => Ok(value),
        _ => Err(invalid(
            name,
            format!(
                "must be a whole number from {} to {}",
                range.start(),
                range.end()
            ),
        )),
    }
}

fn boolean(var: Lookup<'_>, name: &'static str, default: bool) -> Result<bool, ConfigError> {
    match non_empty(var, name)
        .map(|v| v.to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some("false" | "0" | "no" | "off") => Ok(false),
        Some(_) => Err(invalid(name, "must be true or false")),
    }
}

/// The value of `name`, or of the Secrets Manager secret whose ARN is in `arn`.
async fn secret(
    var: Lookup<'_>,
    name: &'static str,
    arn: &'static str,
) -> Result<String, ConfigError> {
    if let Some(value) = var(name).filter(|v| !v.is_empty()) {
        return Ok(value);
    }
    match non_empty(var, arn) {
        Some(secret_arn) => fetch_secret(var, &secret_arn, name).await,
        None => Err(ConfigError::Missing { name, arn }),
    }
}

/// Reads the secret with the credentials and region Lambda puts in every function's
/// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`), over the project's one HTTP client. Not aws-config's default chain:
/// its profile, SSO, web-identity and instance-metadata providers never apply inside
/// Lambda and would grow every binary (BENCHMARKS.md, "Binary size"). `AWS_ENDPOINT_URL` points it elsewhere
/// (a local stand-in in the tests).
async fn fetch_secret(
    var: Lookup<'_>,
    arn: &str,
    name: &'static str,
) -> Result<String, ConfigError> {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Region};
    let fail = |problem: String| ConfigError::Secret { name, problem };
    let region = non_empty(var, "AWS_REGION")
        .or_else(|| non_empty(var, "AWS_DEFAULT_REGION"))
        .ok_or_else(|| fail("AWS_REGION is not set".into()))?;
    let endpoint = non_empty(var, "AWS_ENDPOINT_URL_SECRETS_MANAGER")
        .or_else(|| non_empty(var, "AWS_ENDPOINT_URL"));
    let mut config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        )
        .http_client(crate::outbound::AwsHttpClient);
    config.set_endpoint_url(endpoint);
    let client = aws_sdk_secretsmanager::Client::from_conf(config.build());
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| fail(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
    let raw = output
        .secret_string()
        .ok_or_else(|| fail("the secret has no string value".into()))?;
    secret_from_string(raw, name).ok_or_else(|| {
        fail(format!(
            "the secret is empty or its JSON has no \"{name}\" key"
        ))
    })
}

/// A secret is either the plain value or a JSON object holding it under `name`.
pub fn secret_from_string(raw: &str, name: &str) -> Option<String> {
    let trimmed = raw.trim();
    if trimmed.starts_with('{') {
        let json: serde_json::Value = serde_json::from_str(trimmed).ok()?;
        return json
            .get(name)
            .and_then(|v| v.as_str())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
    }
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    async fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map = env(pairs);
        Config::resolve(&move |k| map.get(k).cloned()).await
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    /// A database and a secret, plus `name=value`: refused, naming `name`.
    async fn assert_refused(name: &str, value: &str) {
        let err = load(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("BETTER_AUTH_SECRET", SECRET),
            (name, value),
        ])
        .await
        .unwrap_err();
        assert!(err.to_string().contains(name), "{name}={value}: {err}");
    }

    #[tokio::test]
    async fn defaults_apply() {
        let c = load(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("BETTER_AUTH_SECRET", SECRET),
        ])
        .await
        .unwrap();
        assert_eq!(c.auth.bcrypt_cost, 10);
        assert_eq!(c.auth.expires_in, 1800);
        assert_eq!(c.database.pool_max_size, 2);
        assert!(c.database.auto_migrate);
        assert!(c.http.cors_allow_origins.is_empty());
        assert_eq!(c.auth.issuer, None);
        assert_eq!(c.auth.jwks, None);
    }

    #[tokio::test]
    async fn jwks_issuer_and_audience_default_to_the_origin() {
        let c = load(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("BETTER_AUTH_SECRET", SECRET),
            (
                "BETTER_AUTH_JWKS_URL",
                "https://auth.example.com:8443/api/auth/jwks",
            ),
        ])
        .await
        .unwrap();
        let jwks = c.auth.jwks.unwrap();
        assert_eq!(jwks.issuer, "https://auth.example.com:8443");
        assert_eq!(jwks.audience, "https://auth.example.com:8443");
        for refused in [
            "ftp://x",
            "http://auth.example.com/api/auth/jwks",
            "not a url",
        ] {
            assert_refused("BETTER_AUTH_JWKS_URL", refused).await;
        }
        for local in [
            "http://localhost:3000/api/auth/jwks",
            "http://127.0.0.1:3000/x",
            "http://[::1]/x",
        ] {
            let c = load(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("BETTER_AUTH_SECRET", SECRET),
                ("BETTER_AUTH_JWKS_URL", local),
            ])
            .await;
            assert!(c.is_ok(), "{local}");
        }
    }

    #[tokio::test]
    async fn short_secret_is_refused_by_name_without_its_value() {
        let err = load(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("BETTER_AUTH_SECRET", "short-secret-value"),
        ])
        .await
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("BETTER_AUTH_SECRET"), "{msg}");
        assert!(msg.contains("32 bytes"), "{msg}");
        assert!(!msg.contains("short-secret-value"), "{msg}");
    }

    #[tokio::test]
    async fn missing_variables_are_named() {
        let err = load(&[("BETTER_AUTH_SECRET", SECRET)]).await.unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL is not set"),
            "{err}"
        );
        let err = load(&[("DATABASE_URL", "postgres://x/y")])
            .await
            .unwrap_err();
        assert!(
            err.to_string().starts_with("BETTER_AUTH_SECRET is not set"),
            "{err}"
        );
        assert!(
            err.to_string().contains("or BETTER_AUTH_SECRET_ARN to"),
            "{err}"
        );
        // What `main` prints when it returns the error.
        assert_eq!(format!("{err:?}"), err.to_string());
    }

    #[tokio::test]
    async fn token_lifetimes_over_a_day_are_refused() {
        for (value, ok) in [("86400", true), ("86401", false), ("59", false)] {
            let result = load(&[
                ("DATABASE_URL", "postgres://x/y"),
                ("BETTER_AUTH_SECRET", SECRET),
                ("JWT_EXPIRES_IN", value),
            ])
            .await;
            match result {
                Ok(c) => assert!(ok && c.auth.expires_in == 86_400, "{value}"),
                Err(err) => assert!(!ok && err.to_string().contains("JWT_EXPIRES_IN"), "{err}"),
            }
        }
    }

    #[tokio::test]
    async fn bcrypt_cost_out_of_range_is_refused() {
        for bad in ["9", "15", "ten"] {
            assert_refused("BCRYPT_COST", bad).await;
        }
    }

    #[tokio::test]
    async fn optional_settings_are_read() {
        let c = load(&[
            ("DATABASE_URL", "postgres://x/y"),
            ("BETTER_AUTH_SECRET", SECRET),
            ("BCRYPT_COST", "12"),
            ("JWT_EXPIRES_IN", "600"),
            ("JWT_ISSUER", "https://issuer.example"),
            ("JWT_AUDIENCE", "todo"),
            ("DB_POOL_MAX_SIZE", "5"),
            ("AUTO_MIGRATE", "false"),
            (
                "CORS_ALLOW_ORIGINS",
                "http://localhost:3000/, https://app.example",
            ),
        ])
        .await
        .unwrap();
        assert_eq!(c.auth.bcrypt_cost, 12);
        assert_eq!(c.auth.expires_in, 600);
        assert_eq!(c.auth.issuer.as_deref(), Some("https://issuer.example"));
        assert_eq!(c.auth.audience.as_deref(), Some("todo"));
        assert_eq!(c.database.pool_max_size, 5);
        assert!(!c.database.auto_migrate);
        assert_eq!(
            c.http.cors_allow_origins,
            vec!["http://localhost:3000", "https://app.example"]
        );
    }

    #[tokio::test]
    async fn task_events_are_off_unless_asked_for() {
        let base = [
            ("DATABASE_URL", "postgres://x/y"),
            ("BETTER_AUTH_SECRET", SECRET),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            pairs
        };
        assert_eq!(load(&base).await.unwrap().database.task_events, None);
        let off = load(&with(&[("TASK_EVENTS", "off")])).await.unwrap();
        assert_eq!(off.database.task_events, None);
        let on = load(&with(&[("TASK_EVENTS", "Outbox")])).await.unwrap();
        assert_eq!(
            on.database.task_events,
            Some(TaskEvents {
                source: "/todo-api".into(),
                retention_days: 7
            })
        );
        let custom = load(&with(&[
            ("TASK_EVENTS", "outbox"),
            ("TASK_EVENTS_SOURCE", "/todo/prod"),
            ("TASK_EVENTS_RETENTION_DAYS", "30"),
        ]))
        .await
        .unwrap();
        assert_eq!(
            custom.database.task_events,
            Some(TaskEvents {
                source: "/todo/prod".into(),
                retention_days: 30
            })
        );
        for bad in [
            with(&[("TASK_EVENTS", "kafka")]),
            with(&[
                ("TASK_EVENTS", "outbox"),
                ("TASK_EVENTS_RETENTION_DAYS", "0"),
            ]),
        ] {
            let err = load(&bad).await.unwrap_err();
            assert!(err.to_string().contains("TASK_EVENTS"), "{err}");
        }
    }

    #[test]
    fn secrets_are_plain_or_json() {
        assert_eq!(secret_from_string(" abc \n", "X").as_deref(), Some("abc"));
        assert_eq!(
            secret_from_string(r#"{"X": "v", "other": 1}"#, "X").as_deref(),
            Some("v")
        );
        assert_eq!(secret_from_string(r#"{"Y": "v"}"#, "X"), None);
        assert_eq!(secret_from_string("  ", "X"), None);
    }

    #[test]
    fn secret_debug_hides_the_value() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
