//! What each route does: the handlers a function's route table names. Each takes the
//! state, the request and the path parameters, reads the request with `http`'s
//! helpers, calls the domain (`auth`, `model`, `db`) and answers with a response or an
//! error that `http` turns into a problem document.

pub mod auth;
pub mod service;
pub mod tasks;
