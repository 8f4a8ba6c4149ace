//! `complete`: set or toggle whether one of the caller's tasks is done.

use lambda_http::Error;
use shared::http::Router;
use shared::{TaskState, api};

#[tokio::main]
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
