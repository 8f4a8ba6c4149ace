//! `tasks`: list and create the caller's tasks.

use lambda_http::Error;
use shared::http::Router;
use shared::{TaskState, api};

// Lambda hands an instance one event at a time: one thread does the least work per
// event (see `shared::start`). bcrypt still runs on the blocking pool.
#[tokio::main(flavor = "current_thread")]
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
