//! Repos: `POST /api/project/{project_name}/repos/*` (api.md §2.6).

use axum::Json;
use axum::extract::State;
use dstack_core::api::repos::{
    DeleteReposRequest, GetRepoRequest, InitRepoRequest, RepoHead, RepoHeadWithCreds,
    UploadCodeQuery,
};

use super::AppState;
use super::auth::ProjectMember;
use super::body::{JsonBody, QueryParams};
use super::error::ServerError;
use super::uploads::UploadedFile;
use crate::services::repos;

/// `list`: the project's repos.
pub async fn list(
    State(state): State<AppState>,
    project: ProjectMember,
) -> Result<Json<Vec<RepoHead>>, ServerError> {
    Ok(Json(repos::list(&state.db, &project.access).await?))
}

/// `get`: one repo, with the caller's creds on request.
pub async fn get(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<GetRepoRequest>,
) -> Result<Json<RepoHeadWithCreds>, ServerError> {
    let repo = repos::get(
        &state.db,
        &state.encryption,
        &project.access,
        &project.caller,
        &request.repo_id,
        request.include_creds,
    );
    Ok(Json(repo.await?))
}

/// `init`: creates or updates the repo and the caller's creds; answers `null`.
pub async fn init(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<InitRepoRequest>,
) -> Result<Json<()>, ServerError> {
    repos::init(
        &state.db,
        &state.encryption,
        &project.access,
        &project.caller,
        &request.repo_id,
        &request.repo_info,
        request.repo_creds.as_ref(),
    )
    .await?;
    Ok(Json(()))
}

/// `delete`: the named repos; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<DeleteReposRequest>,
) -> Result<Json<()>, ServerError> {
    repos::delete(&state.db, &project.access, &request.repos_ids).await?;
    Ok(Json(()))
}

/// `upload_code?repo_id=`: stores a code blob; answers `null`.
pub async fn upload_code(
    State(state): State<AppState>,
    project: ProjectMember,
    QueryParams(query): QueryParams<UploadCodeQuery>,
    file: UploadedFile,
) -> Result<Json<()>, ServerError> {
    repos::upload_code(
        &state.db,
        &project.access,
        &query.repo_id,
        &file.hash,
        &file.bytes,
    )
    .await?;
    Ok(Json(()))
}
