//! A function's route table: each route named once, as path + method → handler, where a
//! handler is a plain `async fn(&State, &Request, &Params) -> ApiResult`. The table
//! answers what no route takes by itself: 404 for an unknown path, 405 with `Allow` for
//! a known path and another method.
//!
//! ```ignore
//! Router::new()
//!     .at("/api/{user_id}/tasks/{id}")
//!     .get(api::tasks::get)
//!     .put(api::tasks::replace)
//! ```

use super::{ApiError, ApiResult};
use lambda_http::{Request, RequestExt, http::Method};
use std::future::Future;
use std::pin::Pin;

/// What a route calls: any `async fn(&S, &Request, &Params) -> ApiResult`.
///
/// (The future borrows the three arguments, so its type depends on their lifetime: this
/// trait names it, for every lifetime at once, which a plain `Fn` bound cannot.)
pub trait Handler<'a, S: 'a>: Fn(&'a S, &'a Request, &'a Params) -> Self::Future {
    type Future: Future<Output = ApiResult> + Send + 'a;
}

impl<'a, S: 'a, F, Fut> Handler<'a, S> for F
where
    F: Fn(&'a S, &'a Request, &'a Params) -> Fut,
    Fut: Future<Output = ApiResult> + Send + 'a,
{
    type Future = Fut;
}

/// A handler as the table stores it: its future boxed, so routes of any handler fit in
/// one table (one allocation per request).
type Boxed<S> = Box<
    dyn for<'a> Fn(
            &'a S,
            &'a Request,
            &'a Params,
        ) -> Pin<Box<dyn Future<Output = ApiResult> + Send + 'a>>
        + Send
        + Sync,
>;

/// The path parameters of the matched route, percent-decoded.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    /// The value of `{name}`; empty when the pattern has no such parameter (a bug the
    /// handler tests catch).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

struct Route<S> {
    method: Method,
    pattern: &'static str,
    handler: Boxed<S>,
}

/// Path + method → handler, built once per cold start.
pub struct Router<S> {
    routes: Vec<Route<S>>,
    /// The path the next `get`, `post`, … registers at (set by [`Router::at`]).
    at: Option<&'static str>,
}

impl<S> Default for Router<S> {
    fn default() -> Self {
        Self {
            routes: Vec::new(),
            at: None,
        }
    }
}

impl<S: 'static> Router<S> {
    pub fn new() -> Self {
        Self::default()
    }

    /// The path the methods that follow are registered at: an API Gateway path such as
    /// `/api/{user_id}/tasks/{id}`.
    pub fn at(mut self, pattern: &'static str) -> Self {
        self.at = Some(pattern);
        self
    }

    /// Registers `handler` for `method` at the current path.
    ///
    /// # Panics
    /// Before any [`Router::at`]: a route table is built once per cold start, so every
    /// handler test would fail.
    pub fn route<H>(mut self, method: Method, handler: H) -> Self
    where
        H: for<'a> Handler<'a, S> + Send + Sync + 'static,
    {
        let pattern = self
            .at
            .expect("Router::at names the path before its methods");
        self.routes.push(Route {
            method,
            pattern,
            handler: Box::new(move |state, req, params| Box::pin(handler(state, req, params))),
        });
        self
    }

    pub fn get<H: for<'a> Handler<'a, S> + Send + Sync + 'static>(self, handler: H) -> Self {
        self.route(Method::GET, handler)
    }

    pub fn post<H: for<'a> Handler<'a, S> + Send + Sync + 'static>(self, handler: H) -> Self {
        self.route(Method::POST, handler)
    }

    pub fn put<H: for<'a> Handler<'a, S> + Send + Sync + 'static>(self, handler: H) -> Self {
        self.route(Method::PUT, handler)
    }

    pub fn patch<H: for<'a> Handler<'a, S> + Send + Sync + 'static>(self, handler: H) -> Self {
        self.route(Method::PATCH, handler)
    }

    pub fn delete<H: for<'a> Handler<'a, S> + Send + Sync + 'static>(self, handler: H) -> Self {
        self.route(Method::DELETE, handler)
    }
}

impl<S> Router<S> {
    /// `(METHOD, pattern)` of every route, in the order they were added.
    pub fn table(&self) -> impl Iterator<Item = (&Method, &'static str)> {
        self.routes.iter().map(|r| (&r.method, r.pattern))
    }

    /// Runs the handler of the route that matches `req`, or answers 404/405.
    pub async fn dispatch(&self, state: &S, req: Request) -> ApiResult {
        let path = req.raw_http_path();
        let mut allow: Vec<&str> = Vec::new();
        for route in &self.routes {
            let Some(params) = match_path(path, route.pattern) else {
                continue;
            };
            if route.method == req.method() {
                crate::metrics::route(route.pattern);
                return (route.handler)(state, &req, &params).await;
            }
            allow.push(route.method.as_str());
        }
        if allow.is_empty() {
            Err(ApiError::NotFound(format!("No route for {path}.")))
        } else {
            Err(ApiError::MethodNotAllowed {
                allow: allow.join(", "),
            })
        }
    }
}

/// Matches the raw request path against a pattern like `/api/{user_id}/tasks/{id}`;
/// a trailing slash is ignored and parameters are percent-decoded.
///
/// The raw path is used (not API Gateway's `pathParameters`) so that routing is the
/// same behind API Gateway, behind `cargo lambda watch` and in tests.
pub fn match_path(path: &str, pattern: &'static str) -> Option<Params> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut params = Vec::new();
    let mut segments = path.split('/');
    for expected in pattern.split('/') {
        let segment = segments.next()?;
        if let Some(name) = expected.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
            if segment.is_empty() {
                return None;
            }
            let decoded = percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .ok()?;
            params.push((name, decoded.into_owned()));
        } else if segment != expected {
            return None;
        }
    }
    segments.next().is_none().then_some(Params(params))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::{Body, http::StatusCode};

    fn params(path: &str, pattern: &'static str) -> Option<Vec<(&'static str, String)>> {
        match_path(path, pattern).map(|p| p.0)
    }

    #[test]
    fn path_patterns_match_exactly() {
        let p = "/api/{user_id}/tasks/{id}";
        assert_eq!(
            params("/api/u1/tasks/t%2D1", p),
            Some(vec![("user_id", "u1".to_owned()), ("id", "t-1".to_owned())])
        );
        assert_eq!(
            params("/api/u1/tasks/t1/", p),
            Some(vec![("user_id", "u1".into()), ("id", "t1".into())])
        );
        assert_eq!(params("/api/u1/tasks", p), None);
        assert_eq!(params("/api/u1/tasks/t1/complete", p), None);
        assert_eq!(params("/api//tasks/t1", p), None);
        assert_eq!(params("/api/auth/login", "/api/auth/login"), Some(vec![]));
        assert_eq!(match_path("/a/%FF", "/a/{x}"), None, "not UTF-8");
    }

    fn request(method: &str, path: &str) -> Request {
        let mut req = lambda_http::http::Request::builder()
            .method(method)
            .uri(path)
            .body(Body::Empty)
            .unwrap();
        req = req.with_raw_http_path(path);
        req
    }

    async fn get_thing(state: &&'static str, _: &Request, params: &Params) -> ApiResult {
        Err(ApiError::Conflict(format!(
            "{state} get {}",
            params.get("id")
        )))
    }

    async fn delete_thing(_: &&'static str, _: &Request, _: &Params) -> ApiResult {
        Err(ApiError::Conflict("delete".into()))
    }

    fn table() -> Router<&'static str> {
        Router::new()
            .at("/things/{id}")
            .get(get_thing)
            .delete(delete_thing)
    }

    async fn answer(router: &Router<&'static str>, method: &str, path: &str) -> ApiError {
        router
            .dispatch(&"state", request(method, path))
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn routes_by_method_and_path_and_answers_the_rest() {
        let router = table();
        let ApiError::Conflict(text) = answer(&router, "GET", "/things/a%20b").await else {
            panic!()
        };
        assert_eq!(text, "state get a b");
        assert!(
            matches!(answer(&router, "DELETE", "/things/1").await, ApiError::Conflict(t) if t == "delete")
        );
        let not_allowed = answer(&router, "PUT", "/things/1").await;
        assert_eq!(not_allowed.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert!(
            matches!(not_allowed, ApiError::MethodNotAllowed { allow } if allow == "GET, DELETE")
        );
        assert_eq!(
            answer(&router, "GET", "/other").await.status(),
            StatusCode::NOT_FOUND
        );
        let listed: Vec<_> = router.table().map(|(m, p)| format!("{m} {p}")).collect();
        assert_eq!(listed, ["GET /things/{id}", "DELETE /things/{id}"]);
    }
}
