//! Service routes: the health check.

use crate::db::Database;
use crate::http::{ApiError, ApiResult, json};
use lambda_http::http::StatusCode;

/// `GET /api/health`: 200 when the database answers, else 503 with `Retry-After`.
pub async fn health(db: &Database) -> ApiResult {
    match db.ping().await {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({"status": "ok", "database": "ok"}),
        ),
        Err(error) => Err(ApiError::Unavailable(error.to_string())),
    }
}
