//! One error type for every route, and the one function that turns it into a
//! problem document (RFC 9457).

use lambda_http::{
    Body, Response,
    http::{StatusCode, header},
};
use serde::Serialize;

pub type ApiResult = Result<Response<Body>, ApiError>;

/// One offending input: a body field, a query parameter or a path parameter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Collects field errors so a client learns about all of them at once.
#[derive(Debug, Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// Keeps `Ok` values, records `Err` messages under `field`.
    pub fn check<T>(&mut self, field: &str, result: Result<T, String>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(message) => {
                self.push(field, message);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when nothing was recorded.
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        ApiError::Validation(errors.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// `token_sent` adds `error="invalid_token"` to `WWW-Authenticate`.
    #[error("unauthorized: {detail}")]
    Unauthorized { detail: String, token_sent: bool },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// The database cannot be reached: 503 with `Retry-After`.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A bug or an unexpected failure: logged in full, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The problem document for this error. The only error-to-response mapping.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let status = self.status();
        let detail = match &self {
            Self::Validation(errors) if errors.len() == 1 => {
                format!("{}: {}", errors[0].field, errors[0].message)
            }
            Self::Validation(_) => "Some fields are invalid; see errors.".to_owned(),
            Self::BadRequest(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::UnsupportedMediaType(d) => d.clone(),
            Self::Unauthorized { detail, .. } => detail.clone(),
            Self::MethodNotAllowed { allow } => {
                format!("This route accepts only {allow}.")
            }
            Self::PayloadTooLarge => format!(
                "The request body is larger than {} KiB.",
                super::MAX_BODY_BYTES / 1024
            ),
            Self::Unavailable(_) => {
                "The database is unavailable right now; try again shortly.".to_owned()
            }
            Self::Internal(_) => format!(
                "An unexpected error occurred. Quote request id {request_id} when reporting it."
            ),
        };
        match &self {
            Self::Internal(cause) => tracing::error!(%cause, "internal error"),
            Self::Unavailable(cause) => tracing::warn!(%cause, "database unavailable"),
            _ => tracing::debug!(%detail, status = status.as_u16(), "client error"),
        }

        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Self::Validation(errors) = &self {
            body["errors"] = serde_json::to_value(errors).unwrap_or_default();
        }
        if let Self::Internal(_) = &self {
            body["request_id"] = request_id.into();
        }

        let mut builder = Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/problem+json");
        match &self {
            Self::Unauthorized { token_sent, .. } => {
                let challenge = if *token_sent {
                    r#"Bearer error="invalid_token""#
                } else {
                    "Bearer"
                };
                builder = builder.header(header::WWW_AUTHENTICATE, challenge);
            }
            Self::MethodNotAllowed { allow } => builder = builder.header(header::ALLOW, *allow),
            Self::Unavailable(_) => builder = builder.header(header::RETRY_AFTER, "5"),
            _ => {}
        }
        builder
            .body(Body::Text(body.to_string()))
            .expect("static headers are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(resp: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(resp.body().as_ref()).unwrap()
    }

    #[test]
    fn validation_lists_every_field() {
        let resp = ApiError::Validation(vec![
            FieldError::new("title", "is required"),
            FieldError::new("completed", "must be a boolean"),
        ])
        .into_response("rid");
        assert_eq!(resp.status(), 400);
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
        let b = body(&resp);
        assert_eq!(b["type"], "about:blank");
        assert_eq!(b["title"], "Bad Request");
        assert_eq!(b["status"], 400);
        assert_eq!(b["errors"][1]["field"], "completed");
    }

    #[test]
    fn internal_hides_the_cause_and_names_the_request() {
        let resp =
            ApiError::Internal("password=hunter2 relation users".into()).into_response("req-42");
        assert_eq!(resp.status(), 500);
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(
            !text.contains("hunter2") && !text.contains("relation"),
            "{text}"
        );
        assert!(text.contains("req-42"));
    }

    #[test]
    fn unauthorized_challenges() {
        let resp = ApiError::Unauthorized {
            detail: "x".into(),
            token_sent: false,
        }
        .into_response("r");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let resp = ApiError::Unauthorized {
            detail: "x".into(),
            token_sent: true,
        }
        .into_response("r");
        assert_eq!(
            resp.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
    }

    #[test]
    fn unavailable_says_when_to_retry() {
        let resp =
            ApiError::Unavailable("connection refused to 10.0.0.1".into()).into_response("r");
        assert_eq!(resp.status(), 503);
        assert_eq!(resp.headers()["retry-after"], "5");
        let text = String::from_utf8(resp.body().to_vec()).unwrap();
        assert!(!text.contains("10.0.0.1"));
    }
}
