//! CORS for local runs (`CORS_ALLOW_ORIGINS`); deployed, API Gateway's own CORS
//! configuration answers preflights before a function is called.

use crate::config::HttpConfig;
use lambda_http::{
    Body, Request, Response,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
};

#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<String>,
}

pub const ALLOW_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
pub const ALLOW_HEADERS: &str =
    "authorization, content-type, x-request-id, if-match, if-none-match, idempotency-key";
pub const EXPOSE_HEADERS: &str =
    "location, x-request-id, www-authenticate, retry-after, etag, idempotent-replayed, link";

impl Cors {
    pub fn new(config: &HttpConfig) -> Self {
        Self {
            origins: config.cors_allow_origins.clone(),
        }
    }

    fn allowed(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        if self.origins.is_empty() {
            return None;
        }
        if self.origins.iter().any(|o| o == "*") {
            return Some(HeaderValue::from_static("*"));
        }
        let origin = origin?;
        let text = origin.to_str().ok()?;
        self.origins
            .iter()
            .any(|o| o == text)
            .then(|| origin.clone())
    }

    /// The answer to a CORS preflight, when this is one and CORS is on.
    pub fn preflight(&self, req: &Request) -> Option<Response<Body>> {
        if req.method() != Method::OPTIONS
            || self.origins.is_empty()
            || !req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        Some(
            Response::builder()
                .status(StatusCode::NO_CONTENT)
                .header(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS)
                .header(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS)
                .header(header::ACCESS_CONTROL_MAX_AGE, "600")
                .body(Body::Empty)
                .expect("static headers are valid"),
        )
    }

    /// Adds the CORS headers for `origin` to any response.
    pub fn decorate(&self, origin: Option<&HeaderValue>, headers: &mut HeaderMap) {
        let Some(allowed) = self.allowed(origin) else {
            return;
        };
        if allowed != "*" {
            headers.append(header::VARY, HeaderValue::from_static("origin"));
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSE_HEADERS),
        );
    }
}
