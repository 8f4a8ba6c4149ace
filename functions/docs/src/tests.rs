//! Handler tests: real API Gateway v2 events; health against a real Postgres.

use super::routes;
use shared::config::HttpConfig;
use shared::{FunctionState, ServiceState};
use std::io::Read;
use testkit::{Answer, Event, Harness};

/// The routes are exactly this function's part of the workspace's one route table
/// (testkit/tests/workspace.rs checks that table and that every function has this test).
#[test]
fn routes_match_the_table() {
    testkit::routes::assert_table("docs", &routes());
}

/// Asserts that the header `name` of `a` names `item`.
fn assert_names(a: &Answer, name: &str, item: &str) {
    let value = a.header(name).unwrap_or_else(|| panic!("no {name}"));
    assert!(value.contains(item), "{name}: {value}");
}

#[tokio::test]
async fn swagger_ui_is_served_whole_and_gzipped() {
    let t = Harness::new(routes()).await;
    let plain = routes()
        .dispatch(&t.state, Event::new("GET", "/docs").request())
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
            &t.state,
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
    let t = Harness::new(routes()).await;
    let a = t.call(Event::new("GET", "/docs")).await;
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
    let spec = t.call(Event::new("GET", "/openapi.json")).await;
    assert_eq!(spec.header("x-content-type-options"), Some("nosniff"));
    let missing = t.call(Event::new("GET", "/nowhere")).await;
    for answer in [&a, &spec, &missing] {
        assert_eq!(
            answer.header("strict-transport-security"),
            Some("max-age=31536000; includeSubDomains")
        );
    }
}

#[tokio::test]
async fn the_spec_is_served_as_yaml_and_json() {
    let t = Harness::new(routes()).await;
    let yaml = t.call(Event::new("GET", "/openapi.yaml")).await;
    assert_eq!(
        (yaml.status, yaml.header("content-type")),
        (200, Some("application/yaml"))
    );
    assert!(yaml.body.as_str().unwrap().starts_with("openapi: 3.1"));
    let json = t.call(Event::new("GET", "/openapi.json")).await;
    assert_eq!(
        (json.status, json.header("content-type")),
        (200, Some("application/json"))
    );
    assert_eq!(json.body["openapi"].as_str().map(|v| &v[..3]), Some("3.1"));
    assert!(json.body["paths"]["/api/{user_id}/tasks"]["get"].is_object());
}

#[tokio::test]
async fn health_reports_the_database() {
    let t = Harness::new(routes()).await;
    let a = t.call(Event::new("GET", "/api/health")).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        serde_json::json!({"status": "ok", "database": "ok"})
    );
    assert!(a.header("x-request-id").is_some());

    let down = ServiceState::new(&t.db.unreachable_config()).await.unwrap();
    let a = t.call_on(&down, Event::new("GET", "/api/health")).await;
    a.problem(503);
    assert_eq!(a.header("retry-after"), Some("5"));
}

#[tokio::test]
async fn other_methods_and_paths() {
    let t = Harness::new(routes()).await;
    let a = t.call(Event::new("POST", "/docs")).await;
    a.problem(405);
    assert_eq!(a.header("allow"), Some("GET"));
    t.call(Event::new("GET", "/docs/missing.js"))
        .await
        .problem(404);
}

#[tokio::test]
async fn cors_preflight_and_headers_when_configured() {
    let t = Harness::configured(routes(), |db| {
        let mut config = db.config();
        config.http = HttpConfig {
            cors_allow_origins: vec!["http://localhost:5173".into()],
        };
        config
    })
    .await;
    let local = "http://localhost:5173";
    let preflight = Event::new("OPTIONS", "/api/health")
        .header("origin", local)
        .header("access-control-request-method", "GET");
    let a = t.call(preflight).await;
    assert_eq!(a.status, 204);
    assert_eq!(a.header("access-control-allow-origin"), Some(local));
    assert_names(&a, "access-control-allow-methods", "PATCH");
    assert_names(&a, "access-control-allow-headers", "authorization");
    let a = t
        .call(Event::new("GET", "/api/health").header("origin", local))
        .await;
    assert_eq!(a.header("access-control-allow-origin"), Some(local));
    assert_names(&a, "access-control-expose-headers", "x-request-id");
    let elsewhere = Event::new("GET", "/api/health").header("origin", "https://evil.example");
    let a = t.call(elsewhere).await;
    assert_eq!(a.header("access-control-allow-origin"), None);
}
