//! Validated input types: a value of one of these types is valid, so code that holds
//! one never checks it again. Parsers return the message a client sees.

mod task;
mod user;

pub use task::{Description, ListQuery, Page, PageSize, SortBy, SortOrder, TaskChanges, Title};
pub use user::{Email, Password, Username};

/// Postgres `text` rejects NUL; other control characters are just noise in a title.
fn has_nul(s: &str) -> bool {
    s.contains('\0')
}
