//! The `fleets` table, read with the owning project's name.

use chrono::{DateTime, Utc};
use dstack_core::status::FleetStatus;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use uuid::Uuid;

use super::{CreatedAtCursor, DbError, ProjectScope, from_micros, to_micros};

/// A fleet as stored.
#[derive(Debug, Clone)]
pub struct FleetRow {
    /// The id.
    pub id: Uuid,
    /// The project.
    pub project_id: String,
    /// The project's name.
    pub project_name: String,
    /// The name, unique among the project's live fleets.
    pub name: String,
    /// The `FleetSpec` JSON, SSH private keys included.
    pub spec: String,
    /// The status.
    pub status: FleetStatus,
    /// A status text.
    pub status_message: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// Until when a pipeline holds the fleet, if one does.
    pub lock_expires_at: Option<i64>,
    /// Whether the server made it for a run.
    pub autocreated: bool,
}

impl FleetRow {
    /// Whether a pipeline holds the fleet's lease at `now_micros`.
    pub fn is_locked(&self, now_micros: i64) -> bool {
        self.lock_expires_at.is_some_and(|until| until > now_micros)
    }
}

const SELECT: &str = "SELECT f.id, f.project_id, p.name AS project_name, f.name, f.spec, \
    f.status, f.status_message, f.created_at, f.deleted, f.lock_expires_at, f.autocreated \
    FROM fleets f JOIN projects p ON p.id = f.project_id";

/// Parses a stored uuid.
pub(super) fn uuid_of(column: &'static str, text: &str) -> Result<Uuid, DbError> {
    Uuid::parse_str(text).map_err(|_| DbError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

/// Parses a stored wire-enum value.
pub(super) fn enum_of<T: std::str::FromStr>(
    column: &'static str,
    text: String,
) -> Result<T, DbError> {
    text.parse().map_err(|_| DbError::Corrupt {
        column,
        value: text,
    })
}

fn from_row(row: &AnyRow) -> Result<FleetRow, DbError> {
    let deleted: i64 = row.try_get("deleted")?;
    Ok(FleetRow {
        id: uuid_of("fleets.id", row.try_get("id")?)?,
        project_id: row.try_get("project_id")?,
        project_name: row.try_get("project_name")?,
        name: row.try_get("name")?,
        spec: row.try_get("spec")?,
        status: enum_of("fleets.status", row.try_get("status")?)?,
        status_message: row.try_get("status_message")?,
        created_at: from_micros("fleets.created_at", row.try_get("created_at")?)?,
        deleted: deleted != 0,
        lock_expires_at: row.try_get("lock_expires_at")?,
        autocreated: row.try_get::<i64, _>("autocreated")? != 0,
    })
}

/// A fleet to insert.
#[derive(Debug, Clone)]
pub struct NewFleet<'a> {
    /// The id.
    pub id: Uuid,
    /// The project.
    pub project_id: &'a str,
    /// The name.
    pub name: &'a str,
    /// The `FleetSpec` JSON.
    pub spec: &'a str,
    /// The status.
    pub status: FleetStatus,
    /// Whether the server made it for a run.
    pub autocreated: bool,
    /// Now.
    pub now_micros: i64,
}

/// Inserts a fleet; a live fleet of the same name is [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    fleet: &NewFleet<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO fleets (id, project_id, name, spec, status, autocreated, created_at, \
         last_processed_at, deleted) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 0)",
    )
    .bind(fleet.id.to_string())
    .bind(fleet.project_id)
    .bind(fleet.name)
    .bind(fleet.spec)
    .bind(fleet.status.as_str())
    .bind(i64::from(fleet.autocreated))
    .bind(fleet.now_micros)
    .execute(db)
    .await?;
    Ok(())
}

/// The project's live fleet with this name.
pub async fn find_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
    name: &str,
) -> Result<Option<FleetRow>, DbError> {
    let sql = format!("{SELECT} WHERE f.project_id = $1 AND f.name = $2 AND f.deleted = 0");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The fleet with this id, in any project, deleted or not.
pub async fn find_any<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
) -> Result<Option<FleetRow>, DbError> {
    let sql = format!("{SELECT} WHERE f.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's fleet with this id, deleted or not.
pub async fn find_by_id<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
    id: Uuid,
) -> Result<Option<FleetRow>, DbError> {
    let sql = format!("{SELECT} WHERE f.project_id = $1 AND f.id = $2");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's live fleets, oldest first.
pub async fn list_live<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
) -> Result<Vec<FleetRow>, DbError> {
    let sql =
        format!("{SELECT} WHERE f.project_id = $1 AND f.deleted = 0 ORDER BY f.created_at, f.id");
    let rows = sqlx::query(&sql).bind(project_id).fetch_all(db).await?;
    rows.iter().map(from_row).collect()
}

/// One page of fleets of live projects.
pub async fn list_page<'e>(
    db: impl Executor<'e, Database = Any>,
    scope: &ProjectScope,
    cursor: &CreatedAtCursor,
) -> Result<Vec<FleetRow>, DbError> {
    super::list_scoped_page(db, SELECT, "f", scope, cursor, from_row).await
}

/// Replaces the spec of a live fleet.
pub async fn update_spec<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    spec: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE fleets SET spec = $2, consolidation_attempt = 0 WHERE id = $1 AND deleted = 0",
    )
    .bind(id.to_string())
    .bind(spec)
    .execute(db)
    .await?;
    Ok(())
}

/// Moves a live fleet to `terminating`.
pub async fn set_terminating<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
) -> Result<(), DbError> {
    sqlx::query("UPDATE fleets SET status = $2 WHERE id = $1 AND deleted = 0")
        .bind(id.to_string())
        .bind(FleetStatus::Terminating.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a fleet `terminated` and deleted, freeing its name.
pub async fn mark_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE fleets SET status = $2, deleted = 1, deleted_at = $3, last_processed_at = $3 \
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(FleetStatus::Terminated.as_str())
    .bind(to_micros(now))
    .execute(db)
    .await?;
    Ok(())
}

/// Sets or clears a fleet's lease; for the pipelines (and tests standing in for them).
pub async fn set_lock<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    lease: Option<(&str, i64)>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE fleets SET lock_token = $2, lock_expires_at = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(lease.map(|(token, _)| token))
        .bind(lease.map(|(_, until)| until))
        .execute(db)
        .await?;
    Ok(())
}
