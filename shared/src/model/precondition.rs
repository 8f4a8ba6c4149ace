/// What an `If-Match` or `If-None-Match` header asks about a task's version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current version.
    Any,
    /// These versions (entity-tags that do not name one are left out: they match
    /// nothing).
    Versions(Vec<i64>),
}

impl Precondition {
    /// Whether the task at `version` meets it.
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&version),
        }
    }

    /// The versions a statement must find, or `None` for any.
    pub fn versions(&self) -> Option<&[i64]> {
        match self {
            Self::Any => None,
            Self::Versions(versions) => Some(versions),
        }
    }
}
