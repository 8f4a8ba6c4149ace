//! The task routes. Checks run in the contract's order: 401 (token) → 403 (path
//! `user_id` is not the token's subject) → 400 (ids, query, body) → 404 → success.

use crate::TaskState;
use crate::db::tasks::{self, Created};
use crate::http::{
    ApiError, ApiResult, Params, authenticate, if_match, if_none_match, json, json_body,
    json_object, json_with_location, not_modified, optional_json_body, query_param, typed,
    with_etag,
};
use crate::model::{
    After, CompleteBody, FieldErrors, ListQuery, Precondition, Subject, Task, TaskChanges,
    next_cursor, open_cursor,
};
use lambda_http::{
    Request,
    http::{HeaderValue, StatusCode, header},
};
use serde::Serialize;
use uuid::Uuid;

/// The token's subject, if the path's `user_id` names it.
async fn owner(state: &TaskState, req: &Request, params: &Params) -> Result<Subject, ApiError> {
    let subject = authenticate(&state.verifier, req).await?;
    if !subject.is(params.get("user_id")) {
        return Err(ApiError::Forbidden(
            "The path's user_id is not the token's subject.".into(),
        ));
    }
    Ok(subject)
}

fn task_id(params: &Params) -> Result<Uuid, ApiError> {
    Uuid::try_parse(params.get("id")).map_err(|_| ApiError::validation("id", "must be a UUID"))
}

fn not_found() -> ApiError {
    ApiError::NotFound("No such task.".into())
}

/// A task, with its `ETag`.
fn task_response(status: StatusCode, task: &Task) -> ApiResult {
    json(status, task).map(|response| with_etag(response, task.version))
}

/// The outcome of a conditional write: the task, or why there is none. Only a refused
/// write costs a second statement, to tell a missing task (404) from a changed one (412).
async fn written(
    state: &TaskState,
    owner: &Subject,
    id: Uuid,
    only_if: Option<&Precondition>,
    task: Option<Task>,
) -> ApiResult {
    match (task, only_if) {
        (Some(task), _) => task_response(StatusCode::OK, &task),
        (None, None) => Err(not_found()),
        (None, Some(_)) => match tasks::get(&state.db, owner, id).await? {
            Some(_) => Err(ApiError::PreconditionFailed),
            None => Err(not_found()),
        },
    }
}

#[derive(Serialize)]
struct ListBody {
    items: Vec<Task>,
    total: i64,
    page: u32,
    page_size: u32,
    total_pages: i64,
    next_cursor: Option<String>,
}

/// `GET /api/{user_id}/tasks`: a page by number, or the page a cursor continues to.
///
/// Every page but the last carries `next_cursor` and `Link: <…?cursor=…>; rel="next"`.
pub async fn list(state: &TaskState, req: &Request, params: &Params) -> ApiResult {
    let owner = owner(state, req, params).await?;
    let query = ListQuery::read(
        |name| query_param(req, name),
        |cursor| open_cursor(&state.cursors, &owner, cursor),
    )?;
    let page = tasks::list(&state.db, &owner, &query).await?;
    let next = match page.items.last() {
        Some(last) if page.more => Some(next_cursor(
            &state.cursors,
            &owner,
            &query,
            After::task(last, query.sort_by),
        )),
        _ => None,
    };
    let page_size = query.page_size.get();
    let mut response = json(
        StatusCode::OK,
        &ListBody {
            total_pages: (page.total + i64::from(page_size) - 1) / i64::from(page_size),
            items: page.items,
            total: page.total,
            page: query.page.get(),
            page_size,
            next_cursor: next.clone(),
        },
    )?;
    if let Some(cursor) = next {
        // A cursor is base64url and a dot, and the path came in as a header-safe URL.
        let link = format!("<{}?cursor={cursor}>; rel=\"next\"", req.uri().path());
        let link = HeaderValue::from_str(&link).map_err(|e| ApiError::Internal(Box::new(e)))?;
        response.headers_mut().insert(header::LINK, link);
    }
    Ok(response)
}

/// `POST /api/{user_id}/tasks`: 201 with `Location`.
///
/// With an `Idempotency-Key`, a retry with the same body is answered exactly as the
/// first time (plus `Idempotent-Replayed: true`) and creates nothing; the same key with
/// another body is a 422, and one sent while the first is being processed a 409. Keys
/// belong to the token's subject.
pub async fn create(state: &TaskState, req: &Request, params: &Params) -> ApiResult {
    let owner = owner(state, req, params).await?;
    let body = json_object(req)?;
    let fingerprint = fingerprint(&body);
    let changes = typed(body).and_then(|body| Ok(TaskChanges::for_create(body)?));
    let (key, changes) = merge_errors(idempotency_key(req), changes)?;
    let (task, replayed) = match key {
        None => (tasks::create(&state.db, &owner, &changes).await?, false),
        Some(key) => {
            match tasks::create_once(&state.db, &owner, &changes, key, &fingerprint).await? {
                Created::New(task) => (task, false),
                Created::Replayed(task) => (task, true),
                Created::InFlight => {
                    return Err(ApiError::Conflict(
                        "A request with this Idempotency-Key is being processed; \
                         retry once it has been answered."
                            .into(),
                    ));
                }
                Created::KeyReused => {
                    return Err(ApiError::Unprocessable(
                        "This Idempotency-Key was used with another body; use a new key \
                         for a new task."
                            .into(),
                    ));
                }
            }
        }
    };
    let location = format!("/api/{}/tasks/{}", owner_in_path(&owner), task.id);
    let mut response = with_etag(json_with_location(&location, &task)?, task.version);
    if replayed {
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(response)
}

/// The `Idempotency-Key` header: 1–255 visible ASCII characters, or a 400.
fn idempotency_key(req: &Request) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .filter(|key| (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()))
        .map(Some)
        .ok_or_else(|| {
            ApiError::validation(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )
        })
}

/// What identifies a body: the SHA-256 of its JSON with keys sorted and no spaces, so a
/// retry that only reorders or re-spaces it counts as the same.
fn fingerprint(body: &serde_json::Map<String, serde_json::Value>) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::Value::Object(body.clone()).to_string();
    format!("{:x}", Sha256::digest(canonical.as_bytes()))
}

/// The owner as a path segment (percent-encoded: Better Auth ids may hold anything).
fn owner_in_path(owner: &Subject) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(owner.as_str(), UNRESERVED).to_string()
}

/// `GET /api/{user_id}/tasks/{id}`: 304 when `If-None-Match` names the current tag.
pub async fn get(state: &TaskState, req: &Request, params: &Params) -> ApiResult {
    let owner = owner(state, req, params).await?;
    let id = task_id(params)?;
    let task = tasks::get(&state.db, &owner, id)
        .await?
        .ok_or_else(not_found)?;
    match if_none_match(req) {
        Some(known) if known.matches(task.version) => Ok(not_modified(task.version)),
        _ => task_response(StatusCode::OK, &task),
    }
}

/// `PUT /api/{user_id}/tasks/{id}`: full replacement.
pub async fn replace(state: &TaskState, req: &Request, params: &Params) -> ApiResult {
    let owner = owner(state, req, params).await?;
    let id = task_id(params);
    let changes = json_body(req).and_then(|body| Ok(TaskChanges::for_replace(body)?));
    let (id, changes) = merge_errors(id, changes)?;
    let only_if = if_match(req);
    let task = tasks::replace(&state.db, &owner, id, &changes, only_if.as_ref()).await?;
    written(state, &owner, id, only_if.as_ref(), task).await
}

/// `DELETE /api/{user_id}/tasks/{id}`: answers with the deleted task.
pub async fn delete(state: &TaskState, req: &Request, params: &Params) -> ApiResult {
    let owner = owner(state, req, params).await?;
    let id = task_id(params)?;
    let only_if = if_match(req);
    let task = tasks::delete(&state.db, &owner, id, only_if.as_ref()).await?;
    written(state, &owner, id, only_if.as_ref(), task).await
}

/// `PATCH /api/{user_id}/tasks/{id}/complete`: `{"completed": bool}` sets it; no body,
/// an empty body or `{}` toggles it.
pub async fn complete(state: &TaskState, req: &Request, params: &Params) -> ApiResult {
    let owner = owner(state, req, params).await?;
    let id = task_id(params);
    let completed = optional_json_body(req).and_then(|body: Option<CompleteBody>| {
        let mut errors = FieldErrors::default();
        match body.map(|body| body.completed.optional("completed", &mut errors)) {
            None => Ok(None),
            Some(Some(completed)) => Ok(completed),
            Some(None) => Err(errors.into()),
        }
    });
    let (id, completed) = merge_errors(id, completed)?;
    let only_if = if_match(req);
    let task = tasks::set_completed(&state.db, &owner, id, completed, only_if.as_ref()).await?;
    written(state, &owner, id, only_if.as_ref(), task).await
}

/// Both values, or one 400 listing the field errors of both.
fn merge_errors<A, B>(a: Result<A, ApiError>, b: Result<B, ApiError>) -> Result<(A, B), ApiError> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(ApiError::Validation(mut first)), Err(ApiError::Validation(second))) => {
            first.extend(second);
            Err(ApiError::Validation(first))
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}
