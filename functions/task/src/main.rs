//! `task`: read, replace and delete one of the caller's tasks.

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
    const TASK: &str = "/api/{user_id}/tasks/{id}";
    Router::new()
        .get(TASK, |s, req, p| Box::pin(api::tasks::get(s, req, p)))
        .put(TASK, |s, req, p| Box::pin(api::tasks::replace(s, req, p)))
        .delete(TASK, |s, req, p| Box::pin(api::tasks::delete(s, req, p)))
}

#[cfg(test)]
mod tests;
