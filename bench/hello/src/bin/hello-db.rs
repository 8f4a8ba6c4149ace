//! `make bench`'s second reference: the floor plus one database round trip per event
//! (`SELECT 1` on one tokio-postgres connection opened at start, sent the way the
//! functions send theirs: `query_typed`, one round trip). Every task route makes one
//! such round trip; what it costs above this is its own work (the token, the pool, the
//! request budget, the row, the JSON).

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let url = std::env::var("DATABASE_URL")?;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let client = &client;
    run(service_fn(move |_: Request| async move {
        let rows = client.query_typed("SELECT 1", &[]).await?;
        let one: i32 = rows[0].get(0);
        Ok::<_, Error>(Response::new(Body::from(one.to_string())))
    }))
    .await
}
