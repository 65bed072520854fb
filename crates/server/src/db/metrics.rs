//! The `job_metrics_points` table: resource samples of job submissions.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::DbError;

/// One sample as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsPoint {
    /// Microseconds.
    pub timestamp: i64,
    /// CPU time used so far, microseconds.
    pub cpu_usage_micro: i64,
    /// Memory in use.
    pub memory_usage_bytes: i64,
    /// Memory in the working set.
    pub memory_working_set_bytes: i64,
    /// GPU memory in use per GPU, a JSON list.
    pub gpus_memory_usage_bytes: String,
    /// GPU utilisation per GPU, a JSON list.
    pub gpus_util_percent: String,
}

fn from_row(row: &AnyRow) -> Result<MetricsPoint, DbError> {
    Ok(MetricsPoint {
        timestamp: row.try_get("timestamp")?,
        cpu_usage_micro: row.try_get("cpu_usage_micro")?,
        memory_usage_bytes: row.try_get("memory_usage_bytes")?,
        memory_working_set_bytes: row.try_get("memory_working_set_bytes")?,
        gpus_memory_usage_bytes: row.try_get("gpus_memory_usage_bytes")?,
        gpus_util_percent: row.try_get("gpus_util_percent")?,
    })
}

/// Stores a sample of the job submission `job_id`.
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    job_id: &str,
    point: &MetricsPoint,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO job_metrics_points (id, job_id, timestamp, cpu_usage_micro, \
         memory_usage_bytes, memory_working_set_bytes, gpus_memory_usage_bytes, \
         gpus_util_percent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(job_id)
    .bind(point.timestamp)
    .bind(point.cpu_usage_micro)
    .bind(point.memory_usage_bytes)
    .bind(point.memory_working_set_bytes)
    .bind(&point.gpus_memory_usage_bytes)
    .bind(&point.gpus_util_percent)
    .execute(db)
    .await?;
    Ok(())
}

/// The submission's samples strictly between `after` and `before`, latest first, at most
/// `limit` of them.
pub async fn latest<'e>(
    db: impl Executor<'e, Database = Any>,
    job_id: &str,
    after: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
) -> Result<Vec<MetricsPoint>, DbError> {
    let rows = sqlx::query(
        "SELECT timestamp, cpu_usage_micro, memory_usage_bytes, memory_working_set_bytes, \
         gpus_memory_usage_bytes, gpus_util_percent FROM job_metrics_points \
         WHERE job_id = $1 AND ($2 IS NULL OR timestamp > $2) AND ($3 IS NULL OR timestamp < $3) \
         ORDER BY timestamp DESC LIMIT $4",
    )
    .bind(job_id)
    .bind(after)
    .bind(before)
    .bind(limit.unwrap_or(i64::MAX))
    .fetch_all(db)
    .await?;
    rows.iter().map(from_row).collect()
}
