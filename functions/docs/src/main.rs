//! `docs`: Swagger UI, the OpenAPI spec (YAML and JSON) and the health check.

use lambda_http::{Error, Request, RequestExt, http::Method};
use shared::http::{ApiError, ApiResult, asset};
use shared::{ServiceState, api};

/// The Swagger UI page with its CSS and JS inlined (built by build.rs).
const DOCS_HTML: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/docs.html"));
const DOCS_HTML_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/docs.html.gz"));
const OPENAPI_YAML: &str = include_str!("../../../openapi.yaml");
const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = ServiceState::from_env().await?;
    shared::http::run(state, route).await
}

async fn route(state: &ServiceState, req: Request) -> ApiResult {
    let path = req.raw_http_path().trim_end_matches('/');
    match (req.method(), path) {
        (&Method::GET, "/docs") => asset(
            &req,
            "text/html; charset=utf-8",
            DOCS_HTML,
            Some(DOCS_HTML_GZ),
        ),
        (&Method::GET, "/openapi.yaml") => {
            asset(&req, "application/yaml", OPENAPI_YAML.as_bytes(), None)
        }
        (&Method::GET, "/openapi.json") => {
            asset(&req, "application/json", OPENAPI_JSON.as_bytes(), None)
        }
        (&Method::GET, "/api/health") => api::service::health(&state.db).await,
        (_, "/docs" | "/openapi.yaml" | "/openapi.json" | "/api/health") => {
            Err(ApiError::MethodNotAllowed { allow: "GET" })
        }
        _ => Err(ApiError::NotFound(format!("No route for {path}."))),
    }
}

#[cfg(test)]
mod tests;
