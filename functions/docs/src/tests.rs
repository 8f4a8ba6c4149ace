//! Handler tests: real API Gateway v2 events; health against a real Postgres.

use super::routes;
use shared::config::{HttpConfig, Secret};
use shared::{FunctionState, ServiceState};
use std::io::Read;
use testkit::{Answer, Event, TestDb};

async fn state(db: &TestDb) -> ServiceState {
    db.state().await
}

async fn call(state: &ServiceState, event: Event) -> Answer {
    testkit::call(state, &routes(), event).await
}

#[tokio::test]
async fn swagger_ui_is_served_whole_and_gzipped() {
    let db = TestDb::new().await;
    let state = state(&db).await;
    let plain = routes()
        .dispatch(&state, Event::new("GET", "/docs").request())
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(plain.headers()["content-type"], "text/html; charset=utf-8");
    let html = std::str::from_utf8(plain.body().as_ref())
        .unwrap()
        .to_owned();
    assert!(html.contains("SwaggerUIBundle({") && html.contains("/openapi.json"));
    // Assets are inlined: the page loads nothing from elsewhere.
    assert!(!html.contains("<script src=") && !html.contains("<link rel=\"stylesheet\""));
    let gz = routes()
        .dispatch(
            &state,
            Event::new("GET", "/docs")
                .header("accept-encoding", "br, gzip;q=0.8")
                .request(),
        )
        .await
        .unwrap();
    assert_eq!(gz.headers()["content-encoding"], "gzip");
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(gz.body().as_ref())
        .read_to_string(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, html);
    assert!(gz.body().len() * 3 < html.len());
}

/// The page runs only its own inline scripts (by hash), talks only to its own origin
/// and cannot be framed; Chromium enforcing it is the browser test's part.
#[tokio::test]
async fn swagger_ui_has_a_content_security_policy() {
    let db = TestDb::new().await;
    let state = state(&db).await;
    let a = call(&state, Event::new("GET", "/docs")).await;
    let csp = a.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("connect-src 'self'") && csp.contains("default-src 'none'"));
    let script_src = csp
        .split(';')
        .find(|d| d.trim().starts_with("script-src"))
        .unwrap();
    assert!(!script_src.contains("unsafe"), "{script_src}");
    assert_eq!(script_src.matches("'sha256-").count(), 2, "{script_src}");
    assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    let spec = call(&state, Event::new("GET", "/openapi.json")).await;
    assert_eq!(spec.header("x-content-type-options"), Some("nosniff"));
    let missing = call(&state, Event::new("GET", "/nowhere")).await;
    for answer in [&a, &spec, &missing] {
        assert_eq!(
            answer.header("strict-transport-security"),
            Some("max-age=31536000; includeSubDomains")
        );
    }
}

#[tokio::test]
async fn the_spec_is_served_as_yaml_and_json() {
    let db = TestDb::new().await;
    let state = state(&db).await;
    let yaml = call(&state, Event::new("GET", "/openapi.yaml")).await;
    assert_eq!(
        (yaml.status, yaml.header("content-type")),
        (200, Some("application/yaml"))
    );
    assert!(yaml.body.as_str().unwrap().starts_with("openapi: 3.1"));
    let json = call(&state, Event::new("GET", "/openapi.json")).await;
    assert_eq!(
        (json.status, json.header("content-type")),
        (200, Some("application/json"))
    );
    assert_eq!(json.body["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    assert!(json.body["paths"]["/api/{user_id}/tasks"]["get"].is_object());
}

#[tokio::test]
async fn health_reports_the_database() {
    let db = TestDb::new().await;
    let state = state(&db).await;
    let a = call(&state, Event::new("GET", "/api/health")).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        serde_json::json!({"status": "ok", "database": "ok"})
    );
    assert!(a.header("x-request-id").is_some());

    let mut config = db.config();
    config.database.url =
        Secret::new("postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2");
    let down = ServiceState::new(&config).await.unwrap();
    let a = call(&down, Event::new("GET", "/api/health")).await;
    a.problem(503);
    assert_eq!(a.header("retry-after"), Some("5"));
}

#[tokio::test]
async fn other_methods_and_paths() {
    let db = TestDb::new().await;
    let state = state(&db).await;
    let a = call(&state, Event::new("POST", "/docs")).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET"));
    call(&state, Event::new("GET", "/docs/missing.js"))
        .await
        .problem(404);
}

#[tokio::test]
async fn cors_preflight_and_headers_when_configured() {
    let db = TestDb::new().await;
    let mut config = db.config();
    config.http = HttpConfig {
        cors_allow_origins: vec!["http://localhost:5173".into()],
    };
    let state = ServiceState::new(&config).await.unwrap();
    let a = call(
        &state,
        Event::new("OPTIONS", "/api/health")
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", "GET"),
    )
    .await;
    assert_eq!(a.status, 204);
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        a.header("access-control-allow-methods")
            .unwrap()
            .contains("PATCH")
    );
    assert!(
        a.header("access-control-allow-headers")
            .unwrap()
            .contains("authorization")
    );
    let a = call(
        &state,
        Event::new("GET", "/api/health").header("origin", "http://localhost:5173"),
    )
    .await;
    assert_eq!(
        a.header("access-control-allow-origin"),
        Some("http://localhost:5173")
    );
    assert!(
        a.header("access-control-expose-headers")
            .unwrap()
            .contains("x-request-id")
    );
    let a = call(
        &state,
        Event::new("GET", "/api/health").header("origin", "https://evil.example"),
    )
    .await;
    assert_eq!(a.header("access-control-allow-origin"), None);
}

#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("docs", &routes());
}
