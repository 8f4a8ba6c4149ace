//! The API's types: what a client sends, validated (a value of one of these types is
//! valid, so code that holds one never checks it again; parsers return the message a
//! client sees), and what it gets back (`Task`, `User`).

mod fields;
mod precondition;
mod subject;
mod task;
mod user;

pub use fields::{FieldError, FieldErrors, Fields, json_bool, json_string};
pub use precondition::Precondition;
pub use subject::Subject;
pub use task::{
    Description, ListQuery, Page, PageSize, SortBy, SortOrder, Task, TaskChanges, Title,
};
pub use user::{Email, Password, User, Username};

/// Postgres `text` rejects NUL; other control characters are just noise in a title.
pub(crate) fn has_nul(s: &str) -> bool {
    s.contains('\0')
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
