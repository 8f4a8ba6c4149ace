//! The task events outbox as change data capture sees it: the changes read back through
//! a logical replication slot (`test_decoding`, built into PostgreSQL), the stream a
//! Debezium connector would read. The test cluster runs with `wal_level=logical`.

use shared::db::{Database, tasks};
use shared::model::{Subject, TaskChanges, Text, Title};
use std::collections::HashMap;
use testkit::TestDb;

/// One committed transaction's changes, in commit order: (table, operation, key), the
/// key being the task id (`tasks`) or the event's `aggregateid` (`task_events`).
type Transaction = Vec<(String, String, String)>;

/// Parses `test_decoding`'s lines into transactions.
fn transactions(lines: &[String]) -> Vec<Transaction> {
    let field = |line: &str, name: &str| -> Option<String> {
        let start = line.find(&format!("{name}["))?;
        let rest = &line[start..];
        let quote = rest.find("]:'")? + 3;
        let end = rest[quote..].find('\'')?;
        Some(rest[quote..quote + end].to_owned())
    };
    let mut all = Vec::new();
    let mut open: Option<Transaction> = None;
    for line in lines {
        if line.starts_with("BEGIN") {
            open = Some(Vec::new());
        } else if line.starts_with("COMMIT") {
            all.push(open.take().expect("a COMMIT follows a BEGIN"));
        } else if let Some(change) = line.strip_prefix("table public.") {
            let (table, rest) = change.split_once(": ").expect("table: OP: columns");
            let (op, _) = rest.split_once(':').expect("OP: columns");
            let key = match table {
                "tasks" => field(line, "id"),
                "task_events" => field(line, "aggregateid"),
                _ => None,
            };
            if let (Some(tx), Some(key)) = (open.as_mut(), key) {
                tx.push((table.to_owned(), op.to_owned(), key));
            }
        }
    }
    all
}

#[tokio::test]
async fn every_task_change_is_followed_by_exactly_its_event_in_commit_order() {
    let db = TestDb::new().await;
    let admin = db.client().await;
    let wal: String = admin.query_one("SHOW wal_level", &[]).await.unwrap().get(0);
    assert_eq!(
        wal, "logical",
        "the test cluster runs with wal_level=logical"
    );
    let slot = format!("events_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(
            "SELECT pg_create_logical_replication_slot($1, 'test_decoding')",
            &[&slot],
        )
        .await
        .unwrap();

    let mut config = db.config_with_events().database;
    config.pool_max_size = 8;
    let database = std::sync::Arc::new(Database::new(&config).unwrap());
    // Eight writers at once, each creating, replacing, completing and deleting tasks.
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..8 {
        let database = database.clone();
        writers.spawn(async move {
            let owner = Subject::parse(&format!("writer-{writer}")).unwrap();
            let changes = |title: &str| TaskChanges {
                title: Title::parse(title).unwrap(),
                description: None,
                completed: false,
            };
            for round in 0..5 {
                let task = tasks::create(&database, &owner, &changes(&format!("t{round}")))
                    .await
                    .unwrap();
                tasks::replace(&database, &owner, task.id, &changes("replaced"), None)
                    .await
                    .unwrap()
                    .unwrap();
                tasks::set_completed(&database, &owner, task.id, None, None)
                    .await
                    .unwrap()
                    .unwrap();
                if round % 2 == 0 {
                    tasks::delete(&database, &owner, task.id, None)
                        .await
                        .unwrap()
                        .unwrap();
                }
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }

    // The test cluster commits asynchronously (synchronous_commit=off) and a slot reads
    // only WAL that is flushed: wait until the WAL writer has flushed all of it.
    let written: String = admin
        .query_one("SELECT pg_current_wal_insert_lsn()::text", &[])
        .await
        .unwrap()
        .get(0);
    for _ in 0..100 {
        let flushed: bool = admin
            .query_one(
                "SELECT pg_current_wal_flush_lsn() >= $1::text::pg_lsn",
                &[&written],
            )
            .await
            .unwrap()
            .get(0);
        if flushed {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let lines: Vec<String> = admin
        .query(
            "SELECT data FROM pg_logical_slot_get_changes($1, NULL, NULL)",
            &[&slot],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    admin
        .execute("SELECT pg_drop_replication_slot($1)", &[&slot])
        .await
        .unwrap();

    let stream = transactions(&lines);
    let writes: Vec<&Transaction> = stream
        .iter()
        .filter(|tx| tx.iter().any(|(table, _, _)| table == "tasks"))
        .collect();
    // 8 writers x 5 rounds x (create, replace, complete) + 8 x 3 deletes.
    assert_eq!(writes.len(), 8 * 5 * 3 + 8 * 3);
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for tx in &writes {
        // The change, then its event: nothing else, nothing between.
        assert_eq!(tx.len(), 2, "{tx:?}");
        let (table, op, task) = &tx[0];
        let (event_table, event_op, aggregate) = &tx[1];
        assert_eq!(table, "tasks");
        assert_eq!(
            (event_table.as_str(), event_op.as_str()),
            ("task_events", "INSERT")
        );
        assert_eq!(aggregate, task, "the event is about the task it follows");
        seen.entry(task.clone()).or_default().push(op.clone());
    }
    // Per task, the changes in the order they were made.
    assert_eq!(seen.len(), 8 * 5);
    for ops in seen.values() {
        assert!(
            ops == &["INSERT", "UPDATE", "UPDATE"]
                || ops == &["INSERT", "UPDATE", "UPDATE", "DELETE"],
            "{ops:?}"
        );
    }
    // And the table holds exactly one event per change, typed by what happened.
    let kinds: Vec<(String, i64)> = db
        .client()
        .await
        .query(
            "SELECT type, count(*) FROM task_events GROUP BY type ORDER BY type",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        kinds,
        [
            ("todo.task.completed".to_owned(), 40),
            ("todo.task.created".to_owned(), 40),
            ("todo.task.deleted".to_owned(), 24),
            ("todo.task.replaced".to_owned(), 40),
        ]
    );
}
