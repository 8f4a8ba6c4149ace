//! Counting database round trips, to prove "one request, one round trip".

use crate::TestDb;
use shared::FunctionState;
use shared::config::Secret;

/// A loopback proxy in front of the test database that counts round trips: every
/// `Sync` (extended protocol) or `Query` (simple protocol) message a client sends ends
/// one exchange with the server. Lets tests prove "one request, one round trip".
pub struct RoundTrips {
    pub url: String,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RoundTrips {
    /// Starts the proxy for `db`; connect through [`RoundTrips::url`] (no TLS).
    pub async fn proxy(db: &TestDb) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let target = url::Url::parse(&db.url).unwrap();
        let upstream = format!(
            "{}:{}",
            target.host_str().unwrap(),
            target.port().unwrap_or(5432)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut url = target.clone();
        url.set_port(Some(listener.local_addr().unwrap().port()))
            .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
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
                    loop {
                        let mut head = [0u8; 5];
                        if client_read.read_exact(&mut head).await.is_err() {
                            return;
                        }
                        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
                        let mut body = vec![0u8; len.saturating_sub(4)];
                        if client_read.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        if matches!(head[0], b'S' | b'Q') {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        if server_write.write_all(&head).await.is_err()
                            || server_write.write_all(&body).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url: url.into(),
            count,
        }
    }

    /// A state whose pool connects through the proxy, warmed so that connecting and
    /// the migration check are behind us.
    pub async fn state<S: FunctionState>(&self, db: &TestDb) -> S {
        self.state_from(db.config()).await
    }

    /// [`RoundTrips::state`] from this configuration (its URL replaced by the proxy's).
    pub async fn state_from<S: FunctionState>(&self, mut config: shared::config::Config) -> S {
        config.database.url = Secret::new(self.url.clone());
        config.database.pool_max_size = 1;
        let state = S::new(&config).await.expect("state builds");
        state
            .db()
            .ping()
            .await
            .expect("database reachable through the proxy");
        state
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
