//! The listing at scale, against a real server: the totals every write keeps (migration
//! 0009) always equal the rows, and every listing reads its page in order off an index,
//! on a large, analysed table.

use shared::db::Database;
use shared::db::tasks::{self, STATEMENTS};
use shared::model::{Precondition, Subject, TaskChanges, Text, Title};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use testkit::TestDb;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

const OWNERS: [&str; 3] = ["ann", "bob", "cy"];

fn changes(title: &str, completed: bool) -> TaskChanges {
    TaskChanges {
        title: Title::parse(title).unwrap(),
        description: None,
        completed,
    }
}

/// Each owner's (total, completed): counted row by row, and as the triggers keep them
/// (owners whose count fell to zero left out, as counting leaves them out).
const COUNTED: &str =
    "SELECT user_id, count(*), count(*) FILTER (WHERE completed) FROM tasks GROUP BY 1";
const KEPT: &str = "SELECT user_id, total, completed FROM task_counts WHERE total > 0";

async fn counts(db: &TestDb, sql: &str) -> BTreeMap<String, (i64, i64)> {
    let rows = db.client().await.query(sql, &[]).await.unwrap();
    rows.iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect()
}

/// A small, seeded generator: the same mix of writes on every run.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % sides as u64) as usize
    }
}

/// Eight clients at once, through PgBouncer in transaction mode (as on Neon's pooled
/// endpoint), each making 60 random writes of every kind on three owners' tasks:
/// creates (with and without an `Idempotency-Key`, keys reused), replacements, completes
/// and toggles, deletes, with and without `If-Match`, many of them on tasks another
/// client deleted meanwhile. Then the kept counts equal the rows, owner by owner, and
/// every listing's `total` equals its rows.
#[tokio::test]
async fn kept_totals_equal_the_rows_after_concurrent_writes_through_pgbouncer() {
    let test_db = TestDb::new().await;
    let db = Arc::new(Database::new(&test_db.pooled_config().database).unwrap());
    let ids: Arc<Mutex<Vec<(usize, Uuid, i64)>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..8u64 {
        let (db, ids) = (db.clone(), ids.clone());
        clients.push(tokio::spawn(async move {
            let mut dice = Dice(0x9E37_79B9_7F4A_7C15 ^ (client + 1));
            for step in 0..60 {
                let who = dice.roll(OWNERS.len());
                let owner = Subject::parse(OWNERS[who]).unwrap();
                let known = {
                    let ids = ids.lock().unwrap();
                    let mine: Vec<_> = ids.iter().filter(|(w, ..)| *w == who).cloned().collect();
                    (!mine.is_empty()).then(|| mine[dice.roll(mine.len())])
                };
                // A stale or a current version, or none.
                let only_if = |version: i64, dice: &mut Dice| match dice.roll(3) {
                    0 => None,
                    1 => Some(Precondition::Versions(vec![version])),
                    _ => Some(Precondition::Versions(vec![version + 100])),
                };
                let completed = dice.roll(2) == 0;
                let written = match (dice.roll(6), known) {
                    (0 | 1, _) | (_, None) => {
                        let c = changes(&format!("c{client} s{step}"), completed);
                        let task = if dice.roll(2) == 0 {
                            tasks::create(&db, &owner, &c).await.unwrap()
                        } else {
                            // Few keys: many a create is a replay or a reused key.
                            let key = format!("key-{}", dice.roll(4));
                            match tasks::create_once(&db, &owner, &c, &key, c.title.as_str())
                                .await
                                .unwrap()
                            {
                                tasks::Created::New(task) => task,
                                _ => continue,
                            }
                        };
                        Some(task)
                    }
                    (2, Some((_, id, v))) => {
                        let c = changes("replaced", completed);
                        let only_if = only_if(v, &mut dice);
                        tasks::replace(&db, &owner, id, &c, only_if.as_ref())
                            .await
                            .unwrap()
                    }
                    (3 | 4, Some((_, id, v))) => {
                        let set = [None, Some(true), Some(false)][dice.roll(3)];
                        let only_if = only_if(v, &mut dice);
                        tasks::set_completed(&db, &owner, id, set, only_if.as_ref())
                            .await
                            .unwrap()
                    }
                    (_, Some((_, id, v))) => {
                        let only_if = only_if(v, &mut dice);
                        let deleted = tasks::delete(&db, &owner, id, only_if.as_ref())
                            .await
                            .unwrap();
                        if deleted.is_some() {
                            ids.lock().unwrap().retain(|(_, known, _)| *known != id);
                        }
                        None
                    }
                };
                if let Some(task) = written {
                    let mut ids = ids.lock().unwrap();
                    ids.retain(|(_, known, _)| *known != task.id);
                    ids.push((who, task.id, task.version));
                }
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    let rows = counts(&test_db, COUNTED).await;
    assert!(rows.len() == 3, "every owner has tasks left: {rows:?}");
    assert_eq!(counts(&test_db, KEPT).await, rows);
    for (owner, (total, completed)) in rows {
        let subject = Subject::parse(&owner).unwrap();
        for (filter, expected) in [
            (None, total),
            (Some(true), completed),
            (Some(false), total - completed),
        ] {
            let mut query = shared::model::ListQuery::parse(|_| None).unwrap();
            query.completed = filter;
            let page = tasks::list(&db, &subject, &query).await.unwrap();
            assert_eq!(page.total, expected, "{owner} completed={filter:?}");
        }
    }
}

/// A write that is refused or fails changes no count: a stale `If-Match`, another
/// owner's task, a reused key, a statement the server rejects, a deadline already past.
#[tokio::test]
async fn a_refused_or_failed_write_leaves_the_totals_alone() {
    let test_db = TestDb::new().await;
    let db = Database::new(&test_db.config().database).unwrap();
    let ann = Subject::parse("ann").unwrap();
    let bob = Subject::parse("bob").unwrap();
    let task = tasks::create(&db, &ann, &changes("one", false))
        .await
        .unwrap();
    tasks::create_once(&db, &ann, &changes("keyed", true), "k", "first")
        .await
        .unwrap();
    let before = counts(&test_db, KEPT).await;
    assert_eq!(before, BTreeMap::from([("ann".to_owned(), (2, 1))]));
    let stale = Precondition::Versions(vec![task.version + 1]);
    let done = changes("done", true);
    assert!(
        tasks::replace(&db, &ann, task.id, &done, Some(&stale))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tasks::set_completed(&db, &ann, task.id, Some(true), Some(&stale))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tasks::delete(&db, &ann, task.id, Some(&stale))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tasks::delete(&db, &bob, task.id, None)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tasks::set_completed(&db, &bob, task.id, None, None)
            .await
            .unwrap()
            .is_none()
    );
    let reused = tasks::create_once(&db, &ann, &changes("other", true), "k", "second")
        .await
        .unwrap();
    assert!(matches!(reused, tasks::Created::KeyReused), "{reused:?}");
    // Rejected by the server (an empty title breaks the table's CHECK): the trigger's
    // change is undone with the statement.
    let client = test_db.client().await;
    let rejected = client
        .execute(
            "INSERT INTO tasks (user_id, title, completed) VALUES ('ann', '', true)",
            &[],
        )
        .await;
    assert!(rejected.is_err());
    // A request whose deadline has passed before its write reaches the server.
    let mut late = test_db.config();
    late.database.request_budget = std::time::Duration::ZERO;
    let late = Database::new(&late.database).unwrap();
    assert!(
        tasks::create(&late, &ann, &changes("late", true))
            .await
            .is_err()
    );
    assert_eq!(counts(&test_db, KEPT).await, before);
    assert_eq!(counts(&test_db, COUNTED).await, before);
}

/// Tasks enough that reading all of one owner's, or sorting them, would show in a plan:
/// 100 000 for one owner (a third completed, titles with many ties) beside 2 000 owners
/// of 10, then ANALYZE.
async fn large_table(db: &TestDb) -> tokio_postgres::Client {
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO tasks (user_id, title, completed, created_at, updated_at) \
                SELECT 'heavy', 'task ' || (g % 997), g % 3 = 0, \
                    now() - g * interval '1 second', now() - (g % 5000) * interval '1 minute' \
                FROM generate_series(1, 100000) g; \
             INSERT INTO tasks (user_id, title, completed) \
                SELECT 'owner ' || (g % 2000), 'task ' || g, g % 2 = 0 \
                FROM generate_series(1, 20000) g; \
             ANALYZE tasks; ANALYZE task_counts;",
        )
        .await
        .unwrap();
    client
}

/// Every listing statement, for every filter, first page and a page after a cursor deep
/// in the list, plans as a walk of the index for its sort: no sort, no sequential scan,
/// and the total from the kept counts.
#[tokio::test]
async fn every_listing_reads_its_page_off_its_index() {
    let db = TestDb::new().await;
    let client = large_table(&db).await;
    let (at, id): (chrono::DateTime<chrono::Utc>, Uuid) = {
        let row = client
            .query_one(
                "SELECT created_at, id FROM tasks WHERE user_id = 'heavy' ORDER BY created_at, id OFFSET 60000 LIMIT 1",
                &[],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let title = "task 500";
    for (name, sql) in STATEMENTS.iter().filter(|(n, _)| n.starts_with("LIST_")) {
        let column = match *name {
            n if n.starts_with("LIST_CREATED") => "created",
            n if n.starts_with("LIST_UPDATED") => "updated",
            _ => "title",
        };
        for completed in [None, Some(true), Some(false)] {
            for deep in [false, true] {
                let (after_time, after_title, after_id) = match (deep, column) {
                    (false, _) => (None, None, None),
                    (true, "title") => (None, Some(title), Some(id)),
                    (true, _) => (Some(at), None, Some(id)),
                };
                let after_key: &(dyn ToSql + Sync) = if column == "title" {
                    &after_title
                } else {
                    &after_time
                };
                let params: [&(dyn ToSql + Sync); 6] =
                    [&"heavy", &completed, &21_i64, &0_i64, after_key, &after_id];
                let plan = db.plan(sql, &params).await;
                let case = format!("{name}, completed={completed:?}, after a cursor: {deep}");
                assert!(!plan.contains("Sort"), "{case}:\n{plan}");
                assert!(!plan.contains("Seq Scan"), "{case}:\n{plan}");
                let index = match completed {
                    None => format!("tasks_user_{column}_idx"),
                    Some(_) => format!("tasks_user_completed_{column}_idx"),
                };
                assert!(
                    plan.contains(&format!(" using {index} on tasks")),
                    "{case}: {index}\n{plan}"
                );
                // `task_total` (one lookup of the owner's kept counts) once, not per row.
                assert!(plan.contains("InitPlan"), "{case}: the kept total\n{plan}");
            }
        }
    }
}
