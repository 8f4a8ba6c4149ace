//! Login throttling, in two statements at most per attempt: the one that looks the
//! account up also counts the attempt (before the password is checked), and a success
//! takes its own count back.
//!
//! Two counters, each a row of `login_failures` with a fixed window that starts at its
//! first failure: one per (account, client address), so a guesser is stopped without
//! locking the owner out from anywhere else, and one per client address across accounts
//! (password spraying). Because the attempt is counted in the statement that decides
//! whether it may go on, and an upsert's count is taken under the row's lock, no burst
//! of concurrent attempts, on any number of instances, reaches the password check more
//! often than the limits allow.

use super::{Database, DbError, Param};
use crate::config::Throttle;
use crate::model::User;
use tokio_postgres::types::Type;
use tokio_postgres::{Client, Row};
use uuid::Uuid;

/// Looks the identifier up and counts the attempt, unless a limit is already reached.
///
/// `$1` identifier, `$2` client address, `$3` window (seconds), `$4` failures allowed
/// per (account, address), `$5` per address. The account is its id when the identifier
/// names one (by username or email alike), else a hash of the identifier: unknown names
/// are counted exactly like real ones, and what a client typed is not stored.
/// `retry_after` is null when the attempt may be checked; otherwise the seconds until
/// the window that stops it ends. Up to ten windows that have ended are pruned, oldest
/// first, on the `window_start` index (a TID scan of just those rows).
const RESERVE: &str = "\
WITH account AS (
    SELECT id, username, email, created_at, updated_at, password_hash FROM users
    WHERE lower(username) = lower($1) OR lower(email) = lower($1)
    LIMIT 1
), keys AS (
    SELECT COALESCE(
               (SELECT 'user:' || id::text FROM account),
               'name:' || encode(sha256(convert_to(lower($1), 'UTF8')), 'hex')
           ) || ' from ' || $2::text AS pair,
           'address:' || $2::text AS address
), stopped AS (
    SELECT f.window_start FROM login_failures f, keys
    WHERE f.key IN (keys.pair, keys.address)
      AND f.window_start > now() - make_interval(secs => $3)
      AND f.failures >= CASE WHEN f.key = keys.pair THEN $4::int ELSE $5::int END
), counted AS (
    INSERT INTO login_failures AS f (key, failures, window_start)
    SELECT k.key, 1, now() FROM keys, LATERAL (VALUES (keys.pair), (keys.address)) AS k (key)
    WHERE NOT EXISTS (SELECT FROM stopped)
    ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN f.window_start <= now() - make_interval(secs => $3)
                        THEN 1 ELSE f.failures + 1 END,
        window_start = CASE WHEN f.window_start <= now() - make_interval(secs => $3)
                            THEN now() ELSE f.window_start END
    RETURNING f.key, f.failures, f.window_start
), over AS (
    SELECT window_start FROM stopped
    UNION ALL
    SELECT c.window_start FROM counted c, keys
    WHERE c.failures > CASE WHEN c.key = keys.pair THEN $4::int ELSE $5::int END
), pruned AS (
    DELETE FROM login_failures WHERE ctid = ANY (ARRAY(
        SELECT f.ctid FROM login_failures f, keys
        WHERE f.window_start <= now() - make_interval(secs => $3)
          AND f.key NOT IN (keys.pair, keys.address)
        ORDER BY f.window_start
        LIMIT 10))
)
SELECT keys.pair AS pair_key, keys.address AS address_key,
    (SELECT ceil(extract(epoch FROM max(window_start) + make_interval(secs => $3) - now()))
        ::bigint FROM over) AS retry_after,
    account.id, account.username, account.email, account.created_at, account.updated_at,
    account.password_hash
FROM keys LEFT JOIN account ON true";

/// A success: the (account, address) count is cleared, the address gets this attempt
/// back (it was counted before the check), and the password hash is replaced when a
/// new one is given (`$4`, a rehash at the configured cost).
const SUCCEEDED: &str = "\
WITH released AS (
    UPDATE login_failures SET failures = failures - 1 WHERE key = $2 AND failures > 0
), rehashed AS (
    UPDATE users SET password_hash = $4, updated_at = now()
    WHERE id = $3 AND $4::text IS NOT NULL
)
DELETE FROM login_failures WHERE key = $1";

/// Every statement of this module, by name (for the test that prepares them all).
pub const STATEMENTS: &[(&str, &str)] = &[("RESERVE", RESERVE), ("SUCCEEDED", SUCCEEDED)];

/// The first statement's answer.
#[derive(Debug)]
pub enum Reserved {
    /// A limit is reached: the password must not be checked. Retry in this many seconds.
    Throttled { retry_after: u64 },
    /// Counted: check the password (against the account's hash, or a dummy when there
    /// is no account), then report a success with [`succeeded`].
    Counted {
        account: Option<(User, String)>,
        keys: Keys,
    },
}

/// The counters an attempt was counted in.
#[derive(Debug)]
pub struct Keys {
    pair: String,
    address: String,
}

/// Counts a login attempt for `identifier` from `address` and looks the account up.
pub async fn reserve(
    db: &Database,
    identifier: &str,
    address: &str,
    throttle: &Throttle,
) -> Result<Reserved, DbError> {
    let window = throttle.window.as_secs_f64();
    let per_pair = throttle.max_failures as i32;
    let per_address = throttle.max_address_failures as i32;
    let params: [Param<'_>; 5] = [
        (&identifier, Type::TEXT),
        (&address, Type::TEXT),
        (&window, Type::FLOAT8),
        (&per_pair, Type::INT4),
        (&per_address, Type::INT4),
    ];
    let row = db
        .read(async |client: &Client| client.query_typed_one(RESERVE, &params).await)
        .await?;
    if let Some(retry_after) = row.try_get::<_, Option<i64>>("retry_after")? {
        return Ok(Reserved::Throttled {
            retry_after: retry_after.max(1) as u64,
        });
    }
    Ok(Reserved::Counted {
        account: account(&row)?,
        keys: Keys {
            pair: row.try_get("pair_key")?,
            address: row.try_get("address_key")?,
        },
    })
}

/// Takes a successful attempt's count back, storing `new_hash` for the user if given.
pub async fn succeeded(
    db: &Database,
    keys: &Keys,
    user: Uuid,
    new_hash: Option<&str>,
) -> Result<(), DbError> {
    let params: [Param<'_>; 4] = [
        (&keys.pair, Type::TEXT),
        (&keys.address, Type::TEXT),
        (&user, Type::UUID),
        (&new_hash, Type::TEXT),
    ];
    db.read(async |client: &Client| client.execute_typed(SUCCEEDED, &params).await)
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
