//! Handler tests: real API Gateway v2 events against a real, throwaway Postgres.

use super::routes;
use serde_json::{Value, json};
use shared::{AuthState, FunctionState};
use std::time::{Duration, Instant};
use testkit::{Answer, Event, TEST_SECRET, TestDb};

async fn call(state: &AuthState, event: Event) -> Answer {
    testkit::call(state, &routes(), event).await
}

fn signup_body(username: &str, email: &str) -> Value {
    json!({"username": username, "email": email, "password": "s3cret-pass", "confirm_password": "s3cret-pass"})
}

async fn signup(state: &AuthState, username: &str, email: &str) -> Answer {
    call(
        state,
        Event::new("POST", "/api/auth/signup").json(&signup_body(username, email)),
    )
    .await
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
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let a = call(
        &state,
        Event::new("POST", "/api/auth/signup").json(&json!({
            "username": "Ann_1", "email": " Ann@Example.com ", "password": "s3cret-pass",
            "confirm_password": "s3cret-pass", "ignored": true
        })),
    )
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
    let row = db
        .client()
        .await
        .query_one(
            "SELECT password_hash FROM users WHERE id = $1::text::uuid",
            &[&id],
        )
        .await
        .unwrap();
    let hash: String = row.get(0);
    assert!(hash.starts_with("$2b$10$"), "{hash}");
    assert!(!hash.contains("s3cret-pass"));
    assert!(bcrypt::verify("s3cret-pass", &hash).unwrap());
}

#[tokio::test]
async fn signup_validates_every_field() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let a = call(
        &state,
        Event::new("POST", "/api/auth/signup").json(&json!({
            "username": "a b", "email": "nope", "password": "short", "confirm_password": "short"
        })),
    )
    .await;
    assert_eq!(a.error_fields(), ["username", "email", "password"]);

    let a = call(&state, Event::new("POST", "/api/auth/signup").json(&json!({
        "username": "ann", "email": "ann@example.com", "password": "s3cret-pass", "confirm_password": "other-pass"
    }))).await;
    assert_eq!(a.error_fields(), ["confirm_password"]);

    let a = call(
        &state,
        Event::new("POST", "/api/auth/signup").json(&json!({})),
    )
    .await;
    assert_eq!(
        a.error_fields(),
        ["username", "email", "password", "confirm_password"]
    );

    // 73 bytes is refused, never truncated.
    let long = "p".repeat(73);
    let a = call(&state, Event::new("POST", "/api/auth/signup").json(&json!({
        "username": "ann", "email": "ann@example.com", "password": long, "confirm_password": long
    }))).await;
    assert_eq!(a.error_fields(), ["password"]);
    let a = call(
        &state,
        Event::new("POST", "/api/auth/signup").json(&json!({
            "username": 5, "email": ["x"], "password": true, "confirm_password": null
        })),
    )
    .await;
    assert_eq!(
        a.error_fields(),
        ["username", "email", "password", "confirm_password"]
    );

    let count: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "bad input changes nothing");
}

#[tokio::test]
async fn malformed_bodies_are_client_errors() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    for body in [
        "{",
        "[]",
        "\"text\"",
        "null",
        "{\"username\": \"a\"} trailing",
    ] {
        let a = call(
            &state,
            Event::new("POST", "/api/auth/signup")
                .header("content-type", "application/json")
                .raw_body(body),
        )
        .await;
        a.problem(400);
    }
    let a = call(&state, Event::new("POST", "/api/auth/login")).await;
    a.problem(400);
    // No content-type is read as JSON.
    let a = call(
        &state,
        Event::new("POST", "/api/auth/signup")
            .raw_body(&signup_body("ann", "ann@example.com").to_string()),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    let a = call(
        &state,
        Event::new("POST", "/api/auth/signup")
            .header("content-type", "text/plain")
            .raw_body("{}"),
    )
    .await;
    a.problem(415);
    let big = json!({"username": "x".repeat(70 * 1024)});
    let a = call(&state, Event::new("POST", "/api/auth/signup").json(&big)).await;
    a.problem(413);
}

#[tokio::test]
async fn duplicates_conflict_ignoring_case() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    assert_eq!(signup(&state, "ann", "ann@example.com").await.status, 201);
    let a = signup(&state, "bob", "ANN@example.com").await;
    assert!(a.problem(409)["detail"].as_str().unwrap().contains("email"));
    let a = signup(&state, "ANN", "other@example.com").await;
    assert!(
        a.problem(409)["detail"]
            .as_str()
            .unwrap()
            .contains("username")
    );
}

#[tokio::test]
async fn simultaneous_signups_give_one_account() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let (a, b) = tokio::join!(
        signup(&state, "racer1", "race@example.com"),
        signup(&state, "racer2", "race@example.com"),
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", a.body, b.body);
    let count: i64 = db
        .client()
        .await
        .query_one("SELECT count(*) FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1);
}

#[tokio::test]
async fn login_by_username_or_email() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let created = signup(&state, "Ann", "ann@example.com").await;
    let id = created.body["user"]["id"].clone();
    for body in [
        json!({"username": "ann", "password": "s3cret-pass"}),
        json!({"username": "ANN@example.com", "password": "s3cret-pass"}),
        json!({"email": "Ann@Example.com", "password": "s3cret-pass"}),
    ] {
        let a = call(&state, Event::new("POST", "/api/auth/login").json(&body)).await;
        assert_eq!(a.status, 200, "{body}: {}", a.body);
        assert_eq!(a.body["user"]["id"], id);
        assert_eq!(a.body["token_type"], "bearer");
        assert_eq!(claims(a.body["access_token"].as_str().unwrap())["sub"], id);
    }
}

#[tokio::test]
async fn login_needs_an_identifier_and_a_password() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let a = call(
        &state,
        Event::new("POST", "/api/auth/login").json(&json!({"password": "s3cret-pass"})),
    )
    .await;
    assert_eq!(a.error_fields(), ["username"]);
    let a = call(
        &state,
        Event::new("POST", "/api/auth/login").json(&json!({"username": "ann"})),
    )
    .await;
    assert_eq!(a.error_fields(), ["password"]);
    let a = call(
        &state,
        Event::new("POST", "/api/auth/login").json(&json!({"username": 1, "password": 2})),
    )
    .await;
    assert_eq!(a.error_fields(), ["username", "password"]);
}

#[tokio::test]
async fn bad_credentials_look_the_same_either_way() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    signup(&state, "ann", "ann@example.com").await;
    let wrong = call(
        &state,
        Event::new("POST", "/api/auth/login")
            .json(&json!({"username": "ann", "password": "wrong-pass"})),
    )
    .await;
    let unknown = call(
        &state,
        Event::new("POST", "/api/auth/login")
            .json(&json!({"username": "nobody", "password": "wrong-pass"})),
    )
    .await;
    for a in [&wrong, &unknown] {
        a.problem(401);
        assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    }
    assert_eq!(wrong.body, unknown.body);
    // What no account can have is not a credential: a 400 naming the field, before any
    // query or bcrypt.
    let long = format!("{}@example.com", "é".repeat(243));
    for (field, identifier) in [("username", "ann\u{0}"), ("email", long.as_str())] {
        let a = call(
            &state,
            Event::new("POST", "/api/auth/login")
                .json(&json!({field: identifier, "password": "wrong-pass"})),
        )
        .await;
        a.problem(400);
        assert_eq!(a.error_fields(), [field]);
    }
    // 254 characters (more bytes) is still an identifier.
    let a = call(
        &state,
        Event::new("POST", "/api/auth/login")
            .json(&json!({"email": &long[2..], "password": "wrong-pass"})),
    )
    .await;
    assert_eq!(a.body, wrong.body);
}

/// Both failures run one bcrypt verification at the configured cost, so an unknown
/// account must not answer measurably faster than a wrong password.
#[tokio::test]
async fn login_timing_does_not_reveal_accounts() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    signup(&state, "ann", "ann@example.com").await;
    async fn median(state: &AuthState, username: &str) -> Duration {
        let mut times = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let a = call(
                state,
                Event::new("POST", "/api/auth/login")
                    .json(&json!({"username": username, "password": "wrong-pass"})),
            )
            .await;
            times.push(started.elapsed());
            assert_eq!(a.status, 401);
        }
        times.sort();
        times[3]
    }
    let wrong = median(&state, "ann").await;
    let unknown = median(&state, "nobody").await;
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
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/register").json(
            &json!({"email": "bob@example.com", "username": "bob", "password": "s3cret-pass"}),
        ),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["username"], "bob");
    assert!(a.body.get("access_token").is_none() && a.body.get("password_hash").is_none());
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/register").json(
            &json!({"email": "BOB@example.com", "username": "bob2", "password": "s3cret-pass"}),
        ),
    )
    .await;
    assert_eq!(a.error_fields(), ["email"]);
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/register")
            .json(&json!({"email": "x@example.com", "username": "Bob", "password": "s3cret-pass"})),
    )
    .await;
    assert_eq!(a.error_fields(), ["username"]);
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/register")
            .json(&json!({"email": "x@example.com", "username": "x"})),
    )
    .await;
    assert_eq!(a.error_fields(), ["username", "password"]);
}

#[tokio::test]
async fn token_route_is_an_oauth2_password_grant() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let id = signup(&state, "ann", "ann@example.com").await.body["user"]["id"].clone();
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/token").form(&[
            ("grant_type", "password"),
            ("username", "ann"),
            ("password", "s3cret-pass"),
            ("scope", "anything"),
        ]),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["token_type"], "bearer");
    assert_eq!(a.body["expires_in"], 1800);
    assert_eq!(claims(a.body["access_token"].as_str().unwrap())["sub"], id);
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/token")
            .form(&[("username", "ann@example.com"), ("password", "s3cret-pass")]),
    )
    .await;
    assert_eq!(a.status, 200);

    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/token").form(&[
            ("grant_type", "client_credentials"),
            ("username", "ann"),
            ("password", "s3cret-pass"),
        ]),
    )
    .await;
    assert_eq!(a.error_fields(), ["grant_type"]);
    let a = call(&state, Event::new("POST", "/api/v1/auth/token").form(&[])).await;
    assert_eq!(a.error_fields(), ["username", "password"]);
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/token")
            .form(&[("username", "ann"), ("password", "nope-nope")]),
    )
    .await;
    a.problem(401);
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    let a = call(
        &state,
        Event::new("POST", "/api/v1/auth/token").json(&json!({"username": "ann"})),
    )
    .await;
    a.problem(415);
}

#[tokio::test]
async fn unknown_routes_methods_and_request_ids() {
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let a = call(&state, Event::new("GET", "/api/auth/login")).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("POST"));
    let a = call(&state, Event::new("POST", "/api/auth/nothing")).await;
    a.problem(404);
    assert!(a.header("x-request-id").is_some_and(|id| !id.is_empty()));
    let a = call(
        &state,
        Event::new("POST", "/api/auth/nothing").header("x-request-id", "client-id-1"),
    )
    .await;
    assert_eq!(a.header("x-request-id"), Some("client-id-1"));
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_not_a_hang() {
    let db = TestDb::new().await;
    let mut config = db.config();
    // Nothing listens on port 1.
    config.database.url = shared::config::Secret::new(
        "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
    );
    let state = AuthState::new(&config).await.unwrap();
    let started = Instant::now();
    let a = call(
        &state,
        Event::new("POST", "/api/auth/login")
            .json(&json!({"username": "ann", "password": "s3cret-pass"})),
    )
    .await;
    a.problem(503);
    assert!(a.header("retry-after").is_some());
    assert!(started.elapsed() < Duration::from_secs(9));
    assert!(!a.body.to_string().contains("127.0.0.1"));
}

#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("auth", &routes());
}

#[tokio::test]
async fn signup_is_one_round_trip_and_a_login_at_most_two() {
    let db = TestDb::new().await;
    let trips = testkit::RoundTrips::proxy(&db).await;
    let state: AuthState = trips.state(&db).await;
    let (n, a) = trips.of(signup(&state, "ann", "ann@example.com")).await;
    assert_eq!((a.status, n), (201, 1));
    let login = Event::new("POST", "/api/auth/login")
        .json(&json!({"username": "ann", "password": "s3cret-pass"}));
    let (n, a) = trips.of(call(&state, login)).await;
    assert_eq!((a.status, n), (200, 2), "and one to take the count back");
    let wrong = Event::new("POST", "/api/auth/login")
        .json(&json!({"username": "ann", "password": "wrong-pass"}));
    let (n, a) = trips.of(call(&state, wrong)).await;
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
    let db = TestDb::new().await;
    let state: AuthState = db.state().await;
    let signed_up = signup(&state, "ann", "ann@example.com").await;
    let credentials = json!({"username": "ann", "password": "s3cret-pass"});
    let logged_in = call(
        &state,
        Event::new("POST", "/api/auth/login").json(&credentials),
    )
    .await;
    let grant = Event::new("POST", "/api/v1/auth/token")
        .form(&[("username", "ann"), ("password", "s3cret-pass")]);
    let granted = call(&state, grant).await;
    for (a, status) in [(&signed_up, 201), (&logged_in, 200), (&granted, 200)] {
        assert!(a.body["access_token"].is_string(), "{}", a.body);
        assert_eq!(a.status, status);
        assert_eq!(a.header("cache-control"), Some("no-store"));
        assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    }
    let wrong = json!({"username": "ann", "password": "wrong-pass"});
    let refused = call(&state, Event::new("POST", "/api/auth/login").json(&wrong)).await;
    refused.problem(401);
    assert_eq!(refused.header("x-content-type-options"), Some("nosniff"));
}

/// Raising BCRYPT_COST: an old hash is replaced at the next successful login (and only
/// then), so no account keeps a cheaper hash than the dummy one unknown names cost.
#[tokio::test]
async fn a_hash_of_another_cost_is_replaced_at_the_next_login() {
    let db = TestDb::new().await;
    let cheap: AuthState = db.state().await;
    signup(&cheap, "ann", "ann@example.com").await;
    let stored = async || -> String {
        db.client()
            .await
            .query_one("SELECT password_hash FROM users", &[])
            .await
            .unwrap()
            .get(0)
    };
    assert!(stored().await.starts_with("$2b$10$"));
    let mut config = db.config();
    config.auth.bcrypt_cost = 11;
    let dearer = AuthState::new(&config).await.unwrap();
    let wrong = json!({"username": "ann", "password": "wrong-pass"});
    call(&dearer, Event::new("POST", "/api/auth/login").json(&wrong))
        .await
        .problem(401);
    assert!(
        stored().await.starts_with("$2b$10$"),
        "not on a failed login"
    );
    let right = json!({"username": "ann", "password": "s3cret-pass"});
    let a = call(&dearer, Event::new("POST", "/api/auth/login").json(&right)).await;
    assert_eq!(a.status, 200);
    assert!(stored().await.starts_with("$2b$11$"));
    // Both costs keep working for the same password.
    for state in [&dearer, &cheap] {
        let a = call(state, Event::new("POST", "/api/auth/login").json(&right)).await;
        assert_eq!(a.status, 200);
    }
}

/// A state whose throttle allows `max` failures a minute per (account, address) and
/// `per_address` per address, on a pool of `pool`.
async fn throttled(db: &TestDb, max: u32, pool: usize) -> AuthState {
    throttled_on(db.config(), max, 100, pool).await
}

async fn throttled_on(
    mut config: shared::config::Config,
    max: u32,
    per_address: u32,
    pool: usize,
) -> AuthState {
    config.auth.throttle.max_failures = max;
    config.auth.throttle.max_address_failures = per_address;
    config.auth.throttle.window = Duration::from_secs(60);
    config.database.pool_max_size = pool;
    AuthState::new(&config).await.unwrap()
}

/// The attacker's address in these tests; the owner's is another.
const ATTACKER: &str = "198.51.100.7";
const OWNER: &str = "203.0.113.9";

fn login(username: &str, password: &str) -> Event {
    login_from(ATTACKER, username, password)
}

fn login_from(address: &str, username: &str, password: &str) -> Event {
    Event::new("POST", "/api/auth/login")
        .json(&json!({"username": username, "password": password}))
        .source_ip(address)
}

fn grant(username: &str, password: &str) -> Event {
    Event::new("POST", "/api/v1/auth/token")
        .form(&[("username", username), ("password", password)])
        .source_ip(ATTACKER)
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
    let db = TestDb::new().await;
    throttles_per_account_and_address(throttled(&db, 3, 2).await).await;
}

/// The same through PgBouncer in transaction mode (Neon's pooled endpoint), where each
/// statement may run on another server connection: signup, login and the counting of
/// failures keep nothing in a session.
#[tokio::test]
async fn failures_are_throttled_per_account_and_address_through_pgbouncer() {
    let db = TestDb::new().await;
    throttles_per_account_and_address(throttled_on(db.pooled_config(), 3, 100, 2).await).await;
}

async fn throttles_per_account_and_address(state: AuthState) {
    signup(&state, "ann", "ann@example.com").await;
    call(&state, login("ann", "wrong-pass")).await.problem(401);
    call(&state, grant("ANN@example.com", "wrong-pass"))
        .await
        .problem(401);
    call(&state, login("ann@example.com", "wrong-pass"))
        .await
        .problem(401);
    for event in [login("ann", "s3cret-pass"), grant("ann", "s3cret-pass")] {
        assert_throttled(&call(&state, event).await, 60);
    }
    // X-Forwarded-For is the client's to write: it is not the address.
    for forwarded in [OWNER, "10.1.2.3", "10.1.2.3, 203.0.113.9"] {
        let event = login("ann", "s3cret-pass").header("x-forwarded-for", forwarded);
        assert_throttled(&call(&state, event).await, 60);
    }
    // The owner, from anywhere else, is not locked out.
    let a = call(&state, login_from(OWNER, "ann", "s3cret-pass")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Unknown names: the same counting, the same answers.
    for _ in 0..3 {
        call(&state, login("ghost", "wrong-pass"))
            .await
            .problem(401);
    }
    assert_throttled(&call(&state, login("GHOST", "wrong-pass")).await, 60);
    call(&state, login_from(OWNER, "ghost", "wrong-pass"))
        .await
        .problem(401);
    // Another account from the same address is not affected.
    signup(&state, "bob", "bob@example.com").await;
    assert_eq!(call(&state, login("bob", "s3cret-pass")).await.status, 200);
}

/// Password spraying: past the per-address limit, every login from that address is a
/// 429, whatever the account; other addresses go on.
#[tokio::test]
async fn one_address_spraying_many_accounts_is_throttled() {
    let db = TestDb::new().await;
    let state = throttled_on(db.config(), 10, 100, 2).await;
    signup(&state, "ann", "ann@example.com").await;
    for i in 0..100 {
        let a = call(&state, login(&format!("user{i:03}"), "wrong-pass")).await;
        a.problem(401);
    }
    for name in ["user100", "user101", "ann"] {
        assert_throttled(&call(&state, login(name, "s3cret-pass")).await, 60);
    }
    call(&state, login_from(OWNER, "user100", "wrong-pass"))
        .await
        .problem(401);
    let a = call(&state, login_from(OWNER, "ann", "s3cret-pass")).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

/// A success clears its (account, address) count and gives its attempt back to the
/// address; what a client typed as an unknown name is never stored.
#[tokio::test]
async fn success_clears_its_count_and_identifiers_are_not_stored() {
    let db = TestDb::new().await;
    let state = throttled(&db, 3, 2).await;
    signup(&state, "ann", "ann@example.com").await;
    for _ in 0..2 {
        call(&state, login("ann", "wrong-pass")).await.problem(401);
    }
    call(&state, login("hunter2-typed-here", "wrong-pass"))
        .await
        .problem(401);
    assert_eq!(call(&state, login("ann", "s3cret-pass")).await.status, 200);
    let counts = async || -> Vec<(String, i32)> {
        db.client()
            .await
            .query("SELECT key, failures FROM login_failures ORDER BY key", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect()
    };
    let rows = counts().await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0], (format!("address:{ATTACKER}"), 3), "3 failures");
    assert!(
        rows[1].0.starts_with("name:") && rows[1].0.ends_with(&format!(" from {ATTACKER}")),
        "{rows:?}"
    );
    assert!(!rows[1].0.contains("hunter2"), "{rows:?}");
    // The pair's count was cleared: three more guesses before a 429.
    for _ in 0..3 {
        call(&state, login("ann", "wrong-pass")).await.problem(401);
    }
    assert_throttled(&call(&state, login("ann", "wrong-pass")).await, 60);
}

/// An ended window starts a new one; windows that have ended are pruned as attempts
/// come, at most ten per attempt.
#[tokio::test]
async fn old_windows_go_a_few_at_a_time() {
    let db = TestDb::new().await;
    let state = throttled(&db, 3, 2).await;
    signup(&state, "ann", "ann@example.com").await;
    for _ in 0..3 {
        call(&state, login("ann", "wrong-pass")).await.problem(401);
    }
    call(&state, login("ann", "wrong-pass")).await.problem(429);
    let client = db.client().await;
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
    call(&state, login("ann", "wrong-pass")).await.problem(401);
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
    call(&state, login("ann", "wrong-pass")).await.problem(401);
    let left: i64 = client.query_one(stale, &[]).await.unwrap().get(0);
    assert_eq!(left, 0);
}

/// Forty wrong guesses at once, from one address, spread over four instances: the
/// password is checked exactly the limit's times; every other guess is a 429.
#[tokio::test]
async fn a_burst_of_guesses_gets_no_more_checks_than_the_limit() {
    let db = TestDb::new().await;
    let limit = 10;
    let mut instances = Vec::new();
    for _ in 0..4 {
        instances.push(throttled(&db, limit, 4).await);
    }
    signup(&instances[0], "ann", "ann@example.com").await;
    let guesses = (0..40).map(|i| {
        call(
            &instances[i % instances.len()],
            login("ann", &format!("wrong-{i:04}")),
        )
    });
    let answers = futures::future::join_all(guesses).await;
    let checked = answers.iter().filter(|a| a.status == 401).count();
    let throttled = answers.iter().filter(|a| a.status == 429).count();
    assert_eq!(checked + throttled, 40);
    assert_eq!(checked, limit as usize, "passwords checked");
    let a = call(&instances[1], login_from(OWNER, "ann", "s3cret-pass")).await;
    assert_eq!(a.status, 200);
}

/// With the database cut off after the pool has connected, a login and a signup answer
/// within one deadline plus the cancel's: a login is a 503 (it changes nothing a client
/// owns), a signup a 504 (the account may have been created: signing up again says so).
#[tokio::test]
async fn logins_and_signups_answer_within_one_deadline_when_the_database_is_cut_off() {
    let db = TestDb::new().await;
    let bound = testkit::Partition::bound();
    for (event, status) in [
        (login_from(OWNER, "ann", "s3cret-pass"), 503),
        (
            Event::new("POST", "/api/auth/signup").json(&json!({
                "username": "bob", "email": "bob@example.com",
                "password": "s3cret-pass", "confirm_password": "s3cret-pass"})),
            504,
        ),
    ] {
        let partition = testkit::Partition::proxy(&db).await;
        let state: AuthState = partition.state(&db).await;
        partition.hold();
        let started = Instant::now();
        let a = call(&state, event).await;
        a.problem(status);
        assert!(a.header("retry-after").is_some());
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
        partition.heal();
    }
}
