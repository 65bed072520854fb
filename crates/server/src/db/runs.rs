//! The `runs` table, read with the names of the run's project and submitter.
//!
//! The spec is stored as the JSON the service wrote; statuses and reasons as their wire
//! strings.

use std::collections::HashMap;
use std::str::FromStr;

use dstack_core::api::common::Uuid4;
use dstack_core::status::{RunStatus, RunTerminationReason};
use sqlx::{Any, Executor, Row};

use super::jobs::{self, JobRow};
use super::{ColumnsAt, CreatedAtCursor, Database, DbError, count_columns, parse_id};

/// A run as stored.
#[derive(Debug, Clone)]
pub struct RunRow {
    /// The id.
    pub id: Uuid4,
    /// The project's id.
    pub project_id: Uuid4,
    /// The project's name.
    pub project_name: String,
    /// The submitter's name.
    pub user_name: String,
    /// The repo id the run was submitted from.
    pub repo_id: String,
    /// The name, unique among the project's live runs.
    pub run_name: String,
    /// Microseconds.
    pub submitted_at: i64,
    /// Microseconds.
    pub last_processed_at: i64,
    /// The status.
    pub status: RunStatus,
    /// Why it ended or is ending.
    pub termination_reason: Option<RunTerminationReason>,
    /// The effective run spec, JSON.
    pub run_spec: String,
    /// The service's `ServiceSpec`, JSON, for services.
    pub service_spec: Option<String>,
    /// The current deployment.
    pub deployment_num: i64,
    /// When a scheduled run fires next, microseconds.
    pub next_triggered_at: Option<i64>,
    /// Whether the run was deleted.
    pub deleted: bool,
    /// Resubmissions since the run last reached `provisioning`.
    pub resubmission_attempt: i64,
    /// The fleet its jobs run in, once placed: id and name.
    pub fleet: Option<(Uuid4, String)>,
}

/// The columns [`from_row`] reads, over `runs r` joined as in `from!`.
macro_rules! columns {
    () => {
        "r.id, r.project_id, p.name AS project_name, u.name AS user_name, \
         r.repo_id, r.run_name, r.submitted_at, r.last_processed_at, r.status, \
         r.termination_reason, r.run_spec, r.service_spec, r.deployment_num, r.next_triggered_at, \
         r.deleted, r.resubmission_attempt, r.fleet_id, f.name AS fleet_name"
    };
}

/// A run with the names of its project, user and fleet.
macro_rules! from {
    () => {
        "FROM runs r JOIN projects p ON p.id = r.project_id \
         JOIN users u ON u.id = r.user_id LEFT JOIN fleets f ON f.id = r.fleet_id"
    };
}

const SELECT: &str = concat!("SELECT ", columns!(), " ", from!());

/// Parses a stored wire string.
pub(super) fn parse_enum<T: FromStr>(column: &'static str, text: &str) -> Result<T, DbError> {
    text.parse().map_err(|_| DbError::Corrupt {
        column,
        value: text.to_owned(),
    })
}

/// How many columns `columns!` names; a joined table's columns follow.
const COLUMN_COUNT: usize = count_columns(columns!());

fn from_row(row: &impl ColumnsAt) -> Result<RunRow, DbError> {
    let id: String = row.at(0)?;
    let project_id: String = row.at(1)?;
    let status: String = row.at(8)?;
    let reason: Option<String> = row.at(9)?;
    let deleted: i64 = row.at(14)?;
    Ok(RunRow {
        id: parse_id("runs.id", &id)?,
        project_id: parse_id("runs.project_id", &project_id)?,
        project_name: row.at(2)?,
        user_name: row.at(3)?,
        repo_id: row.at(4)?,
        run_name: row.at(5)?,
        submitted_at: row.at(6)?,
        last_processed_at: row.at(7)?,
        status: parse_enum("runs.status", &status)?,
        termination_reason: reason
            .map(|text| parse_enum("runs.termination_reason", &text))
            .transpose()?,
        run_spec: row.at(10)?,
        service_spec: row.at(11)?,
        deployment_num: row.at(12)?,
        next_triggered_at: row.at(13)?,
        deleted: deleted != 0,
        resubmission_attempt: row.at(15)?,
        fleet: fleet_of(row)?,
    })
}

fn fleet_of(row: &impl ColumnsAt) -> Result<Option<(Uuid4, String)>, DbError> {
    let id: Option<String> = row.at(16)?;
    let name: Option<String> = row.at(17)?;
    match (id, name) {
        (Some(id), Some(name)) => Ok(Some((parse_id("runs.fleet_id", &id)?, name))),
        _ => Ok(None),
    }
}

/// What a new run row holds.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// The id.
    pub id: Uuid4,
    /// The project.
    pub project_id: Uuid4,
    /// The submitter.
    pub user_id: Uuid4,
    /// The repo id.
    pub repo_id: &'a str,
    /// The name.
    pub run_name: &'a str,
    /// Microseconds; also the first `last_processed_at`.
    pub submitted_at: i64,
    /// The initial status.
    pub status: RunStatus,
    /// The effective spec, JSON.
    pub run_spec: &'a str,
    /// The service spec, JSON.
    pub service_spec: Option<&'a str>,
    /// The configuration's priority.
    pub priority: i64,
    /// When a scheduled run fires first, microseconds.
    pub next_triggered_at: Option<i64>,
}

/// Inserts a run; a live run of the same name is [`DbError::UniqueViolation`].
pub async fn insert<'e>(
    db: impl Executor<'e, Database = Any>,
    run: &NewRun<'_>,
) -> Result<(), DbError> {
    sqlx::query(
        "INSERT INTO runs (id, project_id, user_id, repo_id, run_name, submitted_at, \
         last_processed_at, status, run_spec, service_spec, priority, next_triggered_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8, $9, $10, $11)",
    )
    .bind(run.id.to_string())
    .bind(run.project_id.to_string())
    .bind(run.user_id.to_string())
    .bind(run.repo_id)
    .bind(run.run_name)
    .bind(run.submitted_at)
    .bind(run.status.as_str())
    .bind(run.run_spec)
    .bind(run.service_spec)
    .bind(run.priority)
    .bind(run.next_triggered_at)
    .execute(db)
    .await?;
    Ok(())
}

/// The project's live run with this name.
pub async fn find_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    run_name: &str,
) -> Result<Option<RunRow>, DbError> {
    let sql = format!("{SELECT} WHERE r.project_id = $1 AND r.run_name = $2 AND r.deleted = 0");
    let row = sqlx::query(&sql)
        .bind(project_id.to_string())
        .bind(run_name)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The run with this id, in any project, deleted or not.
pub async fn find_any<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
) -> Result<Option<RunRow>, DbError> {
    let sql = format!("{SELECT} WHERE r.id = $1");
    let row = sqlx::query(&sql)
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// The project's run with this id, deleted or not.
pub async fn find_by_id<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    id: &str,
) -> Result<Option<RunRow>, DbError> {
    let sql = format!("{SELECT} WHERE r.project_id = $1 AND r.id = $2");
    let row = sqlx::query(&sql)
        .bind(project_id.to_string())
        .bind(id)
        .fetch_optional(db)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Which runs `runs/list` covers.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs of projects this user is a member of; `None` for every project.
    pub member_id: Option<String>,
    /// Only this project.
    pub project_id: Option<String>,
    /// Only this repo.
    pub repo_id: Option<String>,
    /// Only this submitter.
    pub user_id: Option<String>,
    /// Leave out finished runs.
    pub only_active: bool,
}

const FILTER: &str = "p.deleted = 0 AND ($1 IS NULL OR EXISTS \
    (SELECT 1 FROM members m WHERE m.project_id = r.project_id AND m.user_id = $1)) \
    AND ($2 IS NULL OR r.project_id = $2) AND ($3 IS NULL OR r.repo_id = $3) \
    AND ($4 IS NULL OR r.user_id = $4) \
    AND ($5 = 0 OR r.status NOT IN ('terminated', 'failed', 'done'))";

/// One page of runs, each with its submissions (none unless asked for); a run whose
/// submissions do not decode comes with the error instead.
pub type RunsPage = Vec<(RunRow, Result<Vec<JobRow>, DbError>)>;

/// One page of runs, deleted ones included (as dstack lists them), each with every
/// submission (none unless `with_jobs`), read in one statement: the page's run ids (a
/// subquery with the filter, cursor and limit) joined with their runs and submissions, a row
/// per submission. On SQLite the statement runs in place ([`super::sqlite_reads`]).
///
/// Only the subquery is ordered, and over ids alone: ordering the joined rows made SQLite copy
/// every row, specs and all, into a sorter. The page's order is restored here.
pub async fn list_page_with_jobs(
    db: &Database,
    filter: &RunFilter,
    cursor: &CreatedAtCursor,
    with_jobs: bool,
) -> Result<RunsPage, DbError> {
    let page_ids = format!(
        "JOIN (SELECT r.id FROM runs r JOIN projects p ON p.id = r.project_id WHERE {FILTER}{}) \
         page ON page.id = r.id",
        cursor.sql_on("r", "submitted_at", 6)
    );
    let sql = match with_jobs {
        true => format!(
            "SELECT {}, {} {} {page_ids} LEFT JOIN jobs j ON j.run_id = r.id",
            columns!(),
            jobs::COLUMNS,
            from!()
        ),
        false => format!("{SELECT} {page_ids}"),
    };
    let only_active = i64::from(filter.only_active);
    let mut page = PageRows::new(with_jobs);
    if let Some(reads) = db.sqlite_reads() {
        reads
            .read(|connection| {
                let mut statement = connection.prepare_cached(&sql)?;
                let mut rows = statement.query(rusqlite::named_params! {
                    "$1": filter.member_id,
                    "$2": filter.project_id,
                    "$3": filter.repo_id,
                    "$4": filter.user_id,
                    "$5": only_active,
                    "$6": cursor.prev_created_at,
                    "$7": cursor.prev_id,
                    "$8": cursor.limit,
                })?;
                while let Some(row) = rows.next()? {
                    page.add(row)?;
                }
                Ok(())
            })
            .await?;
    } else {
        let rows = sqlx::query(&sql)
            .bind(&filter.member_id)
            .bind(&filter.project_id)
            .bind(&filter.repo_id)
            .bind(&filter.user_id)
            .bind(only_active)
            .bind(cursor.prev_created_at)
            .bind(&cursor.prev_id)
            .bind(cursor.limit)
            .fetch_all(db.pool())
            .await?;
        for row in &rows {
            page.add(row)?;
        }
    }
    let mut page = page.runs;
    page.sort_by(|(a, _), (b, _)| cursor.order((a.submitted_at, &a.id), (b.submitted_at, &b.id)));
    Ok(page)
}

/// The page's rows grouped by run, in the order they came.
struct PageRows {
    with_jobs: bool,
    runs: RunsPage,
    index_of: HashMap<Uuid4, usize>,
}

impl PageRows {
    fn new(with_jobs: bool) -> Self {
        Self {
            with_jobs,
            runs: Vec::new(),
            index_of: HashMap::new(),
        }
    }

    fn add(&mut self, row: &impl ColumnsAt) -> Result<(), DbError> {
        let id: String = row.at(0)?;
        let id = parse_id("runs.id", &id)?;
        let index = *self.index_of.entry(id).or_insert(self.runs.len());
        if index == self.runs.len() {
            self.runs.push((from_row(row)?, Ok(Vec::new())));
        }
        // A run without submissions joins one row of NULLs.
        if !self.with_jobs || row.at::<Option<String>>(COLUMN_COUNT)?.is_none() {
            return Ok(());
        }
        let (_, jobs) = &mut self.runs[index];
        if let Ok(read) = jobs {
            match jobs::from_row_at(row, COLUMN_COUNT) {
                Ok(job) => read.push(job),
                Err(error) => *jobs = Err(error),
            }
        }
        Ok(())
    }
}

/// Soft-deletes the project's live, finished run with this name, if any.
pub async fn delete_finished_by_name<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    run_name: &str,
) -> Result<(), DbError> {
    sqlx::query(
        "UPDATE runs SET deleted = 1 WHERE project_id = $1 AND run_name = $2 AND deleted = 0 \
         AND status IN ('terminated', 'failed', 'done')",
    )
    .bind(project_id.to_string())
    .bind(run_name)
    .execute(db)
    .await?;
    Ok(())
}

/// Soft-deletes a run.
pub async fn mark_deleted<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
) -> Result<(), DbError> {
    sqlx::query("UPDATE runs SET deleted = 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Moves a run to `status` with `reason`, only from the status it was read in; false when
/// another writer moved it first.
pub async fn set_status<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    from: RunStatus,
    status: RunStatus,
    reason: Option<RunTerminationReason>,
    now: i64,
) -> Result<bool, DbError> {
    let done = sqlx::query(
        "UPDATE runs SET status = $1, termination_reason = $2, last_processed_at = $3 \
         WHERE id = $4 AND status = $5",
    )
    .bind(status.as_str())
    .bind(reason.map(RunTerminationReason::as_str))
    .bind(now)
    .bind(id.to_string())
    .bind(from.as_str())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sets when a scheduled run fires next.
pub async fn set_next_trigger<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    next_triggered_at: Option<i64>,
) -> Result<(), DbError> {
    sqlx::query("UPDATE runs SET next_triggered_at = $1 WHERE id = $2")
        .bind(next_triggered_at)
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Replaces the spec of an active run in place and starts its next deployment.
pub async fn update_spec<'e>(
    db: impl Executor<'e, Database = Any>,
    id: Uuid4,
    run_spec: &str,
    priority: i64,
    deployment_num: i64,
) -> Result<(), DbError> {
    sqlx::query("UPDATE runs SET run_spec = $1, priority = $2, deployment_num = $3 WHERE id = $4")
        .bind(run_spec)
        .bind(priority)
        .bind(deployment_num)
        .bind(id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Whether a live, unfinished run uses fleet `fleet_id`.
pub async fn active_in_fleet<'e>(
    db: impl Executor<'e, Database = Any>,
    fleet_id: uuid::Uuid,
) -> Result<bool, DbError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM runs WHERE fleet_id = $1 AND deleted = 0 \
         AND status NOT IN ('terminated', 'failed', 'done')",
    )
    .bind(fleet_id.to_string())
    .fetch_one(db)
    .await?;
    let count: i64 = row.try_get("n")?;
    Ok(count > 0)
}
