//! `POST /api/project/{project_name}/gpus/list` (api.md §2.11).

use axum::Json;
use axum::extract::State;
use dstack_core::api::gpus::{GpuGroups, ListGpusRequest};

use super::AppState;
use super::auth::ProjectMember;
use super::body::JsonBody;
use super::error::ServerError;
use crate::services::gpus;

/// `list`: the offers for the run spec, grouped by GPU.
pub async fn list(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<ListGpusRequest>,
) -> Result<Json<GpuGroups>, ServerError> {
    Ok(Json(
        gpus::list(&state.db, &state.local, &project.access, &request).await?,
    ))
}
