//! `complete`: set or toggle whether one of the caller's tasks is done.

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
    Router::new().patch("/api/{user_id}/tasks/{id}/complete", |s, req, p| {
        Box::pin(api::tasks::complete(s, req, p))
    })
}

#[cfg(test)]
mod tests;
