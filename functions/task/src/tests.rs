//! Handler tests: real API Gateway v2 events against a real, throwaway Postgres.

use super::routes;
use serde_json::{Value, json};
use shared::TaskState;
use std::time::Duration;
use testkit::{ANN, BOB, Event, Harness, MISSING, Partition, RoundTrips, TestDb, token, within};

/// The routes are exactly this function's part of the workspace's one route table
/// (testkit/tests/workspace.rs checks that table and that every function has this test).
#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("task", &routes());
}

fn at(method: &str, user: &str, id: &str) -> Event {
    Event::new(method, &format!("/api/{user}/tasks/{id}"))
}

/// `method` on Ann's task `id`, with her token.
fn as_ann(method: &str, id: &str) -> Event {
    at(method, ANN, id).bearer(&token(ANN))
}

/// Ann replaces her task `id` with `body`.
fn put(id: &str, body: &Value) -> Event {
    as_ann("PUT", id).json(body)
}

/// Ann renames her task `id` (`completed` false).
fn rename(id: &str, title: &str) -> Event {
    put(id, &json!({"title": title, "completed": false}))
}

/// What the database holds of the task `id`: (title, description, completed).
async fn stored(db: &TestDb, id: &str) -> Option<(String, Option<String>, bool)> {
    db.client()
        .await
        .query_opt(
            "SELECT title, description, completed FROM tasks WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// What [`stored`] shows of a task with only a title: no description, not completed.
fn plain(title: &str) -> Option<(String, Option<String>, bool)> {
    Some((title.to_owned(), None, false))
}

#[tokio::test]
async fn get_returns_the_task() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "read me").await.id.to_string();
    let a = t.call(as_ann("GET", &id)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"], id);
    assert_eq!(a.body["title"], "read me");
    // Any UUID spelling names the same task.
    let a = t.call(as_ann("GET", &id.to_uppercase())).await;
    assert_eq!(a.status, 200);
    let a = t.call(as_ann("GET", "not-a-uuid")).await;
    assert_eq!(a.error_fields(), ["id"]);
    t.call(as_ann("GET", MISSING)).await.problem(404);
}

#[tokio::test]
async fn put_replaces_the_whole_task() {
    let t = Harness::new(routes()).await;
    let task = t.seed(ANN, "before").await;
    let id = task.id.to_string();
    let body = json!({"title": " after ", "description": "d", "completed": true});
    let a = t.call(put(&id, &body)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        (
            &a.body["title"],
            &a.body["description"],
            &a.body["completed"]
        ),
        (&json!("after"), &json!("d"), &json!(true))
    );
    assert_eq!(
        a.body["created_at"].as_str(),
        Some(shared::model::rfc3339_string(&task.created_at).as_str())
    );
    assert!(
        a.body["updated_at"].as_str().unwrap() > a.body["created_at"].as_str().unwrap(),
        "updated_at moves"
    );
    // An absent description becomes null.
    let a = t
        .call(put(&id, &json!({"title": "again", "completed": false})))
        .await;
    assert_eq!(a.body["description"], Value::Null);
    assert_eq!(stored(&t.db, &id).await, plain("again"));
}

#[tokio::test]
async fn put_validates_and_changes_nothing() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "keep").await.id.to_string();
    for (body, fields) in [
        (json!({"title": "x"}), vec!["completed"]),
        (json!({"completed": true}), vec!["title"]),
        (
            json!({"title": "", "completed": "no"}),
            vec!["title", "completed"],
        ),
        (
            json!({"title": "x", "completed": true, "description": ["d"]}),
            vec!["description"],
        ),
    ] {
        let a = t.call(put(&id, &body)).await;
        assert_eq!(a.error_fields(), fields, "{body}");
    }
    // A bad id and a bad body are reported together.
    let a = t.call(put("nope", &json!({"title": "x"}))).await;
    assert_eq!(a.error_fields(), ["id", "completed"]);
    let unparsable = as_ann("PUT", &id).raw_json("{oops");
    t.call(unparsable).await.problem(400);
    t.call(as_ann("PUT", &id)).await.problem(400);
    assert_eq!(stored(&t.db, &id).await, plain("keep"));
    let whole = json!({"title": "x", "completed": true});
    t.call(put(MISSING, &whole)).await.problem(404);
}

#[tokio::test]
async fn delete_answers_with_the_task_once() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "bye").await.id.to_string();
    let a = t.call(as_ann("DELETE", &id)).await;
    assert_eq!((a.status, &a.body["title"]), (200, &json!("bye")));
    assert_eq!(stored(&t.db, &id).await, None);
    t.call(as_ann("DELETE", &id)).await.problem(404);
    let a = t.call(as_ann("DELETE", "1")).await;
    assert_eq!(a.error_fields(), ["id"]);
}

#[tokio::test]
async fn another_users_task_is_forbidden_or_invisible() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "ann's secret").await.id.to_string();
    let bob = token(BOB);
    let body = json!({"title": "pwned", "completed": true});
    // Bob's token on Ann's path: 403 for every method.
    for method in ["GET", "PUT", "DELETE"] {
        let a = t.call(at(method, ANN, &id).json(&body).bearer(&bob)).await;
        a.problem(403);
    }
    // Bob on his own path with Ann's id: 404, exactly like a missing task.
    let missing = t.call(at("GET", BOB, MISSING).bearer(&bob)).await;
    for method in ["GET", "PUT", "DELETE"] {
        let a = t.call(at(method, BOB, &id).json(&body).bearer(&bob)).await;
        a.problem(404);
        assert_eq!(a.body, missing.body, "{method}");
    }
    assert_eq!(stored(&t.db, &id).await, plain("ann's secret"));
}

#[tokio::test]
async fn tokens_come_first() {
    let t = Harness::new(routes()).await;
    for method in ["GET", "PUT", "DELETE"] {
        t.call(at(method, ANN, "not-a-uuid")).await.problem(401);
        let bobs = at(method, ANN, "not-a-uuid").bearer(&token(BOB));
        t.call(bobs).await.problem(403);
    }
    let a = t.call(as_ann("POST", MISSING)).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET, PUT, DELETE"));
}

/// The quality bar: a task request costs one database round trip.
#[tokio::test]
async fn each_request_is_one_round_trip() {
    let (t, trips) = Harness::counted(routes()).await;
    let id = t.seed(ANN, "t").await.id.to_string();
    let requests = [
        as_ann("GET", &id),
        put(&id, &json!({"title": "u", "completed": true})),
        as_ann("GET", MISSING),
        as_ann("DELETE", &id),
    ];
    for event in requests {
        let (n, a) = trips.of(t.call(event)).await;
        assert_eq!(n, 1, "{}", a.body);
    }
}

/// GET carries a strong ETag; If-None-Match naming it (or `*`, or its weak form) is a
/// 304 with the tag and no body; another tag gets the task.
#[tokio::test]
async fn if_none_match_answers_304_for_the_current_tag() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "cached").await.id.to_string();
    let a = t.call(as_ann("GET", &id)).await;
    let tag = a.header("etag").expect("an ETag").to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    let if_none_match = |id: &str, tags: &str| as_ann("GET", id).header("if-none-match", tags);
    for known in [
        tag.clone(),
        "*".into(),
        format!("W/{tag}"),
        format!("\"0\", {tag}"),
    ] {
        let a = t.call(if_none_match(&id, &known)).await;
        assert_eq!(a.status, 304, "{known}");
        assert_eq!(a.body, Value::Null);
        assert_eq!(a.header("etag"), Some(tag.as_str()));
    }
    let a = t.call(if_none_match(&id, "\"0\"")).await;
    assert_eq!((a.status, a.body["title"].as_str()), (200, Some("cached")));
    // Missing stays 404 whatever the header.
    t.call(if_none_match(MISSING, "*")).await.problem(404);
}

/// PUT and DELETE with If-Match: the change happens only for a listed current tag (or
/// `*`); otherwise 412 and nothing changes. Weak tags never match; a missing or foreign
/// task stays a 404. Every write moves the tag.
#[tokio::test]
async fn if_match_guards_put_and_delete() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "v1").await.id.to_string();
    let first = t.call(as_ann("GET", &id)).await;
    let v1 = first.header("etag").unwrap().to_owned();
    let put_if = |tag: &str, title: &str| rename(&id, title).header("if-match", tag);
    let a = t.call(put_if(&v1, "v2")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v2 = a.header("etag").unwrap().to_owned();
    assert_ne!(v1, v2);
    for stale in [v1.clone(), format!("W/{v2}"), "\"nonsense\"".into()] {
        t.call(put_if(&stale, "lost")).await.problem(412);
        assert_eq!(stored(&t.db, &id).await.unwrap().0, "v2", "{stale}");
    }
    let listed = t.call(put_if(&format!("{v1}, {v2}"), "v3")).await;
    assert_eq!(listed.status, 200);
    assert_eq!(t.call(put_if("*", "v4")).await.status, 200);
    let delete_if = |id: &str, tag: &str| as_ann("DELETE", id).header("if-match", tag);
    t.call(delete_if(&id, &v2)).await.problem(412);
    assert!(stored(&t.db, &id).await.is_some());
    let current = t.call(as_ann("GET", &id)).await;
    let tag = current.header("etag").unwrap().to_owned();
    assert_eq!(t.call(delete_if(&id, &tag)).await.status, 200);
    assert!(stored(&t.db, &id).await.is_none());
    // Missing (now), or another user's: 404, not 412.
    let gone = put(&id, &json!({"title": "x", "completed": true})).header("if-match", &tag);
    t.call(gone).await.problem(404);
    let bobs = t.seed(BOB, "bob's").await.id.to_string();
    t.call(delete_if(&bobs, "*")).await.problem(404);
}

/// Two clients race a PUT with the same If-Match: exactly one wins, the other is told.
#[tokio::test]
async fn racing_conditional_puts_end_with_one_winner() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "contested").await.id.to_string();
    let seen = t.call(as_ann("GET", &id)).await;
    let tag = seen.header("etag").unwrap();
    let put_if = |title: &str| rename(&id, title).header("if-match", tag);
    let (a, b) = tokio::join!(t.call(put_if("tab one")), t.call(put_if("tab two")));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
}

/// The condition is part of the one statement: a conditional read or write that
/// succeeds is one round trip; only a refused write needs a second (404 or 412?).
#[tokio::test]
async fn conditional_requests_cost_no_extra_round_trip() {
    let (t, trips) = Harness::counted(routes()).await;
    let id = t.seed(ANN, "t").await.id.to_string();
    let (n, a) = trips.of(t.call(as_ann("GET", &id))).await;
    let tag = a.header("etag").unwrap().to_owned();
    assert_eq!(n, 1);
    let get = as_ann("GET", &id).header("if-none-match", &tag);
    let (n, a) = trips.of(t.call(get)).await;
    assert_eq!((a.status, n), (304, 1));
    let body = json!({"title": "u", "completed": true});
    let put_if = |tag: &str| put(&id, &body).header("if-match", tag);
    let (n, a) = trips.of(t.call(put_if(&tag))).await;
    assert_eq!((a.status, n), (200, 1));
    let (n, a) = trips.of(t.call(put_if(&tag))).await;
    assert_eq!((a.status, n), (412, 2));
}

/// `TASK_EVENTS=outbox`: a replace and a delete each record exactly one event, in the
/// one statement, its CloudEvents envelope carrying the task as the API answered it; a
/// refused write (412, 404, 400) records none.
#[tokio::test]
async fn with_the_outbox_each_change_records_its_event_in_the_same_statement() {
    let t = Harness::with_events(routes()).await;
    let trips = RoundTrips::proxy(&t.db).await;
    let proxied: TaskState = trips.state_from(t.db.config_with_events()).await;
    let id = t.seed(ANN, "before").await.id.to_string();
    let created = t.db.events().await;
    assert_eq!(created.len(), 1, "the seeded create recorded its event");
    assert_eq!(created[0].0, "todo.task.created");

    // Refused writes record nothing.
    let stale = "\"0\"";
    t.call(rename(&id, "no").header("if-match", stale))
        .await
        .problem(412);
    t.call(rename(MISSING, "no")).await.problem(404);
    t.call(put(&id, &json!({"title": ""}))).await.problem(400);
    let bobs = at("DELETE", BOB, &id).bearer(&token(BOB));
    t.call(bobs).await.problem(404);
    assert_eq!(t.db.events().await.len(), 1);

    let body = json!({"title": "after", "description": "d", "completed": true});
    let replaced = t.call(put(&id, &body)).await;
    assert_eq!(replaced.status, 200);
    let events = t.db.events().await;
    assert_eq!(events.len(), 2);
    let (kind, aggregate, envelope) = &events[1];
    assert_eq!(kind, "todo.task.replaced");
    assert_eq!(aggregate, &id);
    assert_eq!(envelope["specversion"], "1.0");
    assert_eq!(envelope["source"], "/test");
    assert_eq!(envelope["subject"], ANN);
    assert_eq!(envelope["datacontenttype"], "application/json");
    let time = envelope["time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
        "{time}"
    );
    assert_eq!(
        envelope["data"], replaced.body,
        "data is the task as the API answered it"
    );

    // Still one round trip with the event, through the proxy.
    let (n, deleted) = trips.of(t.call_on(&proxied, as_ann("DELETE", &id))).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(n, 1, "the delete and its event are one statement");
    let events = t.db.events().await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].0, "todo.task.deleted");
    assert_eq!(
        events[2].2["data"], replaced.body,
        "a delete's data is the task as it was"
    );
}

/// With the default (`TASK_EVENTS` unset) no event is recorded.
#[tokio::test]
async fn without_the_outbox_no_event_is_recorded() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "quiet").await.id.to_string();
    let a = t.call(rename(&id, "still quiet")).await;
    assert_eq!(a.status, 200);
    assert!(t.db.events().await.is_empty());
}

/// Retention: each write with the outbox prunes events older than
/// `TASK_EVENTS_RETENTION_DAYS` (7 here), the oldest hundred first, and keeps the rest.
#[tokio::test]
async fn with_the_outbox_writes_prune_expired_events_oldest_first() {
    let t = Harness::with_events(routes()).await;
    let id = t.seed(ANN, "t").await.id.to_string();
    let admin = t.db.client().await;
    // 150 expired events, the n-th n minutes past 8 days old, and one 6 days old.
    admin
        .batch_execute(
            "INSERT INTO task_events (id, aggregatetype, aggregateid, type, payload, created_at) \
                SELECT gen_random_uuid(), 'task', 'expired-' || g, 'todo.task.created', '{}', \
                    now() - interval '8 days' - g * interval '1 minute' \
                FROM generate_series(1, 150) g; \
             INSERT INTO task_events (id, aggregatetype, aggregateid, type, payload, created_at) \
                VALUES (gen_random_uuid(), 'task', 'kept', 'todo.task.created', '{}', \
                    now() - interval '6 days');",
        )
        .await
        .unwrap();
    let old = || async {
        let rows = admin
            .query(
                "SELECT aggregateid FROM task_events \
                 WHERE created_at < now() - interval '1 day' ORDER BY created_at DESC",
                &[],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect::<Vec<String>>()
    };

    assert_eq!(t.call(rename(&id, "one")).await.status, 200);
    let mut expected: Vec<String> = vec!["kept".into()];
    expected.extend((1..=50).map(|n| format!("expired-{n}")));
    assert_eq!(old().await, expected, "the oldest hundred went first");

    assert_eq!(t.call(rename(&id, "two")).await.status, 200);
    assert_eq!(old().await, ["kept"]);
    let recent: Vec<String> = admin
        .query(
            "SELECT type FROM task_events WHERE created_at > now() - interval '1 day' \
             ORDER BY created_at, payload->>'time'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        recent,
        [
            "todo.task.created",
            "todo.task.replaced",
            "todo.task.replaced"
        ],
        "recent events stay"
    );
}

/// Through PgBouncer in transaction mode (Neon's pooled endpoint), with the outbox on:
/// reads, conditional writes and their events work when each statement may run on
/// another server connection.
#[tokio::test]
async fn conditional_requests_and_events_work_through_pgbouncer() {
    let t = Harness::configured(routes(), |db| {
        let mut config = db.pooled_config();
        config.database.task_events = db.config_with_events().database.task_events;
        config
    })
    .await;
    let id = t.seed(ANN, "pooled").await.id.to_string();

    let got = t.call(as_ann("GET", &id)).await;
    assert_eq!(got.status, 200);
    let tag = got.header("etag").expect("an ETag").to_owned();
    let unchanged = t
        .call(as_ann("GET", &id).header("if-none-match", &tag))
        .await;
    assert_eq!(unchanged.status, 304);
    let body = json!({"title": "replaced", "completed": true});
    let put_if = |if_match: &str| put(&id, &body).header("if-match", if_match);
    t.call(put_if("\"0\"")).await.problem(412);
    let replaced = t.call(put_if(&tag)).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let deleted = t.call(as_ann("DELETE", &id)).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(stored(&t.db, &id).await, None);

    let kinds: Vec<String> = t.db.events().await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        kinds,
        [
            "todo.task.created",
            "todo.task.replaced",
            "todo.task.deleted"
        ]
    );
}

/// A write sent into a partition: the function cannot know whether it reached the
/// server, so it answers 504 (never 503), soon after its deadline. When the partition
/// heals long after, the write's bytes do reach the server, which refuses to run it:
/// it is past the request's deadline.
#[tokio::test]
async fn a_write_lost_in_a_partition_is_a_504_and_never_lands_later() {
    let (t, partition) = Harness::partitioned(routes()).await;
    let task = t.seed(ANN, "before").await;
    let id = task.id.to_string();
    partition.hold();
    let a = within(Partition::bound(), t.call(rename(&id, "after"))).await;
    let body = a.problem(504);
    assert_eq!(a.header("retry-after"), Some("5"));
    assert!(body["detail"].as_str().unwrap().contains("may or may not"));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    partition.heal();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored(&t.db, &id).await.unwrap().0, "before");
    // The function goes on, on a fresh connection.
    let a = t.call(rename(&id, "later")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(stored(&t.db, &id).await.unwrap().0, "later");
}

/// A write that reached the server and waits there (on a lock) when the deadline comes,
/// and whose cancel is lost: the server stops it at the deadline by itself, so it does
/// not commit when the lock goes away.
#[tokio::test]
async fn a_write_whose_cancel_is_lost_is_stopped_by_the_server() {
    let (t, partition) = Harness::partitioned(routes()).await;
    let task = t.seed(ANN, "before").await;
    let id = task.id.to_string();
    let locker = t.db.client().await;
    locker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM tasks WHERE id = '{id}' FOR UPDATE"
        ))
        .await
        .unwrap();
    let put = t.call(rename(&id, "after"));
    let cut = async {
        // The statement is on the server, waiting for the row: now cut the network.
        tokio::time::sleep(Duration::from_millis(300)).await;
        partition.hold();
    };
    let (a, ()) = tokio::join!(put, cut);
    a.problem(504);
    // Past the deadline plus the cancel budget: the server has long stopped waiting.
    locker.batch_execute("COMMIT").await.unwrap();
    partition.heal();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored(&t.db, &id).await.unwrap().0, "before");
    let query = "SELECT version FROM tasks WHERE id = $1";
    let version: i64 = t.db.scalar(query, &[&task.id]).await;
    assert_eq!(version, task.version, "no write was applied");
}

/// Every route of this function, with the database cut off after its request was sent,
/// answers within its budget plus the cancel's: 503 for a read (nothing can have
/// changed), 504 for a write (it may have reached the server).
#[tokio::test]
async fn every_route_answers_within_one_deadline_when_the_database_is_cut_off() {
    type Request = fn(&str, i64) -> Event;
    let cases: [(Request, u16); 4] = [
        (|id, _| as_ann("GET", id), 503),
        (|id, _| rename(id, "after"), 504),
        (
            |id, version| rename(id, "after").header("if-match", &format!("\"{}\"", version + 7)),
            504,
        ),
        (|id, _| as_ann("DELETE", id), 504),
    ];
    for (event, status) in cases {
        let (t, partition) = Harness::partitioned(routes()).await;
        let task = t.seed(ANN, "before").await;
        let id = task.id.to_string();
        partition.hold();
        let a = within(Partition::bound(), t.call(event(&id, task.version))).await;
        a.retry_later(status);
        // Cut off before anything was sent (a new connection): a plain 503.
        let a = within(Partition::bound(), t.call(rename(&id, "after"))).await;
        a.problem(503);
        partition.heal();
    }
}
