//! The `users` table.

use super::{Database, DbError, Param};
use crate::model::{Email, User, Username};
use tokio_postgres::{Row, types::Type};

/// A user as `user_from_row` reads it: never the password or its hash.
fn user_from_row(row: &Row) -> Result<User, tokio_postgres::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// Which unique rule a new account broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Email,
    Username,
}

impl Taken {
    /// Maps a unique index (see `migrations/0001_create_users.sql`) to the field.
    pub fn from_constraint(constraint: &str) -> Option<Self> {
        match constraint {
            "users_email_lower_key" => Some(Self::Email),
            "users_username_lower_key" => Some(Self::Username),
            _ => None,
        }
    }

    pub fn field(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Username => "username",
        }
    }
}

/// Why an account could not be created.
#[derive(Debug)]
pub enum CreateError {
    Taken(Taken),
    Db(DbError),
}

// Each statement whole, as it reaches Postgres; `tests/database.rs` prepares every
// one against the migrated schema.
const INSERT: &str = "INSERT INTO users (username, email, password_hash) VALUES ($1, $2, $3) \
    RETURNING id, username, email, created_at, updated_at";

/// Every statement of this module, by name (for the test that prepares them all).
pub const STATEMENTS: &[(&str, &str)] = &[("INSERT", INSERT)];

/// Inserts an account; the unique indexes decide races between identical signups.
pub async fn create(
    db: &Database,
    username: &Username,
    email: &Email,
    password_hash: &str,
) -> Result<User, CreateError> {
    let params: [Param<'_>; 3] = [
        (&username.as_str(), Type::TEXT),
        (&email.as_str(), Type::TEXT),
        (&password_hash, Type::TEXT),
    ];
    let result = match db.write(INSERT, &params).await {
        Ok(rows) => match rows.first() {
            Some(row) => user_from_row(row).map_err(DbError::from),
            None => Err(DbError::Unexpected(
                "INSERT ... RETURNING answered no row".into(),
            )),
        },
        Err(error) => Err(error),
    };
    match result {
        Ok(user) => Ok(user),
        Err(DbError::UniqueViolation { constraint, source }) => {
            match Taken::from_constraint(&constraint) {
                Some(taken) => Err(CreateError::Taken(taken)),
                None => Err(CreateError::Db(DbError::UniqueViolation {
                    constraint,
                    source,
                })),
            }
        }
        Err(e) => Err(CreateError::Db(e)),
    }
}
