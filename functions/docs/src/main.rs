//! `docs`: Swagger UI, the OpenAPI spec (YAML and JSON) and the health check.

use lambda_http::Request;
use lambda_http::http::{HeaderValue, header::CONTENT_SECURITY_POLICY};
use shared::http::{ApiResult, Params, Router, asset};
use shared::{ServiceState, api};
use std::io::Read;
use std::sync::OnceLock;

/// The Swagger UI page with its CSS and JS inlined, gzipped (built by build.rs).
const DOCS_HTML_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/docs.html.gz"));
/// Its Content-Security-Policy: the inline scripts by hash, no framing (build.rs).
const DOCS_CSP: &str = include_str!(concat!(env!("OUT_DIR"), "/docs.csp"));
const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");
const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

fn routes() -> Router<ServiceState> {
    Router::new()
        .at("/docs")
        .get(swagger_ui)
        .at("/openapi.yaml")
        .get(openapi_yaml)
        .at("/openapi.json")
        .get(openapi_json)
        .at("/api/health")
        .get(api::service::health)
}

fn main() -> Result<(), lambda_http::Error> {
    shared::main(env!("CARGO_PKG_NAME"), routes())
}

async fn openapi_yaml(_: &ServiceState, req: &Request, _: &Params) -> ApiResult {
    asset(req, "application/yaml", || OPENAPI_YAML.as_bytes(), None)
}

async fn openapi_json(_: &ServiceState, req: &Request, _: &Params) -> ApiResult {
    asset(req, "application/json", || OPENAPI_JSON.as_bytes(), None)
}

/// The Swagger UI page, under its Content-Security-Policy.
async fn swagger_ui(_: &ServiceState, req: &Request, _: &Params) -> ApiResult {
    let mut page = asset(
        req,
        "text/html; charset=utf-8",
        plain_page,
        Some(DOCS_HTML_GZ),
    )?;
    page.headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(DOCS_CSP));
    Ok(page)
}

/// The page uncompressed, for a client that does not accept gzip (browsers all do):
/// inflated from the gzipped copy the first time one asks, so the binary carries the
/// page once (BENCHMARKS.md, "Binary size").
fn plain_page() -> &'static [u8] {
    static PAGE: OnceLock<Vec<u8>> = OnceLock::new();
    PAGE.get_or_init(|| {
        let mut page = Vec::new();
        flate2::read::GzDecoder::new(DOCS_HTML_GZ)
            .read_to_end(&mut page)
            .expect("build.rs wrote valid gzip");
        page
    })
}

#[cfg(test)]
mod tests;
