//! Turning `DATABASE_URL` into a pool: TLS with SNI and certificate verification, and
//! the Neon console's connection strings accepted as they are.

use super::DbError;
use crate::config::DatabaseConfig;
use deadpool_postgres::{Hook, HookError, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use rustls::pki_types::{CertificateDer, pem::PemObject};
use std::path::PathBuf;
use std::time::Duration;
use tokio_postgres::config::{Host, SslMode};

/// A connection idle longer than this is checked before reuse: a thawed Lambda may
/// hold one the server closed long ago. Busy connections skip the check (no extra
/// round trip per request).
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(30);

/// The TLS setup of every connection, kept to send cancel requests the same way.
pub(super) type Tls = tokio_postgres_rustls::MakeRustlsConnect;

pub(super) fn pool(config: &DatabaseConfig) -> Result<(Pool, Tls), DbError> {
    let Target {
        pg,
        root_cert,
        plaintext_to_remote,
        prefer_upgraded,
    } = parse(config.url.expose())?;
    if prefer_upgraded {
        tracing::warn!(
            "DATABASE_URL asks for sslmode=prefer to a host that is not this machine: \
             using require (prefer would fall back to plain text, password exchange \
             included, if the server or someone in between declined TLS)"
        );
    }
    if plaintext_to_remote {
        // Once per cold start: the pool is built once.
        tracing::warn!(
            "DATABASE_URL asks for sslmode=disable to a host that is not this machine: \
             the connection, password exchange included, is not encrypted"
        );
    }
    let tls = Tls::new(tls_config(root_cert.as_ref())?);
    let manager = Manager::from_config(
        pg,
        tls.clone(),
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
        .map(|pool| (pool, tls))
        .map_err(|e| DbError::Setup(format!("building the pool: {e}")))
}

/// What `DATABASE_URL` asks for: the connection settings, and the CA file to trust
/// instead of the compiled-in roots (libpq's `sslrootcert=<path>`).
struct Target {
    pg: tokio_postgres::Config,
    root_cert: Option<PathBuf>,
    /// `sslmode=disable` to a host that is not this machine: allowed, but said.
    plaintext_to_remote: bool,
    /// `sslmode=prefer` to a host that is not this machine: made `require`, and said.
    prefer_upgraded: bool,
}

/// Parses the URL after rewriting what tokio-postgres does not accept: `sslmode`
/// `verify-full`/`verify-ca` become `require` (rustls always verifies the certificate
/// and the host name), `sslrootcert` is taken out (a path is kept as the CA file;
/// `system`, as in Neon's strings, means the compiled-in Mozilla roots), and other
/// libpq-only options such as `sslcert` are dropped.
///
/// TLS is never silently off: without `sslmode`, or with `prefer`, a host that is not
/// loopback means `require` (libpq's `prefer` falls back to plain text when TLS is
/// declined, which anyone in between can do).
fn parse(url: &str) -> Result<Target, DbError> {
    let bad = |problem: &str| DbError::Setup(format!("DATABASE_URL is invalid: {problem}"));
    let mut parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(bad("it must start with postgres:// or postgresql://"));
    }
    let mut root_cert = None;
    let sslmode_given = parsed.query_pairs().any(|(key, _)| key == "sslmode");
    let pairs: Vec<(String, String)> = parsed
        .query_pairs()
        .into_owned()
        .filter_map(|(key, value)| match key.as_str() {
            "sslmode" if matches!(value.as_str(), "verify-full" | "verify-ca") => {
                Some((key, "require".to_owned()))
            }
            "sslrootcert" => {
                root_cert = (value != "system").then(|| PathBuf::from(value));
                None
            }
            "sslcert" | "sslkey" | "sslcrl" | "sslcompression" | "gssencmode" => None,
            _ => Some((key, value)),
        })
        .collect();
    if pairs.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    let mut pg: tokio_postgres::Config = parsed
        .as_str()
        .parse()
        .map_err(|e: tokio_postgres::Error| bad(&e.to_string()))?;
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(Duration::from_secs(5));
    }
    if pg.get_application_name().is_none() {
        pg.application_name("todo-api");
    }
    let remote = !pg.get_hosts().iter().all(is_loopback);
    let prefer_upgraded = remote && sslmode_given && pg.get_ssl_mode() == SslMode::Prefer;
    if remote && (!sslmode_given || prefer_upgraded) {
        pg.ssl_mode(SslMode::Require);
    }
    let plaintext_to_remote = remote && pg.get_ssl_mode() == SslMode::Disable;
    Ok(Target {
        pg,
        root_cert,
        plaintext_to_remote,
        prefer_upgraded,
    })
}

/// A Unix socket, `localhost`, or a loopback address.
fn is_loopback(host: &Host) -> bool {
    match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    }
}

fn tls_config(root_cert: Option<&PathBuf>) -> Result<rustls::ClientConfig, DbError> {
    let tls = |e: String| DbError::Setup(format!("TLS setup: {e}"));
    let Some(path) = root_cert else {
        return crate::tls::client_config().map_err(|e| tls(e.to_string()));
    };
    let unreadable = |e: &dyn std::fmt::Display| {
        tls(format!("DATABASE_URL sslrootcert {}: {e}", path.display()))
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(path).map_err(|e| unreadable(&e))? {
        roots
            .add(cert.map_err(|e| unreadable(&e))?)
            .map_err(|e| unreadable(&e))?;
    }
    if roots.is_empty() {
        return Err(unreadable(&"no PEM certificate in it"));
    }
    crate::tls::with_roots(roots).map_err(|e| tls(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::ChannelBinding;

    #[test]
    fn neon_console_strings_parse() {
        let t = parse("postgresql://alex:AbC123dEf@ep-cool-darkness-123456-pooler.us-east-2.aws.neon.tech/dbname?sslmode=verify-full&channel_binding=require&sslrootcert=system").unwrap();
        assert_eq!(t.pg.get_ssl_mode(), SslMode::Require);
        assert_eq!(t.pg.get_channel_binding(), ChannelBinding::Require);
        assert_eq!(t.pg.get_dbname(), Some("dbname"));
        assert_eq!(t.pg.get_connect_timeout(), Some(&Duration::from_secs(5)));
        assert_eq!(t.root_cert, None, "system: the compiled-in roots");
        let t = parse("postgres://u:p@localhost:5432/db?sslmode=require").unwrap();
        assert_eq!(t.pg.get_ssl_mode(), SslMode::Require);
        let t = parse("postgres://u@127.0.0.1:5433/db").unwrap();
        assert_eq!(t.pg.get_ssl_mode(), SslMode::Prefer);
        let t =
            parse("postgres://u@db.internal/db?sslmode=verify-full&sslrootcert=/opt/rds-ca.pem")
                .unwrap();
        assert_eq!(t.root_cert, Some(PathBuf::from("/opt/rds-ca.pem")));
    }

    #[test]
    fn tls_is_never_silently_off_to_a_remote_host() {
        let mode = |url: &str| parse(url).unwrap().pg.get_ssl_mode();
        assert_eq!(mode("postgres://u@db.example.com/db"), SslMode::Require);
        assert_eq!(mode("postgres://u@10.1.2.3:5432/db"), SslMode::Require);
        for local in [
            "postgres://u@localhost/db",
            "postgres://u@127.0.0.1/db",
            "postgres://u@[::1]/db",
            "postgres://u@%2Frun%2Fpostgresql/db",
        ] {
            assert_eq!(mode(local), SslMode::Prefer, "{local}");
        }
        // Asked for explicitly, plain text to a remote host works, and is flagged.
        let t = parse("postgres://u@db.example.com/db?sslmode=disable").unwrap();
        assert_eq!(t.pg.get_ssl_mode(), SslMode::Disable);
        assert!(t.plaintext_to_remote);
        assert!(
            !parse("postgres://u@127.0.0.1/db?sslmode=disable")
                .unwrap()
                .plaintext_to_remote
        );
        // prefer to a remote host is require, said; to this machine it stays prefer.
        let t = parse("postgres://u@db.example.com/db?sslmode=prefer").unwrap();
        assert_eq!(t.pg.get_ssl_mode(), SslMode::Require);
        assert!(t.prefer_upgraded && !t.plaintext_to_remote);
        let t = parse("postgres://u@127.0.0.1/db?sslmode=prefer").unwrap();
        assert_eq!(t.pg.get_ssl_mode(), SslMode::Prefer);
        assert!(!t.prefer_upgraded);
    }

    #[test]
    fn bad_urls_are_named_without_the_password() {
        let err = parse("mysql://u:secretpw@h/db").err().unwrap().to_string();
        assert!(
            err.contains("DATABASE_URL") && !err.contains("secretpw"),
            "{err}"
        );
    }

    #[test]
    fn tls_config_builds() {
        assert!(tls_config(None).is_ok());
    }

    #[test]
    fn a_root_cert_that_cannot_be_used_is_named() {
        let missing = PathBuf::from("/nonexistent/ca.pem");
        let err = tls_config(Some(&missing)).err().unwrap().to_string();
        assert!(err.contains("sslrootcert /nonexistent/ca.pem"), "{err}");
        let not_pem = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"));
        let err = tls_config(Some(&not_pem)).err().unwrap().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
    }
}
