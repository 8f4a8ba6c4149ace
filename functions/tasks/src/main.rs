//! `tasks`: list and create the caller's tasks.

use shared::{TaskState, api, http::Router};

fn routes() -> Router<TaskState> {
    Router::new()
        .at("/api/{user_id}/tasks")
        .get(api::tasks::list)
        .post(api::tasks::create)
}

fn main() -> Result<(), lambda_http::Error> {
    shared::main(env!("CARGO_PKG_NAME"), routes())
}

#[cfg(test)]
mod tests;
