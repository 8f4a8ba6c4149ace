//! The data layer against real servers: migrations racing on a fresh database, and TLS
//! against a cluster that, like Neon, accepts only TLS with SCRAM passwords.

use shared::config::{DatabaseConfig, Secret};
use shared::db::Database;
use shared::db::migrate::{MIGRATIONS, run};
use testkit::{RoundTrips, TestDb, tls_cluster};

/// Runs the migrations from 8 instances starting at once, each connected through
/// `url`, and returns what each applied; nobody may fail.
async fn start_together(url: &str) -> Vec<Vec<i64>> {
    let mut runs = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let url = url.to_owned();
        runs.spawn(async move {
            let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            run(&mut client).await
        });
    }
    let mut applied: Vec<Vec<i64>> = Vec::new();
    while let Some(result) = runs.join_next().await {
        applied.push(result.unwrap().expect("no instance fails"));
    }
    applied
}

/// One instance applied every migration, the other seven nothing.
fn applied_once(applied: &[Vec<i64>]) {
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(
        applied.iter().filter(|a| **a == all).count(),
        1,
        "{applied:?}"
    );
    assert_eq!(
        applied.iter().filter(|a| a.is_empty()).count(),
        7,
        "{applied:?}"
    );
}

/// Instances starting together: each migration is applied exactly once, nobody fails,
/// and a later start finds nothing to do.
#[tokio::test]
async fn concurrent_starts_apply_each_migration_once() {
    let db = TestDb::empty().await;
    applied_once(&start_together(&db.url).await);

    let mut client = db.client().await;
    let rows = client
        .query(
            "SELECT version, name FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap();
    let names: Vec<String> = rows.iter().map(|r| r.get(1)).collect();
    assert_eq!(names, MIGRATIONS.iter().map(|m| m.name).collect::<Vec<_>>());
    assert!(run(&mut client).await.unwrap().is_empty());
    // A cold start with nothing to apply costs one round trip and takes no lock.
    let trips = RoundTrips::proxy(&db).await;
    let (mut through, connection) = tokio_postgres::connect(&trips.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let (n, applied) = trips.of(run(&mut through)).await;
    assert_eq!((n, applied.unwrap().len()), (1, 0));
    // The schema is really there.
    client
        .execute("INSERT INTO tasks (user_id, title) VALUES ('u', 't')", &[])
        .await
        .unwrap();
}

fn tls_database(query: &str) -> Database {
    let c = tls_cluster();
    Database::new(&DatabaseConfig {
        url: Secret::new(format!(
            "postgres://postgres:{}@localhost:{}/postgres?{query}",
            c.password, c.port
        )),
        pool_max_size: 1,
        auto_migrate: false,
        request_budget: shared::config::REQUEST_BUDGET,
        task_events: None,
    })
    .expect("the pool builds")
}

/// The error and all its causes, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Neon's settings against a server that takes only TLS and SCRAM: the certificate is
/// verified against the given CA and the host name, and channel binding holds.
#[tokio::test]
async fn tls_with_channel_binding_against_a_private_ca() {
    let ca = tls_cluster().ca_file.display().to_string();
    let db = tls_database(&format!(
        "sslmode=verify-full&channel_binding=require&sslrootcert={ca}"
    ));
    let encrypted = db
        .read(async |client| {
            let row = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await?;
            Ok(row.get::<_, bool>(0))
        })
        .await
        .expect("connects over TLS");
    assert!(encrypted, "the session is encrypted");
}

/// Why connecting to the TLS cluster with `query` fails (it must).
async fn refusal(query: &str) -> String {
    let error = tls_database(query).ping().await.expect_err("refused");
    chain(&error)
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    // The compiled-in Mozilla roots do not know the test CA.
    let why = refusal("sslmode=require&sslrootcert=system").await;
    assert!(why.contains("UnknownIssuer"), "{why}");
}

#[tokio::test]
async fn the_server_refuses_a_connection_without_tls() {
    // Proves the cluster above really demands TLS, so the tests above mean something.
    let why = refusal("sslmode=disable").await;
    assert!(why.contains("no encryption"), "{why}");
}

/// The same through PgBouncer in transaction mode (Neon's pooled endpoint): the
/// migration lock is a transaction's and its settings are `SET LOCAL`, so nothing
/// depends on keeping one server connection.
#[tokio::test]
async fn concurrent_starts_apply_each_migration_once_through_pgbouncer() {
    let db = TestDb::empty().await;
    let pooled = db.pooled_config().database.url;
    applied_once(&start_together(pooled.expose()).await);
}

/// Every statement the data layer sends, prepared against the migrated schema: a typo
/// or a dropped column fails here rather than on a request.
#[tokio::test]
async fn every_statement_prepares_against_the_schema() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let modules = [
        ("tasks", shared::db::tasks::STATEMENTS),
        ("users", shared::db::users::STATEMENTS),
        ("logins", shared::db::logins::STATEMENTS),
    ];
    for (module, statements) in modules {
        for (name, sql) in statements {
            if let Err(e) = client.prepare(sql).await {
                panic!("{module}::{name} does not prepare: {}", chain(&e));
            }
        }
    }
}

/// A transaction that lost a race is a 503 with `Retry-After` (nothing was written;
/// sending it again is safe), and a unique violation is a 409 that names no index.
#[tokio::test]
async fn database_errors_are_answered_by_kind() {
    use shared::db::DbError;
    use shared::http::ApiError;

    let db = TestDb::new().await;
    // Write skew under SERIALIZABLE: each reads what the other writes.
    let (one, two) = (db.client().await, db.client().await);
    for (client, read, write) in [(&one, "a", "b"), (&two, "b", "a")] {
        client
            .batch_execute(&format!(
                "BEGIN ISOLATION LEVEL SERIALIZABLE;
                 SELECT count(*) FROM tasks WHERE user_id = '{read}';
                 INSERT INTO tasks (user_id, title) VALUES ('{write}', 'x');"
            ))
            .await
            .unwrap();
    }
    one.batch_execute("COMMIT").await.unwrap();
    let lost = two
        .batch_execute("COMMIT")
        .await
        .expect_err("a serialization failure");
    let error = DbError::from(lost);
    assert!(matches!(error, DbError::Retryable(_)), "{error:?}");
    let response = ApiError::from(error).into_response("r");
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));

    let id = uuid::Uuid::new_v4();
    let insert = "INSERT INTO tasks (id, user_id, title) VALUES ($1, 'a', 'x')";
    one.execute(insert, &[&id]).await.unwrap();
    let error = DbError::from(one.execute(insert, &[&id]).await.unwrap_err());
    assert!(
        matches!(&error, DbError::UniqueViolation { constraint, .. } if constraint == "tasks_pkey")
    );
    let response = ApiError::from(error).into_response("r");
    assert_eq!(response.status(), 409);
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    assert!(!body.contains("tasks_pkey"), "{body}");
}

/// A pool on `db` whose requests have `budget`.
fn with_budget(db: &TestDb, budget: std::time::Duration) -> Database {
    let mut config = db.config();
    config.database.request_budget = budget;
    Database::new(&config.database).unwrap()
}

/// Within one request, every statement counts from the request's start: a second
/// statement gets what the first left, not a fresh budget.
#[tokio::test]
async fn a_request_has_one_deadline_for_all_its_statements() {
    use std::time::{Duration, Instant};
    let db = TestDb::new().await;
    let database = with_budget(&db, Duration::from_millis(700));
    database.ping().await.unwrap();
    let sleep = async |seconds: f64| {
        database
            .read(async |client| {
                client
                    .simple_query(&format!("SELECT pg_sleep({seconds})"))
                    .await
            })
            .await
    };
    // Outside a request, each piece of work has its own budget.
    assert!(sleep(0.4).await.is_ok());
    assert!(sleep(0.4).await.is_ok());
    let started = Instant::now();
    let (first, second) =
        shared::deadline::scope(async { (sleep(0.4).await, sleep(0.4).await) }).await;
    assert!(first.is_ok());
    assert!(
        matches!(second, Err(shared::db::DbError::Timeout(_))),
        "{second:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(700) + shared::db::CANCEL_BUDGET,
        "{elapsed:?}"
    );
}

/// A write's guard: past the deadline the server runs nothing of it; before, the time
/// left is the transaction's `statement_timeout`, so a statement waiting on a lock is
/// stopped there by the server itself, and the write is a 503: nothing changed.
#[tokio::test]
async fn a_write_never_outlives_its_deadline_on_the_server() {
    use std::time::Duration;
    let db = TestDb::new().await;
    let database = with_budget(&db, Duration::from_millis(500));
    let insert = "INSERT INTO tasks (user_id, title) VALUES ('u', 't') RETURNING id";
    assert_eq!(database.write(insert, &[]).await.unwrap().len(), 1);
    let locker = db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let outcome = database.write(insert, &[]).await;
    assert!(
        matches!(
            outcome,
            Err(shared::db::DbError::Unavailable(_) | shared::db::DbError::Timeout(_))
        ),
        "{outcome:?}"
    );
    locker.batch_execute("COMMIT").await.unwrap();
    let count: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM tasks", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
    // A request whose deadline passed before its write began sends nothing (the
    // server's own check of a late arrival: task tests, a_write_lost_in_a_partition_...).
    let past = shared::deadline::scope(async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        database.write(insert, &[]).await
    })
    .await;
    assert!(past.is_err(), "{past:?}");
}

fn config_for(db: &TestDb, auto_migrate: bool) -> shared::config::Config {
    let mut config = db.config();
    config.database.auto_migrate = auto_migrate;
    config
}

async fn has_table(db: &TestDb, name: &str) -> bool {
    db.client()
        .await
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .unwrap()
        .get(0)
}

/// A migration that fails stops the cold start with a message naming it, instead of
/// every request trying again; nothing of it stays applied.
#[tokio::test]
async fn a_failing_migration_stops_the_cold_start() {
    use shared::{FunctionState, TaskState};
    let db = TestDb::empty().await;
    // Something in the way of 0001_create_users.
    db.execute("CREATE TABLE users (x int)").await;
    let Err(error) = TaskState::new(&config_for(&db, true)).await else {
        panic!("the state must not build");
    };
    let message = format!("{error:?}");
    assert!(
        message.contains("migration 1 (create_users) failed"),
        "{message}"
    );
    assert!(
        message.contains("already exists"),
        "the cause is kept: {message}"
    );
    assert!(
        !has_table(&db, "schema_migrations").await,
        "rolled back whole"
    );
}

/// With AUTO_MIGRATE=false a function leaves the schema alone; `migrate` (the tool a
/// pipeline runs before deploying) applies it, once.
#[tokio::test]
async fn migrations_can_run_ahead_of_the_functions() {
    use shared::{FunctionState, TaskState};
    let db = TestDb::empty().await;
    let config = config_for(&db, false);
    TaskState::new(&config)
        .await
        .expect("starts without migrating");
    assert!(!has_table(&db, "tasks").await);
    let tool = Database::new(&config.database).unwrap();
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(tool.migrate().await.unwrap(), all);
    assert_eq!(tool.migrate().await.unwrap(), Vec::<i64>::new());
    assert!(has_table(&db, "tasks").await);
}

/// A migration waits on another lock at most `LOCK_TIMEOUT` (3 s), then fails, rather
/// than queueing traffic behind it.
#[tokio::test]
async fn a_migration_does_not_wait_long_for_a_lock() {
    use std::time::{Duration, Instant};
    let db = TestDb::empty().await;
    // Another transaction is creating `tasks`: 0002_create_tasks has to wait for it.
    let other = db.client().await;
    other
        .batch_execute("BEGIN; CREATE TABLE tasks (x int)")
        .await
        .unwrap();
    let (mut client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let started = Instant::now();
    let error = run(&mut client).await.expect_err("gave up on the lock");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(8),
        "{waited:?}"
    );
    assert!(
        format!("{error:?}").contains("migration 2 (create_tasks)"),
        "{error:?}"
    );
    other.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(run(&mut client).await.unwrap().len(), MIGRATIONS.len());
}

/// A connection whose notices (here: auto_explain's plans, nested statements included)
/// are collected, in the order they come.
async fn explaining_client(
    db: &TestDb,
) -> (
    tokio_postgres::Client,
    tokio::sync::mpsc::UnboundedReceiver<String>,
) {
    let (client, mut connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    let (notices, received) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(message)) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
            if let tokio_postgres::AsyncMessage::Notice(notice) = message {
                let _ = notices.send(notice.message().to_owned());
            }
        }
    });
    client
        .batch_execute(
            "LOAD 'auto_explain'; \
             SET auto_explain.log_min_duration = 0; \
             SET auto_explain.log_nested_statements = on; \
             SET auto_explain.log_level = notice; \
             SET client_min_messages = notice;",
        )
        .await
        .unwrap();
    (client, received)
}

/// The writes that prune as they go (expired idempotency keys in a keyed create; expired
/// events in `record_task_event`, which every write calls with events on) do it through
/// the `created_at` index, also on a young table without statistics, where the planner
/// expects a third of the rows to have expired: pruning must not read every row of a
/// table on every write. Each write runs for real, with auto_explain reporting the plan
/// of every statement it runs, the function's included.
#[tokio::test]
async fn pruning_reads_the_created_at_index_not_the_table() {
    use tokio_postgres::types::ToSql;

    let db = TestDb::new().await;
    let (client, mut plans) = explaining_client(&db).await;
    // Fresh rows only (nothing has expired) and no ANALYZE: the worst case for a plan.
    client
        .batch_execute(
            "INSERT INTO task_events (id, aggregatetype, aggregateid, type, payload) \
                SELECT gen_random_uuid(), 'task', g::text, 'todo.task.created', '{}' \
                FROM generate_series(1, 5000) g; \
             INSERT INTO idempotency_keys \
                (user_id, key, fingerprint, task_id, title, description, completed, created_at) \
                SELECT 'someone', g::text, 'f', gen_random_uuid(), 't', NULL, false, now() \
                FROM generate_series(1, 5000) g;",
        )
        .await
        .unwrap();
    let statement = |name: &str| {
        shared::db::tasks::STATEMENTS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1
    };
    let (owner, source, days, any) = ("someone", "/test", 7_i32, None::<Vec<i64>>);
    let (title, description, completed) = ("t", None::<&str>, false);
    let (key, no_toggle) = ("a-new-key", None::<bool>);
    let task: uuid::Uuid = client
        .query_one(
            statement("INSERT"),
            &[&owner, &title, &description, &completed, &source, &days],
        )
        .await
        .unwrap()
        .get("id");
    let mut writes: Vec<(&str, Vec<&(dyn ToSql + Sync)>)> = vec![
        (
            "INSERT_ONCE",
            vec![
                &owner,
                &title,
                &description,
                &completed,
                &key,
                &"f",
                &source,
                &days,
            ],
        ),
        (
            "REPLACE",
            vec![
                &task,
                &owner,
                &title,
                &description,
                &completed,
                &any,
                &source,
                &days,
            ],
        ),
        (
            "SET_COMPLETED",
            vec![&task, &owner, &no_toggle, &any, &source, &days],
        ),
        ("DELETE", vec![&task, &owner, &any, &source, &days]),
    ];
    writes.insert(
        0,
        (
            "INSERT",
            vec![&owner, &title, &description, &completed, &source, &days],
        ),
    );
    while plans.try_recv().is_ok() {}
    for (name, params) in writes {
        let rows = client.query(statement(name), &params).await.unwrap();
        assert!(!rows.is_empty(), "{name} wrote a row");
        let mut plan = Vec::new();
        while let Ok(notice) = plans.try_recv() {
            plan.push(notice);
        }
        let plan = plan.join("\n");
        for table in ["task_events", "idempotency_keys"] {
            assert!(
                !plan.contains(&format!("Seq Scan on {table}")),
                "{name} scans all of {table}:\n{plan}"
            );
        }
        assert!(plan.contains("task_events_created_idx"), "{name}:\n{plan}");
        assert!(plan.contains("Tid Scan on task_events"), "{name}:\n{plan}");
        if name == "INSERT_ONCE" {
            assert!(plan.contains("idempotency_keys_created_idx"), "{plan}");
            assert!(plan.contains("Tid Scan on idempotency_keys"), "{plan}");
        }
    }
}

/// The login throttle prunes the same way: a few ended windows per attempt, found on
/// the `window_start` index and deleted by TID, never a read of the whole table (5000
/// fresh, unanalysed rows: the worst case for a plan).
#[tokio::test]
async fn login_pruning_reads_the_window_index_not_the_table() {
    let db = TestDb::new().await;
    db.execute(
        "INSERT INTO login_failures (key, failures, window_start) \
            SELECT 'address:10.0.' || (g / 256) || '.' || (g % 256), 1, now() \
            FROM generate_series(1, 5000) g",
    )
    .await;
    let (_, reserve) = shared::db::logins::STATEMENTS
        .iter()
        .find(|(name, _)| *name == "RESERVE")
        .unwrap();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&"ann", &"192.0.2.1", &900.0_f64, &10_i32, &100_i32];
    let plan = db.plan(reserve, &params).await;
    assert!(!plan.contains("Seq Scan on login_failures"), "{plan}");
    assert!(plan.contains("login_failures_window_idx"), "{plan}");
    assert!(plan.contains("Tid Scan"), "{plan}");
}
