//! `auth`: sign up, log in, register, and the OAuth2 token route.

use lambda_http::{Error, Request, RequestExt, http::Method};
use shared::http::{ApiError, ApiResult};
use shared::{AppState, api};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = AppState::from_env().await?;
    shared::http::run(state, route).await
}

async fn route(state: &AppState, req: Request) -> ApiResult {
    let path = req.raw_http_path().trim_end_matches('/');
    match (req.method(), path) {
        (&Method::POST, "/api/auth/signup") => api::auth::signup(state, &req).await,
        (&Method::POST, "/api/auth/login") => api::auth::login(state, &req).await,
        (&Method::POST, "/api/v1/auth/register") => api::auth::register(state, &req).await,
        (&Method::POST, "/api/v1/auth/token") => api::auth::token(state, &req).await,
        (
            _,
            "/api/auth/signup" | "/api/auth/login" | "/api/v1/auth/register" | "/api/v1/auth/token",
        ) => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        _ => Err(ApiError::NotFound(format!("No route for {path}."))),
    }
}

#[cfg(test)]
mod tests;
