//! Service routes: the health check.

use crate::ServiceState;
use crate::http::{ApiError, ApiResult, Params, json};
use lambda_http::{Request, http::StatusCode};

/// `GET /api/health`: 200 when the database answers, else 503 with `Retry-After`
/// (whatever the database's failure: a health check has nothing else to report).
pub async fn health(state: &ServiceState, _: &Request, _: &Params) -> ApiResult {
    match state.db.ping().await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok", "database": "ok"}),
        ),
        Err(error) => Err(ApiError::Unavailable(Box::new(error))),
    }
}
