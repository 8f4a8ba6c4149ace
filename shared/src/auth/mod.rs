//! Who is calling: tokens (JWT) and passwords (bcrypt).
//!
//! Issuing and verifying are separate: the `auth` function issues tokens and hashes
//! passwords; the task functions only verify tokens.

mod claims;
mod error;
mod jwks;
mod password;
mod tokens;

pub use claims::LEEWAY_SECONDS;
pub use error::AuthError;
pub use jwks::KEY_SET_BUDGET;
pub use password::Passwords;
pub use tokens::{Claims, IssuedToken, TokenIssuer, TokenVerifier};
