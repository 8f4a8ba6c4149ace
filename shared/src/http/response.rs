//! Success responses.

use super::ApiResult;
use lambda_http::{
    Body, Response,
    http::{StatusCode, header},
};
use serde::Serialize;

/// A JSON response with `status`.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> ApiResult {
    let body = serde_json::to_string(value)
        .map_err(|e| super::ApiError::Internal(format!("serialising response: {e}")))?;
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::Text(body))
        .expect("static headers are valid"))
}

/// A `201 Created` JSON response pointing at the new resource.
pub fn json_with_location<T: Serialize>(location: &str, value: &T) -> ApiResult {
    let mut response = json(StatusCode::CREATED, value)?;
    let location = header::HeaderValue::from_str(location)
        .map_err(|e| super::ApiError::Internal(format!("bad Location header: {e}")))?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}
