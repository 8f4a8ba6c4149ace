//! `auth`: sign up, log in, register, and the OAuth2 token route.

use shared::{AuthState, api, http::Router};

fn routes() -> Router<AuthState> {
    Router::new()
        .at("/api/auth/signup")
        .post(api::auth::signup)
        .at("/api/auth/login")
        .post(api::auth::login)
        .at("/api/v1/auth/register")
        .post(api::auth::register)
        .at("/api/v1/auth/token")
        .post(api::auth::token)
}

fn main() -> Result<(), lambda_http::Error> {
    shared::main(env!("CARGO_PKG_NAME"), routes())
}

#[cfg(test)]
mod tests;
