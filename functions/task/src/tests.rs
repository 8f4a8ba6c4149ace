//! Handler tests: real API Gateway v2 events against a real, throwaway Postgres.

use super::routes;
use serde_json::{Value, json};
use shared::TaskState;
use testkit::{ANN, Answer, BOB, Event, MISSING, TestDb, seed_task, token};

async fn call(state: &TaskState, event: Event) -> Answer {
    testkit::call(state, &routes(), event).await
}

fn at(method: &str, user: &str, id: &str) -> Event {
    Event::new(method, &format!("/api/{user}/tasks/{id}"))
}

async fn stored(db: &TestDb, id: uuid::Uuid) -> Option<(String, Option<String>, bool)> {
    db.client()
        .await
        .query_opt(
            "SELECT title, description, completed FROM tasks WHERE id = $1",
            &[&id],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
}

#[tokio::test]
async fn get_returns_the_task() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let task = seed_task(&state.db, ANN, "read me").await;
    let ann = token(ANN);
    let a = call(&state, at("GET", ANN, &task.id.to_string()).bearer(&ann)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"], task.id.to_string());
    assert_eq!(a.body["title"], "read me");
    // Any UUID spelling names the same task.
    let a = call(
        &state,
        at("GET", ANN, &task.id.to_string().to_uppercase()).bearer(&ann),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        call(&state, at("GET", ANN, "not-a-uuid").bearer(&ann))
            .await
            .error_fields(),
        ["id"]
    );
    call(&state, at("GET", ANN, MISSING).bearer(&ann))
        .await
        .problem(404);
}

#[tokio::test]
async fn put_replaces_the_whole_task() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "before").await;
    let id = task.id.to_string();
    let a = call(
        &state,
        at("PUT", ANN, &id)
            .json(&json!({"title": " after ", "description": "d", "completed": true}))
            .bearer(&ann),
    )
    .await;
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
    let a = call(
        &state,
        at("PUT", ANN, &id)
            .json(&json!({"title": "again", "completed": false}))
            .bearer(&ann),
    )
    .await;
    assert_eq!(a.body["description"], Value::Null);
    assert_eq!(
        stored(&db, task.id).await,
        Some(("again".into(), None, false))
    );
}

#[tokio::test]
async fn put_validates_and_changes_nothing() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "keep").await;
    let id = task.id.to_string();
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
        assert_eq!(
            call(&state, at("PUT", ANN, &id).json(&body).bearer(&ann))
                .await
                .error_fields(),
            fields,
            "{body}"
        );
    }
    // A bad id and a bad body are reported together.
    let a = call(
        &state,
        at("PUT", ANN, "nope")
            .json(&json!({"title": "x"}))
            .bearer(&ann),
    )
    .await;
    assert_eq!(a.error_fields(), ["id", "completed"]);
    call(
        &state,
        at("PUT", ANN, &id)
            .header("content-type", "application/json")
            .raw_body("{oops")
            .bearer(&ann),
    )
    .await
    .problem(400);
    call(&state, at("PUT", ANN, &id).bearer(&ann))
        .await
        .problem(400);
    assert_eq!(
        stored(&db, task.id).await,
        Some(("keep".into(), None, false))
    );
    call(
        &state,
        at("PUT", ANN, MISSING)
            .json(&json!({"title": "x", "completed": true}))
            .bearer(&ann),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn delete_answers_with_the_task_once() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "bye").await;
    let id = task.id.to_string();
    let a = call(&state, at("DELETE", ANN, &id).bearer(&ann)).await;
    assert_eq!((a.status, &a.body["title"]), (200, &json!("bye")));
    assert_eq!(stored(&db, task.id).await, None);
    call(&state, at("DELETE", ANN, &id).bearer(&ann))
        .await
        .problem(404);
    assert_eq!(
        call(&state, at("DELETE", ANN, "1").bearer(&ann))
            .await
            .error_fields(),
        ["id"]
    );
}

#[tokio::test]
async fn another_users_task_is_forbidden_or_invisible() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let task = seed_task(&state.db, ANN, "ann's secret").await;
    let id = task.id.to_string();
    let bob = token(BOB);
    let body = json!({"title": "pwned", "completed": true});
    // Bob's token on Ann's path: 403 for every method.
    for method in ["GET", "PUT", "DELETE"] {
        call(&state, at(method, ANN, &id).json(&body).bearer(&bob))
            .await
            .problem(403);
    }
    // Bob on his own path with Ann's id: 404, exactly like a missing task.
    let missing = call(&state, at("GET", BOB, MISSING).bearer(&bob)).await;
    for method in ["GET", "PUT", "DELETE"] {
        let a = call(&state, at(method, BOB, &id).json(&body).bearer(&bob)).await;
        a.problem(404);
        assert_eq!(a.body, missing.body, "{method}");
    }
    assert_eq!(
        stored(&db, task.id).await,
        Some(("ann's secret".into(), None, false))
    );
}

#[tokio::test]
async fn tokens_come_first() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    for method in ["GET", "PUT", "DELETE"] {
        call(&state, at(method, ANN, "not-a-uuid"))
            .await
            .problem(401);
        call(&state, at(method, ANN, "not-a-uuid").bearer(&token(BOB)))
            .await
            .problem(403);
    }
    let a = call(&state, at("POST", ANN, MISSING).bearer(&token(ANN))).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET, PUT, DELETE"));
}

#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("task", &routes());
}

/// The quality bar: a task request costs one database round trip.
#[tokio::test]
async fn each_request_is_one_round_trip() {
    let db = TestDb::new().await;
    let trips = testkit::RoundTrips::proxy(&db).await;
    let state: TaskState = trips.state(&db).await;
    let ann = token(ANN);
    let id = seed_task(&state.db, ANN, "t").await.id.to_string();
    let requests = [
        at("GET", ANN, &id),
        at("PUT", ANN, &id).json(&json!({"title": "u", "completed": true})),
        at("GET", ANN, MISSING),
        at("DELETE", ANN, &id),
    ];
    for event in requests {
        let (n, a) = trips.of(call(&state, event.bearer(&ann))).await;
        assert_eq!(n, 1, "{}", a.body);
    }
}

/// GET carries a strong ETag; If-None-Match naming it (or `*`, or its weak form) is a
/// 304 with the tag and no body; another tag gets the task.
#[tokio::test]
async fn if_none_match_answers_304_for_the_current_tag() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let id = seed_task(&state.db, ANN, "cached").await.id.to_string();
    let a = call(&state, at("GET", ANN, &id).bearer(&ann)).await;
    let tag = a.header("etag").expect("an ETag").to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    for known in [
        tag.clone(),
        "*".into(),
        format!("W/{tag}"),
        format!("\"0\", {tag}"),
    ] {
        let a = call(
            &state,
            at("GET", ANN, &id)
                .bearer(&ann)
                .header("if-none-match", &known),
        )
        .await;
        assert_eq!(a.status, 304, "{known}");
        assert_eq!(a.body, Value::Null);
        assert_eq!(a.header("etag"), Some(tag.as_str()));
    }
    let a = call(
        &state,
        at("GET", ANN, &id)
            .bearer(&ann)
            .header("if-none-match", "\"0\""),
    )
    .await;
    assert_eq!((a.status, a.body["title"].as_str()), (200, Some("cached")));
    // Missing stays 404 whatever the header.
    let a = call(
        &state,
        at("GET", ANN, MISSING)
            .bearer(&ann)
            .header("if-none-match", "*"),
    )
    .await;
    a.problem(404);
}

/// PUT and DELETE with If-Match: the change happens only for a listed current tag (or
/// `*`); otherwise 412 and nothing changes. Weak tags never match; a missing or foreign
/// task stays a 404. Every write moves the tag.
#[tokio::test]
async fn if_match_guards_put_and_delete() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "v1").await;
    let id = task.id.to_string();
    let first = call(&state, at("GET", ANN, &id).bearer(&ann)).await;
    let v1 = first.header("etag").unwrap().to_owned();
    let put = |tag: &str, title: &str| {
        at("PUT", ANN, &id)
            .bearer(&ann)
            .header("if-match", tag)
            .json(&json!({"title": title, "completed": false}))
    };
    let a = call(&state, put(&v1, "v2")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let v2 = a.header("etag").unwrap().to_owned();
    assert_ne!(v1, v2);
    for stale in [v1.clone(), format!("W/{v2}"), "\"nonsense\"".into()] {
        let a = call(&state, put(&stale, "lost")).await;
        a.problem(412);
        assert_eq!(stored(&db, task.id).await.unwrap().0, "v2", "{stale}");
    }
    assert_eq!(
        call(&state, put(&format!("{v1}, {v2}"), "v3")).await.status,
        200
    );
    assert_eq!(call(&state, put("*", "v4")).await.status, 200);
    let a = call(
        &state,
        at("DELETE", ANN, &id).bearer(&ann).header("if-match", &v2),
    )
    .await;
    a.problem(412);
    assert!(stored(&db, task.id).await.is_some());
    let current = call(&state, at("GET", ANN, &id).bearer(&ann)).await;
    let tag = current.header("etag").unwrap().to_owned();
    let a = call(
        &state,
        at("DELETE", ANN, &id).bearer(&ann).header("if-match", &tag),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(stored(&db, task.id).await.is_none());
    // Missing (now), or another user's: 404, not 412.
    call(
        &state,
        at("PUT", ANN, &id)
            .bearer(&ann)
            .header("if-match", &tag)
            .json(&json!({"title": "x", "completed": true})),
    )
    .await
    .problem(404);
    let bobs = seed_task(&state.db, BOB, "bob's").await.id.to_string();
    call(
        &state,
        at("DELETE", ANN, &bobs)
            .bearer(&ann)
            .header("if-match", "*"),
    )
    .await
    .problem(404);
}

/// Two clients race a PUT with the same If-Match: exactly one wins, the other is told.
#[tokio::test]
async fn racing_conditional_puts_end_with_one_winner() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let id = seed_task(&state.db, ANN, "contested").await.id.to_string();
    let tag = call(&state, at("GET", ANN, &id).bearer(&ann))
        .await
        .header("etag")
        .unwrap()
        .to_owned();
    let put = |title: &str| {
        at("PUT", ANN, &id)
            .bearer(&ann)
            .header("if-match", &tag)
            .json(&json!({"title": title, "completed": false}))
    };
    let (a, b) = tokio::join!(call(&state, put("tab one")), call(&state, put("tab two")));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 412]);
}

/// The condition is part of the one statement: a conditional read or write that
/// succeeds is one round trip; only a refused write needs a second (404 or 412?).
#[tokio::test]
async fn conditional_requests_cost_no_extra_round_trip() {
    let db = TestDb::new().await;
    let trips = testkit::RoundTrips::proxy(&db).await;
    let state: TaskState = trips.state(&db).await;
    let ann = token(ANN);
    let id = seed_task(&state.db, ANN, "t").await.id.to_string();
    let (n, a) = trips
        .of(call(&state, at("GET", ANN, &id).bearer(&ann)))
        .await;
    let tag = a.header("etag").unwrap().to_owned();
    assert_eq!(n, 1);
    let get = at("GET", ANN, &id)
        .bearer(&ann)
        .header("if-none-match", &tag);
    let (n, a) = trips.of(call(&state, get)).await;
    assert_eq!((a.status, n), (304, 1));
    let put = |tag: &str| {
        at("PUT", ANN, &id)
            .bearer(&ann)
            .header("if-match", tag)
            .json(&json!({"title": "u", "completed": true}))
    };
    let (n, a) = trips.of(call(&state, put(&tag))).await;
    assert_eq!((a.status, n), (200, 1));
    let (n, a) = trips.of(call(&state, put(&tag))).await;
    assert_eq!((a.status, n), (412, 2));
}

/// `TASK_EVENTS=outbox`: a replace and a delete each record exactly one event, in the
/// one statement, its CloudEvents envelope carrying the task as the API answered it; a
/// refused write (412, 404, 400) records none.
#[tokio::test]
async fn with_the_outbox_each_change_records_its_event_in_the_same_statement() {
    let db = TestDb::new().await;
    let trips = testkit::RoundTrips::proxy(&db).await;
    let state: TaskState = db.state_with_events().await;
    let proxied: TaskState = trips.state_from(db.config_with_events()).await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "before").await;
    let id = task.id.to_string();
    let created = db.events().await;
    assert_eq!(created.len(), 1, "the seeded create recorded its event");
    assert_eq!(created[0].0, "todo.task.created");

    // Refused writes record nothing.
    let stale = "\"0\"";
    call(
        &state,
        at("PUT", ANN, &id)
            .bearer(&ann)
            .header("if-match", stale)
            .json(&json!({"title": "no", "completed": false})),
    )
    .await
    .problem(412);
    call(
        &state,
        at("PUT", ANN, MISSING)
            .bearer(&ann)
            .json(&json!({"title": "no", "completed": false})),
    )
    .await
    .problem(404);
    call(
        &state,
        at("PUT", ANN, &id).bearer(&ann).json(&json!({"title": ""})),
    )
    .await
    .problem(400);
    call(&state, at("DELETE", BOB, &id).bearer(&token(BOB)))
        .await
        .problem(404);
    assert_eq!(db.events().await.len(), 1);

    let put = call(
        &state,
        at("PUT", ANN, &id)
            .bearer(&ann)
            .json(&json!({"title": "after", "description": "d", "completed": true})),
    )
    .await;
    assert_eq!(put.status, 200);
    let events = db.events().await;
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
        envelope["data"], put.body,
        "data is the task as the API answered it"
    );

    // Still one round trip with the event, through the proxy.
    let (n, deleted) = trips
        .of(call(&proxied, at("DELETE", ANN, &id).bearer(&ann)))
        .await;
    assert_eq!(deleted.status, 200);
    assert_eq!(n, 1, "the delete and its event are one statement");
    let events = db.events().await;
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].0, "todo.task.deleted");
    assert_eq!(
        events[2].2["data"], put.body,
        "a delete's data is the task as it was"
    );
}

/// With the default (`TASK_EVENTS` unset) no event is recorded.
#[tokio::test]
async fn without_the_outbox_no_event_is_recorded() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let task = seed_task(&state.db, ANN, "quiet").await;
    let a = call(
        &state,
        at("PUT", ANN, &task.id.to_string())
            .bearer(&token(ANN))
            .json(&json!({"title": "still quiet", "completed": false})),
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(db.events().await.is_empty());
}

/// Retention: each write with the outbox prunes events older than
/// `TASK_EVENTS_RETENTION_DAYS` (7 here), the oldest hundred first, and keeps the rest.
#[tokio::test]
async fn with_the_outbox_writes_prune_expired_events_oldest_first() {
    let db = TestDb::new().await;
    let state: TaskState = db.state_with_events().await;
    let task = seed_task(&state.db, ANN, "t").await;
    let admin = db.client().await;
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
    let replace = |title: &str| {
        at("PUT", ANN, &task.id.to_string())
            .bearer(&token(ANN))
            .json(&json!({"title": title, "completed": false}))
    };

    assert_eq!(call(&state, replace("one")).await.status, 200);
    let mut expected: Vec<String> = vec!["kept".into()];
    expected.extend((1..=50).map(|n| format!("expired-{n}")));
    assert_eq!(old().await, expected, "the oldest hundred went first");

    assert_eq!(call(&state, replace("two")).await.status, 200);
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
    use shared::FunctionState;
    let db = TestDb::new().await;
    let mut config = db.pooled_config();
    config.database.task_events = db.config_with_events().database.task_events;
    let state = TaskState::new(&config).await.unwrap();
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "pooled").await;
    let id = task.id.to_string();

    let got = call(&state, at("GET", ANN, &id).bearer(&ann)).await;
    assert_eq!(got.status, 200);
    let tag = got.header("etag").expect("an ETag").to_owned();
    let unchanged = call(
        &state,
        at("GET", ANN, &id)
            .bearer(&ann)
            .header("if-none-match", &tag),
    )
    .await;
    assert_eq!(unchanged.status, 304);
    let put = |if_match: &str| {
        at("PUT", ANN, &id)
            .bearer(&ann)
            .header("if-match", if_match)
            .json(&json!({"title": "replaced", "completed": true}))
    };
    call(&state, put("\"0\"")).await.problem(412);
    let replaced = call(&state, put(&tag)).await;
    assert_eq!(replaced.status, 200, "{}", replaced.body);
    let deleted = call(&state, at("DELETE", ANN, &id).bearer(&ann)).await;
    assert_eq!(deleted.status, 200);
    assert_eq!(stored(&db, task.id).await, None);

    let kinds: Vec<String> = db.events().await.into_iter().map(|e| e.0).collect();
    assert_eq!(
        kinds,
        [
            "todo.task.created",
            "todo.task.replaced",
            "todo.task.deleted"
        ]
    );
}

/// A state whose pool connects through a partition that can be cut.
async fn partitioned(db: &TestDb) -> (TaskState, testkit::Partition) {
    let partition = testkit::Partition::proxy(db).await;
    (partition.state(db).await, partition)
}

fn rename(id: &str, title: &str) -> Event {
    at("PUT", ANN, id)
        .bearer(&token(ANN))
        .json(&json!({"title": title, "completed": false}))
}

/// A write sent into a partition: the function cannot know whether it reached the
/// server, so it answers 504 (never 503), soon after its deadline. When the partition
/// heals long after, the write's bytes do reach the server, which refuses to run it:
/// it is past the request's deadline.
#[tokio::test]
async fn a_write_lost_in_a_partition_is_a_504_and_never_lands_later() {
    use std::time::{Duration, Instant};
    let db = TestDb::new().await;
    let (state, partition) = partitioned(&db).await;
    let task = seed_task(&state.db, ANN, "before").await;
    partition.hold();
    let started = Instant::now();
    let a = call(&state, rename(&task.id.to_string(), "after")).await;
    let elapsed = started.elapsed();
    let body = a.problem(504);
    assert_eq!(a.header("retry-after"), Some("5"));
    assert!(body["detail"].as_str().unwrap().contains("may or may not"));
    let bound = testkit::Partition::bound();
    assert!(elapsed < bound, "{elapsed:?}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    partition.heal();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stored(&db, task.id).await.unwrap().0, "before");
    // The function goes on, on a fresh connection.
    let a = call(&state, rename(&task.id.to_string(), "later")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(stored(&db, task.id).await.unwrap().0, "later");
}

/// A write that reached the server and waits there (on a lock) when the deadline comes,
/// and whose cancel is lost: the server stops it at the deadline by itself, so it does
/// not commit when the lock goes away.
#[tokio::test]
async fn a_write_whose_cancel_is_lost_is_stopped_by_the_server() {
    use std::time::Duration;
    let db = TestDb::new().await;
    let (state, partition) = partitioned(&db).await;
    let task = seed_task(&state.db, ANN, "before").await;
    let locker = db.client().await;
    locker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM tasks WHERE id = '{}' FOR UPDATE",
            task.id
        ))
        .await
        .unwrap();
    let id = task.id.to_string();
    let put = call(&state, rename(&id, "after"));
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
    assert_eq!(stored(&db, task.id).await.unwrap().0, "before");
    let version: i64 = db
        .client()
        .await
        .query_one("SELECT version FROM tasks WHERE id = $1", &[&task.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, task.version, "no write was applied");
}

/// Every route of this function, with the database cut off after its request was sent,
/// answers within its budget plus the cancel's: 503 for a read (nothing can have
/// changed), 504 for a write (it may have reached the server).
#[tokio::test]
async fn every_route_answers_within_one_deadline_when_the_database_is_cut_off() {
    use std::time::Instant;
    let db = TestDb::new().await;
    let bound = testkit::Partition::bound();
    type Request = fn(&str, i64) -> Event;
    let cases: [(Request, u16); 4] = [
        (|id, _| at("GET", ANN, id).bearer(&token(ANN)), 503),
        (|id, _| rename(id, "after"), 504),
        (
            |id, version| rename(id, "after").header("if-match", &format!("\"{}\"", version + 7)),
            504,
        ),
        (|id, _| at("DELETE", ANN, id).bearer(&token(ANN)), 504),
    ];
    for (event, status) in cases {
        let (state, partition) = partitioned(&db).await;
        let task = seed_task(&state.db, ANN, "before").await;
        partition.hold();
        let started = Instant::now();
        let a = call(&state, event(&task.id.to_string(), task.version)).await;
        a.problem(status);
        assert!(a.header("retry-after").is_some());
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        // Cut off before anything was sent (a new connection): a plain 503.
        let started = Instant::now();
        let a = call(&state, rename(&task.id.to_string(), "after")).await;
        a.problem(503);
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        partition.heal();
    }
}
