//! Volumes: `POST /api/volumes/list` and `/api/project/{project_name}/volumes/*`
//! (api.md §2.15).

use axum::Json;
use axum::extract::State;
use dstack_core::api::volumes::{
    CreateVolumeRequest, DeleteVolumesRequest, GetVolumeRequest, ListVolumesRequest, Volume,
};

use super::AppState;
use super::auth::{Authenticated, ProjectMember};
use super::body::{JsonBody, OptionalBody};
use super::error::ServerError;
use crate::services::volumes;

/// `volumes/list`: volumes of every project the caller is a member of.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OptionalBody(request): OptionalBody<ListVolumesRequest>,
) -> Result<Json<Vec<Volume>>, ServerError> {
    Ok(Json(
        volumes::list(state.db.pool(), &caller, request).await?,
    ))
}

/// Project `volumes/list`: the project's live volumes.
pub async fn list_project(
    State(state): State<AppState>,
    project: ProjectMember,
) -> Result<Json<Vec<Volume>>, ServerError> {
    Ok(Json(
        volumes::list_project(state.db.pool(), &project.access).await?,
    ))
}

/// `get`: a volume by name.
pub async fn get(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<GetVolumeRequest>,
) -> Result<Json<Volume>, ServerError> {
    Ok(Json(
        volumes::get(state.db.pool(), &project.access, &request.name).await?,
    ))
}

/// `create`: a new volume, `submitted`.
pub async fn create(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<CreateVolumeRequest>,
) -> Result<Json<Volume>, ServerError> {
    let created = volumes::create(
        state.db.pool(),
        &project.access,
        &project.caller,
        &request.configuration,
    );
    Ok(Json(created.await?))
}

/// `delete`: the named volumes; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<DeleteVolumesRequest>,
) -> Result<Json<()>, ServerError> {
    volumes::delete(
        state.db.pool(),
        &project.access,
        &project.caller,
        &request.names,
    )
    .await?;
    Ok(Json(()))
}
