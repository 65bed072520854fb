//! The `instances` table, read with the fleet's and the project's names.

use chrono::{DateTime, Utc};
use dstack_core::status::{HealthStatus, InstanceStatus, InstanceTerminationReason};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use uuid::Uuid;

use super::fleets::{enum_of, uuid_of};
use super::{CreatedAtCursor, DbError, from_micros, to_micros};

/// An instance as stored.
#[derive(Debug, Clone)]
pub struct InstanceRow {
    /// The id.
    pub id: Uuid,
    /// The project's name.
    pub project_name: String,
    /// The fleet.
    pub fleet_id: Uuid,
    /// The fleet's name.
    pub fleet_name: String,
    /// The number within the fleet.
    pub instance_num: u32,
    /// `<fleet>-<num>`.
    pub name: String,
    /// The status.
    pub status: InstanceStatus,
    /// Whether the server lost contact with it.
    pub unreachable: bool,
    /// The last health check's verdict.
    pub health_status: HealthStatus,
    /// The backend's wire name.
    pub backend: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The availability zone.
    pub availability_zone: Option<String>,
    /// The host's address.
    pub hostname: Option<String>,
    /// USD per hour.
    pub price: Option<f64>,
    /// The `InstanceOfferWithAvailability` JSON.
    pub offer: Option<String>,
    /// The `JobProvisioningData` JSON.
    pub job_provisioning_data: Option<String>,
    /// How many blocks the instance is cut into, once known.
    pub total_blocks: Option<u32>,
    /// How many blocks jobs hold.
    pub busy_blocks: u32,
    /// Why it was terminated.
    pub termination_reason: Option<InstanceTerminationReason>,
    /// The human explanation.
    pub termination_reason_message: Option<String>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
    /// The project.
    pub project_id: String,
    /// SSH hosts: how to reach them, private keys included; never shown to clients.
    pub remote_connection_info: Option<String>,
    /// Seconds an idle instance is kept; `None` keeps it.
    pub termination_idle_time: Option<i64>,
    /// When a job last left it, microseconds.
    pub last_job_processed_at: Option<i64>,
}

const SELECT: &str = "SELECT i.id, p.name AS project_name, i.fleet_id, f.name AS fleet_name, \
    i.instance_num, i.name, i.status, i.unreachable, i.health_status, i.backend, i.region, \
    i.availability_zone, i.hostname, i.price, i.offer, i.job_provisioning_data, \
    i.total_blocks, i.busy_blocks, i.termination_reason, i.termination_reason_message, \
    i.created_at, i.finished_at, i.project_id, i.remote_connection_info, \
    i.termination_idle_time, i.last_job_processed_at \
    FROM instances i JOIN fleets f ON f.id = i.fleet_id JOIN projects p ON p.id = i.project_id";

fn count_of(column: &'static str, value: i64) -> Result<u32, DbError> {
    u32::try_from(value).map_err(|_| DbError::Corrupt {
        column,
        value: value.to_string(),
    })
}

fn from_row(row: &AnyRow) -> Result<InstanceRow, DbError> {
    let unreachable: i64 = row.try_get("unreachable")?;
    let total_blocks: Option<i64> = row.try_get("total_blocks")?;
    let reason: Option<String> = row.try_get("termination_reason")?;
    let finished_at: Option<i64> = row.try_get("finished_at")?;
    let id: String = row.try_get("id")?;
    let fleet_id: String = row.try_get("fleet_id")?;
    Ok(InstanceRow {
        id: uuid_of("instances.id", &id)?,
        project_name: row.try_get("project_name")?,
        fleet_id: uuid_of("instances.fleet_id", &fleet_id)?,
        fleet_name: row.try_get("fleet_name")?,
        instance_num: count_of("instances.instance_num", row.try_get("instance_num")?)?,
        name: row.try_get("name")?,
        status: enum_of("instances.status", row.try_get("status")?)?,
        unreachable: unreachable != 0,
        health_status: enum_of("instances.health_status", row.try_get("health_status")?)?,
        backend: row.try_get("backend")?,
        region: row.try_get("region")?,
        availability_zone: row.try_get("availability_zone")?,
        hostname: row.try_get("hostname")?,
        price: row.try_get("price")?,
        offer: row.try_get("offer")?,
        job_provisioning_data: row.try_get("job_provisioning_data")?,
        total_blocks: total_blocks
            .map(|blocks| count_of("instances.total_blocks", blocks))
            .transpose()?,
        busy_blocks: count_of("instances.busy_blocks", row.try_get("busy_blocks")?)?,
        termination_reason: reason
            .map(|reason| enum_of("instances.termination_reason", reason))
            .transpose()?,
        termination_reason_message: row.try_get("termination_reason_message")?,
        created_at: from_micros("instances.created_at", row.try_get("created_at")?)?,
        finished_at: finished_at
            .map(|at| from_micros("instances.finished_at", at))
            .transpose()?,
        project_id: row.try_get("project_id")?,
        remote_connection_info: row.try_get("remote_connection_info")?,
        termination_idle_time: row.try_get("termination_idle_time")?,
        last_job_processed_at: row.try_get("last_job_processed_at")?,
    })
}

/// An instance to insert.
#[derive(Debug, Clone, Default)]
pub struct NewInstance {
    /// The id.
    pub id: Uuid,
    /// The project.
    pub project_id: String,
    /// The fleet.
    pub fleet_id: Uuid,
    /// The number within the fleet.
    pub instance_num: u32,
    /// `<fleet>-<num>`.
    pub name: String,
    /// The status; `pending` when `None`.
    pub status: Option<InstanceStatus>,
    /// The backend's wire name.
    pub backend: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// The host's address.
    pub hostname: Option<String>,
    /// USD per hour.
    pub price: Option<f64>,
    /// The `InstanceOfferWithAvailability` JSON.
    pub offer: Option<String>,
    /// The `JobProvisioningData` JSON.
    pub job_provisioning_data: Option<String>,
    /// SSH hosts: the connection JSON, keys included.
    pub remote_connection_info: Option<String>,
    /// How many blocks the instance is cut into, once known.
    pub total_blocks: Option<u32>,
    /// How many blocks jobs hold.
    pub busy_blocks: u32,
    /// Seconds an idle instance is kept; `None` keeps it.
    pub termination_idle_time: Option<i64>,
    /// Now.
    pub now_micros: i64,
}

/// Inserts an instance; a live instance with the same number in the fleet is
/// [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    instance: &NewInstance,
) -> Result<(), DbError> {
    let status = instance.status.unwrap_or(InstanceStatus::Pending);
    sqlx::query(
        "INSERT INTO instances (id, project_id, fleet_id, instance_num, name, status, backend, \
         region, hostname, price, offer, job_provisioning_data, remote_connection_info, \
         total_blocks, busy_blocks, termination_idle_time, created_at, last_processed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)",
    )
    .bind(instance.id.to_string())
    .bind(&instance.project_id)
    .bind(instance.fleet_id.to_string())
    .bind(i64::from(instance.instance_num))
    .bind(&instance.name)
    .bind(status.as_str())
    .bind(&instance.backend)
    .bind(&instance.region)
    .bind(&instance.hostname)
    .bind(instance.price)
    .bind(&instance.offer)
    .bind(&instance.job_provisioning_data)
    .bind(&instance.remote_connection_info)
    .bind(instance.total_blocks.map(i64::from))
    .bind(i64::from(instance.busy_blocks))
    .bind(instance.termination_idle_time)
    .bind(instance.now_micros)
    .execute(db)
    .await?;
    Ok(())
}

/// The fleet's live instances, by number.
pub async fn list_live_of_fleet<'e>(
    db: impl Executor<'e, Database = Any>,
    fleet_id: Uuid,
) -> Result<Vec<InstanceRow>, DbError> {
    let sql = format!("{SELECT} WHERE i.fleet_id = $1 AND i.deleted = 0 ORDER BY i.instance_num");
    let rows = sqlx::query(&sql)
        .bind(fleet_id.to_string())
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// The project's instance with this id.
pub async fn find<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
    id: Uuid,
) -> Result<Option<InstanceRow>, DbError> {
    let sql = format!("{SELECT} WHERE i.project_id = $1 AND i.id = $2");
    let row = sqlx::query(&sql)
        .bind(project_id)
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The instance with this id, in any project.
pub async fn find_any<'e>(
    db: impl Executor<'e, Database = Any>,
    id: &str,
) -> Result<Option<InstanceRow>, DbError> {
    let sql = format!("{SELECT} WHERE i.id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(db).await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's live instances of live fleets that may take a job now: idle or busy, with a
/// known offer and block count.
pub async fn list_usable<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: &str,
) -> Result<Vec<InstanceRow>, DbError> {
    let sql = format!(
        "{SELECT} WHERE i.project_id = $1 AND i.deleted = 0 AND f.deleted = 0 \
         AND i.status IN ($2, $3) AND i.offer IS NOT NULL AND i.total_blocks IS NOT NULL \
         ORDER BY i.created_at, i.id"
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .bind(InstanceStatus::Idle.as_str())
        .bind(InstanceStatus::Busy.as_str())
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Which of `hostnames` are hosts of live SSH instances on this server, outside the fleet
/// `except_fleet`.
pub async fn remote_hosts_in_use<'e>(
    db: impl Executor<'e, Database = Any>,
    hostnames: &[String],
    except_fleet: Option<Uuid>,
) -> Result<Vec<String>, DbError> {
    if hostnames.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT hostname FROM instances WHERE deleted = 0 AND backend = $1 \
         AND status <> $2 AND ($3 IS NULL OR fleet_id <> $3) AND hostname IN ({}) \
         ORDER BY hostname",
        placeholders(4, hostnames.len())
    );
    let mut query = sqlx::query_scalar(&sql)
        .bind("remote")
        .bind(InstanceStatus::Terminated.as_str())
        .bind(except_fleet.map(|id| id.to_string()));
    for hostname in hostnames {
        query = query.bind(hostname);
    }
    Ok(query.fetch_all(db).await?)
}

/// Which instances `instances/list` covers.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter {
    /// Only projects this user is a member of; `None` for every project.
    pub member_id: Option<String>,
    /// Only these projects.
    pub project_names: Option<Vec<String>>,
    /// Only these fleets.
    pub fleet_ids: Option<Vec<Uuid>>,
    /// Leave out deleted instances.
    pub only_active: bool,
}

/// `$first, $first+1, ...` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One page of instances of live projects.
pub async fn list_page<'e>(
    db: impl Executor<'e, Database = Any>,
    filter: &InstanceFilter,
    cursor: &CreatedAtCursor,
) -> Result<Vec<InstanceRow>, DbError> {
    let mut sql = format!(
        "{SELECT} WHERE p.deleted = 0 AND ($1 IS NULL OR EXISTS \
         (SELECT 1 FROM members m WHERE m.project_id = i.project_id AND m.user_id = $1)) \
         AND ($2 = 0 OR i.deleted = 0)"
    );
    let mut next = 3;
    let mut binds: Vec<String> = Vec::new();
    if let Some(names) = &filter.project_names {
        // An empty list matches nothing, as `IN ()` would.
        if names.is_empty() {
            return Ok(Vec::new());
        }
        sql += &format!(" AND p.name IN ({})", placeholders(next, names.len()));
        next += names.len();
        binds.extend(names.iter().cloned());
    }
    if let Some(ids) = &filter.fleet_ids {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        sql += &format!(" AND i.fleet_id IN ({})", placeholders(next, ids.len()));
        next += ids.len();
        binds.extend(ids.iter().map(Uuid::to_string));
    }
    sql += &cursor.sql("i", next);
    let mut query = sqlx::query(&sql)
        .bind(&filter.member_id)
        .bind(i64::from(filter.only_active));
    for value in &binds {
        query = query.bind(value);
    }
    let rows = query
        .bind(cursor.prev_created_at)
        .bind(&cursor.prev_id)
        .bind(cursor.limit)
        .fetch_all(db)
        .await?;
    rows.iter().map(from_row).collect()
}

/// Moves a live instance to `terminating` with a reason.
pub async fn set_terminating<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    reason: InstanceTerminationReason,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE instances SET status = $2, termination_reason = $3 WHERE id = $1 AND deleted = 0",
    )
    .bind(id.to_string())
    .bind(InstanceStatus::Terminating.as_str())
    .bind(reason.as_str())
    .execute(db)
    .await?;
    Ok(())
}

/// Marks an instance deleted, freeing its number.
pub async fn mark_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE instances SET deleted = 1, deleted_at = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(to_micros(now))
        .execute(db)
        .await?;
    Ok(())
}
