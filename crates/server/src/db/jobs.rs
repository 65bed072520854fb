//! The `jobs` table: one row per job submission; a job's rows are its history.

use std::borrow::Cow;

use dstack_core::api::common::Uuid4;
use dstack_core::status::{JobStatus, JobTerminationReason};
use serde::Deserialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};

use super::json_text::{self, Kind};
use super::runs::parse_enum;
use super::{DbError, Engine, parse_id};

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

const SELECT: &str = "SELECT id, run_id, job_name, job_num, replica_num, submission_num, deployment_num, \
    submitted_at, last_processed_at, finished_at, status, termination_reason, \
    termination_reason_message, exit_status, error, job_spec, instance_id, \
    job_provisioning_data, job_runtime_data, inactivity_secs FROM jobs";

/// The columns of [`SELECT`] as JSON members of a [`StoredJob`].
const JSON_COLUMNS: &[(&str, Kind)] = &[
    ("id", Kind::Text),
    ("run_id", Kind::Text),
    ("job_name", Kind::Text),
    ("job_num", Kind::Int),
    ("replica_num", Kind::Int),
    ("submission_num", Kind::Int),
    ("deployment_num", Kind::Int),
    ("submitted_at", Kind::Int),
    ("last_processed_at", Kind::Int),
    ("finished_at", Kind::Int),
    ("status", Kind::Text),
    ("termination_reason", Kind::Text),
    ("termination_reason_message", Kind::Text),
    ("exit_status", Kind::Int),
    ("error", Kind::Text),
    ("job_spec", Kind::Json),
    ("instance_id", Kind::Text),
    ("job_provisioning_data", Kind::Json),
    ("job_runtime_data", Kind::Json),
    ("inactivity_secs", Kind::Int),
];

/// The SQL of the JSON array of every submission of the run whose id is `run_id` (an SQL
/// expression), ordered by replica, job and attempt; each element reads as a [`StoredJob`].
pub(super) fn json_array_of_run(engine: Engine, run_id: &str) -> String {
    let item = json_text::object(engine, "j", JSON_COLUMNS);
    let array = json_text::array(engine, &item, "j.replica_num, j.job_num, j.submission_num");
    format!("(SELECT {array} FROM jobs j WHERE j.run_id = {run_id})")
}

/// The submissions of a JSON array built by [`json_array_of_run`].
pub(super) fn parse_json_array(text: &str) -> Result<Vec<JobRow>, DbError> {
    let stored: Vec<StoredJob<'_>> = serde_json::from_str(text).map_err(|_| DbError::Corrupt {
        column: "jobs.job_spec",
        value: text.chars().take(200).collect(),
    })?;
    stored.into_iter().map(StoredJob::into_row).collect()
}

/// A submission as read, before its ids and statuses are parsed: from a row, or borrowed
/// from a JSON array built by [`json_array_of_run`].
#[derive(Debug, Deserialize)]
struct StoredJob<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    run_id: Cow<'a, str>,
    #[serde(borrow)]
    job_name: Cow<'a, str>,
    job_num: i64,
    replica_num: i64,
    submission_num: i64,
    deployment_num: i64,
    submitted_at: i64,
    last_processed_at: i64,
    finished_at: Option<i64>,
    #[serde(borrow)]
    status: Cow<'a, str>,
    #[serde(borrow)]
    termination_reason: Option<Cow<'a, str>>,
    #[serde(borrow)]
    termination_reason_message: Option<Cow<'a, str>>,
    exit_status: Option<i64>,
    #[serde(borrow)]
    error: Option<Cow<'a, str>>,
    #[serde(borrow, deserialize_with = "json_text::raw_text")]
    job_spec: Cow<'a, str>,
    #[serde(borrow)]
    instance_id: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "json_text::raw_text_opt")]
    job_provisioning_data: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "json_text::raw_text_opt")]
    job_runtime_data: Option<Cow<'a, str>>,
    inactivity_secs: Option<i64>,
}

impl StoredJob<'_> {
    /// The row, with its ids and statuses parsed.
    fn into_row(self) -> Result<JobRow, DbError> {
        Ok(JobRow {
            id: parse_id("jobs.id", &self.id)?,
            run_id: parse_id("jobs.run_id", &self.run_id)?,
            job_name: self.job_name.into_owned(),
            job_num: self.job_num,
            replica_num: self.replica_num,
            submission_num: self.submission_num,
            deployment_num: self.deployment_num,
            submitted_at: self.submitted_at,
            last_processed_at: self.last_processed_at,
            finished_at: self.finished_at,
            status: parse_enum("jobs.status", &self.status)?,
            termination_reason: self
                .termination_reason
                .map(|text| parse_enum("jobs.termination_reason", &text))
                .transpose()?,
            termination_reason_message: self.termination_reason_message.map(Cow::into_owned),
            exit_status: self.exit_status,
            error: self.error.map(Cow::into_owned),
            job_spec: self.job_spec.into_owned(),
            instance_id: self.instance_id.map(Cow::into_owned),
            job_provisioning_data: self.job_provisioning_data.map(Cow::into_owned),
            job_runtime_data: self.job_runtime_data.map(Cow::into_owned),
            inactivity_secs: self.inactivity_secs,
        })
    }
}

fn from_row(row: &AnyRow) -> Result<JobRow, DbError> {
    let text = |column: &str| -> Result<Cow<'static, str>, DbError> {
        Ok(Cow::Owned(row.try_get::<String, _>(column)?))
    };
    let optional = |column: &str| -> Result<Option<Cow<'static, str>>, DbError> {
        Ok(row.try_get::<Option<String>, _>(column)?.map(Cow::Owned))
    };
    StoredJob {
        id: text("id")?,
        run_id: text("run_id")?,
        job_name: text("job_name")?,
        job_num: row.try_get("job_num")?,
        replica_num: row.try_get("replica_num")?,
        submission_num: row.try_get("submission_num")?,
        deployment_num: row.try_get("deployment_num")?,
        submitted_at: row.try_get("submitted_at")?,
        last_processed_at: row.try_get("last_processed_at")?,
        finished_at: row.try_get("finished_at")?,
        status: text("status")?,
        termination_reason: optional("termination_reason")?,
        termination_reason_message: optional("termination_reason_message")?,
        exit_status: row.try_get("exit_status")?,
        error: optional("error")?,
        job_spec: text("job_spec")?,
        instance_id: optional("instance_id")?,
        job_provisioning_data: optional("job_provisioning_data")?,
        job_runtime_data: optional("job_runtime_data")?,
        inactivity_secs: row.try_get("inactivity_secs")?,
    }
    .into_row()
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
