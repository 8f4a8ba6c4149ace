//! What a function builds once per cold start and borrows into every request.

use crate::auth::{Passwords, TokenService};
use crate::config::Config;
use crate::db::Database;
use crate::http::Cors;

pub struct AppState {
    pub db: Database,
    pub tokens: TokenService,
    pub passwords: Passwords,
    pub cors: Cors,
}

impl AppState {
    /// Reads the configuration (and secrets) and builds the state; an invalid
    /// configuration stops the function with a message naming the variable.
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let config = Config::from_env().await?;
        Ok(Self::new(&config).await?)
    }

    pub async fn new(config: &Config) -> Result<Self, crate::db::DbError> {
        let db = Database::new(&config.database)?;
        // Migrate now so the first request does not pay for it; if the database is
        // unreachable, requests answer 503 and the first one to reach it migrates.
        if let Err(error) = db.prepare().await {
            tracing::error!(%error, "could not prepare the database at start");
        }
        Ok(Self {
            db,
            tokens: TokenService::new(&config.auth),
            passwords: Passwords::new(config.auth.bcrypt_cost),
            cors: Cors::new(&config.http),
        })
    }
}

impl crate::http::Edge for AppState {
    fn cors(&self) -> &Cors {
        &self.cors
    }
}

/// The state of the `docs` function: no keys, just the database (for health) and CORS.
pub struct ServiceState {
    pub db: Database,
    pub cors: Cors,
}

impl ServiceState {
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let var = |name: &str| std::env::var(name).ok();
        let database = crate::config::DatabaseConfig::resolve(&var).await?;
        Ok(Self::new(
            &database,
            &crate::config::HttpConfig::resolve(&var),
        )?)
    }

    pub fn new(
        database: &crate::config::DatabaseConfig,
        http: &crate::config::HttpConfig,
    ) -> Result<Self, crate::db::DbError> {
        Ok(Self {
            db: Database::new(database)?,
            cors: Cors::new(http),
        })
    }
}

impl crate::http::Edge for ServiceState {
    fn cors(&self) -> &Cors {
        &self.cors
    }
}
