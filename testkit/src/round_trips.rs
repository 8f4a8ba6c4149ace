//! Counting database round trips, to prove "one request, one round trip".

use crate::TestDb;
use shared::FunctionState;

/// A loopback proxy in front of the test database that counts round trips: the times a
/// client sends a request while it waits for no answer. Requests that go out together
/// (pipelined, as a write's guard, statement and commit do) are one round trip; each
/// `Sync` (extended protocol) or `Query` (simple protocol) is answered by one
/// `ReadyForQuery`, which is how the proxy knows when nothing is pending. Lets tests
/// prove "one request, one round trip".
pub struct RoundTrips {
    pub url: String,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// Complete protocol messages (a type byte, then a length that counts itself) at the
/// front of `buf`: their types, and how many bytes they take.
fn messages(buf: &[u8]) -> (Vec<u8>, usize) {
    let (mut types, mut at) = (Vec::new(), 0);
    while buf.len() >= at + 5 {
        let len = u32::from_be_bytes([buf[at + 1], buf[at + 2], buf[at + 3], buf[at + 4]]) as usize;
        if buf.len() < at + 1 + len {
            break;
        }
        types.push(buf[at]);
        at += 1 + len;
    }
    (types, at)
}

impl RoundTrips {
    /// Starts the proxy for `db`; connect through [`RoundTrips::url`] (no TLS).
    pub async fn proxy(db: &TestDb) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let (listener, url, upstream) = crate::proxy::in_front_of(db).await;
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let counter = counter.clone();
                // Requests sent and not yet answered by a ReadyForQuery; the startup
                // exchange ends with one too.
                let pending = Arc::new(AtomicIsize::new(1));
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    let answered = pending.clone();
                    tokio::spawn(async move {
                        let mut buf = Vec::new();
                        let mut chunk = [0u8; 16 * 1024];
                        while let Ok(n @ 1..) = server_read.read(&mut chunk).await {
                            buf.extend_from_slice(&chunk[..n]);
                            let (types, used) = messages(&buf);
                            let ready = types.iter().filter(|t| **t == b'Z').count();
                            answered.fetch_sub(ready as isize, Ordering::SeqCst);
                            buf.drain(..used);
                            if client_write.write_all(&chunk[..n]).await.is_err() {
                                return;
                            }
                        }
                    });
                    // The startup message has a length but no type byte.
                    let mut len = [0u8; 4];
                    if client_read.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
                    if client_read.read_exact(&mut body).await.is_err()
                        || server_write.write_all(&len).await.is_err()
                        || server_write.write_all(&body).await.is_err()
                    {
                        return;
                    }
                    assert_ne!(
                        body.get(..4),
                        Some(&[4, 210, 22, 47][..]),
                        "the round-trip proxy speaks no TLS: use sslmode=disable"
                    );
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 16 * 1024];
                    while let Ok(n @ 1..) = client_read.read(&mut chunk).await {
                        buf.extend_from_slice(&chunk[..n]);
                        let (types, used) = messages(&buf);
                        buf.drain(..used);
                        let requests = types.iter().filter(|t| matches!(t, b'S' | b'Q')).count();
                        if requests > 0
                            && pending.fetch_add(requests as isize, Ordering::SeqCst) <= 0
                        {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        if server_write.write_all(&chunk[..n]).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Self { url, count }
    }

    /// A state whose pool connects through the proxy, warmed so that connecting and
    /// the migration check are behind us.
    pub async fn state<S: FunctionState>(&self, db: &TestDb) -> S {
        self.state_from(db.config()).await
    }

    /// [`RoundTrips::state`] from this configuration (its URL replaced by the proxy's).
    pub async fn state_from<S: FunctionState>(&self, config: shared::config::Config) -> S {
        crate::proxy::state_through(&self.url, config).await
    }

    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many round trips `work` made.
    pub async fn of<T>(&self, work: impl std::future::Future<Output = T>) -> (usize, T) {
        let before = self.count();
        let out = work.await;
        (self.count() - before, out)
    }
}
