//! Secrets: `POST /api/project/{project_name}/secrets/*` (api.md §2.14). The path needs a
//! project manager; the service then asks for the right to manage secrets.

use axum::Json;
use axum::extract::State;
use dstack_core::api::secrets::{
    CreateOrUpdateSecretRequest, DeleteSecretsRequest, GetSecretRequest, Secret,
};

use super::AppState;
use super::auth::ProjectManager;
use super::body::JsonBody;
use super::error::ServerError;
use crate::services::secrets;

/// `list`: every secret of the project, values hidden.
pub async fn list(
    State(state): State<AppState>,
    project: ProjectManager,
) -> Result<Json<Vec<Secret>>, ServerError> {
    Ok(Json(
        secrets::list(state.db.pool(), &project.access, &state.permissions).await?,
    ))
}

/// `get`: one secret with its value.
pub async fn get(
    State(state): State<AppState>,
    project: ProjectManager,
    JsonBody(request): JsonBody<GetSecretRequest>,
) -> Result<Json<Secret>, ServerError> {
    let found = secrets::get(
        state.db.pool(),
        &state.encryption,
        &project.access,
        &state.permissions,
        &request.name,
    );
    Ok(Json(found.await?))
}

/// `create_or_update`: sets the value, creating the secret when new.
pub async fn create_or_update(
    State(state): State<AppState>,
    project: ProjectManager,
    JsonBody(request): JsonBody<CreateOrUpdateSecretRequest>,
) -> Result<Json<Secret>, ServerError> {
    let done = secrets::create_or_update(
        state.db.pool(),
        &state.encryption,
        &project.caller,
        &project.access,
        &state.permissions,
        &request.name,
        &request.value,
    );
    Ok(Json(done.await?))
}

/// `delete`: the named secrets; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    project: ProjectManager,
    JsonBody(request): JsonBody<DeleteSecretsRequest>,
) -> Result<Json<()>, ServerError> {
    secrets::delete(
        state.db.pool(),
        &project.caller,
        &project.access,
        &state.permissions,
        &request.secrets_names,
    )
    .await?;
    Ok(Json(()))
}
