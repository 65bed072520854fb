//! The `jobs` table: one row per job submission; a job's rows are its history.

use dstack_core::api::common::Uuid4;
use dstack_core::status::{JobStatus, JobTerminationReason};
use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use super::runs::parse_enum;
use super::{ColumnsAt, DbError, parse_id};

/// A job submission as stored.
#[derive(Debug, Clone)]
pub struct JobRow {
    /// The submission id.
    pub id: Uuid4,
    /// The run.
    pub run_id: Uuid4,
    /// The job's name, `<run>-<job_num>-<replica_num>`.
    pub job_name: String,
    /// The job within its replica.
    pub job_num: i64,
    /// The replica.
    pub replica_num: i64,
    /// The attempt, from 0.
    pub submission_num: i64,
    /// The deployment the submission belongs to.
    pub deployment_num: i64,
    /// Microseconds.
    pub submitted_at: i64,
    /// Microseconds.
    pub last_processed_at: i64,
    /// Microseconds.
    pub finished_at: Option<i64>,
    /// The status.
    pub status: JobStatus,
    /// Why it ended or is ending.
    pub termination_reason: Option<JobTerminationReason>,
    /// The human explanation of the reason.
    pub termination_reason_message: Option<String>,
    /// The exit code of the commands.
    pub exit_status: Option<i64>,
    /// A short error text.
    pub error: Option<String>,
    /// The `JobSpec`, JSON.
    pub job_spec: String,
    /// The instance the job got; no foreign key.
    pub instance_id: Option<String>,
    /// `JobProvisioningData`, JSON.
    pub job_provisioning_data: Option<String>,
    /// `JobRuntimeData`, JSON.
    pub job_runtime_data: Option<String>,
    /// Seconds without an SSH connection.
    pub inactivity_secs: Option<i64>,
}

/// The stored columns, in the order [`from_row_at`] reads them, named apart from a joined
/// run's columns.
macro_rules! columns {
    () => {
        "j.id AS j_id, j.run_id AS j_run_id, j.job_name AS j_job_name, j.job_num AS j_job_num, j.replica_num AS j_replica_num, j.submission_num AS j_submission_num, \
         j.deployment_num AS j_deployment_num, j.submitted_at AS j_submitted_at, j.last_processed_at AS j_last_processed_at, j.finished_at AS j_finished_at, j.status AS j_status, \
         j.termination_reason AS j_termination_reason, j.termination_reason_message AS j_termination_reason_message, j.exit_status AS j_exit_status, j.error AS j_error, j.job_spec AS j_job_spec, \
         j.instance_id AS j_instance_id, j.job_provisioning_data AS j_job_provisioning_data, j.job_runtime_data AS j_job_runtime_data, j.inactivity_secs AS j_inactivity_secs"
    };
}

/// The columns of a submission, over the table aliased `j`, for a join to select.
pub(super) const COLUMNS: &str = columns!();

const SELECT: &str = concat!("SELECT ", columns!(), " FROM jobs j");

fn from_row(row: &AnyRow) -> Result<JobRow, DbError> {
    from_row_at(row, 0)
}

/// The submission whose [`COLUMNS`] start at column `first` of `row`.
pub(super) fn from_row_at(row: &impl ColumnsAt, first: usize) -> Result<JobRow, DbError> {
    let id: String = row.at(first)?;
    let run_id: String = row.at(first + 1)?;
    let status: String = row.at(first + 10)?;
    let reason: Option<String> = row.at(first + 11)?;
    Ok(JobRow {
        id: parse_id("jobs.id", &id)?,
        run_id: parse_id("jobs.run_id", &run_id)?,
        job_name: row.at(first + 2)?,
        job_num: row.at(first + 3)?,
        replica_num: row.at(first + 4)?,
        submission_num: row.at(first + 5)?,
        deployment_num: row.at(first + 6)?,
        submitted_at: row.at(first + 7)?,
        last_processed_at: row.at(first + 8)?,
        finished_at: row.at(first + 9)?,
        status: parse_enum("jobs.status", &status)?,
        termination_reason: reason
            .map(|text| parse_enum("jobs.termination_reason", &text))
            .transpose()?,
        termination_reason_message: row.at(first + 12)?,
        exit_status: row.at(first + 13)?,
        error: row.at(first + 14)?,
        job_spec: row.at(first + 15)?,
        instance_id: row.at(first + 16)?,
        job_provisioning_data: row.at(first + 17)?,
        job_runtime_data: row.at(first + 18)?,
        inactivity_secs: row.at(first + 19)?,
    })
}

/// What a new submission row holds.
#[derive(Debug, Clone)]
pub struct NewJob<'a> {
    /// The submission id.
    pub id: Uuid4,
    /// The project.
    pub project_id: Uuid4,
    /// The run.
    pub run_id: Uuid4,
    /// The run's name.
    pub run_name: &'a str,
    /// The job within its replica.
    pub job_num: i64,
    /// The job's name.
    pub job_name: &'a str,
    /// The replica.
    pub replica_num: i64,
    /// The attempt.
    pub submission_num: i64,
    /// The deployment.
    pub deployment_num: i64,
    /// Microseconds.
    pub submitted_at: i64,
    /// The `JobSpec`, JSON.
    pub job_spec: &'a str,
}

/// Inserts a submission in status `submitted`.
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    job: &NewJob<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO jobs (id, project_id, run_id, run_name, job_num, job_name, replica_num, \
         submission_num, deployment_num, submitted_at, last_processed_at, status, job_spec) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)",
    )
    .bind(job.id.to_string())
    .bind(job.project_id.to_string())
    .bind(job.run_id.to_string())
    .bind(job.run_name)
    .bind(job.job_num)
    .bind(job.job_name)
    .bind(job.replica_num)
    .bind(job.submission_num)
    .bind(job.deployment_num)
    .bind(job.submitted_at)
    .bind(JobStatus::Submitted.as_str())
    .bind(job.job_spec)
    .execute(db)
    .await?;
    Ok(())
}

/// Every submission of the runs, ordered by run, replica, job and attempt.
pub async fn list_for_runs<'e>(
    db: impl Executor<'e, Database = Any>,
    run_ids: &[Uuid4],
) -> Result<Vec<JobRow>, DbError> {
    if run_ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=run_ids.len()).map(|n| format!("${n}")).collect();
    let sql = format!(
        "{SELECT} WHERE run_id IN ({}) ORDER BY run_id, replica_num, job_num, submission_num",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for id in run_ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(db).await?;
    rows.iter().map(from_row).collect()
}

/// The submission with this id.
pub async fn find<'e>(
    db: impl Executor<'e, Database = Any>,
    id: &str,
) -> Result<Option<JobRow>, DbError> {
    let sql = format!("{SELECT} WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(db).await?;
    row.as_ref().map(from_row).transpose()
}

/// The end of a submission: its final or `terminating` status and why.
#[derive(Debug, Clone, Copy)]
pub struct JobEnd<'a> {
    /// The new status.
    pub status: JobStatus,
    /// Why.
    pub reason: JobTerminationReason,
    /// The human explanation.
    pub message: Option<&'a str>,
    /// Microseconds; also `finished_at` when `status` is final.
    pub now: i64,
}

/// Moves a submission that is still in `from` to `end`; false when another writer moved it.
pub async fn end<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    from: JobStatus,
    end: JobEnd<'_>,
) -> Result<bool, DbError> {
    let finished_at = end.status.is_finished().then_some(end.now);
    let done = sqlx::query(
        "UPDATE jobs SET status = $1, termination_reason = $2, termination_reason_message = $3, \
         last_processed_at = $4, finished_at = $5 WHERE id = $6 AND status = $7",
    )
    .bind(end.status.as_str())
    .bind(end.reason.as_str())
    .bind(end.message)
    .bind(end.now)
    .bind(finished_at)
    .bind(id.to_string())
    .bind(from.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
