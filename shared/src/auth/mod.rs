//! Who is calling: tokens (JWT) and passwords (bcrypt).

mod jwks;
mod password;
mod subject;
mod tokens;

pub use jwks::JwksConfig;
pub use password::Passwords;
pub use subject::Subject;
pub use tokens::{Claims, IssuedToken, TokenService};

use crate::http::{ApiError, bearer_token};
use lambda_http::Request;

/// The verified subject of the request's bearer token, or a 401.
pub async fn authenticate(tokens: &TokenService, req: &Request) -> Result<Subject, ApiError> {
    tokens.verify(bearer_token(req)?).await
}
