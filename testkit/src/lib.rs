//! Test support for the workspace (a dev-dependency only: nothing here ships).
//!
//! - [`cluster`]: throwaway PostgreSQL clusters (plain, and TLS-only like Neon);
//! - [`TestDb`]: a migrated database of its own per test;
//! - [`Event`]/[`Answer`]: API Gateway HTTP API (2.0) events in, responses out;
//! - [`RoundTrips`]: a proxy that counts round trips to the database; [`Partition`]:
//!   one that cuts the connection on demand;
//! - [`routes`]: the route table as `template.yaml`, `openapi.yaml` and the watch
//!   router declare it; `deploy` checks the template's secrets and permissions.

pub mod cluster;
mod db;
mod deploy;
mod event;
mod partition;
mod round_trips;
pub mod routes;

pub use cluster::{TlsCluster, cluster_url, free_port, pooler_port, tls_cluster};
pub use db::TestDb;
pub use event::{Answer, Event};
pub use partition::Partition;
pub use round_trips::RoundTrips;

use shared::db::Database;
use shared::http::{Edge, Router};
use std::io::Write;

pub const TEST_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";

/// Two users' subjects, and a task id nobody has.
pub const ANN: &str = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
pub const BOB: &str = "0b8c5ae4-2f5b-4c7e-9a53-1f1f0fd1d2a1";
pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

/// Writes to stderr without interleaving (for timing notes in tests).
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// A valid token for `sub`, signed with [`TEST_SECRET`] as the `auth` function signs.
pub fn token(sub: &str) -> String {
    shared::auth::TokenIssuer::new(&TestDb::auth_config())
        .issue(sub, "tester")
        .expect("token signs")
        .access_token
}

/// Inserts a task for `owner` through the data layer.
pub async fn seed_task(db: &Database, owner: &str, title: &str) -> shared::model::Task {
    let owner = shared::model::Subject::parse(owner).expect("a valid subject");
    let changes = shared::model::TaskChanges {
        title: <shared::model::Title as shared::model::Text>::parse(title).expect("a valid title"),
        description: None,
        completed: false,
    };
    shared::db::tasks::create(db, &owner, &changes)
        .await
        .expect("task inserted")
}

/// Runs `event` through a function's route table the way the Lambda runtime would.
pub async fn call<S: Edge>(state: &S, router: &Router<S>, event: Event) -> Answer {
    Answer::from(shared::http::handle(state, router, event.request()).await)
}
