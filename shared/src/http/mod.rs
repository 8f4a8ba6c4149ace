//! The HTTP edge: every request enters through [`serve`], is routed by a function's
//! [`Router`], and every error leaves through [`ApiError::into_response`].

mod cors;
mod error;
mod request;
mod response;
mod router;

pub use cors::{ALLOW_HEADERS, ALLOW_METHODS, Cors, EXPOSE_HEADERS};
pub use error::{ApiError, ApiResult, Cause, chain};
pub use request::{
    MAX_BODY_BYTES, authenticate, bearer_token, client_address, form_body, if_match, if_none_match,
    json_body, json_object, optional_json_body, optional_json_object, query_param, typed,
};
pub use response::{asset, etag, json, json_with_location, no_store, not_modified, with_etag};
pub use router::{Handler, Params, Router, match_path};

use crate::metrics::{self, Record};
use lambda_http::{Body, Error, Request, RequestExt, Response, http::HeaderValue, service_fn};
use std::convert::Infallible;
use std::future::Future;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID: &str = "x-request-id";

/// What the HTTP edge needs from a function's state.
pub trait Edge: Send + Sync + 'static {
    fn cors(&self) -> &Cors;
}

/// Serves Lambda invocations with `router` until the runtime stops. The state and the
/// table, built once per cold start, live as long as the process, so they are leaked
/// to `'static`.
pub async fn run<S: Edge>(state: S, router: Router<S>) -> Result<(), Error> {
    let state: &'static S = Box::leak(Box::new(state));
    let router: &'static Router<S> = Box::leak(Box::new(router));
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(handle(state, router, req).await)
    }))
    .await
}

/// One request through `router`, as [`run`] serves it (tests call it directly).
pub async fn handle<S: Edge>(state: &S, router: &Router<S>, req: Request) -> Response<Body> {
    serve(req, state.cors(), |req| async move {
        router.dispatch(state, req).await
    })
    .await
}

/// Runs one request through a route function and turns the outcome into a response.
///
/// This is the only place that maps errors to responses, adds `x-request-id`, answers
/// CORS preflights and logs the outcome, so every function behaves alike.
pub async fn serve<F, Fut>(req: Request, cors: &Cors, route: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = ApiResult>,
{
    let started = Instant::now();
    let request_id = request_id(&req);
    let trace_id = req
        .lambda_context_ref()
        .and_then(|context| context.xray_trace_id.clone());
    let method = req.method().clone();
    let origin = req
        .headers()
        .get(lambda_http::http::header::ORIGIN)
        .cloned();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        trace_id = trace_id.as_deref().unwrap_or("-"),
        %method,
    );

    let preflight = cors.preflight(&req);
    let is_preflight = preflight.is_some();
    let (mut response, record) = match preflight {
        Some(preflight) => (preflight, Record::default()),
        None => {
            // The request's one deadline counts from here (crate::deadline); what it
            // records is written out below (crate::metrics).
            let (outcome, record) = metrics::scope(crate::deadline::scope(route(req)))
                .instrument(span.clone())
                .await;
            let response = match outcome {
                Ok(response) => response,
                Err(error) => {
                    // Counted here, for every route alike (the health check's included).
                    if error.is_database_unavailable() {
                        record.event("DatabaseUnavailable");
                    }
                    span.in_scope(|| error.into_response(&request_id))
                }
            };
            (response, record)
        }
    };

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    // Every answer is exactly the type it says it is.
    response.headers_mut().insert(
        lambda_http::http::header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // API Gateway answers only over HTTPS: browsers should never try plain HTTP (over
    // plain HTTP, as `make dev` serves, browsers ignore the header).
    response.headers_mut().insert(
        lambda_http::http::header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    cors.decorate(origin.as_ref(), response.headers_mut());
    // The route's template, never the raw path (it holds ids).
    let route = match (record.route(), is_preflight) {
        (Some(pattern), _) => format!("{method} {pattern}"),
        (None, true) => "OPTIONS (preflight)".to_owned(),
        (None, false) => "(no route)".to_owned(),
    };
    span.in_scope(|| {
        crate::telemetry::request_done(&crate::telemetry::Done {
            request_id: &request_id,
            trace_id: trace_id.as_deref(),
            method: method.as_str(),
            route: &route,
            status: response.status().as_u16(),
            duration: started.elapsed(),
            record: &record,
        })
    });
    response
}

/// The client's `x-request-id` when it is sane, else the Lambda request id, else the
/// API Gateway request id, else a fresh UUID.
fn request_id(req: &Request) -> String {
    let from_client = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
    if let Some(id) = from_client {
        return id.to_owned();
    }
    if let Some(ctx) = req
        .lambda_context_ref()
        .filter(|c| !c.request_id.is_empty())
    {
        return ctx.request_id.clone();
    }
    if let Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref()
        && let Some(id) = ctx.request_id.as_deref().filter(|id| !id.is_empty())
    {
        return id.to_owned();
    }
    uuid::Uuid::new_v4().to_string()
}
