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

    /// Runs `work` on a pooled connection within the request budget
    /// ([`REQUEST_BUDGET`] unless configured otherwise).
    ///
    /// When the budget runs out while a statement is running, the statement is
    /// cancelled on the server, and the caller hears `Timeout` only once it has ended:
    /// a request answered 503 never writes anything later (a statement waiting on a lock
    /// would otherwise still commit when it got it). If it finished after all, before
    /// the cancel took, its result stands. The connection is never reused.
    pub async fn run<T>(
        &self,
        work: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, DbError> {
        let deadline = tokio::time::Instant::now() + self.budget;
        let client = tokio::time::timeout_at(deadline, self.client())
            .await
            .map_err(|_| DbError::Timeout(self.budget))??;
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
            Some(Err(_)) => Err(DbError::Timeout(self.budget)),
            None => {
                tracing::error!("a statement past its budget could not be cancelled");
                Err(DbError::Timeout(self.budget))
            }
        }
    }

    /// Cancels `client`'s running statement and waits for it to end, sending the
    /// cancel again while it runs (one sent before the statement reached the server
    /// does nothing). `None` when it has not ended within [`CANCEL_BUDGET`].
    async fn cancel<T>(
        &self,
        client: &tokio_postgres::Client,
        mut work: std::pin::Pin<&mut impl Future<Output = Result<T, tokio_postgres::Error>>>,
    ) -> Option<Result<T, tokio_postgres::Error>> {
        let token = client.cancel_token();
        let give_up = tokio::time::Instant::now() + CANCEL_BUDGET;
        loop {
            let sent = tokio::time::timeout_at(give_up, token.cancel_query(self.tls.clone()));
            if let Ok(Err(error)) = sent.await {
                tracing::warn!(%error, "sending a cancel request failed");
            }
            let retry = tokio::time::Instant::now() + std::time::Duration::from_millis(50);
            match tokio::time::timeout_at(retry.min(give_up), work.as_mut()).await {
                Ok(outcome) => return Some(outcome),
                Err(_) if tokio::time::Instant::now() < give_up => continue,
                Err(_) => return None,
            }
        }
    }

    /// One trivial statement, for the health route.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(async |client| client.simple_query("SELECT 1").await.map(drop))
            .await
    }
}
