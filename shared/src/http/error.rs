//! The HTTP layer's one error type, and the one place where any error becomes a
//! problem document (RFC 9457). The domain's errors (field errors, auth, database)
//! convert into it here and nowhere else; their causes are logged, never answered.

use crate::auth::AuthError;
use crate::db::DbError;
use crate::model::FieldErrors;
use lambda_http::{
    Body, Response,
    http::{StatusCode, header},
};

pub type ApiResult = Result<Response<Body>, ApiError>;

/// What went wrong underneath a 500 or a 503: logged in full, never sent.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Validation(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    /// `token_sent` adds `error="invalid_token"` to `WWW-Authenticate`.
    #[error("unauthorized: {detail}")]
    Unauthorized { detail: String, token_sent: bool },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// `allow` lists the methods the path does take.
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("conflict: {0}")]
    Conflict(String),
    /// Well-formed, but not acceptable as it stands (an `Idempotency-Key` reused with
    /// another body).
    #[error("unprocessable: {0}")]
    Unprocessable(String),
    /// An `If-Match` the resource's current tag does not meet: nothing was changed.
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("payload too large")]
    PayloadTooLarge,
    /// Login throttling: come back in `retry_after` seconds.
    #[error("too many requests")]
    TooManyRequests { retry_after: u64 },
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// A dependency (the database, a key server) cannot answer now: 503 with
    /// `Retry-After`.
    #[error("service unavailable")]
    Unavailable(#[source] Cause),
    /// A change was sent to the database but its outcome never came back: 504 with
    /// `Retry-After`. It may or may not have been made.
    #[error("outcome unknown")]
    OutcomeUnknown(#[source] Cause),
    /// A bug or an unexpected failure: logged in full, answered generically.
    #[error("internal error")]
    Internal(#[source] Cause),
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self::Validation(errors)
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(_) | DbError::Timeout(_) | DbError::Retryable(_) => {
                Self::Unavailable(Box::new(error))
            }
            DbError::Unknown(_) => Self::OutcomeUnknown(Box::new(error)),
            DbError::InvalidInput(_) => {
                Self::BadRequest("The request holds a value the database cannot store.".into())
            }
            // The index's name is schema detail: logged by the caller, never answered.
            DbError::UniqueViolation { .. } => {
                Self::Conflict("A record with these values already exists.".into())
            }
            DbError::Migration { .. }
            | DbError::Setup(_)
            | DbError::Unexpected(_)
            | DbError::Other(_) => Self::Internal(Box::new(error)),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Rejected(detail) => Self::Unauthorized {
                detail: detail.to_owned(),
                token_sent: true,
            },
            AuthError::KeySetUnavailable(_) => Self::Unavailable(Box::new(error)),
            AuthError::Failed { .. } => Self::Internal(Box::new(error)),
        }
    }
}

/// An error and its causes on one line, for the log.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(FieldErrors::one(field, message))
    }

    /// A 500 for a failure described in words.
    pub fn internal(what: impl Into<String>) -> Self {
        Self::Internal(what.into().into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::OutcomeUnknown(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A 503 or 504 the database caused, whichever route made it: what the HTTP edge
    /// counts as `DatabaseUnavailable`.
    pub fn is_database_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(cause) | Self::OutcomeUnknown(cause) => cause.is::<DbError>(),
            _ => false,
        }
    }

    /// The problem document for this error. The only error-to-response mapping.
    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let status = self.status();
        let detail = match &self {
            Self::Validation(errors) if errors.as_slice().len() == 1 => {
                let e = &errors.as_slice()[0];
                format!("{}: {}", e.field, e.message)
            }
            Self::Validation(_) => "Some fields are invalid; see errors.".to_owned(),
            Self::BadRequest(d)
            | Self::Forbidden(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::Unprocessable(d)
            | Self::UnsupportedMediaType(d) => d.clone(),
            Self::Unauthorized { detail, .. } => detail.clone(),
            Self::MethodNotAllowed { allow } => {
                format!("This route accepts only {allow}.")
            }
            Self::PreconditionFailed => "The task has changed since the version in If-Match \
                (or If-Match names none of its versions); nothing was changed. Get it again \
                for its current ETag."
                .to_owned(),
            Self::PayloadTooLarge => format!(
                "The request body is larger than {} KiB.",
                super::MAX_BODY_BYTES / 1024
            ),
            Self::TooManyRequests { retry_after } => format!(
                "Too many failed logins for this account; try again in {retry_after} seconds."
            ),
            Self::Unavailable(_) => {
                "The service is unavailable right now and nothing was changed; try again shortly."
                    .to_owned()
            }
            Self::OutcomeUnknown(_) => "The database did not confirm whether the change was \
                made: it may or may not have been. Retrying is safe with the same \
                Idempotency-Key (create), the same If-Match (replace, delete) or an explicit \
                {\"completed\": ...} (complete); GET the task to see where it stands."
                .to_owned(),
            Self::Internal(_) => format!(
                "An unexpected error occurred. Quote request id {request_id} when reporting it."
            ),
        };
        match &self {
            Self::Internal(cause) => {
                tracing::error!(cause = %chain(cause.as_ref()), "internal error")
            }
            Self::Unavailable(cause) => {
                tracing::warn!(cause = %chain(cause.as_ref()), "dependency unavailable")
            }
            Self::OutcomeUnknown(cause) => {
                tracing::warn!(cause = %chain(cause.as_ref()), "outcome of a change unknown")
            }
            _ => tracing::debug!(%detail, status = status.as_u16(), "client error"),
        }

        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
        });
        if let Self::Validation(errors) = &self {
            body["errors"] = serde_json::to_value(errors.as_slice()).unwrap_or_default();
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
            Self::MethodNotAllowed { allow } => builder = builder.header(header::ALLOW, allow),
            Self::Unavailable(_) | Self::OutcomeUnknown(_) => {
                builder = builder.header(header::RETRY_AFTER, "5")
            }
            Self::TooManyRequests { retry_after } => {
                builder = builder.header(header::RETRY_AFTER, retry_after.to_string())
            }
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
    fn database_failures_are_told_apart_from_other_unavailable_dependencies() {
        let down = || DbError::Unavailable("connection refused".into());
        assert!(ApiError::from(down()).is_database_unavailable());
        assert!(ApiError::from(DbError::Unknown("lost".into())).is_database_unavailable());
        // The health check wraps the database's error itself.
        assert!(ApiError::Unavailable(Box::new(down())).is_database_unavailable());
        let key_server = std::io::Error::other("key set unreachable");
        assert!(!ApiError::Unavailable(Box::new(key_server)).is_database_unavailable());
        assert!(!ApiError::PreconditionFailed.is_database_unavailable());
    }

    #[test]
    fn validation_lists_every_field() {
        let mut errors = FieldErrors::one("title", "is required");
        errors.push("completed", "must be a boolean");
        let resp = ApiError::Validation(errors).into_response("rid");
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
        let resp = ApiError::internal("password=hunter2 relation users").into_response("req-42");
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

    #[test]
    fn an_unknown_outcome_is_a_504_that_says_so() {
        let error = DbError::Unknown("connection reset by peer 10.0.0.1".into());
        let resp = ApiError::from(error).into_response("r");
        assert_eq!(resp.status(), 504);
        assert_eq!(resp.headers()["retry-after"], "5");
        let b = body(&resp);
        assert_eq!(b["title"], "Gateway Timeout");
        let detail = b["detail"].as_str().unwrap();
        assert!(detail.contains("may or may not"), "{detail}");
        assert!(!detail.contains("10.0.0.1"), "{detail}");
    }
}
