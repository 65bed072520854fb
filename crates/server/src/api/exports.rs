//! Exports and imports: `POST /api/project/{project_name}/{exports,imports}/*` (api.md §2.19).
//! dstack's open-source server refuses them all with one message, after the usual auth and
//! body checks; so does this one.

use axum::Json;
use dstack_core::api::exports::{
    CreateExportRequest, DeleteExportRequest, DeleteImportRequest, Export, ExportsList,
    ImportsList, UpdateExportRequest,
};

use super::auth::{ProjectAdmin, ProjectMember};
use super::body::JsonBody;
use super::error::ServerError;
use crate::services::ServiceError;

/// dstack's answer to every exports call.
const UNSUPPORTED: &str = "This dstack server does not support exports. Export support is \
                           available in dstack Sky and dstack Factory.";

fn unsupported() -> ServerError {
    ServiceError::Invalid(UNSUPPORTED.to_owned()).into()
}

/// `exports/create`.
pub async fn create(
    _project: ProjectAdmin,
    JsonBody(_request): JsonBody<CreateExportRequest>,
) -> Result<Json<Export>, ServerError> {
    Err(unsupported())
}

/// `exports/update`.
pub async fn update(
    _project: ProjectAdmin,
    JsonBody(_request): JsonBody<UpdateExportRequest>,
) -> Result<Json<Export>, ServerError> {
    Err(unsupported())
}

/// `exports/delete`.
pub async fn delete(
    _project: ProjectAdmin,
    JsonBody(_request): JsonBody<DeleteExportRequest>,
) -> Result<Json<()>, ServerError> {
    Err(unsupported())
}

/// `exports/list`.
pub async fn list(_project: ProjectMember) -> Result<Json<ExportsList>, ServerError> {
    Err(unsupported())
}

/// `imports/list`.
pub async fn list_imports(_project: ProjectMember) -> Result<Json<ImportsList>, ServerError> {
    Err(unsupported())
}

/// `imports/delete`.
pub async fn delete_import(
    _project: ProjectAdmin,
    JsonBody(_request): JsonBody<DeleteImportRequest>,
) -> Result<Json<()>, ServerError> {
    Err(unsupported())
}
