//! What the three job pipelines share: loading a claimed job with its run, releasing a lease
//! with nothing to write, and ending a job with a reason.

use chrono::Utc;
use dstack_core::status::{JobStatus, JobTerminationReason};
use sqlx::AnyConnection;

use super::lease::{self, Claimed, Table};
use crate::db::jobs::{self as job_rows, JobEnd, JobRow};
use crate::db::runs::{self as run_rows, RunRow};
use crate::db::{Database, to_micros};
use crate::services::ServiceError;
use crate::services::events::{self, status_changed, upper};
use crate::services::runs::job_target;

/// The claimed job and its run, when both still exist.
pub async fn load(
    db: &Database,
    claimed: Claimed,
) -> Result<Option<(JobRow, RunRow)>, ServiceError> {
    let Some(job) = job_rows::find(db.pool(), &claimed.id.to_string()).await? else {
        return Ok(None);
    };
    let Some(run) = run_rows::find_any(db.pool(), job.run_id).await? else {
        return Ok(None);
    };
    Ok(Some((job, run)))
}

/// Ends the lease without changing the row; it is looked at again when next eligible.
pub async fn release(db: &Database, table: &Table, claimed: Claimed) -> Result<(), ServiceError> {
    lease::finish(db.pool(), table, claimed).await?;
    Ok(())
}

/// Moves `job` to `status` (usually `terminating`) with `reason` and records it; false when
/// another writer moved the job first.
pub async fn end(
    conn: &mut AnyConnection,
    job: &JobRow,
    run: &RunRow,
    status: JobStatus,
    reason: JobTerminationReason,
    message: Option<&str>,
) -> Result<bool, ServiceError> {
    let end = JobEnd {
        status,
        reason,
        message,
        now: to_micros(Utc::now()),
    };
    if !job_rows::end(&mut *conn, job.id, job.status, end).await? {
        return Ok(false);
    }
    let mut text = status_changed("Job", job.status, status);
    if status == JobStatus::Terminating {
        text = format!("{text}. Termination reason: {}", upper(reason));
    }
    if let Some(message) = message {
        text = format!("{text} ({message})");
    }
    events::record(conn, None, &text, &[target(job, run)]).await?;
    Ok(true)
}

/// Records that `job` moved from `from` to `to`.
pub async fn record_step(
    conn: &mut AnyConnection,
    job: &JobRow,
    run: &RunRow,
    to: JobStatus,
) -> Result<(), ServiceError> {
    let text = status_changed("Job", job.status, to);
    events::record(conn, None, &text, &[target(job, run)]).await
}

fn target(job: &JobRow, run: &RunRow) -> events::EventTarget {
    job_target(run.project_id, run.id, job.id, &job.job_name)
}

/// Reads a stored JSON document.
pub fn parse_stored<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, ServiceError> {
    serde_json::from_str(json)
        .map_err(|error| ServiceError::Invalid(format!("a stored document is unreadable: {error}")))
}

/// Logs a failed pass; the lease then lapses and the row is tried again.
pub fn log_failure(pipeline: &str, claimed: Claimed, error: &ServiceError) {
    tracing::warn!(pipeline, id = %claimed.id, "pass failed, will retry: {error}");
}
