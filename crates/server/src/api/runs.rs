//! Runs: `POST /api/runs/list` and `POST /api/project/{project_name}/runs/*` (api.md §2.8).

use axum::Json;
use axum::extract::State;
use dstack_core::api::runs::{
    ApplyRunPlanRequest, DeleteRunsRequest, GetRunPlanRequest, GetRunRequest, ListRunsRequest,
    RunPlan, StopRunsRequest,
};

use super::AppState;
use super::auth::{Authenticated, ProjectMember};
use super::body::{JsonBody, OptionalBody, check_bounds};
use super::error::ServerError;
use crate::pipelines::hints::Kind;
use crate::services::runs;
use crate::services::runs::view::RunView;

/// `list`: runs of the caller's projects, newest first.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<ListRunsRequest>,
) -> Result<Json<Vec<RunView>>, ServerError> {
    check_bounds("limit", Some(request.limit.0), 0, runs::MAX_LIST_LIMIT)?;
    let submissions = request.job_submissions_limit;
    check_bounds(
        "job_submissions_limit",
        submissions,
        0,
        runs::MAX_JOB_SUBMISSIONS,
    )?;
    Ok(Json(runs::list(&state.db, &caller, &request).await?))
}

/// `get`: one run by name or id.
pub async fn get(
    State(state): State<AppState>,
    project: ProjectMember,
    OptionalBody(request): OptionalBody<GetRunRequest>,
) -> Result<Json<RunView>, ServerError> {
    let run = runs::get(
        &state.db,
        &project.access,
        request.run_name.as_deref(),
        request.id,
    );
    Ok(Json(run.await?))
}

/// `get_plan`: what applying the spec would do.
pub async fn get_plan(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<GetRunPlanRequest>,
) -> Result<Json<RunPlan>, ServerError> {
    check_bounds("max_offers", request.max_offers, 1, runs::MAX_OFFERS)?;
    let plan = runs::get_plan(
        &state.db,
        &state.local,
        &project.access,
        &project.caller,
        &request,
    );
    Ok(Json(plan.await?))
}

/// `apply` (and its older name `submit`): creates or updates the run.
pub async fn apply(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<ApplyRunPlanRequest>,
) -> Result<Json<RunView>, ServerError> {
    let run = runs::apply(&state.db, &project.access, &project.caller, &request).await?;
    state.hints.hint(Kind::Jobs);
    state.hints.hint(Kind::Runs);
    Ok(Json(run))
}

/// `stop`: stops or aborts active runs; answers `null`.
pub async fn stop(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<StopRunsRequest>,
) -> Result<Json<()>, ServerError> {
    runs::stop(
        &state.db,
        &project.access,
        &project.caller,
        &request.runs_names,
        request.abort,
    )
    .await?;
    state.hints.hint(Kind::Jobs);
    state.hints.hint(Kind::Runs);
    Ok(Json(()))
}

/// `delete`: soft-deletes finished runs; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<DeleteRunsRequest>,
) -> Result<Json<()>, ServerError> {
    runs::delete(
        &state.db,
        &project.access,
        &project.caller,
        &request.runs_names,
    )
    .await?;
    Ok(Json(()))
}
