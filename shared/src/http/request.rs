//! Reading requests: bodies (JSON and form), path and query parameters, the bearer token.

use super::{ApiError, FieldErrors};
use lambda_http::{Request, RequestExt, http::header};
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

/// Reads the fields of a JSON object, collecting every problem before answering.
pub struct Fields<'a> {
    object: &'a Map<String, Value>,
    errors: FieldErrors,
}

impl<'a> Fields<'a> {
    pub fn new(object: &'a Map<String, Value>) -> Self {
        Self {
            object,
            errors: FieldErrors::default(),
        }
    }

    /// A field that must be present and not null.
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.object.get(name) {
            None | Some(Value::Null) => {
                self.errors.push(name, "is required");
                None
            }
            Some(value) => self.errors.check(name, parse(value)),
        }
    }

    /// A field that may be absent or null (`Some(None)`).
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&'a Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.object.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.errors.check(name, parse(value)).map(Some),
        }
    }

    /// Records a problem found across fields (e.g. a confirmation that differs).
    pub fn reject(&mut self, name: &str, message: &str) {
        self.errors.push(name, message);
    }

    /// The parsed values when every field was valid, else a 400 listing the problems.
    /// Pass `(|| Some((a?, b?)))()`: it is `Some` exactly when no field failed.
    pub fn finish<T>(self, values: Option<T>) -> Result<T, ApiError> {
        match values {
            Some(values) if self.errors.is_empty() => Ok(values),
            _ => {
                let mut errors = self.errors;
                if errors.is_empty() {
                    errors.push("body", "is invalid");
                }
                Err(errors.into())
            }
        }
    }
}

/// The string inside a JSON value, or a message for the client.
pub fn json_string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".to_owned())
}

/// The boolean inside a JSON value (only `true`/`false`, not `"true"` or `1`).
pub fn json_bool(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be a boolean".to_owned())
}

/// Matches the raw request path against a pattern like `/api/{user_id}/tasks/{id}` and
/// returns the parameters, percent-decoded, in pattern order.
///
/// The raw path is used (not API Gateway's `pathParameters`) so that routing is the
/// same behind API Gateway, behind `cargo lambda watch` and in tests.
pub fn path_params(path: &str, pattern: &str) -> Option<Vec<String>> {
    let path = path
        .strip_suffix('/')
        .filter(|p| !p.is_empty())
        .unwrap_or(path);
    let mut params = Vec::new();
    let mut segments = path.split('/');
    for expected in pattern.split('/') {
        let segment = segments.next()?;
        if expected.starts_with('{') && expected.ends_with('}') {
            if segment.is_empty() {
                return None;
            }
            let decoded = percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .ok()?;
            params.push(decoded.into_owned());
        } else if segment != expected {
            return None;
        }
    }
    segments.next().is_none().then_some(params)
}

/// The `N` path parameters of `req` for `pattern`, or a 404 when the path does not match.
pub fn path_param<const N: usize>(req: &Request, pattern: &str) -> Result<[String; N], ApiError> {
    path_params(req.raw_http_path(), pattern)
        .and_then(|params| params.try_into().ok())
        .ok_or_else(|| ApiError::NotFound(format!("No route for {}.", req.raw_http_path())))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_patterns_match_exactly() {
        let p = "/api/{user_id}/tasks/{id}";
        assert_eq!(
            path_params("/api/u1/tasks/t%2D1", p),
            Some(vec!["u1".to_owned(), "t-1".to_owned()])
        );
        assert_eq!(
            path_params("/api/u1/tasks/t1/", p),
            Some(vec!["u1".into(), "t1".into()])
        );
        assert_eq!(path_params("/api/u1/tasks", p), None);
        assert_eq!(path_params("/api/u1/tasks/t1/complete", p), None);
        assert_eq!(path_params("/api//tasks/t1", p), None);
        assert_eq!(
            path_params("/api/auth/login", "/api/auth/login"),
            Some(vec![])
        );
    }
}
