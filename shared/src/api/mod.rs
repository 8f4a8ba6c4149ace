//! What each route does. A function's `main.rs` matches method and path and calls one
//! of these; each takes the state and the request and returns a response or an error.

pub mod auth;
pub mod service;
pub mod tasks;
