//! The `tasks` table. Every statement names the owner in its `WHERE` clause, so another
//! user's task is exactly as invisible as a missing one; each request is one statement.

use super::{Database, DbError, Param};
use crate::model::{
    After, ListQuery, Precondition, SortBy, SortKey, SortOrder, Subject, Task, TaskChanges,
};
use tokio_postgres::{Row, types::Type};
use uuid::Uuid;

/// A task as `task_from_row` reads it from every statement that answers with tasks.
fn task_from_row(row: &Row) -> Result<Task, tokio_postgres::Error> {
    Ok(Task {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        title: row.try_get("title")?,
        description: row.try_get("description")?,
        completed: row.try_get("completed")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        version: row.try_get("version")?,
    })
}

/// One page of a listing, the number of matching tasks, and whether a page follows.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub total: i64,
    pub more: bool,
}

// Each statement whole, as it reaches Postgres: nothing is formatted per request, and
// no text from a request ever becomes SQL. `tests/database.rs` prepares every one
// against the migrated schema. The owner is in every WHERE, and every statement that
// answers with tasks names the columns `task_from_row` reads.
//
// The writes' last two parameters turn the task events outbox on (TASK_EVENTS=outbox):
// the events' source, or null when events are off, and their retention in days. With a
// source, each changed row's RETURNING also calls `record_task_event` (migration 0008),
// which inserts the change's event and prunes expired ones: still one statement, and the
// change and its event commit together or not at all. A write that changes no row (a
// refused precondition, a replayed key) records nothing.

// The listing, one statement per sort. Each reads its page in order off the index of
// its sort (migration 0009; with `completed` given, the index that starts with it), so a
// page costs the same wherever it falls: no sort, and no more rows than it returns (plus
// the ones `OFFSET` skips for a page asked for by number). Ties are broken by `id` in the
// same direction, so pages neither repeat nor skip.
//
// $1 the owner, $2 `completed` (null: all), $3 the rows to read (the page and one more:
// whether there is a next page), $4 the rows to skip (a page by number; 0 after a cursor),
// $5 and $6 the sort key and id of the task the page starts after (null: from the first).
// A null parameter's condition drops out of the plan: each statement is planned with its
// values. `total` is the owner's count kept by every write (`task_total`, migration
// 0009), read once per statement.
const LIST_CREATED_ASC: &str = "
    SELECT id, user_id, title, description, completed, created_at, updated_at, version,
        (SELECT task_total($1, $2)) AS total
    FROM tasks
    WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)
        AND ($5::timestamptz IS NULL OR (created_at, id) > ($5, $6::uuid))
    ORDER BY created_at ASC, id ASC LIMIT $3 OFFSET $4";
/// The default listing: newest first.
const LIST_CREATED_DESC: &str = "
    SELECT id, user_id, title, description, completed, created_at, updated_at, version,
        (SELECT task_total($1, $2)) AS total
    FROM tasks
    WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)
        AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6::uuid))
    ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4";
/// `sort_by=updated_at&sort_order=asc`.
const LIST_UPDATED_ASC: &str = "
    SELECT id, user_id, title, description, completed, created_at, updated_at, version,
        (SELECT task_total($1, $2)) AS total
    FROM tasks
    WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)
        AND ($5::timestamptz IS NULL OR (updated_at, id) > ($5, $6::uuid))
    ORDER BY updated_at ASC, id ASC LIMIT $3 OFFSET $4";
/// `sort_by=updated_at`: the most recently changed first.
const LIST_UPDATED_DESC: &str = "
    SELECT id, user_id, title, description, completed, created_at, updated_at, version,
        (SELECT task_total($1, $2)) AS total
    FROM tasks
    WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)
        AND ($5::timestamptz IS NULL OR (updated_at, id) < ($5, $6::uuid))
    ORDER BY updated_at DESC, id DESC LIMIT $3 OFFSET $4";
/// `sort_by=title&sort_order=asc`: alphabetical.
const LIST_TITLE_ASC: &str = "
    SELECT id, user_id, title, description, completed, created_at, updated_at, version,
        (SELECT task_total($1, $2)) AS total
    FROM tasks
    WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)
        AND ($5::text IS NULL OR (title, id) > ($5, $6::uuid))
    ORDER BY title ASC, id ASC LIMIT $3 OFFSET $4";
/// `sort_by=title`: reverse alphabetical.
const LIST_TITLE_DESC: &str = "
    SELECT id, user_id, title, description, completed, created_at, updated_at, version,
        (SELECT task_total($1, $2)) AS total
    FROM tasks
    WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)
        AND ($5::text IS NULL OR (title, id) < ($5, $6::uuid))
    ORDER BY title DESC, id DESC LIMIT $3 OFFSET $4";

/// The total of an empty page after the first (it has no row to carry it): a page past
/// the end, or a cursor whose remaining tasks were deleted meanwhile.
const TOTAL: &str = "SELECT task_total($1, $2)";

const INSERT: &str = "
    INSERT INTO tasks (user_id, title, description, completed)
    VALUES ($1, $2, $3, $4)
    RETURNING id, user_id, title, description, completed, created_at, updated_at, version,
        CASE WHEN $5::text IS NOT NULL
            THEN record_task_event(tasks, 'todo.task.created', $5, $6::int) END AS event";

/// A create under an `Idempotency-Key` (`$5`, the body's fingerprint `$6`), in one
/// statement. A transaction-level lock on the key (released when the statement ends)
/// tells whether another request with it is in flight (`free` false: nothing is done).
/// Otherwise the key is claimed (with the fingerprint and the task as created) and the
/// task inserted only if the key was free; no task means it was used before. Keys older
/// than a day are pruned, oldest first, a hundred at a time, on the `created_at` index
/// (the same way `record_task_event` prunes events).
const INSERT_ONCE: &str = "
    WITH lock AS (
        SELECT pg_try_advisory_xact_lock(hashtextextended($1 || chr(10) || $5, 0)) AS free
    ), fresh AS (
        SELECT gen_random_uuid() AS id, now() AS at
    ), claimed AS (
        INSERT INTO idempotency_keys
            (user_id, key, fingerprint, task_id, title, description, completed, created_at)
        SELECT $1, $5, $6, fresh.id, $2, $3, $4, fresh.at FROM fresh, lock WHERE lock.free
        ON CONFLICT (user_id, key) DO NOTHING
        RETURNING task_id, created_at
    ), pruned AS (
        DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY(
            SELECT ctid FROM idempotency_keys
            WHERE created_at < now() - interval '24 hours' AND NOT (user_id = $1 AND key = $5)
            ORDER BY created_at LIMIT 100))
    ), created AS (
        INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at)
        SELECT task_id, $1, $2, $3, $4, created_at, created_at FROM claimed
        RETURNING id, user_id, title, description, completed, created_at, updated_at, version,
            CASE WHEN $7::text IS NOT NULL
                THEN record_task_event(tasks, 'todo.task.created', $7, $8::int) END AS event
    )
    SELECT lock.free, created.* FROM lock LEFT JOIN created ON true";

/// What a key already holds: the first body's fingerprint and the task it created.
const FIND_KEY: &str = "
    SELECT fingerprint, task_id AS id, $1::text AS user_id, title, description, completed,
        created_at, created_at AS updated_at, 1::bigint AS version
    FROM idempotency_keys WHERE user_id = $1 AND key = $2";

const GET: &str = "
    SELECT id, user_id, title, description, completed, created_at, updated_at, version
    FROM tasks WHERE id = $1 AND user_id = $2";

// The conditional writes take the versions an If-Match allows, or null for any: the
// condition is part of the one statement, so a refused write changes nothing.

const REPLACE: &str = "
    UPDATE tasks
    SET title = $3, description = $4, completed = $5, updated_at = now(), version = version + 1
    WHERE id = $1 AND user_id = $2 AND ($6::bigint[] IS NULL OR version = ANY($6))
    RETURNING id, user_id, title, description, completed, created_at, updated_at, version,
        CASE WHEN $7::text IS NOT NULL
            THEN record_task_event(tasks, 'todo.task.replaced', $7, $8::int) END AS event";

/// The event's `data` is the task as it was.
const DELETE: &str = "
    DELETE FROM tasks
    WHERE id = $1 AND user_id = $2 AND ($3::bigint[] IS NULL OR version = ANY($3))
    RETURNING id, user_id, title, description, completed, created_at, updated_at, version,
        CASE WHEN $4::text IS NOT NULL
            THEN record_task_event(tasks, 'todo.task.deleted', $4, $5::int) END AS event";

/// `$3` null toggles, in SQL, so concurrent toggles never lose one. The event is
/// `todo.task.completed` or `todo.task.reopened`, by where the task ended up.
const SET_COMPLETED: &str = "
    UPDATE tasks
    SET completed = COALESCE($3, NOT completed), updated_at = now(), version = version + 1
    WHERE id = $1 AND user_id = $2 AND ($4::bigint[] IS NULL OR version = ANY($4))
    RETURNING id, user_id, title, description, completed, created_at, updated_at, version,
        CASE WHEN $5::text IS NOT NULL THEN record_task_event(tasks,
            CASE WHEN completed THEN 'todo.task.completed' ELSE 'todo.task.reopened' END,
            $5, $6::int) END AS event";

/// Every statement of this module, by name (for the test that prepares them all).
pub const STATEMENTS: &[(&str, &str)] = &[
    ("LIST_CREATED_ASC", LIST_CREATED_ASC),
    ("LIST_CREATED_DESC", LIST_CREATED_DESC),
    ("LIST_UPDATED_ASC", LIST_UPDATED_ASC),
    ("LIST_UPDATED_DESC", LIST_UPDATED_DESC),
    ("LIST_TITLE_ASC", LIST_TITLE_ASC),
    ("LIST_TITLE_DESC", LIST_TITLE_DESC),
    ("TOTAL", TOTAL),
    ("INSERT", INSERT),
    ("INSERT_ONCE", INSERT_ONCE),
    ("FIND_KEY", FIND_KEY),
    ("GET", GET),
    ("REPLACE", REPLACE),
    ("DELETE", DELETE),
    ("SET_COMPLETED", SET_COMPLETED),
];

/// The writes' last two parameters: the events' source (null: events are off) and
/// their retention in days.
struct Events<'a> {
    source: Option<&'a str>,
    retention_days: Option<i32>,
}

impl<'a> Events<'a> {
    fn of(db: &'a Database) -> Self {
        let events = db.task_events();
        Self {
            source: events.map(|e| e.source.as_str()),
            retention_days: events.map(|e| e.retention_days),
        }
    }

    fn params(&self) -> [Param<'_>; 2] {
        [
            (&self.source, Type::TEXT),
            (&self.retention_days, Type::INT4),
        ]
    }
}

/// The listing statement for a validated sort.
fn list_sql(sort_by: SortBy, order: SortOrder) -> &'static str {
    match (sort_by, order) {
        (SortBy::CreatedAt, SortOrder::Asc) => LIST_CREATED_ASC,
        (SortBy::CreatedAt, SortOrder::Desc) => LIST_CREATED_DESC,
        (SortBy::UpdatedAt, SortOrder::Asc) => LIST_UPDATED_ASC,
        (SortBy::UpdatedAt, SortOrder::Desc) => LIST_UPDATED_DESC,
        (SortBy::Title, SortOrder::Asc) => LIST_TITLE_ASC,
        (SortBy::Title, SortOrder::Desc) => LIST_TITLE_DESC,
    }
}

/// A page of the owner's tasks with the total, in one statement (a second, as cheap,
/// only for an empty page after the first).
pub async fn list(db: &Database, owner: &Subject, query: &ListQuery) -> Result<TaskPage, DbError> {
    let sql = list_sql(query.sort_by, query.sort_order);
    let page_size = usize::try_from(query.page_size.get()).unwrap_or(usize::MAX);
    let read = i64::from(query.page_size.get()) + 1;
    let offset = query.offset();
    let (after_time, after_title, after_id) = match &query.after {
        None => (None, None, None),
        Some(After {
            key: SortKey::Time(at),
            id,
        }) => (Some(*at), None, Some(*id)),
        Some(After {
            key: SortKey::Title(title),
            id,
        }) => (None, Some(title.as_str()), Some(*id)),
    };
    db.read(async |client| {
        let owner = owner.as_str();
        let after_key: Param<'_> = match query.sort_by {
            SortBy::Title => (&after_title, Type::TEXT),
            SortBy::CreatedAt | SortBy::UpdatedAt => (&after_time, Type::TIMESTAMPTZ),
        };
        let mut rows = client
            .query_typed(
                sql,
                &[
                    (&owner, Type::TEXT),
                    (&query.completed, Type::BOOL),
                    (&read, Type::INT8),
                    (&offset, Type::INT8),
                    after_key,
                    (&after_id, Type::UUID),
                ],
            )
            .await?;
        let total = match rows.first() {
            Some(row) => row.try_get("total")?,
            None if offset == 0 && query.after.is_none() => 0,
            None => client
                .query_typed_one(
                    TOTAL,
                    &[(&owner, Type::TEXT), (&query.completed, Type::BOOL)],
                )
                .await?
                .try_get(0)?,
        };
        let more = rows.len() > page_size;
        rows.truncate(page_size);
        let items = rows.iter().map(task_from_row).collect::<Result<_, _>>()?;
        Ok(TaskPage { items, total, more })
    })
    .await
}

/// A new task's values: `$1`–`$4` of both inserts, in this order.
struct NewTask<'a> {
    owner: &'a str,
    title: &'a str,
    description: Option<&'a str>,
    completed: bool,
}

impl<'a> NewTask<'a> {
    fn new(owner: &'a Subject, changes: &'a TaskChanges) -> Self {
        Self {
            owner: owner.as_str(),
            title: changes.title.as_str(),
            description: changes.description.as_ref().map(|d| d.as_str()),
            completed: changes.completed,
        }
    }

    /// `$1`–`$4`, then `more`.
    fn params(&'a self, more: &[Param<'a>]) -> Vec<Param<'a>> {
        let mut params: Vec<Param<'a>> = vec![
            (&self.owner, Type::TEXT),
            (&self.title, Type::TEXT),
            (&self.description, Type::TEXT),
            (&self.completed, Type::BOOL),
        ];
        params.extend(more.iter().cloned());
        params
    }
}

pub async fn create(
    db: &Database,
    owner: &Subject,
    changes: &TaskChanges,
) -> Result<Task, DbError> {
    let task = NewTask::new(owner, changes);
    let events = Events::of(db);
    let rows = db.write(INSERT, &task.params(&events.params())).await?;
    Ok(task_from_row(only_row(&rows)?)?)
}

/// The one row a statement that always answers one answered.
fn only_row(rows: &[Row]) -> Result<&Row, DbError> {
    match rows {
        [row] => Ok(row),
        _ => Err(DbError::Unexpected(format!(
            "{} rows where the statement always answers one",
            rows.len()
        ))),
    }
}

/// How a create under an `Idempotency-Key` went.
#[derive(Debug)]
pub enum Created {
    /// The first request with this key: the new task.
    New(Task),
    /// The key was used before with the same body: the task as it was created then.
    Replayed(Task),
    /// The key was used before with another body.
    KeyReused,
    /// A request with this key is being processed right now.
    InFlight,
}

/// Creates the task unless `key` was used before by `owner` or is in use right now; one
/// statement for a new key (or one in flight), one more for a used one. `fingerprint`
/// identifies the body.
pub async fn create_once(
    db: &Database,
    owner: &Subject,
    changes: &TaskChanges,
    key: &str,
    fingerprint: &str,
) -> Result<Created, DbError> {
    let task = NewTask::new(owner, changes);
    let events = Events::of(db);
    let mut more: Vec<Param<'_>> = vec![(&key, Type::TEXT), (&fingerprint, Type::TEXT)];
    more.extend(events.params());
    let rows = db.write(INSERT_ONCE, &task.params(&more)).await?;
    let owner = task.owner;
    let row = only_row(&rows)?;
    if !row.try_get::<_, bool>("free")? {
        return Ok(Created::InFlight);
    }
    if row.try_get::<_, Option<Uuid>>("id")?.is_some() {
        return Ok(Created::New(task_from_row(row)?));
    }
    // The key was used before: what it holds (a read, within the same deadline).
    let row = db
        .read(async |client| {
            client
                .query_typed_one(FIND_KEY, &[(&owner, Type::TEXT), (&key, Type::TEXT)])
                .await
        })
        .await?;
    let first: String = row.try_get("fingerprint")?;
    Ok(if first == fingerprint {
        Created::Replayed(task_from_row(&row)?)
    } else {
        Created::KeyReused
    })
}

/// The parameters of a statement whose `$1` is the task id and `$2` the owner.
fn by_id<'a>(id: &'a Uuid, owner: &'a &'a str, more: &[Param<'a>]) -> Vec<Param<'a>> {
    let mut params: Vec<Param<'a>> = vec![(id, Type::UUID), (owner, Type::TEXT)];
    params.extend(more.iter().cloned());
    params
}

/// Runs a conditional write whose `$1` is the task id and `$2` the owner, then `more`,
/// then the events' two parameters; the task as written, if any row was.
async fn write_one(
    db: &Database,
    sql: &str,
    id: Uuid,
    owner: &Subject,
    more: &[Param<'_>],
) -> Result<Option<Task>, DbError> {
    let owner = owner.as_str();
    let events = Events::of(db);
    let mut params = by_id(&id, &owner, more);
    params.extend(events.params());
    let rows = db.write(sql, &params).await?;
    Ok(rows.first().map(task_from_row).transpose()?)
}

pub async fn get(db: &Database, owner: &Subject, id: Uuid) -> Result<Option<Task>, DbError> {
    let owner = owner.as_str();
    let params = by_id(&id, &owner, &[]);
    db.read(async |client| {
        client
            .query_typed_opt(GET, &params)
            .await?
            .map(|row| task_from_row(&row))
            .transpose()
    })
    .await
}

/// Full replacement; `updated_at` moves. `None` when there is no such task, or it is
/// not at a version `only_if` allows (tell them apart with [`get`]).
pub async fn replace(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    changes: &TaskChanges,
    only_if: Option<&Precondition>,
) -> Result<Option<Task>, DbError> {
    let description = changes.description.as_ref().map(|d| d.as_str());
    let versions = only_if.and_then(Precondition::versions);
    let more: [Param<'_>; 4] = [
        (&changes.title.as_str(), Type::TEXT),
        (&description, Type::TEXT),
        (&changes.completed, Type::BOOL),
        (&versions, Type::INT8_ARRAY),
    ];
    write_one(db, REPLACE, id, owner, &more).await
}

/// Deletes and returns the task; `None` as for [`replace`].
pub async fn delete(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    only_if: Option<&Precondition>,
) -> Result<Option<Task>, DbError> {
    let versions = only_if.and_then(Precondition::versions);
    write_one(db, DELETE, id, owner, &[(&versions, Type::INT8_ARRAY)]).await
}

/// Sets `completed`, or toggles it in SQL when `None`, so concurrent toggles never
/// lose one; `None` as for [`replace`].
pub async fn set_completed(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    completed: Option<bool>,
    only_if: Option<&Precondition>,
) -> Result<Option<Task>, DbError> {
    let versions = only_if.and_then(Precondition::versions);
    let more: [Param<'_>; 2] = [(&completed, Type::BOOL), (&versions, Type::INT8_ARRAY)];
    write_one(db, SET_COMPLETED, id, owner, &more).await
}
