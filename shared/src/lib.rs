//! The library behind every to-do Lambda function.
//!
//! Organised by concern, so a reader finds a rule by its name:
//! - [`config`]: environment and Secrets Manager, read once per cold start;
//! - [`auth`]: tokens (JWT) and passwords (bcrypt);
//! - [`model`]: validated input types (a `Title` that exists is valid);
//! - [`db`]: the pool, migrations and one module per table;
//! - [`http`]: request parsing, problem documents, responses;
//! - [`api`]: what each route does, called by the functions' thin `main.rs`;
//! - [`state`]: what a function builds once per cold start.

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod http;
pub mod model;
pub mod state;
pub mod telemetry;
pub mod tls;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use state::{AppState, ServiceState};
