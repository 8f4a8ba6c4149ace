//! The library behind every to-do Lambda function.
//!
//! Organised by concern, so a reader finds a rule by its name. From the top down (each
//! layer imports only those below it):
//! - [`api`]: what each route does, named by the functions' route tables;
//! - [`state`]: what each function builds once per cold start;
//! - [`http`]: the edge: routing, request parsing, problem documents (the one error →
//!   response mapping), CORS;
//! - the domain, each with its own errors: [`auth`] (tokens, passwords), [`db`] (the
//!   pool, migrations, one module per table), [`model`] (validated input: a `Title`
//!   that exists is valid);
//! - [`config`]: environment and Secrets Manager, read once per cold start; [`deadline`]
//!   (when the current request started: its one time budget counts from there);
//!   [`metrics`] (what a request records for its access line and metrics); [`tls`] and
//!   [`outbound`] (the one HTTP client, for the key set and Secrets Manager).

pub mod api;
pub mod auth;
pub mod config;
pub mod db;
pub mod deadline;
pub mod http;
pub mod metrics;
pub mod model;
pub mod outbound;
pub mod state;
pub mod telemetry;
pub mod tls;

pub use state::{AuthState, FunctionState, ServiceState, StartError, TaskState, main};
