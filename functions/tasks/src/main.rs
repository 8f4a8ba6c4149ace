//! `tasks`: list and create the caller's tasks.

use lambda_http::{Error, Request, http::Method};
use shared::http::{ApiError, ApiResult, path_param};
use shared::{AppState, api};

const PATH: &str = "/api/{user_id}/tasks";

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = AppState::from_env().await?;
    shared::http::run(state, route).await
}

async fn route(state: &AppState, req: Request) -> ApiResult {
    let [user_id] = path_param(&req, PATH)?;
    match *req.method() {
        Method::GET => api::tasks::list(state, &req, &user_id).await,
        Method::POST => api::tasks::create(state, &req, &user_id).await,
        _ => Err(ApiError::MethodNotAllowed { allow: "GET, POST" }),
    }
}

#[cfg(test)]
mod tests;
