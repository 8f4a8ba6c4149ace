//! API Gateway HTTP API (payload 2.0) events in, responses out.

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

/// The base event, shaped like `sam local generate-event apigateway http-api-proxy`.
const BASE_EVENT: &str = include_str!("../../shared/fixtures/http-api-proxy.json");

/// Builds an API Gateway HTTP API (2.0) event and turns it into a `Request` the way
/// the Lambda runtime does.
pub struct Event {
    event: Value,
}

impl Event {
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let mut event: Value = serde_json::from_str(BASE_EVENT).expect("valid fixture");
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["requestId"] = json!(uuid::Uuid::new_v4().to_string());
        Self { event }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    /// The client's address as API Gateway saw it (`requestContext.http.sourceIp`).
    pub fn source_ip(mut self, address: &str) -> Self {
        self.event["requestContext"]["http"]["sourceIp"] = json!(address);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body with `content-type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.raw_json(&body.to_string())
    }

    /// A body sent as it is with `content-type: application/json` (malformed JSON, say).
    pub fn raw_json(self, body: &str) -> Self {
        self.header("content-type", "application/json")
            .raw_body(body)
    }

    /// A body sent as it is (set `content-type` yourself).
    pub fn raw_body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self.event["isBase64Encoded"] = json!(false);
        self.event["headers"]["content-length"] = json!(body.len().to_string());
        self
    }

    /// A body API Gateway could not pass as text: base64 with `isBase64Encoded`.
    pub fn binary_body(mut self, content_type: &str, bytes: &[u8]) -> Self {
        use base64::Engine;
        self = self.header("content-type", content_type);
        self.event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.event["isBase64Encoded"] = json!(true);
        self
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .raw_body(&body)
    }

    pub fn to_json(&self) -> String {
        self.event.to_string()
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.to_json()).expect("a valid API Gateway event")
    }
}

/// A response's status, headers and parsed JSON body (null when empty).
pub struct Answer {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn from(response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let bytes: &[u8] = body.as_ref();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
        };
        Self {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem document with `status`; returns it for further checks.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status);
        assert_eq!(self.body["type"], "about:blank");
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        &self.body
    }

    /// Asserts a problem document with `status` (a 503 or 504: the database did not
    /// answer in time) that tells the client when to try again; returns it.
    pub fn retry_later(&self, status: u16) -> &Value {
        let body = self.problem(status);
        assert!(
            self.header("retry-after").is_some(),
            "{status} without Retry-After"
        );
        body
    }

    /// The field names of a 400's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.problem(400)["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}
