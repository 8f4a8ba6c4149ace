//! One TLS client configuration for every outbound connection (Postgres, the JWKS):
//! rustls on the aws-lc-rs provider the AWS SDK already brings, with Mozilla's roots
//! compiled in, so a function needs no CA bundle on disk.

use std::sync::Arc;

pub fn client_config() -> Result<rustls::ClientConfig, rustls::Error> {
    with_roots(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
}

/// The same configuration trusting only `roots` (a private CA, such as Amazon RDS's).
pub fn with_roots(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds() {
        assert!(super::client_config().is_ok());
    }
}
