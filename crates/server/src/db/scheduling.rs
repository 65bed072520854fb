//! The writes of the pipelines: each moves a row only from the state it was read in, so a
//! decision taken on stale data changes nothing.

use dstack_core::api::common::Uuid4;
use dstack_core::status::{InstanceStatus, InstanceTerminationReason, JobStatus};
use sqlx::{Any, Executor, Row};
use uuid::Uuid;

use super::DbError;

/// Where a job's pass moves it.
#[derive(Debug, Clone, Copy)]
pub struct JobStep<'a> {
    /// The status it must still be in.
    pub from: JobStatus,
    /// The new status.
    pub to: JobStatus,
    /// New `JobProvisioningData` JSON, when it changes.
    pub provisioning_data: Option<&'a str>,
    /// New `JobRuntimeData` JSON, when it changes.
    pub runtime_data: Option<&'a str>,
    /// Microseconds.
    pub now: i64,
}

/// Moves a job one step; false when it is no longer in `step.from`.
pub async fn step_job<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    step: JobStep<'_>,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE jobs SET status = $1, \
         job_provisioning_data = COALESCE($2, job_provisioning_data), \
         job_runtime_data = COALESCE($3, job_runtime_data), \
         termination_reason_message = NULL, last_processed_at = $4 \
         WHERE id = $5 AND status = $6",
    )
    .bind(step.to.as_str())
    .bind(step.provisioning_data)
    .bind(step.runtime_data)
    .bind(step.now)
    .bind(id.to_string())
    .bind(step.from.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a submitted job its instance and moves it to `provisioning`; false when it is no
/// longer submitted.
pub async fn assign_job<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    instance_id: Uuid,
    provisioning_data: Option<&str>,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE jobs SET status = $1, instance_id = $2, job_provisioning_data = $3, \
         termination_reason_message = NULL, last_processed_at = $4 WHERE id = $5 AND status = $6",
    )
    .bind(JobStatus::Provisioning.as_str())
    .bind(instance_id.to_string())
    .bind(provisioning_data)
    .bind(now)
    .bind(id.to_string())
    .bind(JobStatus::Submitted.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Notes why a submitted job waits (shown as its status message).
pub async fn set_job_waiting<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    message: &str,
) -> Result<(), DbError> {
    sqlx::query("UPDATE jobs SET termination_reason_message = $1 WHERE id = $2 AND status = $3")
        .bind(message)
        .bind(id.to_string())
        .bind(JobStatus::Submitted.as_str())
        .execute(db)
        .await?;
    Ok(())
}

/// What a pass over a running job learnt from its runner.
#[derive(Debug, Clone, Copy)]
pub struct RunnerProgress {
    /// The runner's clock at the last pull.
    pub runner_timestamp: Option<i64>,
    /// When contact was first lost, or `None` when the runner answered.
    pub disconnected_at: Option<i64>,
    /// The exit code, once known.
    pub exit_status: Option<i64>,
}

/// Stores what the runner reported.
pub async fn set_runner_progress<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    progress: RunnerProgress,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE jobs SET runner_timestamp = COALESCE($1, runner_timestamp), \
         disconnected_at = $2, exit_status = COALESCE($3, exit_status) WHERE id = $4",
    )
    .bind(progress.runner_timestamp)
    .bind(progress.disconnected_at)
    .bind(progress.exit_status)
    .bind(id.to_string())
    .execute(db)
    .await?;
    Ok(())
}

/// The pipeline-only columns of a job.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobCursor {
    /// The runner's clock at the last pull.
    pub runner_timestamp: Option<i64>,
    /// When contact was first lost.
    pub disconnected_at: Option<i64>,
}

/// Reads a job's pipeline-only columns.
pub async fn job_cursor<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
) -> Result<JobCursor, DbError> {
    let row = sqlx::query("SELECT runner_timestamp, disconnected_at FROM jobs WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    let Some(row) = row else {
        return Ok(JobCursor::default());
    };
    Ok(JobCursor {
        runner_timestamp: row.try_get("runner_timestamp")?,
        disconnected_at: row.try_get("disconnected_at")?,
    })
}

/// Takes one block of a live instance that has one free; false when none is left.
pub async fn take_block<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE instances SET busy_blocks = busy_blocks + 1, status = $1 \
         WHERE id = $2 AND deleted = 0 AND status IN ($1, $3) \
         AND total_blocks IS NOT NULL AND busy_blocks < total_blocks",
    )
    .bind(InstanceStatus::Busy.as_str())
    .bind(id.to_string())
    .bind(InstanceStatus::Idle.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives back a job's block; a busy instance left with none becomes idle.
pub async fn release_block<'e>(
    db: impl Executor<'e, Database = Any>,
    id: &str,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE instances SET \
         busy_blocks = CASE WHEN busy_blocks > 0 THEN busy_blocks - 1 ELSE 0 END, \
         status = CASE WHEN status = $1 AND busy_blocks <= 1 THEN $2 ELSE status END, \
         last_job_processed_at = $3 WHERE id = $4",
    )
    .bind(InstanceStatus::Busy.as_str())
    .bind(InstanceStatus::Idle.as_str())
    .bind(now)
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// What provisioning learnt about a new instance.
#[derive(Debug, Clone, Copy)]
pub struct Provisioned<'a> {
    /// The status it must still be in.
    pub from: InstanceStatus,
    /// The new status.
    pub to: InstanceStatus,
    /// `JobProvisioningData` JSON.
    pub provisioning_data: &'a str,
    /// The offer JSON, when it changes.
    pub offer: Option<&'a str>,
    /// The host's address.
    pub hostname: &'a str,
    /// How many blocks it has, when it changes.
    pub total_blocks: Option<u32>,
    /// Microseconds.
    pub now: i64,
}

/// Records a provisioned instance; false when it left `from` meanwhile.
pub async fn set_provisioned<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    provisioned: Provisioned<'_>,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE instances SET status = $1, job_provisioning_data = $2, \
         offer = COALESCE($3, offer), hostname = $4, \
         total_blocks = COALESCE($5, total_blocks), started_at = $6 \
         WHERE id = $7 AND status = $8 AND deleted = 0",
    )
    .bind(provisioned.to.as_str())
    .bind(provisioned.provisioning_data)
    .bind(provisioned.offer)
    .bind(provisioned.hostname)
    .bind(provisioned.total_blocks.map(i64::from))
    .bind(provisioned.now)
    .bind(id.to_string())
    .bind(provisioned.from.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a live instance from `from` to `to`; false when it moved meanwhile.
pub async fn step_instance<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    from: InstanceStatus,
    to: InstanceStatus,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE instances SET status = $1 WHERE id = $2 AND status = $3 AND deleted = 0",
    )
    .bind(to.as_str())
    .bind(id.to_string())
    .bind(from.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a live instance to `terminating` (or straight to `terminated` when `at_once`) with
/// a reason and message; false when it is already finishing.
pub async fn end_instance<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    reason: InstanceTerminationReason,
    message: &str,
    at_once: bool,
) -> Result<bool, DbError> {
    let status = if at_once {
        InstanceStatus::Terminated
    } else {
        InstanceStatus::Terminating
    };
    let done = sqlx::query(
        "UPDATE instances SET status = $1, termination_reason = $2, \
         termination_reason_message = $3 \
         WHERE id = $4 AND deleted = 0 AND status NOT IN ($5, $6)",
    )
    .bind(status.as_str())
    .bind(reason.as_str())
    .bind(message)
    .bind(id.to_string())
    .bind(InstanceStatus::Terminating.as_str())
    .bind(InstanceStatus::Terminated.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Marks a terminating instance terminated and deleted.
pub async fn finish_instance<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    now: i64,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE instances SET status = $1, finished_at = $2, deleted = 1, deleted_at = $2 \
         WHERE id = $3",
    )
    .bind(InstanceStatus::Terminated.as_str())
    .bind(now)
    .bind(id.to_string())
    .execute(db)
    .await?;
    Ok(())
}

/// Sets whether the server lost contact with an instance.
pub async fn set_unreachable<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid,
    unreachable: bool,
) -> Result<(), DbError> {
    sqlx::query("UPDATE instances SET unreachable = $1 WHERE id = $2")
        .bind(i64::from(unreachable))
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// The offers (JSON) of the live local slices: what they hold of the host.
pub async fn local_offers<'e>(
    db: impl Executor<'e, Database = Any>,
    region: &str,
) -> Result<Vec<String>, DbError> {
    let rows = sqlx::query(
        "SELECT offer FROM instances WHERE deleted = 0 AND region = $1 \
         AND remote_connection_info IS NULL AND status <> $2 AND offer IS NOT NULL",
    )
    .bind(region)
    .bind(InstanceStatus::Terminated.as_str())
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| row.try_get("offer").map_err(DbError::from))
        .collect()
}

/// Records the fleet a run's jobs use.
pub async fn set_run_fleet<'e>(
    db: impl Executor<'e, Database = Any>,
    run_id: Uuid4,
    fleet_id: Uuid,
) -> Result<(), DbError> {
    sqlx::query("UPDATE runs SET fleet_id = $1 WHERE id = $2")
        .bind(fleet_id.to_string())
        .bind(run_id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Counts a run's resubmissions: `pending` raises it, reaching `provisioning` resets it.
pub async fn set_resubmission_attempt<'e>(
    db: impl Executor<'e, Database = Any>,
    run_id: Uuid4,
    attempt: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE runs SET resubmission_attempt = $1 WHERE id = $2")
        .bind(attempt)
        .bind(run_id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// How many live instances the fleet has.
pub async fn live_instances_of_fleet<'e>(
    db: impl Executor<'e, Database = Any>,
    fleet_id: &str,
) -> Result<i64, DbError> {
    let row =
        sqlx::query("SELECT COUNT(*) AS n FROM instances WHERE fleet_id = $1 AND deleted = 0")
            .bind(fleet_id)
            .fetch_one(db)
            .await?;
    Ok(row.try_get("n")?)
}

/// The bytes of an uploaded file archive.
pub async fn file_archive_blob<'e>(
    db: impl Executor<'e, Database = Any>,
    id: &str,
) -> Result<Option<Vec<u8>>, DbError> {
    let blob = sqlx::query_scalar("SELECT blob FROM file_archives WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await?;
    Ok(blob)
}
