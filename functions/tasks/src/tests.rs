//! Handler tests: real API Gateway v2 events against a real, throwaway Postgres.

use super::routes;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use testkit::{ANN, BOB, Event, Harness, TestDb, token, within};

/// The routes are exactly this function's part of the workspace's one route table
/// (testkit/tests/workspace.rs checks that table and that every function has this test).
#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("tasks", &routes());
}

fn list(user: &str, query: &str) -> Event {
    Event::new("GET", &format!("/api/{user}/tasks{query}"))
}

fn create(user: &str, body: &Value) -> Event {
    Event::new("POST", &format!("/api/{user}/tasks")).json(body)
}

/// `user`'s create of `body` under an Idempotency-Key, with their token.
fn create_with_key(user: &str, key: &str, body: &Value) -> Event {
    create(user, body)
        .bearer(&token(user))
        .header("idempotency-key", key)
}

async fn count(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM tasks", &[]).await
}

#[tokio::test]
async fn create_returns_the_task_and_its_location() {
    let t = Harness::new(routes()).await;
    let ann = token(ANN);
    let body = json!({"title": "  Buy milk  ", "unknown": 1});
    let a = t.call(create(ANN, &body).bearer(&ann)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(
        a.header("location"),
        Some(format!("/api/{ANN}/tasks/{id}").as_str())
    );
    assert_eq!(a.body["user_id"], ANN);
    assert_eq!(a.body["title"], "Buy milk");
    assert_eq!(a.body["description"], Value::Null);
    assert_eq!(a.body["completed"], false);
    assert_eq!(a.body["created_at"], a.body["updated_at"]);
    assert!(a.body["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(a.body.as_object().unwrap().len(), 7);

    let body = json!({"title": "t", "description": "d", "completed": true});
    let a = t.call(create(ANN, &body).bearer(&ann)).await;
    assert_eq!(
        (a.status, &a.body["description"], &a.body["completed"]),
        (201, &json!("d"), &json!(true))
    );
    assert_eq!(count(&t.db).await, 2);
}

#[tokio::test]
async fn create_refuses_bad_bodies_and_stores_nothing() {
    let t = Harness::new(routes()).await;
    let ann = token(ANN);
    let cases = [
        (json!({}), vec!["title"]),
        (json!({"title": "   "}), vec!["title"]),
        (json!({"title": "x".repeat(201)}), vec!["title"]),
        (json!({"title": "a\u{0}b"}), vec!["title"]),
        (json!({"title": 7}), vec!["title"]),
        (
            json!({"title": "ok", "description": "x".repeat(2001)}),
            vec!["description"],
        ),
        (
            json!({"title": "ok", "description": "nul\u{0}"}),
            vec!["description"],
        ),
        (
            json!({"title": "ok", "completed": "true"}),
            vec!["completed"],
        ),
        (
            json!({"title": "", "description": 1, "completed": 0}),
            vec!["title", "description", "completed"],
        ),
    ];
    for (body, fields) in cases {
        let a = t.call(create(ANN, &body).bearer(&ann)).await;
        assert_eq!(a.error_fields(), fields, "{body}");
    }
    for raw in ["", "{", "[1]", "true"] {
        let unparsable = Event::new("POST", &format!("/api/{ANN}/tasks")).raw_json(raw);
        t.call(unparsable.bearer(&ann)).await.problem(400);
    }
    let too_big = json!({"title": "x", "description": "y".repeat(70_000)});
    t.call(create(ANN, &too_big).bearer(&ann))
        .await
        .problem(413);
    assert_eq!(count(&t.db).await, 0);
    // 200 characters of a multi-byte script are fine.
    let a = t
        .call(create(ANN, &json!({"title": "é".repeat(200)})).bearer(&ann))
        .await;
    assert_eq!(a.status, 201);
}

#[tokio::test]
async fn tokens_are_required_and_checked() {
    let t = Harness::new(routes()).await;
    for event in [list(ANN, ""), create(ANN, &json!({"title": "x"}))] {
        let a = t.call(event).await;
        a.problem(401);
        assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    }
    let a = t.call(list(ANN, "").bearer("not-a-jwt")).await;
    a.problem(401);
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
    let expired = shared::auth::TokenIssuer::new(&TestDb::auth_config())
        .sign(&json!({"sub": ANN, "exp": chrono::Utc::now().timestamp() - 3600}))
        .unwrap();
    t.call(list(ANN, "").bearer(&expired)).await.problem(401);
    // Scheme is case-insensitive.
    let authorization = |scheme: &str| format!("{scheme} {}", token(ANN));
    let a = t
        .call(list(ANN, "").header("authorization", &authorization("bEaReR")))
        .await;
    assert_eq!(a.status, 200);
    let a = t
        .call(list(ANN, "").header("authorization", &authorization("Basic")))
        .await;
    a.problem(401);
}

#[tokio::test]
async fn checks_run_in_contract_order() {
    let t = Harness::new(routes()).await;
    // 401 before 403 before 400.
    t.call(list(ANN, "?page=0")).await.problem(401);
    let bobs = list(ANN, "?page=0").bearer(&token(BOB));
    t.call(bobs).await.problem(403);
    let a = t.call(list(ANN, "?page=0").bearer(&token(ANN))).await;
    assert_eq!(a.error_fields(), ["page"]);
    let bobs = create(ANN, &json!({"title": ""})).bearer(&token(BOB));
    t.call(bobs).await.problem(403);
}

#[tokio::test]
async fn another_users_path_is_forbidden() {
    let t = Harness::new(routes()).await;
    t.seed(ANN, "ann's").await;
    let bob = token(BOB);
    t.call(list(ANN, "").bearer(&bob)).await.problem(403);
    let sneaky = create(ANN, &json!({"title": "sneaky"}));
    t.call(sneaky.bearer(&bob)).await.problem(403);
    assert_eq!(count(&t.db).await, 1);
    // Bob's own list does not show Ann's task.
    let a = t.call(list(BOB, "").bearer(&bob)).await;
    assert_eq!((a.status, a.body["total"].as_i64()), (200, Some(0)));
}

#[tokio::test]
async fn subjects_need_not_be_uuids() {
    let t = Harness::new(routes()).await;
    let sub = "ba|user 42/ü";
    let path = "ba%7Cuser%2042%2F%C3%BC";
    let theirs = token(sub);
    let body = json!({"title": "from better auth"});
    let a = t.call(create(path, &body).bearer(&theirs)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["user_id"], sub);
    assert_eq!(
        a.header("location").unwrap(),
        format!("/api/{path}/tasks/{}", a.body["id"].as_str().unwrap())
    );
    let a = t.call(list(path, "").bearer(&theirs)).await;
    assert_eq!(a.body["total"], 1);
    assert_eq!(a.body["items"][0]["title"], "from better auth");
    // UUID subjects match their path in any case.
    let a = t
        .call(list(&ANN.to_uppercase(), "").bearer(&token(ANN)))
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn list_validates_each_parameter_by_name() {
    let t = Harness::new(routes()).await;
    let ann = token(ANN);
    for (query, field) in [
        ("?page=0", "page"),
        ("?page=-1", "page"),
        ("?page=x", "page"),
        ("?page_size=0", "page_size"),
        ("?page_size=101", "page_size"),
        ("?sort_by=id", "sort_by"),
        ("?sort_by=title%3Bdrop", "sort_by"),
        ("?sort_order=random", "sort_order"),
        ("?completed=yes", "completed"),
    ] {
        let a = t.call(list(ANN, query).bearer(&ann)).await;
        assert_eq!(a.error_fields(), [field], "{query}");
    }
    let all_wrong = "?page=0&page_size=0&sort_by=x&sort_order=x&completed=x";
    let a = t.call(list(ANN, all_wrong).bearer(&ann)).await;
    assert_eq!(
        a.error_fields(),
        ["page", "page_size", "sort_by", "sort_order", "completed"]
    );
    let a = t
        .call(list(ANN, "?unknown=1&page_size=100").bearer(&ann))
        .await;
    assert_eq!(a.status, 200);
}

#[tokio::test]
async fn pages_visit_every_task_once_under_every_sort() {
    let t = Harness::new(routes()).await;
    let mut ids = HashSet::new();
    for i in 0..45 {
        // Repeated titles make ties that only `id` can order.
        let task = t.seed(ANN, &format!("task {}", (i * 7) % 9)).await;
        ids.insert(task.id.to_string());
    }
    t.seed(BOB, "bob's").await;
    let ann = token(ANN);
    for sort_by in ["created_at", "updated_at", "title"] {
        for order in ["asc", "desc"] {
            let mut seen = Vec::new();
            for page in 1..=5 {
                let query =
                    format!("?page={page}&page_size=10&sort_by={sort_by}&sort_order={order}");
                let a = t.call(list(ANN, &query).bearer(&ann)).await;
                assert_eq!(a.status, 200);
                assert_eq!(
                    (a.body["total"].as_i64(), a.body["total_pages"].as_i64()),
                    (Some(45), Some(5))
                );
                assert_eq!(
                    (a.body["page"].as_i64(), a.body["page_size"].as_i64()),
                    (Some(page), Some(10))
                );
                let items = a.body["items"].as_array().unwrap();
                assert_eq!(items.len(), if page == 5 { 5 } else { 10 });
                seen.extend(items.iter().cloned());
            }
            let seen_ids: HashSet<String> = seen
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(seen.len(), 45, "{sort_by} {order}");
            assert_eq!(seen_ids, ids, "{sort_by} {order}: each task exactly once");
            let key = |t: &Value| {
                (
                    t[sort_by].as_str().unwrap().to_owned(),
                    t["id"].as_str().unwrap().to_owned(),
                )
            };
            let keys: Vec<_> = seen.iter().map(key).collect();
            let mut sorted = keys.clone();
            sorted.sort();
            if order == "desc" {
                sorted.reverse();
            }
            assert_eq!(keys, sorted, "{sort_by} {order}: ordered with ties by id");
        }
    }
    // Defaults: page 1, 20 a page, newest first.
    let a = t.call(list(ANN, "").bearer(&ann)).await;
    assert_eq!(
        (
            a.body["page"].as_i64(),
            a.body["page_size"].as_i64(),
            a.body["total_pages"].as_i64()
        ),
        (Some(1), Some(20), Some(3))
    );
    let created = |n: usize| a.body["items"][n]["created_at"].as_str().unwrap();
    assert!(created(0) >= created(1));
    // Past the end: 200, empty, the total still right.
    let a = t.call(list(ANN, "?page=9&page_size=10").bearer(&ann)).await;
    assert_eq!(
        (
            a.status,
            a.body["items"].as_array().unwrap().len(),
            a.body["total"].as_i64()
        ),
        (200, 0, Some(45))
    );
}

/// The page a `Link: <…>; rel="next"` header points at, as a query string.
fn next_link(a: &testkit::Answer, user: &str) -> Option<String> {
    let link = a.header("link")?;
    let target = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap_or_else(|| panic!("not a next link: {link}"));
    let query = target
        .strip_prefix(&format!("/api/{user}/tasks"))
        .unwrap_or_else(|| panic!("a link to another listing: {link}"));
    assert_eq!(
        Some(query),
        a.body["next_cursor"]
            .as_str()
            .map(|c| format!("?cursor={c}"))
            .as_deref(),
        "the link names the body's next_cursor"
    );
    Some(query.to_owned())
}

/// Following `next_cursor` (through the `Link` header) visits the same tasks, in the same
/// order and with the same page numbers, as asking for every page by number, under every
/// sort, order and filter; the last page has neither.
#[tokio::test]
async fn cursors_visit_the_same_pages_as_page_numbers() {
    let t = Harness::new(routes()).await;
    for i in 0..23 {
        // Repeated titles make ties that only `id` can order.
        t.seed(ANN, &format!("task {}", (i * 7) % 5)).await;
    }
    t.db.execute("UPDATE tasks SET completed = true WHERE title IN ('task 1', 'task 3')")
        .await;
    t.seed(BOB, "bob's").await;
    let ann = token(ANN);
    for sort_by in ["created_at", "updated_at", "title"] {
        for order in ["asc", "desc"] {
            for filter in ["", "&completed=true", "&completed=false"] {
                let listing = format!("page_size=4&sort_by={sort_by}&sort_order={order}{filter}");
                let first = t.call(list(ANN, &format!("?{listing}")).bearer(&ann)).await;
                let total = first.body["total"].as_i64().unwrap();
                let pages = first.body["total_pages"].as_i64().unwrap();
                let mut by_cursor = vec![first];
                while let Some(next) = next_link(by_cursor.last().unwrap(), ANN) {
                    assert!(by_cursor.len() <= 10, "{listing}: the cursor never ends");
                    by_cursor.push(t.call(list(ANN, &next).bearer(&ann)).await);
                }
                assert_eq!(by_cursor.len() as i64, pages, "{listing}");
                for (n, a) in by_cursor.iter().enumerate() {
                    let page = n as i64 + 1;
                    let by_number = t
                        .call(list(ANN, &format!("?{listing}&page={page}")).bearer(&ann))
                        .await;
                    assert_eq!(a.status, 200, "{listing}: {:?}", a.body);
                    assert_eq!(
                        a.body["items"], by_number.body["items"],
                        "{listing} page {page}"
                    );
                    assert_eq!(a.body["page"].as_i64(), Some(page), "{listing}");
                    assert_eq!(a.body["total"].as_i64(), Some(total), "{listing}");
                    assert_eq!(a.body["page_size"].as_i64(), Some(4), "{listing}");
                    assert_eq!(by_number.body["next_cursor"].is_null(), page == pages);
                }
                let last = by_cursor.last().unwrap();
                assert!(last.body["next_cursor"].is_null() && last.header("link").is_none());
                let listed: i64 = by_cursor
                    .iter()
                    .map(|a| a.body["items"].as_array().unwrap().len() as i64)
                    .sum();
                assert_eq!(listed, total, "{listing}");
            }
        }
    }
}

/// A cursor is its owner's, for its listing, and whole: anything else is a 400 naming
/// `cursor`, and nothing is read.
#[tokio::test]
async fn a_cursor_is_checked_before_it_is_used() {
    let (t, trips) = Harness::counted(routes()).await;
    for i in 0..3 {
        t.seed(ANN, &format!("ann {i}")).await;
        t.seed(BOB, &format!("bob {i}")).await;
    }
    let (ann, bob) = (token(ANN), token(BOB));
    let a = t
        .call(list(ANN, "?page_size=1&sort_by=title").bearer(&ann))
        .await;
    let cursor = a.body["next_cursor"].as_str().unwrap().to_owned();
    let (payload, tag) = cursor.split_once('.').unwrap();
    let flipped = |s: &str| {
        let mut b = s.as_bytes().to_vec();
        b[0] = if b[0] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    };
    let refused = [
        (ANN, &ann, format!("?cursor={cursor}&page=2")),
        (ANN, &ann, format!("?cursor={}.{tag}", flipped(payload))),
        (ANN, &ann, format!("?cursor={payload}.{}", flipped(tag))),
        (ANN, &ann, format!("?cursor={payload}")),
        (ANN, &ann, "?cursor=".to_owned()),
        (ANN, &ann, "?cursor=not-a-cursor".to_owned()),
        (ANN, &ann, format!("?cursor={cursor}&sort_by=created_at")),
        (ANN, &ann, format!("?cursor={cursor}&page_size=2")),
        (ANN, &ann, format!("?cursor={cursor}&completed=false")),
        // Bob, with Ann's cursor, on his own listing.
        (BOB, &bob, format!("?cursor={cursor}")),
    ];
    for (user, token, query) in refused {
        let (n, a) = trips.of(t.call(list(user, &query).bearer(token))).await;
        assert_eq!(a.error_fields(), ["cursor"], "{query}: {:?}", a.body);
        assert_eq!(n, 0, "{query}: a refused cursor reads nothing");
    }
    // The listing's own parameters may come along unchanged; a cursor page is one round
    // trip.
    let same = format!("?cursor={cursor}&page_size=1&sort_by=title&sort_order=desc");
    let (n, a) = trips.of(t.call(list(ANN, &same).bearer(&ann))).await;
    assert_eq!((a.status, a.body["page"].as_i64(), n), (200, Some(2), 1));
    assert_eq!(a.body["items"][0]["title"], "ann 1");
    // Its remaining tasks deleted meanwhile: an empty last page, the total still right.
    t.db.execute("DELETE FROM tasks WHERE title IN ('ann 0', 'ann 1')")
        .await;
    let a = t
        .call(list(ANN, &format!("?cursor={cursor}")).bearer(&ann))
        .await;
    assert_eq!(
        (
            a.status,
            a.body["items"].as_array().unwrap().len(),
            a.body["total"].as_i64()
        ),
        (200, 0, Some(1))
    );
    assert!(a.body["next_cursor"].is_null() && a.header("link").is_none());
}

#[tokio::test]
async fn list_filters_on_completed() {
    let t = Harness::new(routes()).await;
    let ann = token(ANN);
    for (title, done) in [("a", true), ("b", false), ("c", true)] {
        let body = json!({"title": title, "completed": done});
        t.call(create(ANN, &body).bearer(&ann)).await;
    }
    let done_by_title = "?completed=true&sort_by=title&sort_order=asc";
    let a = t.call(list(ANN, done_by_title).bearer(&ann)).await;
    let titles: Vec<_> = a.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        (titles, a.body["total"].as_i64()),
        (vec!["a", "c"], Some(2))
    );
    let a = t.call(list(ANN, "?completed=false").bearer(&ann)).await;
    assert_eq!(a.body["total"], 1);
    assert_eq!(a.body["items"][0]["title"], "b");
    let past_the_end = "?page=3&page_size=1&completed=true";
    let a = t.call(list(ANN, past_the_end).bearer(&ann)).await;
    assert_eq!(
        (
            a.body["items"].as_array().unwrap().len(),
            a.body["total"].as_i64(),
            a.body["total_pages"].as_i64()
        ),
        (0, Some(2), Some(2))
    );
    let a = t.call(list(BOB, "").bearer(&token(BOB))).await;
    assert_eq!(
        (a.body["total"].as_i64(), a.body["total_pages"].as_i64()),
        (Some(0), Some(0))
    );
}

#[tokio::test]
async fn other_methods_and_paths() {
    let t = Harness::new(routes()).await;
    let delete = Event::new("DELETE", &format!("/api/{ANN}/tasks"));
    let a = t.call(delete.bearer(&token(ANN))).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET, POST"));
    t.call(Event::new("GET", "/api/tasks")).await.problem(404);
}

/// The quality bar: a task request costs one database round trip.
#[tokio::test]
async fn each_request_is_one_round_trip() {
    let (t, trips) = Harness::counted(routes()).await;
    let ann = token(ANN);
    let one = create(ANN, &json!({"title": "one"}));
    let (n, a) = trips.of(t.call(one.bearer(&ann))).await;
    assert_eq!((a.status, n), (201, 1));
    let by_title = list(ANN, "?sort_by=title");
    let (n, a) = trips.of(t.call(by_title.bearer(&ann))).await;
    assert_eq!((a.status, n), (200, 1));
    // Only a page past the end needs a second, to count.
    let (n, a) = trips.of(t.call(list(ANN, "?page=5").bearer(&ann))).await;
    assert_eq!((a.status, a.body["total"].as_i64(), n), (200, Some(1), 2));
    // Refused requests never reach the database.
    let (n, _) = trips.of(t.call(list(ANN, "?page=0").bearer(&ann))).await;
    let (m, _) = trips.of(t.call(list(ANN, ""))).await;
    assert_eq!((n, m), (0, 0));
}

/// Odd values a client can put in headers API Gateway passes on never panic the
/// function: each request gets a normal answer. (`Host` and `X-Forwarded-Proto` did,
/// inside lambda_http: fixed by vendor/lambda_http-1.3.2-*.patch.)
#[tokio::test]
async fn odd_headers_get_a_normal_answer() {
    let t = Harness::new(routes()).await;
    let odd = [
        ("host", "exa mple.com"),
        ("host", "[::1"),
        ("host", "a@b:c:d"),
        ("host", ""),
        ("x-forwarded-proto", "htt p"),
        ("x-forwarded-proto", ""),
        ("x-forwarded-proto", "javascript:"),
        ("x-forwarded-port", "abc"),
        ("x-forwarded-port", "99999999999"),
        ("x-forwarded-port", "-1"),
        ("cookie", "a=b; ; =; ==="),
        ("cookie", "naïve=ü; \"quoted\""),
        ("x-forwarded-for", "not an ip"),
    ];
    for (name, value) in odd {
        let event = list(ANN, "").bearer(&token(ANN)).header(name, value);
        let a = t.call(event).await;
        assert_eq!(a.status, 200, "{name}: {value:?}: {}", a.body);
    }
}

/// A 503 means nothing happened: a create that waits on a lock past its budget is
/// cancelled on the server, so it does not land when the lock goes away.
#[tokio::test]
async fn a_create_that_runs_out_of_time_never_lands() {
    runs_out_of_time_and_never_lands(TestDb::config).await;
}

/// The same through PgBouncer in transaction mode (Neon's pooled endpoint): the cancel
/// request goes to the pooler, which passes it to the server connection running the
/// statement.
#[tokio::test]
async fn a_create_that_runs_out_of_time_never_lands_through_pgbouncer() {
    runs_out_of_time_and_never_lands(TestDb::pooled_config).await;
}

async fn runs_out_of_time_and_never_lands(config: fn(&TestDb) -> shared::config::Config) {
    let t = Harness::configured(routes(), |db| {
        let mut config = config(db);
        config.database.request_budget = Duration::from_millis(500);
        config
    })
    .await;
    let ann = token(ANN);
    assert_eq!(t.call(list(ANN, "").bearer(&ann)).await.status, 200);

    let locker = t.db.client().await;
    locker
        .batch_execute("BEGIN; LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let too_late = create(ANN, &json!({"title": "too late"})).bearer(&ann);
    let a = within(Duration::from_secs(3), t.call(too_late)).await;
    a.retry_later(503);
    locker.batch_execute("COMMIT").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count(&t.db).await,
        0,
        "the insert was cancelled, not just abandoned"
    );

    // The function goes on serving, on a fresh connection.
    let in_time = create(ANN, &json!({"title": "in time"})).bearer(&ann);
    let a = t.call(in_time).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(count(&t.db).await, 1);
}

/// A retry with the same Idempotency-Key and body is answered as the first time and
/// creates nothing; another body under the key is a 422; keys belong to a subject.
#[tokio::test]
async fn idempotency_key_makes_a_create_safe_to_retry() {
    let t = Harness::new(routes()).await;
    let body = json!({"title": "once", "description": "only once"});
    let first = t.call(create_with_key(ANN, "key-1", &body)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.header("idempotent-replayed"), None);
    // The same body, keys reordered: the same request.
    let reordered = json!({"description": "only once", "title": "once"});
    let again = t.call(create_with_key(ANN, "key-1", &reordered)).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("etag"), first.header("etag"));
    assert_eq!(count(&t.db).await, 1);
    // Changed since: the replay is still the answer of the first time.
    let id = first.body["id"].as_str().unwrap();
    t.db.client()
        .await
        .execute(
            "UPDATE tasks SET title = 'renamed' WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    let later = t.call(create_with_key(ANN, "key-1", &body)).await;
    assert_eq!(later.body["title"], "once");
    let other = json!({"title": "other"});
    t.call(create_with_key(ANN, "key-1", &other))
        .await
        .problem(422);
    assert_eq!(count(&t.db).await, 1);
    // Bob's key-1 is his own.
    let bobs = t.call(create_with_key(BOB, "key-1", &body)).await;
    assert_eq!(
        (bobs.status, bobs.header("idempotent-replayed")),
        (201, None)
    );
    assert_eq!(count(&t.db).await, 2);
}

#[tokio::test]
async fn a_bad_idempotency_key_is_a_400() {
    let t = Harness::new(routes()).await;
    let long = "k".repeat(256);
    for bad in ["", "has space", "naïve", long.as_str()] {
        let a = t
            .call(create_with_key(ANN, bad, &json!({"title": ""})))
            .await;
        assert_eq!(a.error_fields(), ["Idempotency-Key", "title"], "{bad:?}");
    }
    assert_eq!(count(&t.db).await, 0);
    let longest = "k".repeat(255);
    let ok = t
        .call(create_with_key(ANN, &longest, &json!({"title": "t"})))
        .await;
    assert_eq!(ok.status, 201);
}

/// 20 requests at once with one key create exactly one task; each is answered with it,
/// or told that the first is still being processed.
#[tokio::test]
async fn parallel_retries_with_one_key_create_one_task() {
    one_task_from_parallel_retries(Harness::new(routes()).await).await;
}

/// The same through PgBouncer in transaction mode (Neon's pooled endpoint): the key's
/// lock is a transaction's, so it holds whichever server connection runs the statement.
#[tokio::test]
async fn parallel_retries_with_one_key_create_one_task_through_pgbouncer() {
    let t = Harness::configured(routes(), TestDb::pooled_config).await;
    one_task_from_parallel_retries(t).await;
}

async fn one_task_from_parallel_retries(t: Harness<shared::TaskState>) {
    let body = json!({"title": "exactly one"});
    let requests = (0..20).map(|_| t.call(create_with_key(ANN, "burst", &body)));
    let answers = futures::future::join_all(requests).await;
    let mut ids = HashSet::new();
    for a in &answers {
        match a.status {
            201 => {
                ids.insert(a.body["id"].as_str().unwrap().to_owned());
            }
            409 => {
                a.problem(409);
            }
            other => panic!("{other}: {}", a.body),
        }
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(count(&t.db).await, 1);
    let fresh = answers
        .iter()
        .filter(|a| a.status == 201 && a.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1);
}

/// A repeat while the first request with the key is still being processed is a 409,
/// and changes nothing; once it is done, the key works.
#[tokio::test]
async fn a_key_in_flight_is_a_409() {
    let t = Harness::new(routes()).await;
    let holder = t.db.client().await;
    let lock = "SELECT pg_advisory_lock(hashtextextended($1 || chr(10) || $2, 0))";
    holder.execute(lock, &[&ANN, &"busy"]).await.unwrap();
    let body = json!({"title": "t"});
    t.call(create_with_key(ANN, "busy", &body))
        .await
        .problem(409);
    assert_eq!(count(&t.db).await, 0);
    holder
        .execute("SELECT pg_advisory_unlock_all()", &[])
        .await
        .unwrap();
    let a = t.call(create_with_key(ANN, "busy", &body)).await;
    assert_eq!(a.status, 201);
}

/// A first keyed create is one round trip, a replay two; keys older than a day go.
#[tokio::test]
async fn keyed_creates_cost_one_round_trip_and_prune_old_keys() {
    let (t, trips) = Harness::counted(routes()).await;
    t.db.client()
        .await
        .batch_execute(
            "INSERT INTO idempotency_keys VALUES
             ('someone', 'old', 'f', gen_random_uuid(), 't', null, false, now() - interval '25 hours'),
             ('someone', 'recent', 'f', gen_random_uuid(), 't', null, false, now() - interval '23 hours')",
        )
        .await
        .unwrap();
    let body = json!({"title": "t"});
    let (n, a) = trips.of(t.call(create_with_key(ANN, "k", &body))).await;
    assert_eq!((a.status, n), (201, 1));
    let (n, a) = trips.of(t.call(create_with_key(ANN, "k", &body))).await;
    assert_eq!(
        (a.status, a.header("idempotent-replayed"), n),
        (201, Some("true"), 2)
    );
    let keys: Vec<String> =
        t.db.column("SELECT key FROM idempotency_keys ORDER BY key", &[])
            .await;
    assert_eq!(keys, ["k", "recent"]);
}

/// `TASK_EVENTS=outbox`: a create records `todo.task.created` with the task as
/// answered, with or without an Idempotency-Key; a replay, a reused key and invalid
/// input record nothing.
#[tokio::test]
async fn with_the_outbox_a_create_records_one_event() {
    let t = Harness::with_events(routes()).await;
    let ann = token(ANN);
    let plain = t
        .call(create(ANN, &json!({"title": "plain"})).bearer(&ann))
        .await;
    assert_eq!(plain.status, 201);
    let body = json!({"title": "keyed"});
    let keyed = t.call(create_with_key(ANN, "k-1", &body)).await;
    assert_eq!(keyed.status, 201);
    let replay = t.call(create_with_key(ANN, "k-1", &body)).await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    let other = json!({"title": "other"});
    let reused = t.call(create_with_key(ANN, "k-1", &other)).await;
    assert_eq!(reused.status, 422);
    t.call(create(ANN, &json!({"title": ""})).bearer(&ann))
        .await
        .problem(400);
    let events = t.db.events().await;
    assert_eq!(events.len(), 2, "{events:?}");
    for ((kind, aggregate, envelope), answer) in events.iter().zip([&plain, &keyed]) {
        assert_eq!(kind, "todo.task.created");
        assert_eq!(aggregate, answer.body["id"].as_str().unwrap());
        assert_eq!(envelope["subject"], ANN);
        assert_eq!(envelope["data"], answer.body);
    }
}
