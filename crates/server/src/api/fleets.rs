//! Fleets: `POST /api/fleets/list` and `/api/project/{project_name}/fleets/*` (api.md §2.9).

use axum::Json;
use axum::extract::State;
use dstack_core::api::fleets::{
    ApplyFleetPlanRequest, DeleteFleetInstancesRequest, DeleteFleetsRequest, Fleet, FleetPlan,
    GetFleetPlanRequest, GetFleetRequest, ListFleetsRequest, ListProjectFleetsRequest,
};

use super::AppState;
use super::auth::{Authenticated, ProjectMember};
use super::body::{JsonBody, OptionalBody};
use super::error::ServerError;
use crate::pipelines::hints::Kind;
use crate::services::fleets;

/// `fleets/list`: fleets of every project the caller is a member of.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OptionalBody(request): OptionalBody<ListFleetsRequest>,
) -> Result<Json<Vec<Fleet>>, ServerError> {
    Ok(Json(fleets::list(state.db.pool(), &caller, request).await?))
}

/// Project `fleets/list`: the project's live fleets.
pub async fn list_project(
    State(state): State<AppState>,
    project: ProjectMember,
    OptionalBody(_request): OptionalBody<ListProjectFleetsRequest>,
) -> Result<Json<Vec<Fleet>>, ServerError> {
    Ok(Json(
        fleets::list_project(state.db.pool(), &project.access).await?,
    ))
}

/// `get`: a fleet by name or id.
pub async fn get(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<GetFleetRequest>,
) -> Result<Json<Fleet>, ServerError> {
    Ok(Json(
        fleets::get(state.db.pool(), &project.access, &request).await?,
    ))
}

/// `get_plan`: what applying the spec would do.
pub async fn get_plan(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<GetFleetPlanRequest>,
) -> Result<Json<FleetPlan>, ServerError> {
    let plan = fleets::get_plan(
        &state.db,
        &state.local,
        &project.access,
        &project.caller,
        request.spec,
    );
    Ok(Json(plan.await?))
}

/// `apply`: creates or updates the fleet.
pub async fn apply(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<ApplyFleetPlanRequest>,
) -> Result<Json<Fleet>, ServerError> {
    let fleet = fleets::apply(
        state.db.pool(),
        &state.local,
        &project.access,
        &project.caller,
        request,
    )
    .await?;
    state.hints.hint(Kind::Instances);
    Ok(Json(fleet))
}

/// `delete`: the named fleets; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<DeleteFleetsRequest>,
) -> Result<Json<()>, ServerError> {
    fleets::delete(
        state.db.pool(),
        &project.access,
        &project.caller,
        &request.names,
    )
    .await?;
    state.hints.hint(Kind::Instances);
    state.hints.hint(Kind::Fleets);
    Ok(Json(()))
}

/// `delete_instances`: some instances of one fleet; answers `null`.
pub async fn delete_instances(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<DeleteFleetInstancesRequest>,
) -> Result<Json<()>, ServerError> {
    let done = fleets::delete_instances(
        state.db.pool(),
        &project.access,
        &project.caller,
        &request.name,
        &request.instance_nums,
    );
    done.await?;
    state.hints.hint(Kind::Instances);
    Ok(Json(()))
}
