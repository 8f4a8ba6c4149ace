//! Login attempts: the account for an identifier and the throttle on it, in one
//! statement; a failure counted in one more; a success clears earlier failures.
//!
//! An attempt keeps its pooled connection from the lookup to the count, so on one
//! instance at most the pool size of attempts are between reading the count and
//! raising it: parallel guesses overshoot the limit by less than that. (A Lambda
//! instance serves one request at a time: holding the connection costs nothing.)

use super::users::User;
use super::{Database, DbError};
use crate::config::Throttle;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};

/// One row whatever the identifier: the throttle key, the failures in the current
/// window and the seconds until it ends, and the account's columns when it exists.
const LOOKUP: &str = "WITH account AS ( \
        SELECT id, username, email, created_at, updated_at, password_hash FROM users \
        WHERE lower(username) = lower($1) OR lower(email) = lower($1) LIMIT 1 \
    ), attempt AS ( \
        SELECT COALESCE((SELECT 'user:' || id::text FROM account), 'name:' || lower($1)) AS key \
    ) \
    SELECT attempt.key, f.failures, \
        ceil(extract(epoch FROM f.window_start + make_interval(secs => $2) - now()))::bigint \
            AS retry_after, \
        account.id, account.username, account.email, account.created_at, account.updated_at, \
        account.password_hash \
    FROM attempt \
    LEFT JOIN account ON true \
    LEFT JOIN login_failures f \
        ON f.key = attempt.key AND f.window_start > now() - make_interval(secs => $2)";

/// Counts a failure in the key's window (a new window when the last has ended), and
/// prunes windows that have ended.
const COUNT_FAILURE: &str = "WITH pruned AS ( \
        DELETE FROM login_failures \
        WHERE window_start <= now() - make_interval(secs => $2) AND key <> $1 \
    ) \
    INSERT INTO login_failures AS f (key, failures, window_start) VALUES ($1, 1, now()) \
    ON CONFLICT (key) DO UPDATE SET \
        failures = CASE WHEN f.window_start <= now() - make_interval(secs => $2) \
            THEN 1 ELSE f.failures + 1 END, \
        window_start = CASE WHEN f.window_start <= now() - make_interval(secs => $2) \
            THEN now() ELSE f.window_start END";

const CLEAR_FAILURES: &str = "DELETE FROM login_failures WHERE key = $1";

/// Every statement of this module, by name (for the test that prepares them all).
pub const STATEMENTS: &[(&str, &str)] = &[
    ("LOOKUP", LOOKUP),
    ("COUNT_FAILURE", COUNT_FAILURE),
    ("CLEAR_FAILURES", CLEAR_FAILURES),
];

/// How a login attempt ended.
#[derive(Debug)]
pub enum Attempt {
    /// Too many failures: the password was not checked. Try again in this many seconds.
    Throttled { retry_after: u64 },
    /// No such account, or the wrong password (counted).
    Refused,
    /// The account, and its stored hash.
    Accepted(User, String),
}

/// Looks the identifier up and, unless the account is throttled, lets `verify` check
/// the password against its hash (`None`: no such account, verify against a dummy).
/// `verify`'s own error is passed through.
pub async fn attempt<E: From<DbError>>(
    db: &Database,
    identifier: &str,
    throttle: &Throttle,
    verify: impl AsyncFnOnce(Option<String>) -> Result<bool, E>,
) -> Result<Attempt, E> {
    let window = throttle.window.as_secs_f64();
    db.run(async |client| {
        let row = client
            .query_typed_one(
                LOOKUP,
                &[(&identifier, Type::TEXT), (&window, Type::FLOAT8)],
            )
            .await?;
        let key: String = row.try_get("key")?;
        let failures: Option<i32> = row.try_get("failures")?;
        if let Some(failures) = failures
            && failures >= throttle.max_failures as i32
        {
            let retry_after: i64 = row.try_get("retry_after")?;
            return Ok(Ok(Attempt::Throttled {
                retry_after: retry_after.max(1) as u64,
            }));
        }
        let account = account(&row)?;
        let hash = account.as_ref().map(|(_, hash)| hash.clone());
        let matched = match verify(hash).await {
            Ok(matched) => matched,
            Err(error) => return Ok(Err(error)),
        };
        match account {
            Some((user, hash)) if matched => {
                if failures.is_some() {
                    clear(client, &key).await?;
                }
                Ok(Ok(Attempt::Accepted(user, hash)))
            }
            _ => {
                client
                    .execute_typed(
                        COUNT_FAILURE,
                        &[(&key, Type::TEXT), (&window, Type::FLOAT8)],
                    )
                    .await?;
                Ok(Ok(Attempt::Refused))
            }
        }
    })
    .await?
}

async fn clear(client: &Client, key: &str) -> Result<(), tokio_postgres::Error> {
    client
        .execute_typed(CLEAR_FAILURES, &[(&key, Type::TEXT)])
        .await
        .map(drop)
}

fn account(row: &Row) -> Result<Option<(User, String)>, tokio_postgres::Error> {
    let Some(id) = row.try_get("id")? else {
        return Ok(None);
    };
    let user = User {
        id,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    };
    Ok(Some((user, row.try_get("password_hash")?)))
}
