use std::fmt;
use uuid::Uuid;

/// The owner of tasks: a token's `sub`, non-empty and at most 128 characters.
///
/// Better Auth's user ids are not UUIDs, so any string is allowed; a UUID is kept in
/// its canonical lowercase hyphenated form so that `ABC…` and `abc…` are one owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject(String);

impl Subject {
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("sub must not be empty".into());
        }
        super::bounded(raw, Self::MAX_CHARS).map_err(|problem| format!("sub {problem}"))?;
        Ok(match Uuid::try_parse(raw) {
            Ok(uuid) => Self(uuid.hyphenated().to_string()),
            Err(_) => Self(raw.to_owned()),
        })
    }

    /// Whether a path's `user_id` names this subject: as UUIDs when both parse as
    /// UUIDs, otherwise exactly.
    pub fn is(&self, user_id: &str) -> bool {
        match (Uuid::try_parse(&self.0), Uuid::try_parse(user_id)) {
            (Ok(a), Ok(b)) => a == b,
            _ => self.0 == user_id,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_compare_as_uuids() {
        let s = Subject::parse("6F9619FF-8B86-D011-B42D-00C04FC964FF").unwrap();
        assert_eq!(s.as_str(), "6f9619ff-8b86-d011-b42d-00c04fc964ff");
        assert!(s.is("6f9619ff-8b86-d011-b42d-00c04fc964ff"));
        assert!(s.is("6F9619FF-8B86-D011-B42D-00C04FC964FF"));
        assert!(!s.is("6f9619ff-8b86-d011-b42d-00c04fc964fe"));
    }

    #[test]
    fn other_subjects_compare_exactly() {
        let s = Subject::parse("ba_user_1").unwrap();
        assert!(s.is("ba_user_1"));
        assert!(!s.is("BA_USER_1"));
        assert!(Subject::parse("").is_err());
        assert!(Subject::parse(&"x".repeat(128)).is_ok());
        assert!(Subject::parse(&"x".repeat(129)).is_err());
    }
}
