//! A network partition between a function and its database, on demand.

use crate::TestDb;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// A loopback proxy in front of the test database that can be cut: while it is
/// [held](Partition::hold), nothing passes either way and new connections (cancel
/// requests included) wait, but nothing is lost either: once [healed](Partition::heal),
/// what was sent arrives late, as TCP delivers it after a partition ends.
pub struct Partition {
    pub url: String,
    held: Arc<watch::Sender<bool>>,
}

impl Partition {
    /// Starts the proxy for `db`; connect through [`Partition::url`] (no TLS).
    pub async fn proxy(db: &TestDb) -> Self {
        let (listener, url, upstream) = crate::proxy::in_front_of(db).await;
        let held = Arc::new(watch::Sender::new(false));
        let gate = held.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let gate = gate.subscribe();
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    passable(gate.clone()).await;
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::spawn(pipe(server_read, client_write, gate.clone()));
                    pipe(client_read, server_write, gate).await;
                });
            }
        });
        Self { url, held }
    }

    /// A function's state whose one pooled connection goes through the partition, with
    /// a request budget of [`Partition::BUDGET`], already connected.
    pub async fn state<S: shared::FunctionState>(&self, db: &TestDb) -> S {
        let mut config = db.config();
        config.database.request_budget = Self::BUDGET;
        crate::proxy::state_through(&self.url, config).await
    }

    /// The request budget of [`Partition::state`]'s functions: short, so tests that
    /// wait it out stay quick.
    pub const BUDGET: std::time::Duration = std::time::Duration::from_millis(600);

    /// The longest any request of such a state may take: its budget, the cancel's, and
    /// room for a busy test machine.
    pub fn bound() -> std::time::Duration {
        Self::BUDGET + shared::db::CANCEL_BUDGET + std::time::Duration::from_millis(400)
    }

    /// Cuts the connection: nothing passes until [`Partition::heal`].
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    /// Lets everything through again, what was held first.
    pub fn heal(&self) {
        self.held.send_replace(false);
    }
}

async fn passable(mut gate: watch::Receiver<bool>) {
    let _ = gate.wait_for(|held| !held).await;
}

async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    gate: watch::Receiver<bool>,
) {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        passable(gate.clone()).await;
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Read while passable, but the cut may have come since: hold it until healed.
        passable(gate.clone()).await;
        if to.write_all(&chunk[..n]).await.is_err() {
            return;
        }
    }
}
