//! The `tasks` table. Every statement names the owner in its `WHERE` clause, so another
//! user's task is exactly as invisible as a missing one; each request is one statement.

use super::{Database, DbError, Param};
use crate::model::{ListQuery, Precondition, SortBy, SortOrder, Subject, TaskChanges};
use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Row, types::Type};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    pub id: Uuid,
    pub user_id: String,
    pub title: String,
    pub description: Option<String>,
    pub completed: bool,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::model::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// Raised by every write; the task's `ETag`. Not part of the task's JSON.
    #[serde(skip)]
    pub version: i64,
}

impl Task {
    fn from_row(row: &Row) -> Result<Self, tokio_postgres::Error> {
        Ok(Self {
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
}

/// One page of a listing and the number of matching tasks.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub total: i64,
}

// Each statement whole, as it reaches Postgres: nothing is formatted per request, and
// no text from a request ever becomes SQL. `tests/database.rs` prepares every one
// against the migrated schema. The owner is in every WHERE.

/// A task's columns, in the order `Task::from_row` reads them: every statement that
/// answers with tasks selects or returns exactly these.
macro_rules! task_columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at, version"
    };
}

// The listing, one statement per validated sort. Ties are broken by `id` in the same
// direction, so pages neither repeat nor skip.
macro_rules! list {
    ($order:literal) => {
        concat!(
            "SELECT ",
            task_columns!(),
            ", count(*) OVER () AS total FROM tasks \
            WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2) \
            ORDER BY ",
            $order,
            " LIMIT $3 OFFSET $4"
        )
    };
}
const LIST_CREATED_ASC: &str = list!("created_at ASC, id ASC");
const LIST_CREATED_DESC: &str = list!("created_at DESC, id DESC");
const LIST_UPDATED_ASC: &str = list!("updated_at ASC, id ASC");
const LIST_UPDATED_DESC: &str = list!("updated_at DESC, id DESC");
const LIST_TITLE_ASC: &str = list!("title ASC, id ASC");
const LIST_TITLE_DESC: &str = list!("title DESC, id DESC");

const COUNT: &str =
    "SELECT count(*) FROM tasks WHERE user_id = $1 AND ($2::boolean IS NULL OR completed = $2)";

// With `TASK_EVENTS=outbox` each write has a twin that also records the change's event
// in the same statement (`*_EVENT`, built by `with_event!` from the same text): still
// one round trip, and the change and its event commit together or not at all. A write
// that changes nothing (a refused precondition, a replayed key) records nothing.

/// The event of each row of `$rows` (a CTE of written task rows), as Debezium's outbox
/// router reads it, with a CloudEvents 1.0 envelope as its payload whose `data` is the
/// task as the API shows it; and the pruning of events past their retention, oldest
/// first, a hundred at a time. `$source` and `$days` are the statement's last two
/// parameters.
///
/// The pruning is written so that no plan reads the whole table, whatever the planner
/// believes (a young table without statistics: that a third of its rows expired). With
/// a bare `LIMIT` it scanned the table for the first hundred expired rows, usually
/// finding none; with `ctid IN (...)` it hash-joined the hundred against a scan of the
/// table. So: `ORDER BY created_at` (the `created_at` index) and `ctid = ANY (ARRAY(...))`
/// (a TID scan of just those rows). Before this, `make bench` saw warm writes grow
/// 0.7–2.8 ms slower as the table filled. Tested with `EXPLAIN` in
/// shared/tests/database.rs.
macro_rules! event_ctes {
    ($rows:literal, $type:literal, $source:literal, $days:literal) => {
        concat!(
            "event AS ( \
                INSERT INTO task_events (id, aggregatetype, aggregateid, type, payload) \
                SELECT e.id, 'task', c.id::text, e.type, jsonb_build_object( \
                    'specversion', '1.0', 'id', e.id, 'source', ", $source, "::text, \
                    'type', e.type, 'subject', c.user_id, \
                    'time', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
                    'datacontenttype', 'application/json', \
                    'data', jsonb_build_object( \
                        'id', c.id, 'user_id', c.user_id, 'title', c.title, \
                        'description', c.description, 'completed', c.completed, \
                        'created_at', to_char(c.created_at AT TIME ZONE 'UTC', \
                            'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), \
                        'updated_at', to_char(c.updated_at AT TIME ZONE 'UTC', \
                            'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'))) \
                FROM ", $rows, " c \
                CROSS JOIN LATERAL (SELECT gen_random_uuid() AS id, ", $type, "::text AS type) e \
            ), pruned_events AS ( \
                DELETE FROM task_events WHERE ctid = ANY (ARRAY( \
                    SELECT ctid FROM task_events \
                    WHERE created_at < now() - make_interval(days => ", $days, "::int) \
                    ORDER BY created_at LIMIT 100)) \
            )"
        )
    };
}

/// A single-statement write (its `RETURNING` row) with its event.
macro_rules! with_event {
    ($write:expr, $type:literal, $source:literal, $days:literal) => {
        concat!(
            "WITH changed AS (",
            $write,
            "), ",
            event_ctes!("changed", $type, $source, $days),
            " SELECT * FROM changed"
        )
    };
}

macro_rules! insert {
    () => {
        concat!(
            "INSERT INTO tasks (user_id, title, description, completed) \
            VALUES ($1, $2, $3, $4) \
            RETURNING ",
            task_columns!()
        )
    };
}
const INSERT: &str = insert!();
const INSERT_EVENT: &str = with_event!(insert!(), "'todo.task.created'", "$5", "$6");

/// A create under an `Idempotency-Key`, in one statement. A transaction-level lock on
/// the key (released when the statement ends) tells whether another request with it is
/// in flight (`free` false: nothing is done). Otherwise the key is claimed (with the
/// body's fingerprint and the task as created) and the task inserted only if the key
/// was free; no task means it was used before. Keys older than a day are pruned,
/// oldest first, a hundred at a time (on the `created_at` index: see `event_ctes!`).
macro_rules! insert_once_ctes {
    () => {
        concat!(
            "WITH lock AS ( \
            SELECT pg_try_advisory_xact_lock(hashtextextended($1 || chr(10) || $5, 0)) AS free \
        ), fresh AS ( \
            SELECT gen_random_uuid() AS id, now() AS at \
        ), claimed AS ( \
            INSERT INTO idempotency_keys \
                (user_id, key, fingerprint, task_id, title, description, completed, created_at) \
            SELECT $1, $5, $6, fresh.id, $2, $3, $4, fresh.at FROM fresh, lock WHERE lock.free \
            ON CONFLICT (user_id, key) DO NOTHING \
            RETURNING task_id, created_at \
        ), pruned AS ( \
            DELETE FROM idempotency_keys WHERE ctid = ANY (ARRAY( \
                SELECT ctid FROM idempotency_keys \
                WHERE created_at < now() - interval '24 hours' \
                    AND NOT (user_id = $1 AND key = $5) \
                ORDER BY created_at LIMIT 100)) \
        ), created AS ( \
            INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at) \
            SELECT task_id, $1, $2, $3, $4, created_at, created_at FROM claimed \
            RETURNING ",
            task_columns!(),
            ")"
        )
    };
}
const INSERT_ONCE: &str = concat!(
    insert_once_ctes!(),
    " SELECT lock.free, created.* FROM lock LEFT JOIN created ON true"
);
const INSERT_ONCE_EVENT: &str = concat!(
    insert_once_ctes!(),
    ", ",
    event_ctes!("created", "'todo.task.created'", "$7", "$8"),
    " SELECT lock.free, created.* FROM lock LEFT JOIN created ON true"
);

/// What a key already holds: the first body's fingerprint and the task it created.
const FIND_KEY: &str = "SELECT fingerprint, task_id AS id, $1::text AS user_id, title, \
        description, completed, created_at, created_at AS updated_at, 1::bigint AS version \
    FROM idempotency_keys WHERE user_id = $1 AND key = $2";

const GET: &str = concat!(
    "SELECT ",
    task_columns!(),
    " FROM tasks WHERE id = $1 AND user_id = $2"
);

// The writes' last parameter: the versions an If-Match allows, or null for any. The
// condition is part of the one statement; a refused write changes nothing.
macro_rules! replace {
    () => {
        concat!(
            "UPDATE tasks \
            SET title = $3, description = $4, completed = $5, updated_at = now(), \
                version = version + 1 \
            WHERE id = $1 AND user_id = $2 AND ($6::bigint[] IS NULL OR version = ANY($6)) \
            RETURNING ",
            task_columns!()
        )
    };
}
const REPLACE: &str = replace!();
const REPLACE_EVENT: &str = with_event!(replace!(), "'todo.task.replaced'", "$7", "$8");

macro_rules! delete {
    () => {
        concat!(
            "DELETE FROM tasks \
            WHERE id = $1 AND user_id = $2 AND ($3::bigint[] IS NULL OR version = ANY($3)) \
            RETURNING ",
            task_columns!()
        )
    };
}
const DELETE: &str = delete!();
/// The event's `data` is the task as it was.
const DELETE_EVENT: &str = with_event!(delete!(), "'todo.task.deleted'", "$4", "$5");

/// `$3` null toggles, in SQL, so concurrent toggles never lose one.
macro_rules! set_completed {
    () => {
        concat!(
            "UPDATE tasks \
            SET completed = COALESCE($3, NOT completed), updated_at = now(), version = version + 1 \
            WHERE id = $1 AND user_id = $2 AND ($4::bigint[] IS NULL OR version = ANY($4)) \
            RETURNING ",
            task_columns!()
        )
    };
}
const SET_COMPLETED: &str = set_completed!();
/// `todo.task.completed` or `todo.task.reopened`, by where the task ended up.
const SET_COMPLETED_EVENT: &str = with_event!(
    set_completed!(),
    "CASE WHEN c.completed THEN 'todo.task.completed' ELSE 'todo.task.reopened' END",
    "$5",
    "$6"
);

/// Every statement of this module, by name (for the test that prepares them all).
pub const STATEMENTS: &[(&str, &str)] = &[
    ("LIST_CREATED_ASC", LIST_CREATED_ASC),
    ("LIST_CREATED_DESC", LIST_CREATED_DESC),
    ("LIST_UPDATED_ASC", LIST_UPDATED_ASC),
    ("LIST_UPDATED_DESC", LIST_UPDATED_DESC),
    ("LIST_TITLE_ASC", LIST_TITLE_ASC),
    ("LIST_TITLE_DESC", LIST_TITLE_DESC),
    ("COUNT", COUNT),
    ("INSERT", INSERT),
    ("INSERT_EVENT", INSERT_EVENT),
    ("INSERT_ONCE", INSERT_ONCE),
    ("INSERT_ONCE_EVENT", INSERT_ONCE_EVENT),
    ("FIND_KEY", FIND_KEY),
    ("GET", GET),
    ("REPLACE", REPLACE),
    ("REPLACE_EVENT", REPLACE_EVENT),
    ("DELETE", DELETE),
    ("DELETE_EVENT", DELETE_EVENT),
    ("SET_COMPLETED", SET_COMPLETED),
    ("SET_COMPLETED_EVENT", SET_COMPLETED_EVENT),
];

/// A write's statement (with its event's twin when `TASK_EVENTS=outbox`), and the
/// parameters the twin adds after the write's own: the event source and the retention.
fn write<'a>(
    db: &'a Database,
    plain: &'static str,
    with_event: &'static str,
) -> (&'static str, Vec<Param<'a>>) {
    match db.task_events() {
        None => (plain, Vec::new()),
        Some(events) => (
            with_event,
            vec![
                (&events.source, Type::TEXT),
                (&events.retention_days, Type::INT4),
            ],
        ),
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

/// A page of the owner's tasks with the total, in one statement (`count(*) OVER ()`);
/// only a page past the end needs a second, to count.
pub async fn list(db: &Database, owner: &Subject, query: &ListQuery) -> Result<TaskPage, DbError> {
    let sql = list_sql(query.sort_by, query.sort_order);
    let limit = i64::from(query.page_size.get());
    let offset = query.offset();
    db.read(async |client| {
        let owner = owner.as_str();
        let rows = client
            .query_typed(
                sql,
                &[
                    (&owner, Type::TEXT),
                    (&query.completed, Type::BOOL),
                    (&limit, Type::INT8),
                    (&offset, Type::INT8),
                ],
            )
            .await?;
        let total = match rows.first() {
            Some(row) => row.try_get("total")?,
            None if offset == 0 => 0,
            None => client
                .query_typed_one(
                    COUNT,
                    &[(&owner, Type::TEXT), (&query.completed, Type::BOOL)],
                )
                .await?
                .try_get(0)?,
        };
        let items = rows.iter().map(Task::from_row).collect::<Result<_, _>>()?;
        Ok(TaskPage { items, total })
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
    let (sql, event) = write(db, INSERT, INSERT_EVENT);
    let task = NewTask::new(owner, changes);
    let rows = db.write(sql, &task.params(&event)).await?;
    Ok(Task::from_row(only_row(&rows)?)?)
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
    let (sql, event) = write(db, INSERT_ONCE, INSERT_ONCE_EVENT);
    let task = NewTask::new(owner, changes);
    let mut more: Vec<Param<'_>> = vec![(&key, Type::TEXT), (&fingerprint, Type::TEXT)];
    more.extend(event.iter().cloned());
    let rows = db.write(sql, &task.params(&more)).await?;
    let owner = task.owner;
    let row = only_row(&rows)?;
    if !row.try_get::<_, bool>("free")? {
        return Ok(Created::InFlight);
    }
    if row.try_get::<_, Option<Uuid>>("id")?.is_some() {
        return Ok(Created::New(Task::from_row(row)?));
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
        Created::Replayed(Task::from_row(&row)?)
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

/// Runs a write whose `$1` is the task id and `$2` the owner, returning the row;
/// `event` is what [`write`] adds.
async fn write_one(
    db: &Database,
    sql: &str,
    id: Uuid,
    owner: &Subject,
    more: &[Param<'_>],
    event: &[Param<'_>],
) -> Result<Option<Task>, DbError> {
    let owner = owner.as_str();
    let mut params = by_id(&id, &owner, more);
    params.extend(event.iter().cloned());
    let rows = db.write(sql, &params).await?;
    Ok(rows.first().map(Task::from_row).transpose()?)
}

pub async fn get(db: &Database, owner: &Subject, id: Uuid) -> Result<Option<Task>, DbError> {
    let owner = owner.as_str();
    let params = by_id(&id, &owner, &[]);
    db.read(async |client| {
        client
            .query_typed_opt(GET, &params)
            .await?
            .map(|row| Task::from_row(&row))
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
    let (sql, event) = write(db, REPLACE, REPLACE_EVENT);
    write_one(
        db,
        sql,
        id,
        owner,
        &[
            (&changes.title.as_str(), Type::TEXT),
            (&description, Type::TEXT),
            (&changes.completed, Type::BOOL),
            (&versions, Type::INT8_ARRAY),
        ],
        &event,
    )
    .await
}

/// Deletes and returns the task; `None` as for [`replace`].
pub async fn delete(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    only_if: Option<&Precondition>,
) -> Result<Option<Task>, DbError> {
    let versions = only_if.and_then(Precondition::versions);
    let (sql, event) = write(db, DELETE, DELETE_EVENT);
    write_one(db, sql, id, owner, &[(&versions, Type::INT8_ARRAY)], &event).await
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
    let (sql, event) = write(db, SET_COMPLETED, SET_COMPLETED_EVENT);
    write_one(
        db,
        sql,
        id,
        owner,
        &[(&completed, Type::BOOL), (&versions, Type::INT8_ARRAY)],
        &event,
    )
    .await
}
