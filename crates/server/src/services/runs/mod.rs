//! Runs: plans, submission, reading, stopping and deleting (api.md §2.8, lifecycle.md §1.1,
//! §3.1). Nothing schedules runs yet, so a new run stays `submitted` until stopped.
//!
//! - [`spec`]: the effective spec and the in-place update rule.
//! - [`job_specs`]: the job specs built from a spec.
//! - [`view`]: rows to the `Run` of the API.

/// Reads or changes the same field of whichever run configuration type `$configuration` is.
macro_rules! field {
    ($configuration:expr, $c:ident => $body:expr) => {
        match $configuration {
            dstack_core::configuration::AnyRunConfiguration::Task($c) => $body,
            dstack_core::configuration::AnyRunConfiguration::Service($c) => $body,
            dstack_core::configuration::AnyRunConfiguration::DevEnvironment($c) => $body,
        }
    };
}

pub mod job_specs;
pub mod schedule;
pub mod spec;
pub mod view;

use chrono::Utc;
use dstack_core::api::common::{ApplyAction, Uuid4};
use dstack_core::api::jobs::JobSpec;
use dstack_core::api::runs::{
    ApplyRunPlanRequest, GetRunPlanRequest, JobPlan, ListRunsRequest, Run, RunPlan, RunSpec,
    ServiceModelSpec, ServiceSpec,
};
use dstack_core::configuration::AnyRunConfiguration;
use dstack_core::configuration::service::GatewaySetting;
use dstack_core::status::{JobStatus, RunStatus, RunTerminationReason};
use serde::de::DeserializeOwned;
use serde_json::Map;

use self::view::{JobsShown, RunView, to_run};
use super::events::{self, EventTarget, TargetType, status_changed, upper};
use super::projects::{self, ProjectAccess};
use super::users::Caller;
use super::{ServiceError, names, offers};
use crate::backends::local::LocalBackend;
use crate::db::jobs::{self as job_rows, JobEnd, NewJob};
use crate::db::runs::{self as run_rows, NewRun, RunFilter, RunRow};
use crate::db::{
    CreatedAtCursor, Database, DbError, parse_json, repos as repo_rows, to_micros, users,
};
use crate::server_config::DefaultPermissions;

/// The job names of a plan for a run without a name.
const DRY_RUN_NAME: &str = "dry-run";
/// Offers per job in a plan when the client does not say.
const DEFAULT_MAX_OFFERS: u32 = 50;
/// The largest page of `runs/list`.
pub const MAX_LIST_LIMIT: u32 = 100;
/// The most submissions per job `runs/list` may ask for.
pub const MAX_JOB_SUBMISSIONS: u32 = 10;
/// The most offers per job a plan may ask for.
pub const MAX_OFFERS: u32 = 10_000;

/// A run as the target of an event.
pub(crate) fn run_target(run: &RunRow) -> EventTarget {
    let id = run.id.as_uuid();
    EventTarget::in_project(TargetType::Run, run.project_id, id, &run.run_name).within_run(id)
}

/// A job submission as the target of an event.
pub(crate) fn job_target(project_id: Uuid4, run_id: Uuid4, id: Uuid4, name: &str) -> EventTarget {
    EventTarget::in_project(TargetType::Job, project_id, id.as_uuid(), name)
        .within_run(run_id.as_uuid())
}

fn run_not_found() -> ServiceError {
    ServiceError::NotFound("Run not found".to_owned())
}

fn new_id() -> Uuid4 {
    Uuid4::try_from(uuid::Uuid::new_v4()).unwrap_or_else(|_| unreachable!("v4 ids are version 4"))
}

/// The `Run` of a row, with every job and submission.
async fn load<S: DeserializeOwned, J: DeserializeOwned>(
    db: &Database,
    row: &RunRow,
    shown: JobsShown,
) -> Result<Run<S, J>, ServiceError> {
    let jobs = job_rows::list_for_runs(db.pool(), &[row.id]).await?;
    Ok(to_run(row, jobs, shown)?)
}

/// `runs/get`: by id (deleted runs too) or by name (live runs only).
pub async fn get(
    db: &Database,
    access: &ProjectAccess,
    run_name: Option<&str>,
    id: Option<uuid::Uuid>,
) -> Result<RunView, ServiceError> {
    let project_id = access.project.id;
    let row = match (id, run_name) {
        (Some(id), _) => run_rows::find_by_id(db.pool(), project_id, &id.to_string()).await?,
        (None, Some(name)) => run_rows::find_by_name(db.pool(), project_id, name).await?,
        (None, None) => {
            return Err(ServiceError::Invalid(
                "run_name or id must be specified".to_owned(),
            ));
        }
    };
    let row = row.ok_or_else(run_not_found)?;
    load(db, &row, JobsShown::ALL).await
}

/// `runs/list`: runs of the caller's projects (every project for a global admin), newest first.
/// The API has checked the bounds of `limit` and `job_submissions_limit`.
pub async fn list(
    db: &Database,
    caller: &Caller,
    request: &ListRunsRequest,
) -> Result<Vec<RunView>, ServiceError> {
    let pool = db.pool();
    let submissions = request.job_submissions_limit.unwrap_or(MAX_JOB_SUBMISSIONS);
    let mut filter = RunFilter {
        member_id: (!caller.is_admin()).then(|| caller.user.id.to_string()),
        only_active: request.only_active,
        ..RunFilter::default()
    };
    if let Some(project_name) = &request.project_name {
        // Only membership matters here, not the permissions the server config grants.
        let permissions = DefaultPermissions::default();
        let Some(access) = projects::find_access(pool, caller, project_name, &permissions).await?
        else {
            return Ok(Vec::new());
        };
        if !access.is_member() {
            return Ok(Vec::new());
        }
        filter.project_id = Some(access.project.id.to_string());
        if let Some(repo_id) = &request.repo_id {
            if repo_rows::find(pool, access.project.id, repo_id)
                .await?
                .is_none()
            {
                return Err(ServiceError::RepoNotFound(format!(
                    "Repo {repo_id} does not exist"
                )));
            }
            filter.repo_id = Some(repo_id.clone());
        }
    } else if request.repo_id.is_some() {
        return Ok(Vec::new());
    }
    if let Some(username) = &request.username {
        let user = users::find_by_name(pool, username)
            .await?
            .ok_or_else(|| ServiceError::NotFound("User not found".to_owned()))?;
        filter.user_id = Some(user.id.to_string());
    }
    let cursor = CreatedAtCursor {
        prev_created_at: request.prev_submitted_at.map(to_micros),
        prev_id: request.prev_run_id.map(|id| id.to_string()),
        limit: i64::from(request.limit.0),
        ascending: request.ascending,
    };
    let shown = JobsShown {
        include: request.include_jobs,
        submissions: usize::try_from(submissions).ok(),
    };
    let page = run_rows::list_page_with_jobs(db, &filter, &cursor, request.include_jobs).await?;
    let mut runs = Vec::with_capacity(page.len());
    for (row, jobs) in page {
        match jobs.and_then(|jobs| to_run(&row, jobs, shown)) {
            Ok(run) => runs.push(run),
            // A run whose stored spec does not parse is left out, as dstack does.
            Err(DbError::Corrupt { column, .. }) => {
                tracing::warn!(run = %row.id, column, "run skipped: unreadable stored value");
            }
            Err(other) => return Err(other.into()),
        }
    }
    Ok(runs)
}

/// `runs/get_plan` (`max_offers` already bounded by the API): the effective spec, one job plan per job of the first replica, the run of
/// the same name and whether applying creates or updates.
pub async fn get_plan(
    db: &Database,
    local: &LocalBackend,
    access: &ProjectAccess,
    caller: &Caller,
    request: &GetRunPlanRequest,
) -> Result<RunPlan, ServiceError> {
    let max_offers = request.max_offers.unwrap_or(DEFAULT_MAX_OFFERS);
    let effective = spec::effective(&request.run_spec, caller.user.ssh_public_key.as_deref())?;
    let run_name = effective.run_name.as_deref().unwrap_or(DRY_RUN_NAME);
    let mut job_plans = Vec::new();
    for job_spec in job_specs::plan_jobs(&effective, run_name)? {
        let (offers, total) = offers::offers_for_requirements(
            db,
            local,
            access.project.id.as_uuid(),
            &job_spec.requirements,
            Some(usize::try_from(max_offers).unwrap_or(usize::MAX)),
        )
        .await?;
        job_plans.push(JobPlan {
            job_spec,
            max_price: offers.iter().map(|offer| offer.price).reduce(f64::max),
            total_offers: u64::try_from(total).unwrap_or(u64::MAX),
            offers,
        });
    }
    let current = match &effective.run_name {
        Some(name) => run_rows::find_by_name(db.pool(), access.project.id, name).await?,
        None => None,
    };
    let current_resource = match &current {
        Some(row) => Some(load::<RunSpec, JobSpec>(db, row, JobsShown::ALL).await?),
        None => None,
    };
    let action = match &current_resource {
        Some(run) if !run.status.is_finished() && spec::is_updatable(&run.run_spec, &effective) => {
            ApplyAction::Update
        }
        _ => ApplyAction::Create,
    };
    Ok(RunPlan {
        project_name: access.project.name.clone(),
        user: caller.user.name.clone(),
        run_spec: spec::echoed(&request.run_spec),
        effective_run_spec: Some(effective),
        job_plans,
        current_resource,
        action,
    })
}

/// `runs/apply`: creates the run, replacing a finished one of the same name, or updates an
/// active one in place when only updatable fields changed.
pub async fn apply(
    db: &Database,
    access: &ProjectAccess,
    caller: &Caller,
    request: &ApplyRunPlanRequest,
) -> Result<RunView, ServiceError> {
    let effective = spec::effective(
        &request.plan.run_spec,
        caller.user.ssh_public_key.as_deref(),
    )?;
    let current = match &effective.run_name {
        Some(name) => run_rows::find_by_name(db.pool(), access.project.id, name).await?,
        None => None,
    };
    if let Some(current) = current.filter(|row| !row.status.is_finished()) {
        if request.plan.current_resource.is_none() && !request.force {
            // The client planned a new run and another apply created it first.
            return Err(ServiceError::AlreadyExists("Resource exists".to_owned()));
        }
        return update(db, access, caller, request, &current, &effective).await;
    }
    let given = effective.run_name.clone();
    let id = names::insert_named(given.as_deref(), |name| {
        create(db, access, caller, &effective, name)
    })
    .await?;
    let row = run_rows::find_by_id(db.pool(), access.project.id, &id.to_string())
        .await?
        .ok_or_else(run_not_found)?;
    load(db, &row, JobsShown::ALL).await
}

async fn update(
    db: &Database,
    access: &ProjectAccess,
    caller: &Caller,
    request: &ApplyRunPlanRequest,
    current: &RunRow,
    effective: &RunSpec,
) -> Result<RunView, ServiceError> {
    let stored: RunSpec = parse_json("runs.run_spec", &current.run_spec)?;
    if !spec::is_updatable(&stored, effective) {
        return Err(ServiceError::Invalid(
            "Cannot override active run. Stop the run first.".to_owned(),
        ));
    }
    let seen = request.plan.current_resource.as_ref();
    let unchanged = seen.is_some_and(|run| run.id == current.id && run.run_spec == stored);
    if !request.force && !unchanged {
        return Err(ServiceError::Invalid(
            "Failed to apply plan. Resource has been changed. Try again or use force apply."
                .to_owned(),
        ));
    }
    let text = to_json(effective)?;
    let deployment_num = current.deployment_num + 1;
    let mut tx = db.pool().begin().await?;
    run_rows::update_spec(
        &mut *tx,
        current.id,
        &text,
        spec::priority(effective),
        deployment_num,
    )
    .await?;
    let message = format!(
        "Run updated. Deployment: {deployment_num}. Changed fields: {}",
        spec::changed_fields(&stored, effective).join(", ")
    );
    let target = [run_target(current)];
    events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
    tx.commit().await?;
    get(db, access, Some(&current.run_name), None).await
}

/// Where a service is reachable: through the server's own proxy, as there are no gateways.
fn service_spec(
    project: &str,
    run_name: &str,
    spec: &RunSpec,
) -> Result<Option<ServiceSpec>, ServiceError> {
    let AnyRunConfiguration::Service(service) = &spec.configuration else {
        return Ok(None);
    };
    if matches!(
        service.gateway,
        Some(GatewaySetting::Enabled(true) | GatewaySetting::Named(_))
    ) {
        return Err(ServiceError::Invalid(
            "The project has no gateways: remove `gateway` to serve through the server".to_owned(),
        ));
    }
    Ok(Some(ServiceSpec {
        url: format!("/proxy/services/{project}/{run_name}/"),
        model: service.model.as_ref().map(|model| ServiceModelSpec {
            name: model.name().to_owned(),
            base_url: format!("/proxy/models/{project}/"),
            model_type: "chat".to_owned(),
        }),
        options: Map::new(),
    }))
}

/// Inserts the run named `name` and its jobs, soft-deleting a finished run of that name first,
/// in one transaction; a live run of the name makes the unique index refuse it.
async fn create(
    db: &Database,
    access: &ProjectAccess,
    caller: &Caller,
    effective: &RunSpec,
    name: String,
) -> Result<Uuid4, ServiceError> {
    let mut spec = effective.clone();
    spec.run_name = Some(name.clone());
    let project_id = access.project.id;
    let jobs = job_specs::build(&spec, &name)?;
    let service = service_spec(&access.project.name, &name, &spec)?;
    let spec_text = to_json(&spec)?;
    let service_text = service.as_ref().map(to_json).transpose()?;
    let id = new_id();
    let now = to_micros(Utc::now());
    let next_triggered_at = schedule::next_trigger(&spec::scheduling(&spec).schedule, Utc::now())?;
    // A scheduled run waits in `pending`; its jobs are made each time it fires.
    let (status, jobs) = match next_triggered_at {
        Some(_) => (RunStatus::Pending, Vec::new()),
        None => (RunStatus::Submitted, jobs),
    };
    let mut tx = db.pool().begin().await?;
    // The soft delete is the first write, so on SQLite the transaction holds the write lock
    // before it reads anything and two applies queue instead of failing to upgrade.
    run_rows::delete_finished_by_name(&mut *tx, project_id, &name).await?;
    let inserted = run_rows::insert(
        &mut *tx,
        &NewRun {
            id,
            project_id,
            user_id: caller.user.id,
            repo_id: spec.repo_id.as_deref().unwrap_or(spec::VIRTUAL_REPO_ID),
            run_name: &name,
            submitted_at: now,
            status,
            run_spec: &spec_text,
            service_spec: service_text.as_deref(),
            priority: spec::priority(&spec),
            next_triggered_at,
        },
    )
    .await;
    match inserted {
        Err(DbError::UniqueViolation) => {
            return Err(ServiceError::AlreadyExists("Resource exists".to_owned()));
        }
        other => other?,
    }
    let run = EventTarget::in_project(TargetType::Run, project_id, id.as_uuid(), &name)
        .within_run(id.as_uuid());
    let message = format!("Run submitted. Status: {}", upper(status));
    events::record(&mut tx, Some(caller.user.id), &message, &[run]).await?;
    let job_message = format!(
        "Job created on run submission. Status: {}",
        upper(JobStatus::Submitted)
    );
    for job in &jobs {
        let job_text = to_json(job)?;
        let job_id = new_id();
        job_rows::insert(
            &mut *tx,
            &NewJob {
                id: job_id,
                project_id,
                run_id: id,
                run_name: &name,
                job_num: i64::from(job.job_num),
                job_name: &job.job_name,
                replica_num: i64::from(job.replica_num),
                submission_num: 0,
                deployment_num: 0,
                submitted_at: now,
                job_spec: &job_text,
            },
        )
        .await?;
        let target = [job_target(project_id, id, job_id, &job.job_name)];
        events::record(&mut tx, None, &job_message, &target).await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// A document as the JSON text a row stores.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, ServiceError> {
    serde_json::to_string(value).map_err(|error| ServiceError::Invalid(error.to_string()))
}

/// `runs/stop`: active runs go to `terminating` with `stopped_by_user` (`aborted_by_user`
/// when `abort`). Submissions that never got an instance end at once, and a run left with no
/// unfinished job ends with them. Unknown and finished names are ignored.
pub async fn stop(
    db: &Database,
    access: &ProjectAccess,
    caller: &Caller,
    names: &[String],
    abort: bool,
) -> Result<(), ServiceError> {
    let reason = if abort {
        RunTerminationReason::AbortedByUser
    } else {
        RunTerminationReason::StoppedByUser
    };
    for name in names {
        // The pipelines move runs concurrently; a stop that lost the race reads the run again.
        for _ in 0..STOP_ATTEMPTS {
            let Some(run) = run_rows::find_by_name(db.pool(), access.project.id, name).await?
            else {
                break;
            };
            if run.status.is_finished() || stop_one(db, caller, &run, reason).await? {
                break;
            }
        }
    }
    Ok(())
}

/// How often a stop is tried again when a pipeline moved the run meanwhile.
const STOP_ATTEMPTS: usize = 10;

/// Moves the run to `terminating` on the caller's behalf, ends what never started, and
/// records each change; what the run pipeline would finish is recorded as the system's.
/// False when another writer moved the run or one of its jobs first: nothing is written.
async fn stop_one(
    db: &Database,
    caller: &Caller,
    run: &RunRow,
    reason: RunTerminationReason,
) -> Result<bool, ServiceError> {
    let now = to_micros(Utc::now());
    let job_reason = reason.to_job_termination_reason();
    let mut tx = db.pool().begin().await?;
    if run.status != RunStatus::Terminating
        && !run_rows::set_status(
            &mut *tx,
            run.id,
            run.status,
            RunStatus::Terminating,
            Some(reason),
            now,
        )
        .await?
    {
        return Ok(false);
    }
    if run.status != RunStatus::Terminating {
        let message = format!(
            "{}. Termination reason: {}",
            status_changed("Run", run.status, RunStatus::Terminating),
            upper(reason)
        );
        events::record(&mut tx, Some(caller.user.id), &message, &[run_target(run)]).await?;
    }
    let jobs = job_rows::list_for_runs(&mut *tx, &[run.id]).await?;
    let mut unfinished = 0;
    for job in jobs.iter().filter(|job| !job.status.is_finished()) {
        let never_placed = job.status == JobStatus::Submitted && job.instance_id.is_none();
        let status = if never_placed {
            job_reason.to_status()
        } else {
            unfinished += 1;
            JobStatus::Terminating
        };
        if job.status != status {
            let end = JobEnd {
                status,
                reason: job_reason,
                message: None,
                now,
            };
            if !job_rows::end(&mut *tx, job.id, job.status, end).await? {
                return Ok(false);
            }
            let mut message = status_changed("Job", job.status, status);
            if status == JobStatus::Terminating {
                message = format!("{message}. Termination reason: {}", upper(job_reason));
            }
            let target = [job_target(run.project_id, run.id, job.id, &job.job_name)];
            events::record(&mut tx, None, &message, &target).await?;
        }
    }
    if unfinished == 0 {
        run_rows::set_status(
            &mut *tx,
            run.id,
            RunStatus::Terminating,
            reason.to_status(),
            Some(reason),
            now,
        )
        .await?;
        let message = status_changed("Run", RunStatus::Terminating, reason.to_status());
        events::record(&mut tx, None, &message, &[run_target(run)]).await?;
    }
    tx.commit().await?;
    Ok(true)
}

/// `runs/delete`: soft-deletes finished runs; refuses all when any is active.
pub async fn delete(
    db: &Database,
    access: &ProjectAccess,
    caller: &Caller,
    names: &[String],
) -> Result<(), ServiceError> {
    let mut runs = Vec::new();
    for name in names {
        if let Some(run) = run_rows::find_by_name(db.pool(), access.project.id, name).await? {
            runs.push(run);
        }
    }
    let active: Vec<String> = runs
        .iter()
        .filter(|run| !run.status.is_finished())
        .map(|run| format!("'{}'", run.run_name))
        .collect();
    if !active.is_empty() {
        return Err(ServiceError::Invalid(format!(
            "Cannot delete active runs: [{}]",
            active.join(", ")
        )));
    }
    let mut tx = db.pool().begin().await?;
    for run in &runs {
        run_rows::mark_deleted(&mut *tx, run.id).await?;
        events::record(
            &mut tx,
            Some(caller.user.id),
            "Run deleted",
            &[run_target(run)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}
