//! `complete`: set or toggle whether one of the caller's tasks is done.

use lambda_http::{Error, Request, http::Method};
use shared::http::{ApiError, ApiResult, path_param};
use shared::{AppState, api};

const PATH: &str = "/api/{user_id}/tasks/{id}/complete";

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = AppState::from_env().await?;
    shared::http::run(state, route).await
}

async fn route(state: &AppState, req: Request) -> ApiResult {
    let [user_id, id] = path_param(&req, PATH)?;
    match *req.method() {
        Method::PATCH => api::tasks::complete(state, &req, &user_id, &id).await,
        _ => Err(ApiError::MethodNotAllowed { allow: "PATCH" }),
    }
}

#[cfg(test)]
mod tests;
