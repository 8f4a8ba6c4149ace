//! What each function builds once per cold start and borrows into every request; each
//! builds only what its routes use.

use crate::auth::{Passwords, TokenIssuer, TokenVerifier};
use crate::config::{Config, ConfigError, DatabaseConfig, HttpConfig, Lookup, Throttle};
use crate::db::{Database, DbError};
use crate::http::{Cors, Edge, Router};
use crate::model::CursorKey;

/// Why a function could not start: a setting, or the pool. `Debug` prints the message,
/// because that is what a `main` returning this error shows in the function's log.
#[derive(thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl std::fmt::Debug for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Config(e) => write!(f, "{e}"),
            Self::Db(e) => write!(f, "{e:?}"),
        }
    }
}

/// A function's state: read from the environment at a cold start, or built from a
/// configuration in tests.
pub trait FunctionState: Edge + Parts + Sized {
    /// Reads the settings this function needs (and only those), then builds.
    fn from_env() -> impl Future<Output = Result<Self, StartError>> + Send {
        async { Self::resolve(&|name| std::env::var(name).ok()).await }
    }

    /// Like [`FunctionState::from_env`], with variables from `var`. By default the
    /// whole configuration; a function that needs less says so.
    fn resolve(var: Lookup<'_>) -> impl Future<Output = Result<Self, StartError>> + Send {
        async {
            let config = Config::resolve(var).await?;
            Ok(Self::new(&config).await?)
        }
    }

    /// Builds from a complete configuration.
    fn new(config: &Config) -> impl Future<Output = Result<Self, DbError>> + Send;
}

/// What every function's state holds besides its own parts (implemented by `parts!`).
pub trait Parts {
    /// The database every function has.
    fn db(&self) -> &Database;
}

/// Opens the pool and migrates now, so the first request does not pay for it. If the
/// database is unreachable, requests answer 503 and the first one to reach it
/// migrates; a migration that fails stops the cold start (every request would fail
/// the same way).
async fn database(config: &DatabaseConfig) -> Result<Database, DbError> {
    let db = Database::new(config)?;
    match db.prepare().await {
        Ok(()) => {}
        Err(error @ DbError::Migration { .. }) => return Err(error),
        Err(error) => tracing::error!(?error, "could not prepare the database at start"),
    }
    Ok(db)
}

/// `auth`: issues tokens and hashes passwords.
pub struct AuthState {
    pub db: Database,
    pub issuer: TokenIssuer,
    pub passwords: Passwords,
    pub throttle: Throttle,
    pub cors: Cors,
}

impl FunctionState for AuthState {
    async fn new(config: &Config) -> Result<Self, DbError> {
        Ok(Self {
            db: database(&config.database).await?,
            issuer: TokenIssuer::new(&config.auth),
            passwords: Passwords::new(config.auth.bcrypt_cost),
            throttle: config.auth.throttle,
            cors: Cors::new(&config.http),
        })
    }
}

/// `tasks`, `task`, `complete`: verify tokens, never issue them or hash passwords.
pub struct TaskState {
    pub db: Database,
    pub verifier: TokenVerifier,
    /// Tags and checks the listing's cursors (its key derived from the signing secret).
    pub cursors: CursorKey,
    pub cors: Cors,
}

impl FunctionState for TaskState {
    async fn new(config: &Config) -> Result<Self, DbError> {
        Ok(Self {
            db: database(&config.database).await?,
            verifier: TokenVerifier::new(&config.auth),
            cursors: CursorKey::derive(config.auth.secret.expose().as_bytes()),
            cors: Cors::new(&config.http),
        })
    }
}

/// `docs`: no keys, just the database (for health) and CORS. Its pool opens on the
/// first health check, so serving the docs never waits on the database.
pub struct ServiceState {
    pub db: Database,
    pub cors: Cors,
}

impl FunctionState for ServiceState {
    async fn resolve(var: Lookup<'_>) -> Result<Self, StartError> {
        let database = DatabaseConfig::resolve(var).await?;
        Ok(Self::build(&database, &HttpConfig::resolve(var))?)
    }

    async fn new(config: &Config) -> Result<Self, DbError> {
        Self::build(&config.database, &config.http)
    }
}

impl ServiceState {
    fn build(database: &DatabaseConfig, http: &HttpConfig) -> Result<Self, DbError> {
        Ok(Self {
            db: Database::new(database)?,
            cors: Cors::new(http),
        })
    }
}

macro_rules! parts {
    ($($state:ty),*) => {$(
        impl Edge for $state {
            fn cors(&self) -> &Cors {
                &self.cors
            }
        }

        impl Parts for $state {
            fn db(&self) -> &Database {
                &self.db
            }
        }
    )*};
}
parts!(AuthState, TaskState, ServiceState);

/// A function's `main` (`function`: its name in logs and metrics): logging, its state from the environment (once per cold start),
/// then Lambda invocations through `router` until the runtime stops. An invalid setting
/// stops it here, with a message naming the variable.
///
/// It runs on tokio's current-thread runtime: Lambda hands an instance one event at a
/// time, and the multi-threaded runtime would only pass each one between threads (more
/// context switches and CPU per request; BENCHMARKS.md has the figures). Blocking work
/// (bcrypt) still goes to `spawn_blocking`'s threads.
pub fn main<S: FunctionState>(
    function: &'static str,
    router: Router<S>,
) -> Result<(), lambda_http::Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(async {
            crate::telemetry::init(function);
            let state = S::from_env().await?;
            crate::http::run(state, router).await
        })
}
