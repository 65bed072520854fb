//! Projects and their members.
//!
//! Who may call what is decided twice: the API's extractors check the level an endpoint needs
//! (member, manager, admin), and the rules here check what depends on the request (a manager
//! cannot grant `admin`; a non-manager may only remove themselves).

use chrono::Utc;
use dstack_core::api::common::Uuid4;
use dstack_core::api::projects::{
    CreateProjectRequest, ListProjectsRequest, Member, MemberPermissions, MemberSetting, Project,
    ProjectRole, ProjectsList, UpdateProjectRequest,
};
use dstack_core::api::users::GlobalRole;
use sqlx::{Any, AnyConnection, AnyPool, Transaction};

use super::backends;
use super::events::{self, EventTarget};
use super::users::{Caller, to_user};
use super::{ServiceError, check_list_filters, is_valid_name};
use crate::db::members::{self, MemberRow};
use crate::db::projects::{self as project_rows, ProjectFilter, ProjectRow};
use crate::db::users::UserRow;
use crate::db::{self, CreatedAtCursor, users};
use crate::server_config::DefaultPermissions;

/// A project as one caller sees it: the row and the caller's role in it.
#[derive(Debug, Clone)]
pub struct ProjectAccess {
    /// The project.
    pub project: ProjectRow,
    /// The caller's project role, if a member.
    pub role: Option<ProjectRole>,
    /// Whether the caller is a global admin, who passes every project check.
    pub global_admin: bool,
    /// The server's `default_permissions`, which members' permissions follow.
    pub permissions: DefaultPermissions,
}

impl ProjectAccess {
    /// A member, or a global admin.
    pub fn is_member(&self) -> bool {
        self.global_admin || self.role.is_some()
    }

    /// A project admin or manager, or a global admin.
    pub fn is_manager(&self) -> bool {
        self.global_admin || matches!(self.role, Some(ProjectRole::Admin | ProjectRole::Manager))
    }

    /// A project admin, or a global admin.
    pub fn is_admin(&self) -> bool {
        self.global_admin || self.role == Some(ProjectRole::Admin)
    }

    /// Whether the caller may create and change SSH fleets: admins always, other members
    /// when `allow_non_admins_manage_ssh_fleets` is on.
    pub fn can_manage_ssh_fleets(&self) -> bool {
        self.is_admin()
            || (self.role.is_some() && self.permissions.allow_non_admins_manage_ssh_fleets)
    }
}

/// The named project with the caller's role in it; `None` when it does not exist.
pub async fn find_access(
    pool: &AnyPool,
    caller: &Caller,
    project_name: &str,
    permissions: &DefaultPermissions,
) -> Result<Option<ProjectAccess>, ServiceError> {
    let Some(project) = project_rows::find_by_name(pool, project_name).await? else {
        return Ok(None);
    };
    let role = members::find_role(pool, project.id, caller.user.id).await?;
    Ok(Some(ProjectAccess {
        project,
        role,
        global_admin: caller.is_admin(),
        permissions: *permissions,
    }))
}

fn to_member(row: &MemberRow, permissions: &DefaultPermissions) -> Member {
    let admin = row.role == ProjectRole::Admin || row.user.global_role == GlobalRole::Admin;
    Member {
        user: to_user(&row.user),
        project_role: row.role,
        permissions: MemberPermissions {
            can_manage_ssh_fleets: admin || permissions.allow_non_admins_manage_ssh_fleets,
            can_manage_secrets: admin
                || (row.role == ProjectRole::Manager && permissions.allow_managers_manage_secrets),
        },
    }
}

fn to_project(
    row: &ProjectRow,
    members: &[MemberRow],
    permissions: &DefaultPermissions,
) -> Project {
    Project {
        project_id: row.id,
        project_name: row.name.clone(),
        owner: to_user(&row.owner),
        created_at: Some(row.created_at),
        backends: Vec::new(),
        members: members
            .iter()
            .map(|member| to_member(member, permissions))
            .collect(),
        is_public: row.is_public,
        templates_repo: row.templates_repo.clone(),
    }
}

/// A project with its members and backends, as `get` and every member change answer.
pub async fn get(
    pool: &AnyPool,
    project: &ProjectRow,
    permissions: &DefaultPermissions,
) -> Result<Project, ServiceError> {
    let members = members::list(pool, project.id).await?;
    let mut project_view = to_project(project, &members, permissions);
    project_view.backends = backends::list_infos(pool, project).await?;
    Ok(project_view)
}

/// `projects/list`: every project for admins; otherwise the caller's projects, and public
/// ones when `include_not_joined`. Members and backends are left empty, as dstack does.
pub async fn list(
    pool: &AnyPool,
    caller: &Caller,
    request: ListProjectsRequest,
) -> Result<ProjectsList, ServiceError> {
    check_list_filters(request.name_pattern.as_deref(), request.page.limit.0)?;
    let page = request.page;
    let filter = ProjectFilter {
        member_id: (!caller.is_admin()).then(|| caller.user.id.to_string()),
        with_public: request.include_not_joined,
        name_contains: request.name_pattern.filter(|p| !p.is_empty()),
    };
    let cursor = CreatedAtCursor::from(&page);
    let rows = project_rows::list_page(pool, &filter, &cursor).await?;
    let no_members = DefaultPermissions::default();
    let projects = rows
        .iter()
        .map(|row| to_project(row, &[], &no_members))
        .collect();
    if !request.return_total_count {
        return Ok(ProjectsList::Bare(projects));
    }
    let total = project_rows::count(pool, &filter).await?;
    Ok(ProjectsList::Counted {
        total_count: u64::try_from(total).unwrap_or_default(),
        projects,
    })
}

/// `projects/create`: the caller becomes the project's admin.
pub async fn create(
    pool: &AnyPool,
    caller: &Caller,
    request: &CreateProjectRequest,
) -> Result<Project, ServiceError> {
    if !is_valid_name(&request.project_name, 50) {
        return Err(ServiceError::Invalid(
            "Project name should match regex '^[a-zA-Z0-9-_]{1,50}$'".to_owned(),
        ));
    }
    let row = ProjectRow {
        id: Uuid4::new_random(),
        name: request.project_name.clone(),
        owner: caller.user.clone(),
        created_at: Utc::now(),
        is_public: request.is_public,
        templates_repo: request.templates_repo.clone(),
    };
    let mut tx = write_only(pool).await?;
    project_rows::insert(&mut *tx, &row)
        .await
        .map_err(|error| match error {
            db::DbError::UniqueViolation => {
                ServiceError::AlreadyExists("Project already exists".to_owned())
            }
            other => other.into(),
        })?;
    members::upsert(&mut *tx, row.id, caller.user.id, ProjectRole::Admin).await?;
    let target = [EventTarget::project(&row)];
    events::record(&mut tx, Some(caller.user.id), "Project created", &target).await?;
    tx.commit().await?;
    // The only member is the creator, a project admin, whom the permissions do not limit.
    get(pool, &row, &DefaultPermissions::default()).await
}

/// `projects/delete`: global admins may delete any project, others only those they
/// administer; every name must exist.
pub async fn delete(pool: &AnyPool, caller: &Caller, names: &[String]) -> Result<(), ServiceError> {
    let mut doomed = Vec::with_capacity(names.len());
    for name in names {
        let project = project_rows::find_by_name(pool, name)
            .await?
            .ok_or_else(|| project_not_found(name))?;
        let role = members::find_role(pool, project.id, caller.user.id).await?;
        if !caller.is_admin() && role != Some(ProjectRole::Admin) {
            return Err(ServiceError::Forbidden);
        }
        doomed.push(project);
    }
    // Reads above, writes only in the transaction: see `write_only`.
    let mut tx = write_only(pool).await?;
    for project in doomed {
        if !project_rows::mark_deleted(&mut *tx, project.id).await? {
            return Err(project_not_found(&project.name));
        }
        members::remove_all(&mut *tx, project.id).await?;
        let target = [EventTarget::project(&project)];
        events::record(&mut tx, Some(caller.user.id), "Project deleted", &target).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn project_not_found(name: &str) -> ServiceError {
    ServiceError::NotFound(format!("Project {name} not found"))
}

/// A transaction for writes only. On SQLite a transaction that reads first cannot take the
/// write lock later if another writer committed meanwhile, so rules read before it begins.
async fn write_only(pool: &AnyPool) -> Result<Transaction<'static, Any>, ServiceError> {
    Ok(pool.begin().await?)
}

/// Looks up the users of `settings` (by name or e-mail) and checks that the caller may give
/// each role: only project admins grant `admin`; a non-manager may add only themselves as
/// `user` (public projects).
async fn resolve_members(
    pool: &AnyPool,
    caller: &Caller,
    access: &ProjectAccess,
    settings: &[MemberSetting],
) -> Result<Vec<(UserRow, ProjectRole)>, ServiceError> {
    let mut resolved = Vec::with_capacity(settings.len());
    for setting in settings {
        let user = users::find_by_name_or_email(pool, &setting.username)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!("User {} not found", setting.username))
            })?;
        let allowed = if access.is_admin() {
            true
        } else if access.is_manager() {
            setting.project_role != ProjectRole::Admin
        } else {
            user.id == caller.user.id && setting.project_role == ProjectRole::User
        };
        if !allowed {
            return Err(ServiceError::Forbidden);
        }
        resolved.push((user, setting.project_role));
    }
    Ok(resolved)
}

/// `projects/{p}/set_members`: the member list becomes exactly `settings`.
pub async fn set_members(
    pool: &AnyPool,
    caller: &Caller,
    access: &ProjectAccess,
    settings: &[MemberSetting],
) -> Result<Project, ServiceError> {
    let resolved = resolve_members(pool, caller, access, settings).await?;
    if !access.is_admin() {
        // A manager may not take the admin role away from anyone either.
        let current = members::list(pool, access.project.id).await?;
        let demotes_admin = current.iter().any(|member| {
            member.role == ProjectRole::Admin
                && !resolved
                    .iter()
                    .any(|(user, role)| user.id == member.user.id && *role == ProjectRole::Admin)
        });
        if demotes_admin {
            return Err(ServiceError::Forbidden);
        }
    }
    let before = members::list(pool, access.project.id).await?;
    let mut tx = write_only(pool).await?;
    members::remove_all(&mut *tx, access.project.id).await?;
    for (user, role) in &resolved {
        members::upsert(&mut *tx, access.project.id, user.id, *role).await?;
    }
    for gone in before
        .iter()
        .filter(|member| !resolved.iter().any(|(user, _)| user.id == member.user.id))
    {
        record_member(&mut tx, caller, access, &gone.user, "Member removed").await?;
    }
    record_member_roles(&mut tx, caller, access, &before, &resolved).await?;
    tx.commit().await?;
    get(pool, &access.project, &access.permissions).await
}

/// `projects/{p}/add_members`: adds members or changes their roles.
pub async fn add_members(
    pool: &AnyPool,
    caller: &Caller,
    access: &ProjectAccess,
    settings: &[MemberSetting],
) -> Result<Project, ServiceError> {
    let resolved = resolve_members(pool, caller, access, settings).await?;
    let before = members::list(pool, access.project.id).await?;
    let mut tx = write_only(pool).await?;
    for (user, role) in &resolved {
        members::upsert(&mut *tx, access.project.id, user.id, *role).await?;
    }
    record_member_roles(&mut tx, caller, access, &before, &resolved).await?;
    tx.commit().await?;
    get(pool, &access.project, &access.permissions).await
}

/// `projects/{p}/remove_members`: managers remove anyone but admins (unless admin
/// themselves); other members may remove only themselves.
pub async fn remove_members(
    pool: &AnyPool,
    caller: &Caller,
    access: &ProjectAccess,
    usernames: &[String],
) -> Result<Project, ServiceError> {
    let mut leaving = Vec::with_capacity(usernames.len());
    for name in usernames {
        let user = users::find_by_name_or_email(pool, name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("User {name} not found")))?;
        let role = members::find_role(pool, access.project.id, user.id).await?;
        let allowed = user.id == caller.user.id
            || access.is_admin()
            || (access.is_manager() && role != Some(ProjectRole::Admin));
        if !allowed {
            return Err(ServiceError::Forbidden);
        }
        leaving.push((user, name));
    }
    let mut tx = write_only(pool).await?;
    for (user, name) in leaving {
        if !members::remove(&mut *tx, access.project.id, user.id).await? {
            return Err(ServiceError::Invalid(format!(
                "User {name} is not a member of the project"
            )));
        }
        record_member(&mut tx, caller, access, &user, "Member removed").await?;
    }
    tx.commit().await?;
    get(pool, &access.project, &access.permissions).await
}

/// Records that a member joined, changed role or left, about the project and the user.
async fn record_member(
    conn: &mut AnyConnection,
    caller: &Caller,
    access: &ProjectAccess,
    user: &UserRow,
    message: &str,
) -> Result<(), ServiceError> {
    let targets = [
        EventTarget::project(&access.project),
        EventTarget::user(user),
    ];
    events::record(conn, Some(caller.user.id), message, &targets).await
}

/// Records each member of `after` who is new or has a new role compared with `before`.
async fn record_member_roles(
    conn: &mut AnyConnection,
    caller: &Caller,
    access: &ProjectAccess,
    before: &[MemberRow],
    after: &[(UserRow, ProjectRole)],
) -> Result<(), ServiceError> {
    for (user, role) in after {
        let old = before.iter().find(|member| member.user.id == user.id);
        let message = match old {
            None => format!("Member added as {}", members::role_name(*role)),
            Some(member) if member.role != *role => {
                format!("Member role changed to {}", members::role_name(*role))
            }
            Some(_) => continue,
        };
        record_member(conn, caller, access, user, &message).await?;
    }
    Ok(())
}

/// `projects/{p}/update`: visibility and templates repo.
pub async fn update(
    pool: &AnyPool,
    caller: &Caller,
    access: &ProjectAccess,
    request: &UpdateProjectRequest,
) -> Result<Project, ServiceError> {
    let mut project = access.project.clone();
    let mut changed = Vec::new();
    if let Some(is_public) = request.is_public
        && is_public != project.is_public
    {
        project.is_public = is_public;
        changed.push(format!("is_public={is_public}"));
    }
    let repo = if request.reset_templates_repo {
        None
    } else {
        request
            .templates_repo
            .clone()
            .or_else(|| project.templates_repo.clone())
    };
    if repo != project.templates_repo {
        project.templates_repo = repo;
        changed.push("templates_repo".to_owned());
    }
    let mut tx = write_only(pool).await?;
    project_rows::update_settings(&mut *tx, &project).await?;
    let message = if changed.is_empty() {
        "Project updated, nothing changed".to_owned()
    } else {
        format!("Project updated: {}", changed.join(", "))
    };
    let target = [EventTarget::project(&project)];
    events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
    tx.commit().await?;
    get(pool, &project, &access.permissions).await
}

/// Creates a project owned by `owner` unless one with this name exists; for first start and
/// the server's config file.
pub async fn ensure(pool: &AnyPool, owner: &Caller, name: &str) -> Result<bool, ServiceError> {
    if project_rows::find_by_name(pool, name).await?.is_some() {
        return Ok(false);
    }
    let request = CreateProjectRequest {
        project_name: name.to_owned(),
        is_public: false,
        templates_repo: None,
    };
    match create(pool, owner, &request).await {
        Ok(_) => Ok(true),
        // Another replica starting beside this one made it first.
        Err(ServiceError::AlreadyExists(_)) => Ok(false),
        Err(other) => Err(other),
    }
}
