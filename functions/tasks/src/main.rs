//! `tasks`: list and create the caller's tasks.

use lambda_http::Error;
use shared::http::Router;
use shared::{TaskState, api};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::start::<TaskState>(routes()).await
}

fn routes() -> Router<TaskState> {
    Router::new()
        .get("/api/{user_id}/tasks", |s, req, p| {
            Box::pin(api::tasks::list(s, req, p))
        })
        .post("/api/{user_id}/tasks", |s, req, p| {
            Box::pin(api::tasks::create(s, req, p))
        })
}

#[cfg(test)]
mod tests;
