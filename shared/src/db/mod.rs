//! Data access: the pool (built once per cold start), migrations, and one module per
//! table. Every statement is sent with `query_typed`, which needs no named prepared
//! statement (Neon's pooler is PgBouncer in transaction mode) and costs one round trip.

mod connect;
mod error;
pub mod logins;
pub mod migrate;
pub mod tasks;
pub mod users;

pub use error::DbError;

use crate::config::DatabaseConfig;
use deadpool_postgres::{Object, Pool};
use std::time::Duration;
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_postgres::{Row, types::ToSql, types::Type};

/// A statement parameter with its type (statements are sent with `query_typed`).
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

pub use crate::config::REQUEST_BUDGET;

/// How long a cancel request may take before the connection is dropped anyway.
pub const CANCEL_BUDGET: Duration = Duration::from_secs(1);

/// The pool and the knowledge that the schema is current.
pub struct Database {
    pool: Pool,
    tls: connect::Tls,
    budget: Duration,
    auto_migrate: bool,
    migrated: OnceCell<()>,
    task_events: Option<crate::config::TaskEvents>,
}

impl Database {
    /// Builds the pool; no connection is opened until one is needed.
    pub fn new(config: &DatabaseConfig) -> Result<Self, DbError> {
        let (pool, tls) = connect::pool(config)?;
        Ok(Self {
            pool,
            tls,
            budget: config.request_budget,
            auto_migrate: config.auto_migrate,
            migrated: OnceCell::new(),
            task_events: config.task_events.clone(),
        })
    }

    /// How task changes record their events, if they do (`TASK_EVENTS`).
    pub fn task_events(&self) -> Option<&crate::config::TaskEvents> {
        self.task_events.as_ref()
    }

    /// Applies pending migrations when `AUTO_MIGRATE` is on. Called at cold start; if
    /// the database is down then, the first request that reaches it tries again.
    pub async fn prepare(&self) -> Result<(), DbError> {
        if !self.auto_migrate {
            return Ok(());
        }
        self.migrated
            .get_or_try_init(|| async {
                let applied = self.migrate().await?;
                if !applied.is_empty() {
                    tracing::info!(?applied, "migrations applied");
                }
                Ok::<_, DbError>(())
            })
            .await
            .map(drop)
    }

    /// Applies pending migrations now, whatever `AUTO_MIGRATE` says (the `migrate`
    /// tool), and returns the versions applied.
    pub async fn migrate(&self) -> Result<Vec<i64>, DbError> {
        let mut client = self.pool.get().await?;
        migrate::run(&mut client).await
    }

    async fn client(&self) -> Result<Object, DbError> {
        self.prepare().await?;
        Ok(self.pool.get().await?)
    }

    /// The current request's deadline: its budget counts from the request's start
    /// (see [`crate::deadline`]), shared by every statement the request runs.
    fn deadline(&self) -> Instant {
        crate::deadline::after(self.budget)
    }

    /// A pooled connection before `deadline`. Nothing has been sent yet, so any failure
    /// here is a plain 503.
    async fn checkout(&self, deadline: Instant) -> Result<Object, DbError> {
        tokio::time::timeout_at(deadline, self.client())
            .await
            .map_err(|_| DbError::Timeout(self.budget))?
    }

    /// Runs `work`, which changes nothing a client owns (a read, or the login
    /// throttle's counters), on a pooled connection before the request's deadline.
    ///
    /// Every failure is `Unavailable` or `Timeout` (a 503): whatever happened, the
    /// client's data is as it was. A statement still running at the deadline is
    /// cancelled on the server first (see [`Database::cancel`]); if it finished after
    /// all, its result stands. Such a connection is never reused.
    pub async fn read<T>(
        &self,
        work: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, DbError> {
        let _timed = crate::metrics::DatabaseTime::start();
        let deadline = self.deadline();
        let client = self.checkout(deadline).await?;
        let late = {
            let mut work = std::pin::pin!(work(&client));
            match tokio::time::timeout_at(deadline, &mut work).await {
                Ok(result) => return result.map_err(DbError::from),
                Err(_) => self.cancel(&client, work).await,
            }
        };
        // Out of the pool: its state is unknown, and nobody may reuse it.
        drop(Object::take(client));
        match late {
            Some(Ok(value)) => Ok(value),
            Some(Err(_)) | None => Err(DbError::Timeout(self.budget)),
        }
    }

    /// Runs one statement that changes a client's data, and says whether it did.
    ///
    /// The statement runs in a transaction whose first statement gives the server the
    /// request's deadline ([`guard`]): the server refuses to start it once the deadline
    /// has passed (its bytes may arrive late, after a network partition heals) and stops
    /// it at the deadline otherwise (`statement_timeout`, local to the transaction, so
    /// it works through PgBouncer in transaction mode). The three parts are pipelined:
    /// still one round trip.
    ///
    /// The outcome is what the server answered. Every part answered: done, or refused
    /// and rolled back (nothing changed: its error, a 4xx or 503). The connection lost
    /// before the server answered the statement and its commit, or a cancel at the
    /// deadline that the server did not confirm within [`CANCEL_BUDGET`]: nobody here
    /// knows, and the answer is `Unknown` (a 504). Either way, the statement cannot
    /// commit after the deadline plus the time the commit itself takes.
    pub async fn write(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        let _timed = crate::metrics::DatabaseTime::start();
        let deadline = self.deadline();
        let client = self.checkout(deadline).await?;
        if client.is_closed() {
            // Lost while idle, and noticed: nothing was sent, so this is a plain 503.
            drop(Object::take(client));
            return Err(DbError::Unavailable(
                "the pooled connection was closed".into(),
            ));
        }
        let guard = guard(deadline);
        let outcome = {
            let mut work = std::pin::pin!(async {
                // `join!` polls the three in this order first, and each sends its
                // messages on its first poll: they leave in one write, in this order.
                let (begun, rows, committed) = tokio::join!(
                    client.batch_execute(&guard),
                    client.query_typed(sql, params),
                    client.batch_execute("COMMIT"),
                );
                written(begun, rows, committed, self.budget)
            });
            match tokio::time::timeout_at(deadline, &mut work).await {
                Ok(outcome) => outcome,
                Err(_) => self.cancel(&client, work).await.unwrap_or_else(|| {
                    Err(DbError::Unknown(
                        "the server did not confirm the cancel of a statement past its \
                         deadline"
                            .into(),
                    ))
                }),
            }
        };
        if client.is_closed() || matches!(outcome, Err(DbError::Unknown(_) | DbError::Timeout(_))) {
            drop(Object::take(client));
        }
        outcome
    }

    /// Cancels `client`'s running statement and waits for it to end, sending the
    /// cancel again while it runs (one sent before the statement reached the server
    /// does nothing). `None` when it has not ended within [`CANCEL_BUDGET`].
    async fn cancel<T>(
        &self,
        client: &tokio_postgres::Client,
        mut work: std::pin::Pin<&mut impl Future<Output = T>>,
    ) -> Option<T> {
        let token = client.cancel_token();
        let give_up = Instant::now() + CANCEL_BUDGET;
        loop {
            let sent = tokio::time::timeout_at(give_up, token.cancel_query(self.tls.clone()));
            if let Ok(Err(error)) = sent.await {
                tracing::warn!(%error, "sending a cancel request failed");
            }
            let retry = Instant::now() + Duration::from_millis(50);
            match tokio::time::timeout_at(retry.min(give_up), work.as_mut()).await {
                Ok(outcome) => return Some(outcome),
                Err(_) if Instant::now() < give_up => continue,
                Err(_) => {
                    tracing::error!("a statement past its deadline could not be cancelled");
                    return None;
                }
            }
        }
    }

    /// One trivial statement, for the health route.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.read(async |client| client.simple_query("SELECT 1").await.map(drop))
            .await
    }
}

/// The statement that opens a write's transaction: it gives the server the request's
/// deadline as a wall-clock time. Past it, `set_config` refuses the value (the
/// transaction is aborted: nothing runs); before it, the time left becomes the
/// transaction's `statement_timeout`. The number is ours, never a client's text.
fn guard(deadline: Instant) -> String {
    format!(
        "BEGIN; SELECT set_config('statement_timeout', CASE WHEN ms > 0 THEN ms::text \
         ELSE 'past the request''s deadline' END, true) \
         FROM (SELECT {}::bigint - floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint \
         AS ms) AS time_left",
        crate::deadline::epoch_millis(deadline)
    )
}

/// What a write's three answers say happened (see [`Database::write`]).
fn written(
    begun: Result<(), tokio_postgres::Error>,
    rows: Result<Vec<Row>, tokio_postgres::Error>,
    committed: Result<(), tokio_postgres::Error>,
    budget: Duration,
) -> Result<Vec<Row>, DbError> {
    let answered = |e: &tokio_postgres::Error| e.as_db_error().is_some();
    match (begun, rows, committed) {
        (Ok(()), Ok(rows), Ok(())) => Ok(rows),
        // The guard refused: the deadline had passed when it reached the server.
        (Err(e), _, _) if answered(&e) => Err(DbError::Timeout(budget)),
        // Refused (a constraint, the deadline), or its commit refused: rolled back.
        (Ok(()), Err(e), _) | (Ok(()), Ok(_), Err(e)) if answered(&e) => Err(DbError::from(e)),
        // The connection failed before the server said how the transaction ended.
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(DbError::Unknown(Box::new(e))),
    }
}
