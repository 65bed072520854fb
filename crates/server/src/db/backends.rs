//! The `backends` table: a project's backend configurations, one per type, the credentials
//! kept apart in stored (encrypted) form.

use dstack_core::api::common::Uuid4;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::DbError;

/// A backend as stored.
#[derive(Debug, Clone)]
pub struct BackendRow {
    /// The project.
    pub project_id: Uuid4,
    /// The wire name of its type, e.g. `aws`.
    pub backend_type: String,
    /// The configuration without credentials, as JSON.
    pub config: String,
    /// The credentials' JSON, encrypted.
    pub stored_creds: String,
}

fn from_row(row: &AnyRow) -> Result<BackendRow, DbError> {
    let project_id: String = row.try_get("project_id")?;
    Ok(BackendRow {
        project_id: super::parse_id("backends.project_id", &project_id)?,
        backend_type: row.try_get("backend_type")?,
        config: row.try_get("config")?,
        stored_creds: row.try_get("creds")?,
    })
}

/// Inserts a backend; a type the project has is [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    backend: &BackendRow,
    now_micros: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO backends (id, project_id, backend_type, config, creds, created_at, \
         updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(backend.project_id.to_string())
    .bind(&backend.backend_type)
    .bind(&backend.config)
    .bind(&backend.stored_creds)
    .bind(now_micros)
    .execute(db)
    .await?;
    Ok(())
}

/// Replaces the configuration of the project's backend of this type; false when it has none.
pub async fn update<'e>(
    db: impl Executor<'e, Database = Any>,
    backend: &BackendRow,
    now_micros: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE backends SET config = $3, creds = $4, updated_at = $5 \
         WHERE project_id = $1 AND backend_type = $2",
    )
    .bind(backend.project_id.to_string())
    .bind(&backend.backend_type)
    .bind(&backend.config)
    .bind(&backend.stored_creds)
    .bind(now_micros)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The project's backend of this type.
pub async fn find<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    backend_type: &str,
) -> Result<Option<BackendRow>, DbError> {
    let row = sqlx::query(
        "SELECT project_id, backend_type, config, creds FROM backends \
         WHERE project_id = $1 AND backend_type = $2",
    )
    .bind(project_id.to_string())
    .bind(backend_type)
    .fetch_optional(db)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's backends, by type.
pub async fn list<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
) -> Result<Vec<BackendRow>, DbError> {
    let rows = sqlx::query(
        "SELECT project_id, backend_type, config, creds FROM backends \
         WHERE project_id = $1 ORDER BY backend_type",
    )
    .bind(project_id.to_string())
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Deletes the project's backend of this type; false when it has none.
pub async fn delete<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    backend_type: &str,
) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM backends WHERE project_id = $1 AND backend_type = $2")
        .bind(project_id.to_string())
        .bind(backend_type)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}
