//! The `projects` table, read together with each project's owner.

use chrono::{DateTime, Utc};
use dstack_core::api::common::Uuid4;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::users::{self, UserRow};
use super::{CreatedAtCursor, DbError, from_micros, like_pattern, parse_id, to_micros};

/// A live project as stored, with its owner.
#[derive(Debug, Clone)]
pub struct ProjectRow {
    /// The id.
    pub id: Uuid4,
    /// The unique name.
    pub name: String,
    /// The creator.
    pub owner: UserRow,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Whether every user may see and join it.
    pub is_public: bool,
    /// The git repo of UI templates.
    pub templates_repo: Option<String>,
}

const SELECT: &str = "SELECT p.id, p.name, p.created_at, p.is_public, p.templates_repo, \
    o.id AS o_id, o.name AS o_name, o.created_at AS o_created_at, \
    o.global_role AS o_global_role, o.email AS o_email, o.active AS o_active, \
    o.ssh_public_key AS o_ssh_public_key, o.ssh_private_key AS o_ssh_private_key \
    FROM projects p JOIN users o ON o.id = p.owner_id";

fn from_row(row: &AnyRow) -> Result<ProjectRow, DbError> {
    let id: String = row.try_get("id")?;
    let is_public: i64 = row.try_get("is_public")?;
    Ok(ProjectRow {
        id: parse_id("projects.id", &id)?,
        name: row.try_get("name")?,
        owner: users::from_row(row, "o_")?,
        created_at: from_micros("projects.created_at", row.try_get("created_at")?)?,
        is_public: is_public != 0,
        templates_repo: row.try_get("templates_repo")?,
    })
}

/// Inserts a project; a taken name is [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    project: &ProjectRow,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO projects (id, name, owner_id, created_at, is_public, templates_repo, deleted) \
         VALUES ($1, $2, $3, $4, $5, $6, 0)",
    )
    .bind(project.id.to_string())
    .bind(&project.name)
    .bind(project.owner.id.to_string())
    .bind(to_micros(project.created_at))
    .bind(i64::from(project.is_public))
    .bind(&project.templates_repo)
    .execute(db)
    .await?;
    Ok(())
}

/// The live project with this name.
pub async fn find_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    name: &str,
) -> Result<Option<ProjectRow>, DbError> {
    let sql = format!("{SELECT} WHERE p.name = $1 AND p.deleted = 0");
    let row = sqlx::query(&sql).bind(name).fetch_optional(db).await?;
    row.map(|row| from_row(&row)).transpose()
}

/// Which projects a listing covers.
#[derive(Debug, Clone)]
pub struct ProjectFilter {
    /// Only projects this user is a member of (plus public ones when `with_public`); `None`
    /// for every project.
    pub member_id: Option<String>,
    /// Whether public projects count for `member_id`.
    pub with_public: bool,
    /// A case-insensitive substring of the name.
    pub name_contains: Option<String>,
}

const FILTER: &str = "p.deleted = 0 AND ($1 IS NULL \
    OR EXISTS (SELECT 1 FROM members m WHERE m.project_id = p.id AND m.user_id = $1) \
    OR ($2 = 1 AND p.is_public = 1)) \
    AND ($3 IS NULL OR lower(p.name) LIKE $3 ESCAPE '\\')";

/// One page of live projects.
pub async fn list_page<'e>(
    db: impl Executor<'e, Database = Any>,
    filter: &ProjectFilter,
    cursor: &CreatedAtCursor,
) -> Result<Vec<ProjectRow>, DbError> {
    let sql = format!("{SELECT} WHERE {FILTER}{}", cursor.sql("p", 4));
    let rows = sqlx::query(&sql)
        .bind(&filter.member_id)
        .bind(i64::from(filter.with_public))
        .bind(filter.name_contains.as_deref().map(like_pattern))
        .bind(cursor.prev_created_at)
        .bind(&cursor.prev_id)
        .bind(cursor.limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// How many live projects match, over all pages.
pub async fn count<'e>(
    db: impl Executor<'e, Database = Any>,
    filter: &ProjectFilter,
) -> Result<i64, DbError> {
    let sql = format!("SELECT COUNT(*) FROM projects p WHERE {FILTER}");
    let count = sqlx::query_scalar(&sql)
        .bind(&filter.member_id)
        .bind(i64::from(filter.with_public))
        .bind(filter.name_contains.as_deref().map(like_pattern))
        .fetch_one(db)
        .await?;
    Ok(count)
}

/// Sets visibility and templates repo of a live project.
pub async fn update_settings<'e>(
    db: impl Executor<'e, Database = Any>,
    project: &ProjectRow,
) -> Result<(), DbError> {
    sqlx::query("UPDATE projects SET is_public = $2, templates_repo = $3 WHERE id = $1")
        .bind(project.id.to_string())
        .bind(i64::from(project.is_public))
        .bind(&project.templates_repo)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a live project deleted, which frees its name; false when it was not live.
pub async fn mark_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
) -> Result<bool, DbError> {
    let done = sqlx::query("UPDATE projects SET deleted = 1 WHERE id = $1 AND deleted = 0")
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
