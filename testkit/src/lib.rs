//! Test support for the workspace (a dev-dependency only: nothing here ships).
//!
//! - [`cluster`]: throwaway PostgreSQL clusters (plain, and TLS-only like Neon);
//! - [`TestDb`]: a migrated database of its own per test;
//! - [`Harness`]: a function under test, its routes and its state on such a database;
//! - [`Event`]/[`Answer`]: API Gateway HTTP API (2.0) events in, responses out;
//! - [`RoundTrips`]: a proxy that counts round trips to the database; [`Partition`]:
//!   one that cuts the connection on demand;
//! - [`routes`]: the route table as `template.yaml`, `openapi.yaml` and the watch
//!   router declare it, and [`routes::assert_table`] for each function's own.
//!
//! The checks of the workspace as a whole (one route table, which the README and
//! `docs/API.md` follow; each function checking its own; what the template deploys;
//! request budgets against the functions' timeouts) are this crate's integration test
//! `tests/workspace.rs` (`cargo test -p todo-testkit --test workspace`).

pub mod cluster;
mod db;
mod event;
mod harness;
mod partition;
mod proxy;
mod round_trips;
pub mod routes;

pub use cluster::{TlsCluster, cluster_url, free_port, pooler_port, tls_cluster};
pub use db::TestDb;
pub use event::{Answer, Event};
pub use harness::Harness;
pub use partition::Partition;
pub use round_trips::RoundTrips;

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

/// Awaits `work`, asserting that it took less than `bound`; its output.
pub async fn within<T>(
    bound: std::time::Duration,
    work: impl std::future::Future<Output = T>,
) -> T {
    let started = std::time::Instant::now();
    let out = work.await;
    let took = started.elapsed();
    assert!(took < bound, "took {took:?}, not less than {bound:?}");
    out
}
