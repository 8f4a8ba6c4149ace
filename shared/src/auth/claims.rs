//! The rules every accepted token shares, whoever signed it.

use super::AuthError;
use crate::model::Subject;
use serde::Deserialize;

/// Clock skew tolerated on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 60;

/// The one claim a task function reads; the rest was checked by `Validation`.
#[derive(Deserialize)]
pub(super) struct Verified {
    sub: String,
}

impl Verified {
    /// The token's subject, or why it cannot be one.
    pub(super) fn subject(&self) -> Result<Subject, AuthError> {
        Subject::parse(&self.sub).map_err(|e| AuthError::rejected(format!("The token's {e}.")))
    }
}
