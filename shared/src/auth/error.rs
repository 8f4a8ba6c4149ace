/// Why a token was refused or a credential could not be checked.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token is not acceptable; the text says why in words a client may read
    /// (never which key or secret was tried).
    #[error("{0}")]
    Rejected(String),
    /// Better Auth's key set could not be fetched, so the token cannot be checked now.
    #[error("the key set could not be fetched")]
    KeySetUnavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Signing or hashing failed: a bug or a broken runtime, not the client's doing.
    #[error("{what} failed")]
    Failed {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl AuthError {
    pub(crate) fn rejected(detail: impl Into<String>) -> Self {
        Self::Rejected(detail.into())
    }

    pub(crate) fn failed(
        what: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self::Failed {
            what,
            source: source.into(),
        }
    }
}
