//! Turning `DATABASE_URL` into a pool: TLS with SNI and certificate verification, and
//! the Neon console's connection strings accepted as they are.

use super::DbError;
use crate::config::DatabaseConfig;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::time::Duration;

/// A connection idle longer than this is checked before reuse: a thawed Lambda may
/// hold one the server closed long ago. Busy connections skip the check (no extra
/// round trip per request).
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(30);

pub(super) fn pool(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let pg = pg_config(config.url.expose())?;
    let manager = Manager::from_config(
        pg,
        tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()?),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(config.pool_max_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(2)))
        .pre_recycle(Hook::async_fn(|client, metrics| {
            let stale = metrics.last_used() > CHECK_IDLE_AFTER;
            Box::pin(async move {
                if stale {
                    client.simple_query("").await.map_err(HookError::Backend)?;
                }
                Ok(())
            })
        }))
        .build()
        .map_err(|e| DbError::Other(format!("building the pool: {e}")))
}

/// Parses the URL after rewriting what tokio-postgres does not accept: `sslmode`
/// `verify-full`/`verify-ca` become `require` (rustls always verifies the certificate
/// and the host name), and libpq-only options such as `sslrootcert` are dropped.
pub fn pg_config(url: &str) -> Result<tokio_postgres::Config, DbError> {
    let bad = |problem: &str| DbError::Other(format!("DATABASE_URL is invalid: {problem}"));
    let mut parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(bad("it must start with postgres:// or postgresql://"));
    }
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .filter_map(|(key, value)| match key.as_str() {
            "sslmode" if matches!(value.as_str(), "verify-full" | "verify-ca") => {
                Some((key, "require".to_owned()))
            }
            "sslrootcert" | "sslcert" | "sslkey" | "sslcrl" | "sslcompression" | "gssencmode" => {
                None
            }
            _ => Some((key, value)),
        })
        .collect();
    if pairs.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let mut config: tokio_postgres::Config = parsed
        .as_str()
        .parse()
        .map_err(|e: tokio_postgres::Error| bad(&e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(5));
    }
    if config.get_application_name().is_none() {
        config.application_name("todo-api");
    }
    Ok(config)
}

fn tls_config() -> Result<rustls::ClientConfig, DbError> {
    crate::tls::client_config().map_err(|e| DbError::Other(format!("TLS setup: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::{ChannelBinding, SslMode};

    #[test]
    fn neon_console_strings_parse() {
        let c = pg_config("postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/dbname?sslmode=verify-full&channel_binding=require&sslrootcert=system").unwrap();
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        assert_eq!(c.get_channel_binding(), ChannelBinding::Require);
        assert_eq!(c.get_dbname(), Some("dbname"));
        assert_eq!(c.get_connect_timeout(), Some(&Duration::from_secs(5)));
        let c = pg_config("postgres://u:p@localhost:5432/db?sslmode=require").unwrap();
        assert_eq!(c.get_ssl_mode(), SslMode::Require);
        let c = pg_config("postgres://u@127.0.0.1:5433/db").unwrap();
        assert_eq!(c.get_ssl_mode(), SslMode::Prefer);
    }

    #[test]
    fn bad_urls_are_named_without_the_password() {
        let err = pg_config("mysql://u:secretpw@h/db")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DATABASE_URL") && !err.contains("secretpw"),
            "{err}"
        );
    }

    #[test]
    fn tls_config_builds() {
        assert!(tls_config().is_ok());
    }
}
