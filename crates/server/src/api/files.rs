//! File archives: `POST /api/files/*` (api.md §2.7).

use axum::Json;
use axum::extract::State;
use dstack_core::api::files::{FileArchive, GetArchiveByHashRequest};

use super::AppState;
use super::auth::Authenticated;
use super::body::JsonBody;
use super::error::ServerError;
use super::uploads::UploadedFile;
use crate::services::files;

/// `upload_archive`: stores the caller's archive, once per hash.
pub async fn upload_archive(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    file: UploadedFile,
) -> Result<Json<FileArchive>, ServerError> {
    let archive = files::upload_archive(&state.db, &caller, &file.hash, &file.bytes);
    Ok(Json(archive.await?))
}

/// `get_archive_by_hash`: the caller's archive with this hash.
pub async fn get_archive_by_hash(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<GetArchiveByHashRequest>,
) -> Result<Json<FileArchive>, ServerError> {
    let archive = files::get_archive_by_hash(&state.db, &caller, &request.hash);
    Ok(Json(archive.await?))
}
