//! `make bench`'s floor: the least a `lambda_http` function can do (answer every event
//! with a fixed 200), on the same runtime flavour and release profile as the functions.
//! What a function costs above this is ours to explain.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
