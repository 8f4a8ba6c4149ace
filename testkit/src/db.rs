//! A database of its own for each test, copied from a migrated template.

use crate::TEST_SECRET;
use crate::cluster::{cluster_url, with_dbname};
use shared::FunctionState;
use shared::config::{AuthConfig, Config, DatabaseConfig, HttpConfig, Secret};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use tokio_postgres::types::ToSql;

pub(crate) async fn admin() -> tokio_postgres::Client {
    let url = cluster_url();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                return client;
            }
            // "the database system is starting up"
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("cannot connect to the test cluster: {e}"),
        }
    }
}

/// A migrated template database, made once per cluster and migration set.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let mut fingerprint = 0u64;
            for m in shared::db::migrate::MIGRATIONS {
                for b in m.sql.bytes().chain(m.name.bytes()) {
                    fingerprint = fingerprint
                        .wrapping_mul(1_099_511_628_211)
                        .wrapping_add(u64::from(b));
                }
            }
            let name = format!("todo_template_{fingerprint:016x}");
            let admin = admin().await;
            let exists = admin
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .unwrap()
                .is_some();
            if !exists {
                let building = format!("{name}_{}", std::process::id());
                admin
                    .batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .unwrap();
                {
                    let (mut client, connection) = tokio_postgres::connect(
                        &with_dbname(cluster_url(), &building),
                        tokio_postgres::NoTls,
                    )
                    .await
                    .unwrap();
                    let task = tokio::spawn(connection);
                    shared::db::migrate::run(&mut client).await.unwrap();
                    drop(client);
                    let _ = task.await;
                }
                // Another test process may have won the race: then use its template.
                if admin
                    .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .await
                    .is_err()
                {
                    admin
                        .batch_execute(&format!("DROP DATABASE {building}"))
                        .await
                        .unwrap();
                }
            }
            name
        })
        .await
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        Self::from_template(template().await).await
    }

    /// A database with no schema at all (for migration tests).
    pub async fn empty() -> Self {
        Self::from_template("template0").await
    }

    async fn from_template(template: &str) -> Self {
        let name = format!("todo_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin().await;
        // CREATE DATABASE ... TEMPLATE refuses while another creation copies it: retry.
        let mut attempts = 0;
        loop {
            match admin
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20 * attempts)).await;
                }
                Err(e) => panic!("creating {name}: {e}"),
            }
        }
        let url = with_dbname(cluster_url(), &name);
        Self { name, url }
    }

    /// A configuration pointing at this database, with the test secret and cost 10.
    pub fn config(&self) -> Config {
        Config {
            database: DatabaseConfig {
                url: Secret::new(self.url.clone()),
                pool_max_size: 4,
                auto_migrate: true,
                request_budget: shared::config::REQUEST_BUDGET,
                task_events: None,
            },
            auth: Self::auth_config(),
            http: HttpConfig::default(),
        }
    }

    /// [`TestDb::config`] through PgBouncer in transaction mode ([`crate::pooler_port`]),
    /// as a function on Neon's pooled endpoint connects.
    pub fn pooled_config(&self) -> Config {
        let mut config = self.config();
        let mut url = url::Url::parse(&self.url).expect("the test database's URL");
        url.set_host(Some("127.0.0.1")).unwrap();
        url.set_port(Some(crate::pooler_port())).unwrap();
        config.database.url = Secret::new(url.to_string());
        config
    }

    /// [`TestDb::config`] with a database nothing listens for (port 1) and a 2 s
    /// connect timeout: a database that is down.
    pub fn unreachable_config(&self) -> Config {
        let mut config = self.config();
        config.database.url =
            Secret::new("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2");
        config
    }

    /// The token settings of [`TestDb::config`].
    pub fn auth_config() -> AuthConfig {
        AuthConfig {
            secret: Secret::new(TEST_SECRET),
            expires_in: 1800,
            issuer: None,
            audience: None,
            bcrypt_cost: 10,
            jwks: None,
            throttle: shared::config::Throttle {
                max_failures: 10,
                max_address_failures: 100,
                window: std::time::Duration::from_secs(900),
            },
        }
    }

    /// A function's state on this database.
    pub async fn state<S: FunctionState>(&self) -> S {
        S::new(&self.config()).await.expect("state builds")
    }

    /// [`TestDb::config`] with `TASK_EVENTS=outbox` (source `/test`).
    pub fn config_with_events(&self) -> Config {
        let mut config = self.config();
        config.database.task_events = Some(shared::config::TaskEvents {
            source: "/test".into(),
            retention_days: 7,
        });
        config
    }

    /// The recorded task events, oldest first: (type, aggregateid, payload), each row's
    /// columns checked against its payload.
    pub async fn events(&self) -> Vec<(String, String, serde_json::Value)> {
        let rows = self
            .client()
            .await
            .query(
                "SELECT id, aggregatetype, aggregateid, type, payload FROM task_events \
                 ORDER BY created_at, (payload->>'time')",
                &[],
            )
            .await
            .expect("task_events is readable");
        rows.iter()
            .map(|row| {
                let id: uuid::Uuid = row.get("id");
                let payload: serde_json::Value = row.get("payload");
                let kind: String = row.get("type");
                assert_eq!(row.get::<_, String>("aggregatetype"), "task");
                assert_eq!(
                    payload["id"],
                    id.to_string(),
                    "the envelope's id is the row's"
                );
                assert_eq!(payload["type"], kind.as_str());
                (kind, row.get("aggregateid"), payload)
            })
            .collect()
    }

    /// Runs `sql`, one statement or several, on a connection of its own (to set up what
    /// a test needs in the database).
    pub async fn execute(&self, sql: &str) {
        self.client()
            .await
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The first column of the one row `sql` returns: a count, a flag, a stored value.
    pub async fn scalar<T>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> T
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        self.client()
            .await
            .query_one(sql, params)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
    }

    /// The first column of every row `sql` returns, in order.
    pub async fn column<T>(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Vec<T>
    where
        T: for<'a> tokio_postgres::types::FromSql<'a>,
    {
        let rows = self.client().await.query(sql, params).await;
        let rows = rows.unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows.iter().map(|row| row.get(0)).collect()
    }

    /// The plan PostgreSQL chooses for `sql` with `params` (planned with their values,
    /// as the functions' statements are), as EXPLAIN prints it.
    pub async fn plan(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> String {
        let rows = self
            .client()
            .await
            .query(&format!("EXPLAIN {sql}"), params)
            .await;
        let rows = rows.unwrap_or_else(|e| panic!("EXPLAIN {sql}: {e}"));
        let lines: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        lines.join("\n")
    }

    /// A plain connection, for checking what the handlers wrote.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = admin().await;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}
