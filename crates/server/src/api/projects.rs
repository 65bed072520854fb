//! Projects: `POST /api/projects/*` and `POST /api/projects/{project_name}/*`.

use axum::Json;
use axum::extract::State;
use dstack_core::api::projects::{
    CreateProjectRequest, DeleteProjectsRequest, ListProjectsRequest, Project, ProjectsList,
    RemoveMembersRequest, SetMembersRequest, UpdateProjectRequest,
};

use super::AppState;
use super::auth::{
    Authenticated, ManagerOrPublic, MemberOrPublic, ProjectAdmin, ProjectManager, ProjectMember,
};
use super::body::{JsonBody, OptionalBody};
use super::error::ServerError;
use crate::services::projects;

/// `list`: the projects the caller may see; members and backends left empty.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OptionalBody(request): OptionalBody<ListProjectsRequest>,
) -> Result<Json<ProjectsList>, ServerError> {
    Ok(Json(
        projects::list(state.db.pool(), &caller, request).await?,
    ))
}

/// `create`: a new project with the caller as its admin.
pub async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<CreateProjectRequest>,
) -> Result<Json<Project>, ServerError> {
    Ok(Json(
        projects::create(state.db.pool(), &caller, &request).await?,
    ))
}

/// `delete`: projects the caller administers; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<DeleteProjectsRequest>,
) -> Result<Json<()>, ServerError> {
    projects::delete(state.db.pool(), &caller, &request.projects_names).await?;
    Ok(Json(()))
}

/// `{p}/get`: the project with its members.
pub async fn get(
    State(state): State<AppState>,
    project: MemberOrPublic,
) -> Result<Json<Project>, ServerError> {
    Ok(Json(
        projects::get(
            state.db.pool(),
            &project.access.project,
            &project.access.permissions,
        )
        .await?,
    ))
}

/// `{p}/set_members`: replaces the member list.
pub async fn set_members(
    State(state): State<AppState>,
    project: ProjectManager,
    JsonBody(request): JsonBody<SetMembersRequest>,
) -> Result<Json<Project>, ServerError> {
    let pool = state.db.pool();
    let done = projects::set_members(pool, &project.caller, &project.access, &request.members);
    Ok(Json(done.await?))
}

/// `{p}/add_members`: adds members or changes their roles.
pub async fn add_members(
    State(state): State<AppState>,
    project: ManagerOrPublic,
    JsonBody(request): JsonBody<SetMembersRequest>,
) -> Result<Json<Project>, ServerError> {
    let pool = state.db.pool();
    let done = projects::add_members(pool, &project.caller, &project.access, &request.members);
    Ok(Json(done.await?))
}

/// `{p}/remove_members`: managers remove others, members themselves.
pub async fn remove_members(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<RemoveMembersRequest>,
) -> Result<Json<Project>, ServerError> {
    let pool = state.db.pool();
    let done = projects::remove_members(pool, &project.caller, &project.access, &request.usernames);
    Ok(Json(done.await?))
}

/// `{p}/update`: visibility and templates repo (project admins).
pub async fn update(
    State(state): State<AppState>,
    project: ProjectAdmin,
    JsonBody(request): JsonBody<UpdateProjectRequest>,
) -> Result<Json<Project>, ServerError> {
    Ok(Json(
        projects::update(state.db.pool(), &project.caller, &project.access, &request).await?,
    ))
}
