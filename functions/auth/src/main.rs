//! `auth`: sign up, log in, register, and the OAuth2 token route.

use lambda_http::{Body, Error, Request, RequestExt, Response, http::Method, service_fn};
use shared::http::{ApiError, ApiResult};
use shared::{AppState, api};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init();
    let state = AppState::from_env().await?;
    let state = &state;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(handle(state, req).await)
    }))
    .await
}

/// Every request: routed, answered, never an `Err` (that would be a bare 502).
async fn handle(state: &AppState, req: Request) -> Response<Body> {
    shared::http::serve(req, &state.cors, |req| route(state, req)).await
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
