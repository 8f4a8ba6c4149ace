//! The `tasks` table. Every statement names the owner in its `WHERE` clause, so another
//! user's task is exactly as invisible as a missing one; each request is one statement.

use super::{Database, DbError};
use crate::auth::Subject;
use crate::model::{ListQuery, SortBy, SortOrder, TaskChanges};
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
        })
    }
}

/// One page of a listing and the number of matching tasks.
#[derive(Debug, Clone)]
pub struct TaskPage {
    pub items: Vec<Task>,
    pub total: i64,
}

// Every statement is a literal assembled at compile time: nothing is formatted per
// request, and no text from a request ever becomes SQL.
macro_rules! columns {
    () => {
        "id, user_id, title, description, completed, created_at, updated_at"
    };
}
macro_rules! owned_by_filter {
    () => {
        "user_id = $1 AND ($2::boolean IS NULL OR completed = $2)"
    };
}
macro_rules! list_sql {
    ($order:literal) => {
        concat!(
            "SELECT ",
            columns!(),
            ", count(*) OVER () AS total FROM tasks WHERE ",
            owned_by_filter!(),
            " ORDER BY ",
            $order,
            " LIMIT $3 OFFSET $4"
        )
    };
}

const COUNT: &str = concat!("SELECT count(*) FROM tasks WHERE ", owned_by_filter!());
const INSERT: &str = concat!(
    "INSERT INTO tasks (user_id, title, description, completed) VALUES ($1, $2, $3, $4) RETURNING ",
    columns!()
);
const GET: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM tasks WHERE id = $1 AND user_id = $2"
);
const REPLACE: &str = concat!(
    "UPDATE tasks SET title = $3, description = $4, completed = $5, updated_at = now() ",
    "WHERE id = $1 AND user_id = $2 RETURNING ",
    columns!()
);
const DELETE: &str = concat!(
    "DELETE FROM tasks WHERE id = $1 AND user_id = $2 RETURNING ",
    columns!()
);
const SET_COMPLETED: &str = concat!(
    "UPDATE tasks SET completed = COALESCE($3, NOT completed), updated_at = now() ",
    "WHERE id = $1 AND user_id = $2 RETURNING ",
    columns!()
);

/// The listing statement for a validated sort. Ties are broken by `id` in the same
/// direction, so pages neither repeat nor skip.
fn list_sql(sort_by: SortBy, order: SortOrder) -> &'static str {
    match (sort_by, order) {
        (SortBy::CreatedAt, SortOrder::Asc) => list_sql!("created_at ASC, id ASC"),
        (SortBy::CreatedAt, SortOrder::Desc) => list_sql!("created_at DESC, id DESC"),
        (SortBy::UpdatedAt, SortOrder::Asc) => list_sql!("updated_at ASC, id ASC"),
        (SortBy::UpdatedAt, SortOrder::Desc) => list_sql!("updated_at DESC, id DESC"),
        (SortBy::Title, SortOrder::Asc) => list_sql!("title ASC, id ASC"),
        (SortBy::Title, SortOrder::Desc) => list_sql!("title DESC, id DESC"),
    }
}

/// A page of the owner's tasks with the total, in one statement (`count(*) OVER ()`);
/// only a page past the end needs a second, to count.
pub async fn list(db: &Database, owner: &Subject, query: &ListQuery) -> Result<TaskPage, DbError> {
    let sql = list_sql(query.sort_by, query.sort_order);
    let limit = i64::from(query.page_size.get());
    let offset = query.offset();
    db.run(async |client| {
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

pub async fn create(
    db: &Database,
    owner: &Subject,
    changes: &TaskChanges,
) -> Result<Task, DbError> {
    let description = changes.description.as_ref().map(|d| d.as_str());
    db.run(async |client| {
        let row = client
            .query_typed_one(
                INSERT,
                &[
                    (&owner.as_str(), Type::TEXT),
                    (&changes.title.as_str(), Type::TEXT),
                    (&description, Type::TEXT),
                    (&changes.completed, Type::BOOL),
                ],
            )
            .await?;
        Task::from_row(&row)
    })
    .await
}

/// Runs a statement whose `$1` is the task id and `$2` the owner, returning the row.
async fn one(
    db: &Database,
    sql: &str,
    id: Uuid,
    owner: &Subject,
    more: &[(&(dyn tokio_postgres::types::ToSql + Sync), Type)],
) -> Result<Option<Task>, DbError> {
    db.run(async |client| {
        let owner = owner.as_str();
        let mut params: Vec<(&(dyn tokio_postgres::types::ToSql + Sync), Type)> =
            vec![(&id, Type::UUID), (&owner, Type::TEXT)];
        params.extend(more.iter().cloned());
        client
            .query_typed_opt(sql, &params)
            .await?
            .map(|row| Task::from_row(&row))
            .transpose()
    })
    .await
}

pub async fn get(db: &Database, owner: &Subject, id: Uuid) -> Result<Option<Task>, DbError> {
    one(db, GET, id, owner, &[]).await
}

/// Full replacement; `updated_at` moves.
pub async fn replace(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    changes: &TaskChanges,
) -> Result<Option<Task>, DbError> {
    let description = changes.description.as_ref().map(|d| d.as_str());
    one(
        db,
        REPLACE,
        id,
        owner,
        &[
            (&changes.title.as_str(), Type::TEXT),
            (&description, Type::TEXT),
            (&changes.completed, Type::BOOL),
        ],
    )
    .await
}

pub async fn delete(db: &Database, owner: &Subject, id: Uuid) -> Result<Option<Task>, DbError> {
    one(db, DELETE, id, owner, &[]).await
}

/// Sets `completed`, or toggles it in SQL when `None`, so concurrent toggles never
/// lose one.
pub async fn set_completed(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    completed: Option<bool>,
) -> Result<Option<Task>, DbError> {
    one(db, SET_COMPLETED, id, owner, &[(&completed, Type::BOOL)]).await
}
