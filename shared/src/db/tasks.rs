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

const COLUMNS: &str = "id, user_id, title, description, completed, created_at, updated_at";

/// The `ORDER BY` for a validated sort: built from enums, never from request text.
/// Ties are broken by `id` in the same direction, so pages neither repeat nor skip.
fn order_by(sort_by: SortBy, order: SortOrder) -> String {
    let column = match sort_by {
        SortBy::CreatedAt => "created_at",
        SortBy::UpdatedAt => "updated_at",
        SortBy::Title => "title",
    };
    let direction = match order {
        SortOrder::Asc => "ASC",
        SortOrder::Desc => "DESC",
    };
    format!("{column} {direction}, id {direction}")
}

/// A page of the owner's tasks with the total, in one statement (`count(*) OVER ()`);
/// only a page past the end needs a second, to count.
pub async fn list(db: &Database, owner: &Subject, query: &ListQuery) -> Result<TaskPage, DbError> {
    let filter = "user_id = $1 AND ($2::boolean IS NULL OR completed = $2)";
    let sql = format!(
        "SELECT {COLUMNS}, count(*) OVER () AS total FROM tasks WHERE {filter} \
         ORDER BY {} LIMIT $3 OFFSET $4",
        order_by(query.sort_by, query.sort_order)
    );
    let count_sql = format!("SELECT count(*) FROM tasks WHERE {filter}");
    let limit = i64::from(query.page_size.get());
    let offset = query.offset();
    db.run(async |client| {
        let owner = owner.as_str();
        let rows = client
            .query_typed(
                &sql,
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
                    &count_sql,
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
    let sql = format!(
        "INSERT INTO tasks (user_id, title, description, completed) VALUES ($1, $2, $3, $4) \
         RETURNING {COLUMNS}"
    );
    let description = changes.description.as_ref().map(|d| d.as_str());
    db.run(async |client| {
        let row = client
            .query_typed_one(
                &sql,
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
    let sql = format!("SELECT {COLUMNS} FROM tasks WHERE id = $1 AND user_id = $2");
    one(db, &sql, id, owner, &[]).await
}

/// Full replacement; `updated_at` moves.
pub async fn replace(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    changes: &TaskChanges,
) -> Result<Option<Task>, DbError> {
    let sql = format!(
        "UPDATE tasks SET title = $3, description = $4, completed = $5, updated_at = now() \
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    );
    let description = changes.description.as_ref().map(|d| d.as_str());
    one(
        db,
        &sql,
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
    let sql = format!("DELETE FROM tasks WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}");
    one(db, &sql, id, owner, &[]).await
}

/// Sets `completed`, or toggles it in SQL when `None`, so concurrent toggles never
/// lose one.
pub async fn set_completed(
    db: &Database,
    owner: &Subject,
    id: Uuid,
    completed: Option<bool>,
) -> Result<Option<Task>, DbError> {
    let sql = format!(
        "UPDATE tasks SET completed = COALESCE($3, NOT completed), updated_at = now() \
         WHERE id = $1 AND user_id = $2 RETURNING {COLUMNS}"
    );
    one(db, &sql, id, owner, &[(&completed, Type::BOOL)]).await
}
