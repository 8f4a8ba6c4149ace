use crate::http::ApiError;
use deadpool_postgres::PoolError;
use tokio_postgres::error::SqlState;

/// What went wrong talking to Postgres, sorted by what the client should hear.
/// `Debug` prints the message (it is what a failing `main` shows).
#[derive(thiserror::Error)]
pub enum DbError {
    /// Cannot connect, connection lost, too many connections, shutting down, timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique index refused the row; the caller maps the index to a message.
    #[error("unique violation on {constraint}")]
    UniqueViolation { constraint: String },
    /// Postgres refused a value (class 22: data exception).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    #[error("database error: {0}")]
    Other(String),
}

impl std::fmt::Debug for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        if let Some(db) = error.as_db_error() {
            let code = db.code();
            if *code == SqlState::UNIQUE_VIOLATION {
                return Self::UniqueViolation {
                    constraint: db.constraint().unwrap_or_default().to_owned(),
                };
            }
            let class = &code.code()[..2];
            return match class {
                "22" => Self::InvalidInput(db.message().to_owned()),
                // connection exceptions, insufficient resources, operator intervention
                "08" | "53" | "57" => {
                    Self::Unavailable(format!("{}: {}", code.code(), db.message()))
                }
                _ => Self::Other(format!("{}: {}", code.code(), db.message())),
            };
        }
        if error.is_closed()
            || std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>())
        {
            return Self::Unavailable(error.to_string());
        }
        Self::Other(error.to_string())
    }
}

impl From<PoolError> for DbError {
    fn from(error: PoolError) -> Self {
        match error {
            PoolError::Backend(e) => {
                // Failing to open a connection is unavailability, whatever its cause.
                match Self::from(e) {
                    Self::Other(message) => Self::Unavailable(message),
                    other => other,
                }
            }
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(cause) => ApiError::Unavailable(cause),
            DbError::InvalidInput(_) => {
                ApiError::BadRequest("The request holds a value the database cannot store.".into())
            }
            DbError::UniqueViolation { constraint } => ApiError::Conflict(format!(
                "A record with these values already exists ({constraint})."
            )),
            DbError::Other(cause) => ApiError::Internal(cause),
        }
    }
}
