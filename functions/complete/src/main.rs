//! `complete`: set or toggle whether one of the caller's tasks is done.

use shared::{TaskState, api, http::Router};

fn routes() -> Router<TaskState> {
    Router::new()
        .at("/api/{user_id}/tasks/{id}/complete")
        .patch(api::tasks::complete)
}

fn main() -> Result<(), lambda_http::Error> {
    shared::main(env!("CARGO_PKG_NAME"), routes())
}

#[cfg(test)]
mod tests;
