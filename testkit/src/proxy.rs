//! What the loopback proxies in front of a test database ([`crate::RoundTrips`],
//! [`crate::Partition`]) share: their listener, and a function's state through them.

use crate::TestDb;
use shared::FunctionState;
use shared::config::{Config, Secret};

/// A loopback listener for a proxy in front of `db`: the listener, the database URL
/// through it, and the database's own address.
pub(crate) async fn in_front_of(db: &TestDb) -> (tokio::net::TcpListener, String, String) {
    let target = url::Url::parse(&db.url).unwrap();
    let upstream = format!(
        "{}:{}",
        target.host_str().unwrap(),
        target.port().unwrap_or(5432)
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut url = target;
    url.set_port(Some(listener.local_addr().unwrap().port()))
        .unwrap();
    (listener, url.into(), upstream)
}

/// A function's state from `config` whose one pooled connection goes through the proxy
/// at `url`, already connected (so connecting and the migration check are behind us).
pub(crate) async fn state_through<S: FunctionState>(url: &str, mut config: Config) -> S {
    config.database.url = Secret::new(url.to_owned());
    config.database.pool_max_size = 1;
    let state = S::new(&config).await.expect("state builds");
    state
        .db()
        .ping()
        .await
        .expect("database reachable through the proxy");
    state
}
