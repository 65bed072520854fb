//! `POST /api/project/{project_name}/templates/list` (api.md §2.18, web UI only).

use axum::Json;
use dstack_core::api::templates::UiTemplate;

use super::auth::ProjectMember;

/// `list`: the project's UI templates. They come from a `templates_repo` git repository,
/// which this server does not read, so the list is empty, as for a project without one.
pub async fn list(_project: ProjectMember) -> Json<Vec<UiTemplate>> {
    Json(Vec::new())
}
