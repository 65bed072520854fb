//! The `volumes` table and `volume_attachments`, read with the project's and creator's names.

use chrono::{DateTime, Utc};
use dstack_core::status::VolumeStatus;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use uuid::Uuid;

use super::fleets::{enum_of, uuid_of};
use super::{CreatedAtCursor, DbError, ProjectScope, from_micros, to_micros};

/// A volume as stored.
#[derive(Debug, Clone)]
pub struct VolumeRow {
    /// The id.
    pub id: Uuid,
    /// The project's name.
    pub project_name: String,
    /// The creator's name.
    pub user_name: String,
    /// The name, unique among the project's live volumes.
    pub name: String,
    /// The `VolumeConfiguration` JSON.
    pub configuration: String,
    /// Whether it registers a volume that existed before.
    pub external: bool,
    /// The status.
    pub status: VolumeStatus,
    /// A status text.
    pub status_message: Option<String>,
    /// The cloud volume id.
    pub volume_id: Option<String>,
    /// The `VolumeProvisioningData` JSON.
    pub provisioning_data: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When a pipeline last looked at it.
    pub last_processed_at: DateTime<Utc>,
    /// Whether it was deleted.
    pub deleted: bool,
    /// When it was deleted.
    pub deleted_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT v.id, p.name AS project_name, u.name AS user_name, v.name, \
    v.configuration, v.external, v.status, v.status_message, v.volume_id, v.provisioning_data, \
    v.created_at, v.last_processed_at, v.deleted, v.deleted_at \
    FROM volumes v JOIN projects p ON p.id = v.project_id JOIN users u ON u.id = v.user_id";

fn from_row(row: &AnyRow) -> Result<VolumeRow, DbError> {
    let id: String = row.try_get("id")?;
    let external: i64 = row.try_get("external")?;
    let deleted: i64 = row.try_get("deleted")?;
    let deleted_at: Option<i64> = row.try_get("deleted_at")?;
    Ok(VolumeRow {
        id: uuid_of("volumes.id", &id)?,
        project_name: row.try_get("project_name")?,
        user_name: row.try_get("user_name")?,
        name: row.try_get("name")?,
        configuration: row.try_get("configuration")?,
        external: external != 0,
        status: enum_of("volumes.status", row.try_get("status")?)?,
        status_message: row.try_get("status_message")?,
        volume_id: row.try_get("volume_id")?,
        provisioning_data: row.try_get("provisioning_data")?,
        created_at: from_micros("volumes.created_at", row.try_get("created_at")?)?,
        last_processed_at: from_micros(
            "volumes.last_processed_at",
            row.try_get("last_processed_at")?,
        )?,
        deleted: deleted != 0,
        deleted_at: deleted_at
            .map(|at| from_micros("volumes.deleted_at", at))
            .transpose()?,
    })
}

/// A volume to insert.
#[derive(Debug, Clone)]
pub struct NewVolume<'a> {
    /// The id.
    pub id: Uuid,
    /// The project.
    pub project_id: &'a str,
    /// The creator.
    pub user_id: &'a str,
    /// The name.
    pub name: &'a str,
    /// The `VolumeConfiguration` JSON.
    pub configuration: &'a str,
    /// Whether it registers an existing volume.
    pub external: bool,
    /// Now.
    pub now_micros: i64,
}

/// Inserts a `submitted` volume; a live volume of the same name is
/// [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    volume: &NewVolume<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO volumes (id, project_id, user_id, name, configuration, external, status, \
         created_at, last_processed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(volume.id.to_string())
    .bind(volume.project_id)
    .bind(volume.user_id)
    .bind(volume.name)
    .bind(volume.configuration)
    .bind(i64::from(volume.external))
    .bind(VolumeStatus::Submitted.as_str())
    .bind(volume.now_micros)
    .execute(db)
    .await?;
    Ok(())
}

/// The project's live volume with this name.
pub async fn find_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
    name: &str,
) -> Result<Option<VolumeRow>, DbError> {
    let sql = format!("{SELECT} WHERE v.project_id = $1 AND v.name = $2 AND v.deleted = 0");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's live volumes, oldest first.
pub async fn list_live<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
) -> Result<Vec<VolumeRow>, DbError> {
    let sql =
        format!("{SELECT} WHERE v.project_id = $1 AND v.deleted = 0 ORDER BY v.created_at, v.id");
    let rows = sqlx::query(&sql).bind(project_id).fetch_all(db).await?;
    rows.iter().map(from_row).collect()
}

/// One page of volumes of live projects.
pub async fn list_page<'e>(
    db: impl Executor<'e, Database = Any>,
    scope: &ProjectScope,
    cursor: &CreatedAtCursor,
) -> Result<Vec<VolumeRow>, DbError> {
    super::list_scoped_page(db, SELECT, "v", scope, cursor, from_row).await
}

/// An instance a volume is attached to.
#[derive(Debug, Clone)]
pub struct AttachmentRow {
    /// The instance id.
    pub instance_id: String,
    /// The instance name.
    pub instance_name: String,
    /// The fleet's name.
    pub fleet_name: String,
    /// The instance's number in its fleet.
    pub instance_num: i64,
    /// The `VolumeAttachmentData` JSON.
    pub attachment_data: Option<String>,
}

/// The live instances the volume is attached to.
pub async fn attachments<'e>(
    db: impl Executor<'e, Database = Any>,
    volume_id: Uuid,
) -> Result<Vec<AttachmentRow>, DbError> {
    let rows = sqlx::query(
        "SELECT i.id, i.name, f.name AS fleet_name, i.instance_num, a.attachment_data \
         FROM volume_attachments a JOIN instances i ON i.id = a.instance_id \
         JOIN fleets f ON f.id = i.fleet_id WHERE a.volume_id = $1 AND i.deleted = 0 \
         ORDER BY i.name",
    )
    .bind(volume_id.to_string())
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(AttachmentRow {
                instance_id: row.try_get("id")?,
                instance_name: row.try_get("name")?,
                fleet_name: row.try_get("fleet_name")?,
                instance_num: row.try_get("instance_num")?,
                attachment_data: row.try_get("attachment_data")?,
            })
        })
        .collect()
}

/// Attaches a volume to an instance; for the scheduler (and tests standing in for it).
pub async fn attach<'e>(
    db: impl Executor<'e, Database = Any>,
    volume_id: Uuid,
    instance_id: Uuid,
) -> Result<(), DbError> {
    sqlx::query("INSERT INTO volume_attachments (volume_id, instance_id) VALUES ($1, $2)")
        .bind(volume_id.to_string())
        .bind(instance_id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a volume deleted, freeing its name.
pub async fn mark_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE volumes SET deleted = 1, deleted_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(to_micros(now))
        .execute(db)
        .await?;
    Ok(())
}

/// Asks the pipeline to delete the cloud volume, then the row.
pub async fn mark_to_be_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
) -> Result<(), DbError> {
    sqlx::query("UPDATE volumes SET to_be_deleted = 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(())
}
