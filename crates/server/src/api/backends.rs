//! Backends: `POST /api/backends/list_types` (no auth) and
//! `POST /api/project/{project_name}/backends/*` (project admins, api.md §2.5).

use axum::Json;
use axum::extract::{Path, State};
use dstack_core::api::backends::{
    BackendConfig, BackendTypes, BackendYaml, BackendYamlRequest, DeleteBackendsRequest,
};

use super::AppState;
use super::auth::ProjectAdmin;
use super::body::JsonBody;
use super::error::ServerError;
use crate::services::backends;

/// `list_types`: the backend types this server can create.
pub async fn list_types() -> Json<BackendTypes> {
    Json(backends::IMPLEMENTED.to_vec())
}

/// `create`: a new backend; answers its configuration with credentials.
pub async fn create(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(config): JsonBody<BackendConfig>,
) -> Result<Json<BackendConfig>, ServerError> {
    let pool = state.db.pool();
    let done = backends::create(pool, &state.encryption, &project.access.project, config);
    Ok(Json(done.await?))
}

/// `update`: replaces a backend's configuration.
pub async fn update(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(config): JsonBody<BackendConfig>,
) -> Result<Json<BackendConfig>, ServerError> {
    let pool = state.db.pool();
    let done = backends::update(pool, &state.encryption, &project.access.project, config);
    Ok(Json(done.await?))
}

/// `create_yaml`: `create` from YAML; answers `null`.
pub async fn create_yaml(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<BackendYamlRequest>,
) -> Result<Json<()>, ServerError> {
    let (pool, yaml) = (state.db.pool(), &request.config_yaml);
    backends::create_yaml(pool, &state.encryption, &project.access.project, yaml).await?;
    Ok(Json(()))
}

/// `update_yaml`: `update` from YAML; answers `null`.
pub async fn update_yaml(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<BackendYamlRequest>,
) -> Result<Json<()>, ServerError> {
    let (pool, yaml) = (state.db.pool(), &request.config_yaml);
    backends::update_yaml(pool, &state.encryption, &project.access.project, yaml).await?;
    Ok(Json(()))
}

/// `delete`: removes backends; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<DeleteBackendsRequest>,
) -> Result<Json<()>, ServerError> {
    let done = backends::delete(
        state.db.pool(),
        &project.access.project,
        &request.backends_names,
    );
    done.await?;
    Ok(Json(()))
}

/// `{backend_name}/config_info`: the configuration with credentials.
pub async fn config_info(
    State(state): State<AppState>,
    project: ProjectAdmin,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<BackendConfig>, ServerError> {
    let pool = state.db.pool();
    let found = backends::config_info(pool, &state.encryption, &project.access.project, &name);
    Ok(Json(found.await?))
}

/// `{backend_name}/get_yaml`: the configuration with credentials, as YAML.
pub async fn get_yaml(
    State(state): State<AppState>,
    project: ProjectAdmin,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<BackendYaml>, ServerError> {
    let pool = state.db.pool();
    let found = backends::get_yaml(pool, &state.encryption, &project.access.project, &name);
    Ok(Json(found.await?))
}
