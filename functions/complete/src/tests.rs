//! Handler tests: real API Gateway v2 events against a real, throwaway Postgres.

use super::routes;
use serde_json::json;
use shared::TaskState;
use testkit::{ANN, Answer, BOB, Event, MISSING, TestDb, seed_task, token};

async fn call(state: &TaskState, event: Event) -> Answer {
    testkit::call(state, &routes(), event).await
}

fn patch(user: &str, id: &str) -> Event {
    Event::new("PATCH", &format!("/api/{user}/tasks/{id}/complete"))
}

async fn completed(db: &TestDb, id: uuid::Uuid) -> bool {
    db.client()
        .await
        .query_one("SELECT completed FROM tasks WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test]
async fn no_body_empty_body_or_empty_object_toggles() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "toggle me").await;
    let id = task.id.to_string();
    let a = call(&state, patch(ANN, &id).bearer(&ann)).await;
    assert_eq!((a.status, &a.body["completed"]), (200, &json!(true)));
    assert!(a.body["updated_at"].as_str() > a.body["created_at"].as_str());
    let a = call(
        &state,
        patch(ANN, &id)
            .header("content-type", "application/json")
            .raw_body("")
            .bearer(&ann),
    )
    .await;
    assert_eq!(a.body["completed"], false);
    let a = call(&state, patch(ANN, &id).json(&json!({})).bearer(&ann)).await;
    assert_eq!(a.body["completed"], true);
    assert!(completed(&db, task.id).await);
}

#[tokio::test]
async fn a_boolean_sets_it() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "set me").await;
    let id = task.id.to_string();
    for value in [true, true, false, false] {
        let a = call(
            &state,
            patch(ANN, &id)
                .json(&json!({"completed": value}))
                .bearer(&ann),
        )
        .await;
        assert_eq!((a.status, &a.body["completed"]), (200, &json!(value)));
    }
    assert!(!completed(&db, task.id).await);
}

#[tokio::test]
async fn bad_input_is_a_400_that_changes_nothing() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "stay").await;
    let id = task.id.to_string();
    for body in [json!({"completed": "true"}), json!({"completed": 1})] {
        assert_eq!(
            call(&state, patch(ANN, &id).json(&body).bearer(&ann))
                .await
                .error_fields(),
            ["completed"]
        );
    }
    // Not UTF-8: API Gateway base64-encodes such a body.
    let a = call(
        &state,
        patch(ANN, &id)
            .binary_body("application/json", b"[\xff~")
            .bearer(&ann),
    )
    .await;
    a.problem(400);
    for raw in ["[]", "{", "false"] {
        call(
            &state,
            patch(ANN, &id)
                .header("content-type", "application/json")
                .raw_body(raw)
                .bearer(&ann),
        )
        .await
        .problem(400);
    }
    let a = call(
        &state,
        patch(ANN, "xyz")
            .json(&json!({"completed": "no"}))
            .bearer(&ann),
    )
    .await;
    assert_eq!(a.error_fields(), ["id", "completed"]);
    assert!(!completed(&db, task.id).await);
    call(&state, patch(ANN, MISSING).bearer(&ann))
        .await
        .problem(404);
}

#[tokio::test]
async fn another_users_task_is_forbidden_or_invisible() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let task = seed_task(&state.db, ANN, "ann's").await;
    let id = task.id.to_string();
    let bob = token(BOB);
    call(&state, patch(ANN, &id)).await.problem(401);
    call(&state, patch(ANN, &id).bearer(&bob))
        .await
        .problem(403);
    let a = call(
        &state,
        patch(BOB, &id)
            .json(&json!({"completed": true}))
            .bearer(&bob),
    )
    .await;
    let missing = call(&state, patch(BOB, MISSING).bearer(&bob)).await;
    a.problem(404);
    assert_eq!(a.body, missing.body);
    assert!(!completed(&db, task.id).await, "Ann's task unchanged");
}

/// The toggle happens in SQL (`NOT completed`), so concurrent toggles never lose one.
#[tokio::test]
async fn concurrent_toggles_are_all_applied() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "race").await;
    let id = task.id.to_string();
    let toggles = (0..25).map(|_| call(&state, patch(ANN, &id).bearer(&ann)));
    let answers = futures::future::join_all(toggles).await;
    assert!(answers.iter().all(|a| a.status == 200));
    let trues = answers
        .iter()
        .filter(|a| a.body["completed"] == true)
        .count();
    // Each toggle saw a distinct state: 13 ended true, 12 false, and the last is true.
    assert_eq!(trues, 13);
    assert!(completed(&db, task.id).await);
}

#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("complete", &routes());
}

/// The quality bar: a task request costs one database round trip.
#[tokio::test]
async fn a_toggle_is_one_round_trip() {
    let db = TestDb::new().await;
    let trips = testkit::RoundTrips::proxy(&db).await;
    let state: TaskState = trips.state(&db).await;
    let ann = token(ANN);
    let id = seed_task(&state.db, ANN, "t").await.id.to_string();
    let (n, a) = trips.of(call(&state, patch(ANN, &id).bearer(&ann))).await;
    assert_eq!((a.status, n), (200, 1));
    let (n, a) = trips
        .of(call(
            &state,
            patch(ANN, &id)
                .json(&json!({"completed": false}))
                .bearer(&ann),
        ))
        .await;
    assert_eq!((a.status, n), (200, 1));
}

/// PATCH with If-Match: only from the tag the client saw; the answer carries the new one.
#[tokio::test]
async fn if_match_guards_the_toggle() {
    let db = TestDb::new().await;
    let state: TaskState = db.state().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "toggle").await;
    let id = task.id.to_string();
    let a = call(
        &state,
        patch(ANN, &id).bearer(&ann).header("if-match", "\"1\""),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("etag"), Some("\"2\""));
    let a = call(
        &state,
        patch(ANN, &id).bearer(&ann).header("if-match", "\"1\""),
    )
    .await;
    a.problem(412);
    assert!(
        completed(&db, task.id).await,
        "the refused toggle changed nothing"
    );
    call(
        &state,
        patch(ANN, MISSING).bearer(&ann).header("if-match", "\"1\""),
    )
    .await
    .problem(404);
}

/// `TASK_EVENTS=outbox`: completing records `todo.task.completed`, reopening
/// `todo.task.reopened`, each with the task as answered; a 404 records nothing.
#[tokio::test]
async fn with_the_outbox_completing_and_reopening_record_their_events() {
    let db = TestDb::new().await;
    let state: TaskState = db.state_with_events().await;
    let ann = token(ANN);
    let task = seed_task(&state.db, ANN, "toggle me").await;
    let id = task.id.to_string();
    let done = call(&state, patch(ANN, &id).bearer(&ann)).await;
    assert_eq!(done.status, 200);
    let reopened = call(&state, patch(ANN, &id).bearer(&ann)).await;
    assert_eq!(reopened.status, 200);
    call(&state, patch(ANN, MISSING).bearer(&ann))
        .await
        .problem(404);
    call(&state, patch(BOB, &id).bearer(&token(BOB)))
        .await
        .problem(404);
    let events = db.events().await;
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
    use shared::FunctionState;
    let db = TestDb::new().await;
    let state = TaskState::new(&db.pooled_config()).await.unwrap();
    let task = seed_task(&state.db, ANN, "pooled").await;
    let a = call(&state, patch(ANN, &task.id.to_string()).bearer(&token(ANN))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(completed(&db, task.id).await);
}
