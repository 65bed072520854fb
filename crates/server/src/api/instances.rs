//! Instances: `POST /api/instances/list` and `/api/project/{project_name}/instances/get`
//! (api.md §2.10).

use axum::Json;
use axum::extract::State;
use dstack_core::api::instances::{GetInstanceRequest, Instance, ListInstancesRequest};

use super::AppState;
use super::auth::{Authenticated, ProjectMember};
use super::body::{JsonBody, OptionalBody};
use super::error::ServerError;
use crate::services::instances;

/// `instances/list`: instances of every project the caller is a member of.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OptionalBody(request): OptionalBody<ListInstancesRequest>,
) -> Result<Json<Vec<Instance>>, ServerError> {
    Ok(Json(
        instances::list(state.db.pool(), &caller, request).await?,
    ))
}

/// `get`: one instance of the project.
pub async fn get(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<GetInstanceRequest>,
) -> Result<Json<Instance>, ServerError> {
    Ok(Json(
        instances::get(state.db.pool(), &project.access, request.id).await?,
    ))
}
