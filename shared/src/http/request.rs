//! Reading requests: bodies (JSON and form), query parameters, the bearer token and
//! the subject it proves.

use super::ApiError;
use crate::auth::TokenVerifier;
use crate::model::{Precondition, Subject};
use lambda_http::{Request, RequestExt, http::header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Bodies larger than this are answered 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

fn body_bytes(req: &Request) -> Result<&[u8], ApiError> {
    let bytes: &[u8] = req.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(bytes)
}

/// The media type of the request without parameters, lowercased; `None` when absent.
fn media_type(req: &Request) -> Option<String> {
    let raw = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = raw
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (!essence.is_empty()).then_some(essence)
}

/// A JSON object body, or `None` when the body is empty.
///
/// A body without `content-type` is read as JSON (curl users forget the header and the
/// contract only speaks JSON); any other media type than JSON is a 415.
pub fn optional_json_object(req: &Request) -> Result<Option<Map<String, Value>>, ApiError> {
    let bytes = body_bytes(req)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if let Some(media) = media_type(req)
        && media != "application/json"
        && !media.ends_with("+json")
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Send the body as application/json, not {media}."
        )));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(ApiError::BadRequest(
            "The request body must be a JSON object.".into(),
        )),
        Err(e) => Err(ApiError::BadRequest(format!(
            "The request body is not valid JSON: {e}."
        ))),
    }
}

/// A JSON object body that must be present.
pub fn json_object(req: &Request) -> Result<Map<String, Value>, ApiError> {
    optional_json_object(req)?
        .ok_or_else(|| ApiError::BadRequest("A JSON object request body is required.".into()))
}

/// A JSON object body read into a body type whose fields are `model::Field`s: only a
/// body that is not a JSON object is refused here; the body type's validation lists
/// what is wrong with each field.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    typed(json_object(req)?)
}

/// Like [`json_body`], `None` when the body is empty.
pub fn optional_json_body<T: DeserializeOwned>(req: &Request) -> Result<Option<T>, ApiError> {
    optional_json_object(req)?.map(typed).transpose()
}

/// An object (from [`json_object`]) as a body type.
pub fn typed<T: DeserializeOwned>(object: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(object))
        .map_err(|e| ApiError::BadRequest(format!("The request body cannot be read: {e}.")))
}

/// An `application/x-www-form-urlencoded` body as name/value pairs (first value wins).
pub fn form_body(req: &Request) -> Result<Vec<(String, String)>, ApiError> {
    let bytes = body_bytes(req)?;
    match media_type(req).as_deref() {
        Some("application/x-www-form-urlencoded") | None => {}
        Some(other) => {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Send the body as application/x-www-form-urlencoded, not {other}."
            )));
        }
    }
    Ok(form_urlencoded::parse(bytes).into_owned().collect())
}

/// The first value of a query parameter.
pub fn query_param<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.query_string_parameters_ref()
        .and_then(|query| query.first(name))
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
pub fn bearer_token(req: &Request) -> Result<&str, ApiError> {
    let missing = |detail: &str| ApiError::Unauthorized {
        detail: detail.to_owned(),
        token_sent: false,
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| missing("An Authorization: Bearer <token> header is required."))?
        .to_str()
        .map_err(|_| missing("The Authorization header is not readable text."))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing(
            "The Authorization header must use the Bearer scheme.",
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(missing("The bearer token is empty."));
    }
    Ok(token)
}

/// The verified subject of the request's bearer token, or a 401 (503 when Better
/// Auth's key set cannot be fetched).
/// The client's address: API Gateway's `requestContext.http.sourceIp` (locally, the
/// connection's peer address), never a header the client writes. `unknown` when the
/// event has none that parses (all such requests then share one address's limits).
pub fn client_address(req: &Request) -> String {
    use lambda_http::request::RequestContext;
    let source_ip = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.as_deref(),
        _ => None,
    };
    source_ip
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
        .map_or_else(|| "unknown".to_owned(), |ip| ip.to_canonical().to_string())
}

pub async fn authenticate(verifier: &TokenVerifier, req: &Request) -> Result<Subject, ApiError> {
    Ok(verifier.verify(bearer_token(req)?).await?)
}

/// The `If-Match` precondition: strong comparison, so weak tags (`W/"…"`) never match.
/// `None` when the header is absent.
pub fn if_match(req: &Request) -> Option<Precondition> {
    precondition(req, header::IF_MATCH, false)
}

/// The `If-None-Match` precondition: weak comparison (`W/"3"` names version 3 too).
pub fn if_none_match(req: &Request) -> Option<Precondition> {
    precondition(req, header::IF_NONE_MATCH, true)
}

/// Reads `*` or a list of entity-tags; a tag that names no version of ours (or cannot
/// be read) is kept out, so it matches nothing.
fn precondition(req: &Request, name: header::HeaderName, weak_ok: bool) -> Option<Precondition> {
    if !req.headers().contains_key(&name) {
        return None;
    }
    let mut versions = Vec::new();
    let tags = req
        .headers()
        .get_all(&name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim);
    for tag in tags {
        if tag == "*" {
            return Some(Precondition::Any);
        }
        let (weak, opaque) = match tag.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, tag),
        };
        if weak && !weak_ok {
            continue;
        }
        let version = opaque
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|t| t.parse::<i64>().ok());
        versions.extend(version);
    }
    Some(Precondition::Versions(versions))
}
