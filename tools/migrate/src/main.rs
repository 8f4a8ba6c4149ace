//! `migrate`: applies `migrations/` to `DATABASE_URL` (or the secret that
//! `DATABASE_URL_SECRET_ARN` names), for a pipeline that migrates before it deploys and
//! runs the functions with `AUTO_MIGRATE=false`. On Neon, give it the direct host (the
//! one without `-pooler`). Safe to run while instances start: it takes the same lock.
//!
//!     DATABASE_URL=postgres://… make migrate

use lambda_http::Error;
use shared::config::DatabaseConfig;
use shared::db::Database;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init("migrate");
    let config = DatabaseConfig::from_env().await?;
    let applied = Database::new(&config)?.migrate().await?;
    if applied.is_empty() {
        println!("the schema is up to date");
    } else {
        println!("applied migrations {applied:?}");
    }
    Ok(())
}
