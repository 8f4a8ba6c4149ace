//! `auth`: sign up, log in, register, and the OAuth2 token route.

use lambda_http::Error;
use shared::http::Router;
use shared::{AuthState, api};

// Lambda hands an instance one event at a time: one thread does the least work per
// event (see `shared::start`). bcrypt still runs on the blocking pool.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::start::<AuthState>(routes()).await
}

fn routes() -> Router<AuthState> {
    Router::new()
        .post("/api/auth/signup", |s, req, p| {
            Box::pin(api::auth::signup(s, req, p))
        })
        .post("/api/auth/login", |s, req, p| {
            Box::pin(api::auth::login(s, req, p))
        })
        .post("/api/v1/auth/register", |s, req, p| {
            Box::pin(api::auth::register(s, req, p))
        })
        .post("/api/v1/auth/token", |s, req, p| {
            Box::pin(api::auth::token(s, req, p))
        })
}

#[cfg(test)]
mod tests;
