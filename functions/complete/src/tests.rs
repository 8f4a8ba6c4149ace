//! Handler tests: real API Gateway v2 events against a real, throwaway Postgres.

use super::routes;
use serde_json::json;
use testkit::{ANN, BOB, Event, Harness, MISSING, TestDb, token};

/// The routes are exactly this function's part of the workspace's one route table
/// (testkit/tests/workspace.rs checks that table and that every function has this test).
#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("complete", &routes());
}

fn patch(user: &str, id: &str) -> Event {
    Event::new("PATCH", &format!("/api/{user}/tasks/{id}/complete"))
}

/// Ann's PATCH of her task `id`, with her token.
fn as_ann(id: &str) -> Event {
    patch(ANN, id).bearer(&token(ANN))
}

async fn completed(db: &TestDb, id: &str) -> bool {
    let query = "SELECT completed FROM tasks WHERE id = $1::text::uuid";
    db.scalar(query, &[&id]).await
}

#[tokio::test]
async fn no_body_empty_body_or_empty_object_toggles() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "toggle me").await.id.to_string();
    let a = t.call(as_ann(&id)).await;
    assert_eq!((a.status, &a.body["completed"]), (200, &json!(true)));
    assert!(a.body["updated_at"].as_str() > a.body["created_at"].as_str());
    let a = t.call(as_ann(&id).raw_json("")).await;
    assert_eq!(a.body["completed"], false);
    let a = t.call(as_ann(&id).json(&json!({}))).await;
    assert_eq!(a.body["completed"], true);
    assert!(completed(&t.db, &id).await);
}

#[tokio::test]
async fn a_boolean_sets_it() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "set me").await.id.to_string();
    for value in [true, true, false, false] {
        let a = t.call(as_ann(&id).json(&json!({"completed": value}))).await;
        assert_eq!((a.status, &a.body["completed"]), (200, &json!(value)));
    }
    assert!(!completed(&t.db, &id).await);
}

#[tokio::test]
async fn bad_input_is_a_400_that_changes_nothing() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "stay").await.id.to_string();
    for body in [json!({"completed": "true"}), json!({"completed": 1})] {
        let a = t.call(as_ann(&id).json(&body)).await;
        assert_eq!(a.error_fields(), ["completed"], "{body}");
    }
    // Not UTF-8: API Gateway base64-encodes such a body.
    let binary = as_ann(&id).binary_body("application/json", b"[\xff~");
    t.call(binary).await.problem(400);
    for raw in ["[]", "{", "false"] {
        t.call(as_ann(&id).raw_json(raw)).await.problem(400);
    }
    let a = t
        .call(as_ann("xyz").json(&json!({"completed": "no"})))
        .await;
    assert_eq!(a.error_fields(), ["id", "completed"]);
    assert!(!completed(&t.db, &id).await);
    t.call(as_ann(MISSING)).await.problem(404);
}

#[tokio::test]
async fn another_users_task_is_forbidden_or_invisible() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "ann's").await.id.to_string();
    let bob = token(BOB);
    t.call(patch(ANN, &id)).await.problem(401);
    t.call(patch(ANN, &id).bearer(&bob)).await.problem(403);
    let set = patch(BOB, &id).json(&json!({"completed": true}));
    let a = t.call(set.bearer(&bob)).await;
    let missing = t.call(patch(BOB, MISSING).bearer(&bob)).await;
    a.problem(404);
    assert_eq!(a.body, missing.body);
    assert!(!completed(&t.db, &id).await, "Ann's task unchanged");
}

/// The toggle happens in SQL (`NOT completed`), so concurrent toggles never lose one.
#[tokio::test]
async fn concurrent_toggles_are_all_applied() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "race").await.id.to_string();
    let toggles = (0..25).map(|_| t.call(as_ann(&id)));
    let answers = futures::future::join_all(toggles).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let trues = answers
        .iter()
        .filter(|a| a.body["completed"] == true)
        .count();
    // Each toggle saw a distinct state: 13 ended true, 12 false, and the last is true.
    assert_eq!(trues, 13);
    assert!(completed(&t.db, &id).await);
}

/// The quality bar: a task request costs one database round trip.
#[tokio::test]
async fn a_toggle_is_one_round_trip() {
    let (t, trips) = Harness::counted(routes()).await;
    let id = t.seed(ANN, "t").await.id.to_string();
    let (n, a) = trips.of(t.call(as_ann(&id))).await;
    assert_eq!((a.status, n), (200, 1));
    let set = as_ann(&id).json(&json!({"completed": false}));
    let (n, a) = trips.of(t.call(set)).await;
    assert_eq!((a.status, n), (200, 1));
}

/// PATCH with If-Match: only from the tag the client saw; the answer carries the new one.
#[tokio::test]
async fn if_match_guards_the_toggle() {
    let t = Harness::new(routes()).await;
    let id = t.seed(ANN, "toggle").await.id.to_string();
    // A new task's tag is "1".
    let from_the_first = |id: &str| as_ann(id).header("if-match", "\"1\"");
    let a = t.call(from_the_first(&id)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("etag"), Some("\"2\""));
    t.call(from_the_first(&id)).await.problem(412);
    assert!(
        completed(&t.db, &id).await,
        "the refused toggle changed nothing"
    );
    t.call(from_the_first(MISSING)).await.problem(404);
}

/// `TASK_EVENTS=outbox`: completing records `todo.task.completed`, reopening
/// `todo.task.reopened`, each with the task as answered; a 404 records nothing.
#[tokio::test]
async fn with_the_outbox_completing_and_reopening_record_their_events() {
    let t = Harness::with_events(routes()).await;
    let id = t.seed(ANN, "toggle me").await.id.to_string();
    let done = t.call(as_ann(&id)).await;
    assert_eq!(done.status, 200);
    let reopened = t.call(as_ann(&id)).await;
    assert_eq!(reopened.status, 200);
    t.call(as_ann(MISSING)).await.problem(404);
    let bobs = patch(BOB, &id).bearer(&token(BOB));
    t.call(bobs).await.problem(404);
    let events = t.db.events().await;
    let kinds: Vec<&str> = events.iter().map(|(kind, _, _)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "todo.task.created",
            "todo.task.completed",
            "todo.task.reopened"
        ]
    );
    assert_eq!(events[1].2["data"], done.body);
    assert_eq!(events[2].2["data"], reopened.body);
    assert!(events.iter().all(|(_, aggregate, _)| aggregate == &id));
}

/// Through PgBouncer in transaction mode (Neon's pooled endpoint).
#[tokio::test]
async fn completing_works_through_pgbouncer() {
    let t = Harness::configured(routes(), TestDb::pooled_config).await;
    let id = t.seed(ANN, "pooled").await.id.to_string();
    let a = t.call(as_ann(&id)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(completed(&t.db, &id).await);
}
