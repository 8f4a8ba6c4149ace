use deadpool_postgres::PoolError;
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// What went wrong talking to Postgres, sorted by what the caller should do about it.
/// The driver's error is kept as the `source()`; `Debug` prints the whole chain (it is
/// what a failing `main` shows).
#[derive(thiserror::Error)]
pub enum DbError {
    /// Cannot connect, connection lost, too many connections, shutting down.
    #[error("the database is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The request's time budget ran out, and nothing was changed.
    #[error("the database did not answer within {0:?}")]
    Timeout(Duration),
    /// A change was sent but its outcome never came back: the connection was lost
    /// before the server answered, or a cancel at the deadline was not confirmed. The
    /// change may or may not have been made.
    #[error("the outcome of a change is unknown")]
    Unknown(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A unique index refused the row; the caller maps the index to a message.
    #[error("unique index {constraint} refused the row")]
    UniqueViolation {
        constraint: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The transaction lost a race (serialization failure, deadlock) and was rolled
    /// back: nothing was written, and the same request may simply be sent again.
    #[error("the transaction was rolled back to resolve a conflict")]
    Retryable(#[source] tokio_postgres::Error),
    /// Postgres refused a value (class 22: data exception).
    #[error("the database refused a value")]
    InvalidInput(#[source] tokio_postgres::Error),
    /// A migration's SQL failed (its transaction is rolled back: nothing was applied).
    #[error("migration {version} ({name}) failed; nothing was applied")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: tokio_postgres::Error,
    },
    /// The pool could not be set up (the URL, TLS).
    #[error("{0}")]
    Setup(String),
    /// An answer that breaks what the statement guarantees (a bug).
    #[error("unexpected answer: {0}")]
    Unexpected(String),
    #[error("database error")]
    Other(#[source] tokio_postgres::Error),
}

impl std::fmt::Debug for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        if let Some(db) = error.as_db_error() {
            let code = db.code();
            if *code == SqlState::UNIQUE_VIOLATION {
                return Self::UniqueViolation {
                    constraint: db.constraint().unwrap_or_default().to_owned(),
                    source: error,
                };
            }
            return match &code.code()[..2] {
                "22" => Self::InvalidInput(error),
                // transaction rollback: serialization_failure, deadlock_detected
                "40" => Self::Retryable(error),
                // connection exceptions, insufficient resources, operator intervention
                "08" | "53" | "57" => Self::Unavailable(Box::new(error)),
                _ => Self::Other(error),
            };
        }
        if error.is_closed()
            || std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>())
        {
            return Self::Unavailable(Box::new(error));
        }
        Self::Other(error)
    }
}

impl From<PoolError> for DbError {
    fn from(error: PoolError) -> Self {
        match error {
            // Failing to open a connection is unavailability, whatever its cause.
            PoolError::Backend(e) => match Self::from(e) {
                Self::Other(e) => Self::Unavailable(Box::new(e)),
                other => other,
            },
            other => Self::Unavailable(Box::new(other)),
        }
    }
}
