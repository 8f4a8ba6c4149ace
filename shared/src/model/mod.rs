//! The API's types: what a client sends, validated (a value of one of these types is
//! valid, so code that holds one never checks it again; parsers return the message a
//! client sees), and what it gets back (`Task`, `User`).

mod cursor;
mod fields;
mod precondition;
mod subject;
mod task;
mod user;

pub use cursor::{After, CursorKey, SortKey, next_cursor, open_cursor};
pub use fields::{Field, FieldError, FieldErrors, FromJson, Text};
pub use precondition::Precondition;
pub use subject::Subject;
pub use task::{
    CompleteBody, Description, ListQuery, Page, PageSize, SortBy, SortOrder, Task, TaskBody,
    TaskChanges, Title,
};
pub use user::{AccountBody, Email, LoginBody, LoginName, LoginPassword, Password, User, Username};

/// Text of at most `max_chars` characters without NUL (Postgres `text` rejects it; other
/// control characters are just noise in a title), or the message a client sees.
pub(crate) fn bounded(text: &str, max_chars: usize) -> Result<(), String> {
    if text.chars().count() > max_chars {
        return Err(format!("must be at most {max_chars} characters long"));
    }
    if text.contains('\0') {
        return Err("must not contain NUL characters".into());
    }
    Ok(())
}

/// Serialises a timestamp as RFC 3339 in UTC with microseconds (Postgres' precision),
/// always the same width, so clients may even compare them as strings.
pub fn rfc3339<S: serde::Serializer>(
    at: &chrono::DateTime<chrono::Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&rfc3339_string(at))
}

/// The text [`rfc3339`] writes.
pub fn rfc3339_string(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}
