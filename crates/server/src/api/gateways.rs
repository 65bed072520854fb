//! Gateways: `/api/project/{project_name}/gateways/*` (api.md §2.16). Reads need a member (or a
//! public project); changes need the project's admin.

use axum::Json;
use axum::extract::State;
use dstack_core::api::gateways::{
    ApplyGatewayPlanRequest, CreateGatewayRequest, DeleteGatewaysRequest, Gateway, GatewayPlan,
    GetGatewayPlanRequest, GetGatewayRequest, ListGatewaysRequest, SetDefaultGatewayRequest,
    SetWildcardDomainRequest,
};

use super::AppState;
use super::auth::{MemberOrPublic, ProjectAdmin};
use super::body::{JsonBody, OptionalBody};
use super::error::ServerError;
use crate::services::gateways;

/// `list`: the project's gateways.
pub async fn list(
    State(state): State<AppState>,
    project: MemberOrPublic,
    OptionalBody(_request): OptionalBody<ListGatewaysRequest>,
) -> Result<Json<Vec<Gateway>>, ServerError> {
    Ok(Json(
        gateways::list(state.db.pool(), &project.access).await?,
    ))
}

/// `get`: a gateway by name.
pub async fn get(
    State(state): State<AppState>,
    project: MemberOrPublic,
    JsonBody(request): JsonBody<GetGatewayRequest>,
) -> Result<Json<Gateway>, ServerError> {
    Ok(Json(
        gateways::get(state.db.pool(), &project.access, &request.name).await?,
    ))
}

/// `get_plan`: what applying the spec would do.
pub async fn get_plan(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<GetGatewayPlanRequest>,
) -> Result<Json<GatewayPlan>, ServerError> {
    let plan = gateways::get_plan(
        state.db.pool(),
        &project.access,
        &project.caller,
        request.spec,
    );
    Ok(Json(plan.await?))
}

/// `apply`: creates or updates the gateway.
pub async fn apply(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<ApplyGatewayPlanRequest>,
) -> Result<Json<Gateway>, ServerError> {
    Ok(Json(
        gateways::apply(state.db.pool(), &project.access, &project.caller, request).await?,
    ))
}

/// `create` (deprecated): a new gateway.
pub async fn create(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<CreateGatewayRequest>,
) -> Result<Json<Gateway>, ServerError> {
    let created = gateways::create(
        state.db.pool(),
        &project.access,
        &project.caller,
        &request.configuration,
        None,
    );
    Ok(Json(created.await?))
}

/// `delete`: the named gateways; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<DeleteGatewaysRequest>,
) -> Result<Json<()>, ServerError> {
    gateways::delete(
        state.db.pool(),
        &project.access,
        &project.caller,
        &request.names,
    )
    .await?;
    Ok(Json(()))
}

/// `set_default`: the project's default gateway; answers `null`.
pub async fn set_default(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<SetDefaultGatewayRequest>,
) -> Result<Json<()>, ServerError> {
    gateways::set_default(state.db.pool(), &project.access, &request.name).await?;
    Ok(Json(()))
}

/// `set_wildcard_domain` (deprecated): the gateway's domain.
pub async fn set_wildcard_domain(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<SetWildcardDomainRequest>,
) -> Result<Json<Gateway>, ServerError> {
    let updated = gateways::set_wildcard_domain(
        state.db.pool(),
        &project.access,
        &request.name,
        &request.wildcard_domain,
    );
    Ok(Json(updated.await?))
}
