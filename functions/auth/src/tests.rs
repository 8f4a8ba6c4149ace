//! Handler tests: real API Gateway v2 events against a real, throwaway Postgres.

use super::routes;
use serde_json::{Value, json};
use shared::config::Config;
use shared::{AuthState, FunctionState};
use std::time::{Duration, Instant};
use testkit::{Answer, Event, Harness, Partition, TEST_SECRET, TestDb, within};

/// The routes are exactly this function's part of the workspace's one route table
/// (testkit/tests/workspace.rs checks that table and that every function has this test).
#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("auth", &routes());
}

const SIGNUP: &str = "/api/auth/signup";
const LOGIN: &str = "/api/auth/login";
const REGISTER: &str = "/api/v1/auth/register";
const TOKEN: &str = "/api/v1/auth/token";

/// A POST of `body` as JSON.
fn post(path: &str, body: &Value) -> Event {
    Event::new("POST", path).json(body)
}

/// A POST of a form to the OAuth2 token route.
fn grant_form(pairs: &[(&str, &str)]) -> Event {
    Event::new("POST", TOKEN).form(pairs)
}

fn signup_body(username: &str, email: &str) -> Value {
    json!({"username": username, "email": email, "password": "s3cret-pass", "confirm_password": "s3cret-pass"})
}

/// A signup with the password the tests log in with, `s3cret-pass`.
fn signup(username: &str, email: &str) -> Event {
    post(SIGNUP, &signup_body(username, email))
}

/// Posts each body to `path`: each is a 400 naming exactly its fields, in order.
async fn assert_refused(t: &Harness<AuthState>, path: &str, cases: &[(Value, Vec<&str>)]) {
    for (body, fields) in cases {
        let a = t.call(post(path, body)).await;
        assert_eq!(a.error_fields(), *fields, "{body}");
    }
}

async fn users(db: &TestDb) -> i64 {
    db.scalar("SELECT count(*) FROM users", &[]).await
}

fn claims(token: &str) -> Value {
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    v.validate_aud = false;
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(TEST_SECRET.as_bytes()),
        &v,
    )
    .expect("a token signed with the secret")
    .claims
}

#[tokio::test]
async fn signup_creates_a_user_and_a_session() {
    let t = Harness::new(routes()).await;
    let a = t
        .call(post(
            SIGNUP,
            &json!({
                "username": "Ann_1", "email": " Ann@Example.com ", "password": "s3cret-pass",
                "confirm_password": "s3cret-pass", "ignored": true
            }),
        ))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/json"));
    let user = &a.body["user"];
    assert_eq!(user["username"], "Ann_1");
    assert_eq!(user["email"], "ann@example.com");
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        uuid::Uuid::parse_str(id).unwrap().hyphenated().to_string(),
        id
    );
    for ts in ["created_at", "updated_at"] {
        let t = user[ts].as_str().unwrap();
        assert!(
            t.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(t).is_ok(),
            "{t}"
        );
    }
    assert_eq!(
        user.as_object().unwrap().len(),
        5,
        "no password or hash: {user}"
    );
    assert_eq!(a.body["token_type"], "bearer");
    assert_eq!(a.body["expires_in"], 1800);

    let c = claims(a.body["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], id);
    assert_eq!(c["username"], "Ann_1");
    let (iat, exp) = (c["iat"].as_u64().unwrap(), c["exp"].as_u64().unwrap());
    assert_eq!(exp - iat, 1800);
    assert!(iat.abs_diff(chrono::Utc::now().timestamp() as u64) < 5);

    // The stored hash is bcrypt at the configured cost, never the plaintext.
    let hash: String =
        t.db.scalar(
            "SELECT password_hash FROM users WHERE id = $1::text::uuid",
            &[&id],
        )
        .await;
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(!hash.contains("s3cret-pass"));
    assert!(bcrypt::verify("s3cret-pass", &hash).unwrap());
}

#[tokio::test]
async fn signup_validates_every_field() {
    let t = Harness::new(routes()).await;
    let every_field = vec!["username", "email", "password", "confirm_password"];
    let long = "p".repeat(73);
    let cases = [
        (
            json!({"username": "a b", "email": "nope", "password": "short", "confirm_password": "short"}),
            vec!["username", "email", "password"],
        ),
        (
            json!({"username": "ann", "email": "ann@example.com", "password": "s3cret-pass", "confirm_password": "other-pass"}),
            vec!["confirm_password"],
        ),
        (json!({}), every_field.clone()),
        // 73 bytes is refused, never truncated.
        (
            json!({"username": "ann", "email": "ann@example.com", "password": long, "confirm_password": long}),
            vec!["password"],
        ),
        (
            json!({"username": 5, "email": ["x"], "password": true, "confirm_password": null}),
            every_field,
        ),
    ];
    assert_refused(&t, SIGNUP, &cases).await;
    assert_eq!(users(&t.db).await, 0, "bad input changes nothing");
}

#[tokio::test]
async fn malformed_bodies_are_client_errors() {
    let t = Harness::new(routes()).await;
    for body in [
        "{",
        "[]",
        "\"text\"",
        "null",
        "{\"username\": \"a\"} trailing",
    ] {
        let a = t.call(Event::new("POST", SIGNUP).raw_json(body)).await;
        a.problem(400);
    }
    t.call(Event::new("POST", LOGIN)).await.problem(400);
    // No content-type is read as JSON.
    let untyped = signup_body("ann", "ann@example.com").to_string();
    let a = t.call(Event::new("POST", SIGNUP).raw_body(&untyped)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let text = Event::new("POST", SIGNUP)
        .header("content-type", "text/plain")
        .raw_body("{}");
    t.call(text).await.problem(415);
    let big = json!({"username": "x".repeat(70 * 1024)});
    t.call(post(SIGNUP, &big)).await.problem(413);
}

#[tokio::test]
async fn duplicates_conflict_ignoring_case() {
    let t = Harness::new(routes()).await;
    assert_eq!(t.call(signup("ann", "ann@example.com")).await.status, 201);
    let a = t.call(signup("bob", "ANN@example.com")).await;
    assert!(a.problem(409)["detail"].as_str().unwrap().contains("email"));
    let a = t.call(signup("ANN", "other@example.com")).await;
    let detail = a.problem(409)["detail"].as_str().unwrap();
    assert!(detail.contains("username"), "{detail}");
}

#[tokio::test]
async fn simultaneous_signups_give_one_account() {
    let t = Harness::new(routes()).await;
    let (a, b) = tokio::join!(
        t.call(signup("racer1", "race@example.com")),
        t.call(signup("racer2", "race@example.com")),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", a.body, b.body);
    assert_eq!(users(&t.db).await, 1);
}

#[tokio::test]
async fn login_by_username_or_email() {
    let t = Harness::new(routes()).await;
    let created = t.call(signup("Ann", "ann@example.com")).await;
    let id = created.body["user"]["id"].clone();
    for body in [
        json!({"username": "ann", "password": "s3cret-pass"}),
        json!({"username": "ANN@example.com", "password": "s3cret-pass"}),
        json!({"email": "Ann@Example.com", "password": "s3cret-pass"}),
    ] {
        let a = t.call(post(LOGIN, &body)).await;
        assert_eq!(a.status, 200, "{body}: {}", a.body);
        assert_eq!(a.body["user"]["id"], id);
        assert_eq!(a.body["token_type"], "bearer");
        assert_eq!(claims(a.body["access_token"].as_str().unwrap())["sub"], id);
    }
}

#[tokio::test]
async fn login_needs_an_identifier_and_a_password() {
    let t = Harness::new(routes()).await;
    let cases = [
        (json!({"password": "s3cret-pass"}), vec!["username"]),
        (json!({"username": "ann"}), vec!["password"]),
        (
            json!({"username": 1, "password": 2}),
            vec!["username", "password"],
        ),
    ];
    assert_refused(&t, LOGIN, &cases).await;
}

#[tokio::test]
async fn bad_credentials_look_the_same_either_way() {
    let t = Harness::new(routes()).await;
    t.call(signup("ann", "ann@example.com")).await;
    let wrong = json!({"username": "ann", "password": "wrong-pass"});
    let wrong = t.call(post(LOGIN, &wrong)).await;
    let unknown = json!({"username": "nobody", "password": "wrong-pass"});
    let unknown = t.call(post(LOGIN, &unknown)).await;
    for a in [&wrong, &unknown] {
        a.problem(401);
        assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    }
    assert_eq!(wrong.body, unknown.body);
    // What no account can have is not a credential: a 400 naming the field, before any
    // query or bcrypt.
    let long = format!("{}@example.com", "é".repeat(243));
    for (field, identifier) in [("username", "ann\u{0}"), ("email", long.as_str())] {
        let body = json!({field: identifier, "password": "wrong-pass"});
        let a = t.call(post(LOGIN, &body)).await;
        a.problem(400);
        assert_eq!(a.error_fields(), [field]);
    }
    // 254 characters (more bytes) is still an identifier.
    let body = json!({"email": &long[2..], "password": "wrong-pass"});
    let a = t.call(post(LOGIN, &body)).await;
    assert_eq!(a.body, wrong.body);
}

/// Both failures run one bcrypt verification at the configured cost, so an unknown
/// account must not answer measurably faster than a wrong password.
#[tokio::test]
async fn login_timing_does_not_reveal_accounts() {
    let t = Harness::new(routes()).await;
    t.call(signup("ann", "ann@example.com")).await;
    async fn median(t: &Harness<AuthState>, username: &str) -> Duration {
        let mut times = Vec::new();
        for _ in 0..7 {
            let body = json!({"username": username, "password": "wrong-pass"});
            let started = Instant::now();
            let a = t.call(post(LOGIN, &body)).await;
            times.push(started.elapsed());
            assert_eq!(a.status, 401);
        }
        times.sort();
        times[3]
    }
    let wrong = median(&t, "ann").await;
    let unknown = median(&t, "nobody").await;
    testkit::note(&format!(
        "login timing: wrong password {wrong:?}, unknown user {unknown:?}"
    ));
    // A skipped bcrypt would make unknown users answer in well under a millisecond
    // next to tens of milliseconds; allow generous noise either way.
    assert!(
        unknown * 3 > wrong && wrong * 3 > unknown,
        "wrong {wrong:?} vs unknown {unknown:?}"
    );
}

#[tokio::test]
async fn register_returns_the_user_and_refuses_duplicates_as_400() {
    let t = Harness::new(routes()).await;
    let bob = json!({"email": "bob@example.com", "username": "bob", "password": "s3cret-pass"});
    let a = t.call(post(REGISTER, &bob)).await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["username"], "bob");
    assert!(a.body.get("access_token").is_none() && a.body.get("password_hash").is_none());
    let cases = [
        (
            json!({"email": "BOB@example.com", "username": "bob2", "password": "s3cret-pass"}),
            vec!["email"],
        ),
        (
            json!({"email": "x@example.com", "username": "Bob", "password": "s3cret-pass"}),
            vec!["username"],
        ),
        (
            json!({"email": "x@example.com", "username": "x"}),
            vec!["username", "password"],
        ),
    ];
    assert_refused(&t, REGISTER, &cases).await;
}

#[tokio::test]
async fn token_route_is_an_oauth2_password_grant() {
    let t = Harness::new(routes()).await;
    let signed_up = t.call(signup("ann", "ann@example.com")).await;
    let id = signed_up.body["user"]["id"].clone();
    let a = t
        .call(grant_form(&[
            ("grant_type", "password"),
            ("username", "ann"),
            ("password", "s3cret-pass"),
            ("scope", "anything"),
        ]))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], "bearer");
    assert_eq!(a.body["expires_in"], 1800);
    assert_eq!(claims(a.body["access_token"].as_str().unwrap())["sub"], id);
    let by_email = [("username", "ann@example.com"), ("password", "s3cret-pass")];
    assert_eq!(t.call(grant_form(&by_email)).await.status, 200);

    let a = t
        .call(grant_form(&[
            ("grant_type", "client_credentials"),
            ("username", "ann"),
            ("password", "s3cret-pass"),
        ]))
        .await;
    assert_eq!(a.error_fields(), ["grant_type"]);
    let a = t.call(grant_form(&[])).await;
    assert_eq!(a.error_fields(), ["username", "password"]);
    let wrong = [("username", "ann"), ("password", "nope-nope")];
    let a = t.call(grant_form(&wrong)).await;
    a.problem(401);
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    let as_json = post(TOKEN, &json!({"username": "ann"}));
    t.call(as_json).await.problem(415);
}

#[tokio::test]
async fn unknown_routes_methods_and_request_ids() {
    let t = Harness::new(routes()).await;
    let a = t.call(Event::new("GET", LOGIN)).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("POST"));
    let a = t.call(Event::new("POST", "/api/auth/nothing")).await;
    a.problem(404);
    assert!(a.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let theirs = Event::new("POST", "/api/auth/nothing").header("x-request-id", "client-id-1");
    let a = t.call(theirs).await;
    assert_eq!(a.header("x-request-id"), Some("client-id-1"));
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_not_a_hang() {
    let t = Harness::configured(routes(), TestDb::unreachable_config).await;
    let login = post(
        LOGIN,
        &json!({"username": "ann", "password": "s3cret-pass"}),
    );
    let a = within(Duration::from_secs(9), t.call(login)).await;
    a.retry_later(503);
    assert!(!a.body.to_string().contains("127.0.0.1"));
}

#[tokio::test]
async fn signup_is_one_round_trip_and_a_login_at_most_two() {
    let (t, trips) = Harness::counted(routes()).await;
    let (n, a) = trips.of(t.call(signup("ann", "ann@example.com"))).await;
    assert_eq!((a.status, n), (201, 1));
    let login = post(
        LOGIN,
        &json!({"username": "ann", "password": "s3cret-pass"}),
    );
    let (n, a) = trips.of(t.call(login)).await;
    assert_eq!((a.status, n), (200, 2), "and one to take the count back");
    let wrong = post(LOGIN, &json!({"username": "ann", "password": "wrong-pass"}));
    let (n, a) = trips.of(t.call(wrong)).await;
    assert_eq!(
        (a.status, n),
        (401, 1),
        "counted in the statement that looks it up"
    );
}

/// Answers that carry a token are never cached; no answer may be sniffed as another
/// type, errors included.
#[tokio::test]
async fn token_answers_are_never_cached() {
    let t = Harness::new(routes()).await;
    let signed_up = t.call(signup("ann", "ann@example.com")).await;
    let credentials = json!({"username": "ann", "password": "s3cret-pass"});
    let logged_in = t.call(post(LOGIN, &credentials)).await;
    let grant = grant_form(&[("username", "ann"), ("password", "s3cret-pass")]);
    let granted = t.call(grant).await;
    for (a, status) in [(&signed_up, 201), (&logged_in, 200), (&granted, 200)] {
        assert!(a.body["access_token"].is_string(), "{}", a.body);
        assert_eq!(a.status, status);
        assert_eq!(a.header("cache-control"), Some("no-store"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    }
    let wrong = json!({"username": "ann", "password": "wrong-pass"});
    let refused = t.call(post(LOGIN, &wrong)).await;
    refused.problem(401);
    assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
}

/// Raising BCRYPT_COST: an old hash is replaced at the next successful login (and only
/// then), so no account keeps a cheaper hash than the dummy one unknown names cost.
#[tokio::test]
async fn a_hash_of_another_cost_is_replaced_at_the_next_login() {
    let cheap = Harness::new(routes()).await;
    cheap.call(signup("ann", "ann@example.com")).await;
    let stored = async || -> String {
        cheap
            .db
            .scalar("SELECT password_hash FROM users", &[])
            .await
    };
    assert!(stored().await.starts_with("$2b$10$"));
    let mut config = cheap.db.config();
    config.auth.bcrypt_cost = 11;
    let dearer = AuthState::new(&config).await.unwrap();
    let wrong = json!({"username": "ann", "password": "wrong-pass"});
    cheap
        .call_on(&dearer, post(LOGIN, &wrong))
        .await
        .problem(401);
    assert!(
        stored().await.starts_with("$2b$10$"),
        "not on a failed login"
    );
    let right = json!({"username": "ann", "password": "s3cret-pass"});
    let a = cheap.call_on(&dearer, post(LOGIN, &right)).await;
    assert_eq!(a.status, 200);
    assert!(stored().await.starts_with("$2b$11$"));
    // Both costs keep working for the same password.
    for state in [&dearer, &cheap.state] {
        let a = cheap.call_on(state, post(LOGIN, &right)).await;
        assert_eq!(a.status, 200);
    }
}

/// `config` with a throttle that allows `max` failures a minute per (account, address)
/// and `per_address` per address, on a pool of `pool`.
fn throttled(mut config: Config, max: u32, per_address: u32, pool: usize) -> Config {
    config.auth.throttle.max_failures = max;
    config.auth.throttle.max_address_failures = per_address;
    config.auth.throttle.window = Duration::from_secs(60);
    config.database.pool_max_size = pool;
    config
}

/// The throttle most tests below use: 3 failures a minute per (account, address).
async fn three_a_minute() -> Harness<AuthState> {
    Harness::configured(routes(), |db| throttled(db.config(), 3, 100, 2)).await
}

/// The attacker's address in these tests; the owner's is another.
const ATTACKER: &str = "198.51.100.7";
const OWNER: &str = "203.0.113.9";

fn login(username: &str, password: &str) -> Event {
    login_from(ATTACKER, username, password)
}

fn login_from(address: &str, username: &str, password: &str) -> Event {
    post(LOGIN, &json!({"username": username, "password": password})).source_ip(address)
}

fn grant(username: &str, password: &str) -> Event {
    grant_form(&[("username", username), ("password", password)]).source_ip(ATTACKER)
}

/// `times` wrong guesses at `username`'s password from the attacker: each a 401.
async fn guess_wrong(t: &Harness<AuthState>, username: &str, times: usize) {
    for _ in 0..times {
        t.call(login(username, "wrong-pass")).await.problem(401);
    }
}

fn assert_throttled(a: &Answer, window: u64) {
    let body = a.problem(429);
    let retry: u64 = a.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=window).contains(&retry), "{retry}");
    assert!(body["detail"].as_str().unwrap().contains("try again"));
}

/// Past the limit both login routes answer 429 with Retry-After from the guesser's
/// address, without checking the password (the right one too), for the account
/// whichever identifier names it, and for unknown names alike; the owner, from another
/// address, logs in all the while; a header the client writes changes nothing.
#[tokio::test]
async fn failures_are_throttled_per_account_and_address() {
    throttles_per_account_and_address(three_a_minute().await).await;
}

/// The same through PgBouncer in transaction mode (Neon's pooled endpoint), where each
/// statement may run on another server connection: signup, login and the counting of
/// failures keep nothing in a session.
#[tokio::test]
async fn failures_are_throttled_per_account_and_address_through_pgbouncer() {
    let t = Harness::configured(routes(), |db| throttled(db.pooled_config(), 3, 100, 2)).await;
    throttles_per_account_and_address(t).await;
}

async fn throttles_per_account_and_address(t: Harness<AuthState>) {
    t.call(signup("ann", "ann@example.com")).await;
    t.call(login("ann", "wrong-pass")).await.problem(401);
    t.call(grant("ANN@example.com", "wrong-pass"))
        .await
        .problem(401);
    t.call(login("ann@example.com", "wrong-pass"))
        .await
        .problem(401);
    for event in [login("ann", "s3cret-pass"), grant("ann", "s3cret-pass")] {
        assert_throttled(&t.call(event).await, 60);
    }
    // X-Forwarded-For is the client's to write: it is not the address.
    for forwarded in [OWNER, "10.1.2.3", "10.1.2.3, 203.0.113.9"] {
        let event = login("ann", "s3cret-pass").header("x-forwarded-for", forwarded);
        assert_throttled(&t.call(event).await, 60);
    }
    // The owner, from anywhere else, is not locked out.
    let a = t.call(login_from(OWNER, "ann", "s3cret-pass")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Unknown names: the same counting, the same answers.
    guess_wrong(&t, "ghost", 3).await;
    assert_throttled(&t.call(login("GHOST", "wrong-pass")).await, 60);
    t.call(login_from(OWNER, "ghost", "wrong-pass"))
        .await
        .problem(401);
    // Another account from the same address is not affected.
    t.call(signup("bob", "bob@example.com")).await;
    assert_eq!(t.call(login("bob", "s3cret-pass")).await.status, 200);
}

/// Password spraying: past the per-address limit, every login from that address is a
/// 429, whatever the account; other addresses go on.
#[tokio::test]
async fn one_address_spraying_many_accounts_is_throttled() {
    let t = Harness::configured(routes(), |db| throttled(db.config(), 10, 100, 2)).await;
    t.call(signup("ann", "ann@example.com")).await;
    for i in 0..100 {
        let a = t.call(login(&format!("user{i:03}"), "wrong-pass")).await;
        a.problem(401);
    }
    for name in ["user100", "user101", "ann"] {
        assert_throttled(&t.call(login(name, "s3cret-pass")).await, 60);
    }
    t.call(login_from(OWNER, "user100", "wrong-pass"))
        .await
        .problem(401);
    let a = t.call(login_from(OWNER, "ann", "s3cret-pass")).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

/// A success clears its (account, address) count and gives its attempt back to the
/// address; what a client typed as an unknown name is never stored.
#[tokio::test]
async fn success_clears_its_count_and_identifiers_are_not_stored() {
    let t = three_a_minute().await;
    t.call(signup("ann", "ann@example.com")).await;
    guess_wrong(&t, "ann", 2).await;
    t.call(login("hunter2-typed-here", "wrong-pass"))
        .await
        .problem(401);
    assert_eq!(t.call(login("ann", "s3cret-pass")).await.status, 200);
    let client = t.db.client().await;
    let rows = client
        .query("SELECT key, failures FROM login_failures ORDER BY key", &[])
        .await
        .unwrap();
    let rows: Vec<(String, i32)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0], (format!("address:{ATTACKER}"), 3), "3 failures");
    assert!(
        rows[1].0.starts_with("name:") && rows[1].0.ends_with(&format!(" from {ATTACKER}")),
        "{rows:?}"
    );
    assert!(!rows[1].0.contains("hunter2"), "{rows:?}");
    // The pair's count was cleared: three more guesses before a 429.
    guess_wrong(&t, "ann", 3).await;
    assert_throttled(&t.call(login("ann", "wrong-pass")).await, 60);
}

/// An ended window starts a new one; windows that have ended are pruned as attempts
/// come, at most ten per attempt.
#[tokio::test]
async fn old_windows_go_a_few_at_a_time() {
    let t = three_a_minute().await;
    t.call(signup("ann", "ann@example.com")).await;
    guess_wrong(&t, "ann", 3).await;
    t.call(login("ann", "wrong-pass")).await.problem(429);
    let client = t.db.client().await;
    // Move the windows back past their end, and add stale ones: the next attempt
    // starts afresh and prunes ten of the others.
    client
        .batch_execute(
            "UPDATE login_failures SET window_start = now() - interval '2 minutes';
             INSERT INTO login_failures
             SELECT 'address:10.0.0.' || i, 5, now() - interval '1 day' - i * interval '1 s'
             FROM generate_series(1, 15) AS i;",
        )
        .await
        .unwrap();
    t.call(login("ann", "wrong-pass")).await.problem(401);
    let stale =
        "SELECT count(*) FROM login_failures WHERE window_start < now() - interval '1 minute'";
    let left: i64 = client.query_one(stale, &[]).await.unwrap().get(0);
    assert_eq!(left, 5, "ten pruned, the oldest first");
    let rows = client
        .query(
            "SELECT failures FROM login_failures WHERE window_start > now() - interval '1 minute'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "the pair and the address, in new windows");
    assert!(rows.iter().all(|row| row.get::<_, i32>(0) == 1));
    t.call(login("ann", "wrong-pass")).await.problem(401);
    let left: i64 = client.query_one(stale, &[]).await.unwrap().get(0);
    assert_eq!(left, 0);
}

/// Forty wrong guesses at once, from one address, spread over four instances: the
/// password is checked exactly the limit's times; every other guess is a 429.
#[tokio::test]
async fn a_burst_of_guesses_gets_no_more_checks_than_the_limit() {
    let t = Harness::new(routes()).await;
    let limit = 10;
    // Four instances of the function on the one database.
    let mut instances = Vec::new();
    for _ in 0..4 {
        let config = throttled(t.db.config(), limit, 100, 4);
        instances.push(AuthState::new(&config).await.unwrap());
    }
    t.call_on(&instances[0], signup("ann", "ann@example.com"))
        .await;
    let guesses = (0..40).map(|i| {
        t.call_on(
            &instances[i % instances.len()],
            login("ann", &format!("wrong-{i:04}")),
        )
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let throttled = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(checked + throttled, 40);
    assert_eq!(checked, limit as usize, "passwords checked");
    let owner = login_from(OWNER, "ann", "s3cret-pass");
    let a = t.call_on(&instances[1], owner).await;
    assert_eq!(a.status, 200);
}

/// With the database cut off after the pool has connected, a login and a signup answer
/// within one deadline plus the cancel's: a login is a 503 (it changes nothing a client
/// owns), a signup a 504 (the account may have been created: signing up again says so).
#[tokio::test]
async fn logins_and_signups_answer_within_one_deadline_when_the_database_is_cut_off() {
    for (event, status) in [
        (login_from(OWNER, "ann", "s3cret-pass"), 503),
        (signup("bob", "bob@example.com"), 504),
    ] {
        let (t, partition) = Harness::partitioned(routes()).await;
        partition.hold();
        let a = within(Partition::bound(), t.call(event)).await;
        a.retry_later(status);
        partition.heal();
    }
}
