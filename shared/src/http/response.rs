//! Success responses.

use super::ApiResult;
use lambda_http::{
    Body, Response,
    http::{StatusCode, header},
};
use serde::Serialize;

/// A JSON response with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult {
    let body = serde_json::to_string(value).map_err(|e| super::ApiError::Internal(Box::new(e)))?;
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("static headers are valid"))
}

/// Marks a response that carries a token: no cache, shared or private, may keep it.
pub fn no_store(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// The strong entity-tag of a task at `version`.
pub fn etag(version: i64) -> header::HeaderValue {
    header::HeaderValue::from_str(&format!("\"{version}\"")).expect("digits are a valid header")
}

/// Adds the `ETag` of a task at `version`.
pub fn with_etag(mut response: Response<Body>, version: i64) -> Response<Body> {
    response.headers_mut().insert(header::ETAG, etag(version));
    response
}

/// `304 Not Modified` for a task at `version`: no body, its `ETag`.
pub fn not_modified(version: i64) -> Response<Body> {
    let response = Response::builder()
        .status(StatusCode::NOT_MODIFIED)
        .body(Body::Empty)
        .expect("static headers are valid");
    with_etag(response, version)
}

/// A `201 Created` JSON response pointing at the new resource.
pub fn json_with_location<T: Serialize>(location: &str, value: &T) -> ApiResult {
    let mut response = json(StatusCode::CREATED, value)?;
    let location = header::HeaderValue::from_str(location)
        .map_err(|e| super::ApiError::Internal(Box::new(e)))?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// A static asset; the gzipped variant is sent when the client accepts gzip. `plain` is
/// called only when the plain variant is sent (it may be derived from the gzipped one).
pub fn asset(
    req: &lambda_http::Request,
    content_type: &'static str,
    plain: fn() -> &'static [u8],
    gzipped: Option<&'static [u8]>,
) -> ApiResult {
    let accepts_gzip = req
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            coding
                .split(';')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("gzip"))
        });
    let mut builder = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header(header::VARY, "accept-encoding");
    let body = match gzipped {
        Some(gz) if accepts_gzip => {
            builder = builder.header(header::CONTENT_ENCODING, "gzip");
            Body::Binary(gz.to_vec())
        }
        _ => {
            let plain = plain();
            match std::str::from_utf8(plain) {
                Ok(text) => Body::Text(text.to_owned()),
                Err(_) => Body::Binary(plain.to_vec()),
            }
        }
    };
    Ok(builder.body(body).expect("static headers are valid"))
}
