//! The `secrets` table: one row per project and name, the value in its stored (encrypted) form.

use dstack_core::api::common::Uuid4;
use sqlx::{Any, Executor, Row};

use super::DbError;

/// A secret as stored.
#[derive(Debug, Clone)]
pub struct SecretRow {
    /// The id.
    pub id: uuid::Uuid,
    /// The name, unique in its project.
    pub name: String,
    /// The value as stored, not the plaintext.
    pub stored_value: String,
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<SecretRow, DbError> {
    let id: String = row.try_get("id")?;
    Ok(SecretRow {
        id: uuid::Uuid::parse_str(&id).map_err(|_| DbError::Corrupt {
            column: "secrets.id",
            value: id.clone(),
        })?,
        name: row.try_get("name")?,
        stored_value: row.try_get("value")?,
    })
}

/// Inserts the secret, or replaces the value of the one with its name; returns its id.
pub async fn upsert<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    name: &str,
    stored_value: &str,
    now_micros: i64,
) -> Result<uuid::Uuid, DbError> {
    let id: String = sqlx::query_scalar(
        "INSERT INTO secrets (id, project_id, name, value, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $5) \
         ON CONFLICT (project_id, name) \
         DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at \
         RETURNING id",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(project_id.to_string())
    .bind(name)
    .bind(stored_value)
    .bind(now_micros)
    .fetch_one(db)
    .await?;
    uuid::Uuid::parse_str(&id).map_err(|_| DbError::Corrupt {
        column: "secrets.id",
        value: id,
    })
}

/// The project's secret with this name.
pub async fn find<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    name: &str,
) -> Result<Option<SecretRow>, DbError> {
    let row =
        sqlx::query("SELECT id, name, value FROM secrets WHERE project_id = $1 AND name = $2")
            .bind(project_id.to_string())
            .bind(name)
            .fetch_optional(db)
            .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's secrets, by name.
pub async fn list<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
) -> Result<Vec<SecretRow>, DbError> {
    let rows =
        sqlx::query("SELECT id, name, value FROM secrets WHERE project_id = $1 ORDER BY name")
            .bind(project_id.to_string())
            .fetch_all(db)
            .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes the project's secret with this name; false when there was none.
pub async fn delete<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    name: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM secrets WHERE project_id = $1 AND name = $2")
        .bind(project_id.to_string())
        .bind(name)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
