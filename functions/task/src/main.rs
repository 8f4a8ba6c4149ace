//! `task`: read, replace and delete one of the caller's tasks.

use shared::{TaskState, api, http::Router};

fn routes() -> Router<TaskState> {
    Router::new()
        .at("/api/{user_id}/tasks/{id}")
        .get(api::tasks::get)
        .put(api::tasks::replace)
        .delete(api::tasks::delete)
}

fn main() -> Result<(), lambda_http::Error> {
    shared::main(env!("CARGO_PKG_NAME"), routes())
}

#[cfg(test)]
mod tests;
