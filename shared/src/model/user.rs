use super::{Field, Text};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// A user as clients see it: never the password or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: Uuid,
    pub username: String,
    pub email: String,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// 3–32 characters from `A–Z a–z 0–9 _ . -`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Text for Username {
    fn parse(raw: &str) -> Result<Self, String> {
        let len = raw.chars().count();
        if !(3..=32).contains(&len) {
            return Err("must be 3 to 32 characters long".into());
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        {
            return Err("may contain only letters, digits, '_', '.' and '-'".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

/// A plausible e-mail address, NFKC-normalised and lowercased (so look-alike spellings
/// of one address are one address), at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Text for Email {
    fn parse(raw: &str) -> Result<Self, String> {
        use unicode_normalization::UnicodeNormalization;
        let value = raw.nfkc().collect::<String>().trim().to_lowercase();
        if value.chars().count() > 254 {
            return Err("must be at most 254 characters long".into());
        }
        let plausible = match value.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && domain.split('.').all(|label| !label.is_empty())
                    && !value.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !plausible {
            return Err("must be an e-mail address like name@example.com".into());
        }
        Ok(Self(value))
    }
}

/// 8–72 bytes of UTF-8: bcrypt reads only 72 bytes, so longer is refused rather than
/// silently truncated. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MAX_BYTES: usize = 72;

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Text for Password {
    fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() < 8 {
            return Err("must be at least 8 characters long".into());
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(format!(
                "must be at most {} bytes long (bcrypt's limit)",
                Self::MAX_BYTES
            ));
        }
        if raw.contains('\0') {
            return Err("must not contain NUL characters".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A login identifier as typed: not blank once trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginName(String);

impl LoginName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Text for LoginName {
    fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim();
        if text.is_empty() {
            return Err("must not be blank".into());
        }
        Ok(Self(text.to_owned()))
    }
}

/// The password of a login: any non-empty string (it is only compared, never stored,
/// so an old account's password is not held to today's rules). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginPassword(String);

impl LoginPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Text for LoginPassword {
    fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("is required".into());
        }
        Ok(Self(raw.to_owned()))
    }
}

impl fmt::Debug for LoginPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoginPassword(***)")
    }
}

/// A new account's body as sent (signup, register): every field read, unknown ones
/// ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountBody {
    pub username: Field<Username>,
    pub email: Field<Email>,
    pub password: Field<Password>,
    /// Signup only.
    pub confirm_password: Field<String>,
}

/// A login's body as sent: `username` (the username or the email) or `email`, and
/// `password`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LoginBody {
    pub username: Field<LoginName>,
    pub email: Field<LoginName>,
    pub password: Field<LoginPassword>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(32)).is_ok());
        assert!(Username::parse(&"a".repeat(33)).is_err());
        assert!(Username::parse("Jo_h.n-1").is_ok());
        assert!(Username::parse("jo hn").is_err());
        assert!(Username::parse("jo@hn").is_err());
        assert!(Username::parse("jöhn").is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "ann",
            "@example.com",
            "ann@example",
            "ann@@example.com",
            "a@b@c.com",
            "ann@.com",
            "ann @x.com",
            "a\0@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        // Compatibility forms (fullwidth letters, the "ﬁ" ligature) are the plain ones.
        assert_eq!(
            Email::parse("Ａnn@ﬁrm.example").unwrap().as_str(),
            "ann@firm.example"
        );
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.len(), 255);
        assert!(Email::parse(&long).is_err());
        assert!(Email::parse(&long[1..]).is_ok());
    }

    #[test]
    fn passwords_count_bytes() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"x".repeat(72)).is_ok());
        assert!(Password::parse(&"x".repeat(73)).is_err());
        // 36 two-byte characters are 72 bytes; 37 are 74.
        assert!(Password::parse(&"é".repeat(36)).is_ok());
        assert!(Password::parse(&"é".repeat(37)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("hunter2hunter2").unwrap()),
            "Password(***)"
        );
    }
}
