//! Outbound HTTP: one client stack, hyper's HTTP/1.1 client over [`crate::tls`], for the
//! two things a function fetches: Better Auth's key set (`auth::jwks`) and, at a cold
//! start, a secret from Secrets Manager (`config`).
//!
//! The AWS SDK's default client would be a second stack, with HTTP/2 (`h2`) and its own
//! TLS setup, in every binary (BENCHMARKS.md, "Binary size"), for one
//! request per cold start, where HTTP/1.1 does as well. [`AwsHttpClient`] plugs this
//! stack into the SDK instead.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::{Client, connect::HttpConnector as TcpConnector};
use hyper_util::rt::TokioExecutor;
use std::time::Duration;

/// TCP, then TLS for `https` URLs (plain `http` too: the key set's URL may be a local
/// Better Auth, and tests point the SDK at a local stand-in; the configuration decides
/// which URLs are allowed).
pub type Connector = HttpsConnector<TcpConnector>;

/// A pooled HTTP/1.1 client sending bodies of type `B`.
pub fn client<B>(connect_timeout: Option<Duration>) -> Client<Connector, B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let mut tcp = TcpConnector::new();
    tcp.set_connect_timeout(connect_timeout);
    tcp.enforce_http(false);
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(crate::tls::client_config().expect("TLS configuration builds"))
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// The AWS SDK's HTTP client: [`client`], with the SDK's connect and read timeouts.
#[derive(Debug, Clone, Default)]
pub struct AwsHttpClient;

impl HttpClient for AwsHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(AwsConnector {
            client: client(settings.connect_timeout()),
            read_timeout: settings.read_timeout(),
        })
    }
}

#[derive(Debug)]
struct AwsConnector {
    client: Client<Connector, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for AwsConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let sent = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let response = match read_timeout {
                Some(limit) => tokio::time::timeout(limit, sent)
                    .await
                    .map_err(|e| ConnectorError::timeout(e.into()))?,
                None => sent.await,
            }
            .map_err(|e| {
                if e.is_connect() {
                    ConnectorError::io(e.into())
                } else {
                    ConnectorError::other(e.into(), None)
                }
            })?;
            HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                .map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}
