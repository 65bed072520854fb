//! The `gateways` table; at most one live gateway per project is its default.

use chrono::{DateTime, Utc};
use dstack_core::status::GatewayStatus;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use uuid::Uuid;

use super::fleets::{enum_of, uuid_of};
use super::{DbError, from_micros, to_micros};

/// A gateway as stored.
#[derive(Debug, Clone)]
pub struct GatewayRow {
    /// The id.
    pub id: Uuid,
    /// The project's name.
    pub project_name: String,
    /// The name, unique among the project's live gateways.
    pub name: String,
    /// The `GatewayConfiguration` JSON.
    pub configuration: String,
    /// The status.
    pub status: GatewayStatus,
    /// A status text.
    pub status_message: Option<String>,
    /// The load balancer's hostname.
    pub hostname: Option<String>,
    /// The domain services get names under.
    pub wildcard_domain: Option<String>,
    /// Whether it is the project's default.
    pub is_default: bool,
    /// Whether the user asked to delete it.
    pub to_be_deleted: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

const SELECT: &str = "SELECT g.id, p.name AS project_name, g.name, g.configuration, g.status, \
    g.status_message, g.hostname, g.wildcard_domain, g.is_default, g.to_be_deleted, \
    g.created_at FROM gateways g JOIN projects p ON p.id = g.project_id";

fn from_row(row: &AnyRow) -> Result<GatewayRow, DbError> {
    let id: String = row.try_get("id")?;
    let is_default: i64 = row.try_get("is_default")?;
    let to_be_deleted: i64 = row.try_get("to_be_deleted")?;
    Ok(GatewayRow {
        id: uuid_of("gateways.id", &id)?,
        project_name: row.try_get("project_name")?,
        name: row.try_get("name")?,
        configuration: row.try_get("configuration")?,
        status: enum_of("gateways.status", row.try_get("status")?)?,
        status_message: row.try_get("status_message")?,
        hostname: row.try_get("hostname")?,
        wildcard_domain: row.try_get("wildcard_domain")?,
        is_default: is_default != 0,
        to_be_deleted: to_be_deleted != 0,
        created_at: from_micros("gateways.created_at", row.try_get("created_at")?)?,
    })
}

/// A gateway to insert.
#[derive(Debug, Clone)]
pub struct NewGateway<'a> {
    /// The id.
    pub id: Uuid,
    /// The project.
    pub project_id: &'a str,
    /// The name.
    pub name: &'a str,
    /// The `GatewayConfiguration` JSON.
    pub configuration: &'a str,
    /// The client's configuration file.
    pub configuration_path: Option<&'a str>,
    /// The domain services get names under.
    pub wildcard_domain: Option<&'a str>,
    /// Now.
    pub now_micros: i64,
}

/// Inserts a `submitted` gateway; a live gateway of the same name is
/// [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    gateway: &NewGateway<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO gateways (id, project_id, name, configuration, configuration_path, status, \
         wildcard_domain, created_at, last_processed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
    )
    .bind(gateway.id.to_string())
    .bind(gateway.project_id)
    .bind(gateway.name)
    .bind(gateway.configuration)
    .bind(gateway.configuration_path)
    .bind(GatewayStatus::Submitted.as_str())
    .bind(gateway.wildcard_domain)
    .bind(gateway.now_micros)
    .execute(db)
    .await?;
    Ok(())
}

/// The project's live gateway with this name.
pub async fn find_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
    name: &str,
) -> Result<Option<GatewayRow>, DbError> {
    let sql = format!("{SELECT} WHERE g.project_id = $1 AND g.name = $2 AND g.deleted = 0");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(name)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's live gateways, oldest first.
pub async fn list_live<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
) -> Result<Vec<GatewayRow>, DbError> {
    let sql =
        format!("{SELECT} WHERE g.project_id = $1 AND g.deleted = 0 ORDER BY g.created_at, g.id");
    let rows = sqlx::query(&sql).bind(project_id).fetch_all(db).await?;
    rows.iter().map(from_row).collect()
}

/// Clears the project's default gateway.
pub async fn clear_default<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
) -> Result<(), DbError> {
    sqlx::query("UPDATE gateways SET is_default = 0 WHERE project_id = $1 AND is_default = 1")
        .bind(project_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Makes the gateway its project's default; clear the old default first.
pub async fn mark_default<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
) -> Result<(), DbError> {
    sqlx::query("UPDATE gateways SET is_default = 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Replaces a gateway's configuration and wildcard domain.
pub async fn update_configuration<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    configuration: &str,
    wildcard_domain: Option<&str>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE gateways SET configuration = $2, wildcard_domain = $3 WHERE id = $1")
        .bind(id.to_string())
        .bind(configuration)
        .bind(wildcard_domain)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a gateway deleted, freeing its name and the project's default.
pub async fn mark_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE gateways SET deleted = 1, deleted_at = $2, is_default = 0, to_be_deleted = 1 \
         WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(to_micros(now))
    .execute(db)
    .await?;
    Ok(())
}

/// Asks the pipeline to tear the gateway's replicas down, then delete it.
pub async fn mark_to_be_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
) -> Result<(), DbError> {
    sqlx::query("UPDATE gateways SET to_be_deleted = 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(())
}
