//! Data access: the pool (built once per cold start), migrations, and one module per
//! table. Every statement is sent with `query_typed`, which needs no named prepared
//! statement (Neon's pooler is PgBouncer in transaction mode) and costs one round trip.

mod connect;
mod error;
pub mod migrate;
pub mod tasks;
pub mod users;

pub use error::DbError;

use crate::config::DatabaseConfig;
use deadpool_postgres::{Object, Pool};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Longest a request waits on the database (pool, connect, statement) before it is
/// answered 503: well inside the function timeout, so a dead database never hangs one.
pub const REQUEST_BUDGET: Duration = Duration::from_secs(8);

/// The pool and the knowledge that the schema is current.
pub struct Database {
    pool: Pool,
    auto_migrate: bool,
    migrated: OnceCell<()>,
}

impl Database {
    /// Builds the pool; no connection is opened until one is needed.
    pub fn new(config: &DatabaseConfig) -> Result<Self, DbError> {
        Ok(Self {
            pool: connect::pool(config)?,
            auto_migrate: config.auto_migrate,
            migrated: OnceCell::new(),
        })
    }

    /// Applies pending migrations when `AUTO_MIGRATE` is on. Called at cold start; if
    /// the database is down then, the first request that reaches it tries again.
    pub async fn prepare(&self) -> Result<(), DbError> {
        if !self.auto_migrate {
            return Ok(());
        }
        self.migrated
            .get_or_try_init(|| async {
                let mut client = self.pool.get().await?;
                let applied = migrate::run(&mut client).await?;
                if !applied.is_empty() {
                    tracing::info!(?applied, "migrations applied");
                }
                Ok::<_, DbError>(())
            })
            .await
            .map(drop)
    }

    async fn client(&self) -> Result<Object, DbError> {
        self.prepare().await?;
        Ok(self.pool.get().await?)
    }

    /// Runs `work` on a pooled connection within [`REQUEST_BUDGET`].
    pub async fn run<T>(
        &self,
        work: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, tokio_postgres::Error>,
    ) -> Result<T, DbError> {
        let attempt = async {
            let client = self.client().await?;
            work(&client).await.map_err(DbError::from)
        };
        tokio::time::timeout(REQUEST_BUDGET, attempt)
            .await
            .map_err(|_| DbError::Timeout(REQUEST_BUDGET))?
    }

    /// One trivial statement, for the health route.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(async |client| client.simple_query("SELECT 1").await.map(drop))
            .await
    }
}
