//! The `members` table: who belongs to which project, in which role. Rows are removed, not
//! marked.

use dstack_core::api::common::Uuid4;
use dstack_core::api::projects::ProjectRole;
use sqlx::{Any, Executor, Row};

use super::DbError;
use super::users::{self, UserRow};

/// A member of a project, with their user row.
#[derive(Debug, Clone)]
pub struct MemberRow {
    /// The user.
    pub user: UserRow,
    /// Their role.
    pub role: ProjectRole,
}

/// The stored name of a role.
pub fn role_name(role: ProjectRole) -> &'static str {
    match role {
        ProjectRole::Admin => "admin",
        ProjectRole::Manager => "manager",
        ProjectRole::User => "user",
    }
}

fn parse_role(text: &str) -> Result<ProjectRole, DbError> {
    match text {
        "admin" => Ok(ProjectRole::Admin),
        "manager" => Ok(ProjectRole::Manager),
        "user" => Ok(ProjectRole::User),
        other => Err(DbError::Corrupt {
            column: "members.project_role",
            value: other.to_owned(),
        }),
    }
}

/// The role of a user in a project, if they are a member.
pub async fn find_role<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    user_id: Uuid4,
) -> Result<Option<ProjectRole>, DbError> {
    let role: Option<String> = sqlx::query_scalar(
        "SELECT project_role FROM members WHERE project_id = $1 AND user_id = $2",
    )
    .bind(project_id.to_string())
    .bind(user_id.to_string())
    .fetch_optional(db)
    .await?;
    role.as_deref().map(parse_role).transpose()
}

/// The live members of a project, in the order they joined.
pub async fn list<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
) -> Result<Vec<MemberRow>, DbError> {
    let rows = sqlx::query(
        "SELECT u.id, u.name, u.created_at, u.global_role, u.email, u.active, \
         u.ssh_public_key, u.ssh_private_key, m.project_role \
         FROM members m JOIN users u ON u.id = m.user_id \
         WHERE m.project_id = $1 AND u.deleted = 0 ORDER BY m.member_num",
    )
    .bind(project_id.to_string())
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|row| {
            let role: String = row.try_get("project_role")?;
            Ok(MemberRow {
                user: users::from_row(row, "")?,
                role: parse_role(&role)?,
            })
        })
        .collect()
}

/// Adds a member, or changes the role of an existing one.
pub async fn upsert<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    user_id: Uuid4,
    role: ProjectRole,
) -> Result<(), DbError> {
    // Both engines know this upsert form; the number orders members by when they joined.
    sqlx::query(
        "INSERT INTO members (project_id, user_id, project_role, member_num) \
         VALUES ($1, $2, $3, (SELECT COALESCE(MAX(member_num), 0) + 1 FROM members \
         WHERE project_id = $1)) \
         ON CONFLICT (project_id, user_id) DO UPDATE SET project_role = excluded.project_role",
    )
    .bind(project_id.to_string())
    .bind(user_id.to_string())
    .bind(role_name(role))
    .execute(db)
    .await?;
    Ok(())
}

/// Removes a member; false when the user was not one.
pub async fn remove<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
    user_id: Uuid4,
) -> Result<bool, DbError> {
    let done = sqlx::query("DELETE FROM members WHERE project_id = $1 AND user_id = $2")
        .bind(project_id.to_string())
        .bind(user_id.to_string())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes every member of a project.
pub async fn remove_all<'e>(
    db: impl Executor<'e, Database = Any>,
    project_id: Uuid4,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM members WHERE project_id = $1")
        .bind(project_id.to_string())
        .execute(db)
        .await?;
    Ok(())
}

/// Removes a user from every project.
pub async fn remove_user<'e>(
    db: impl Executor<'e, Database = Any>,
    user_id: Uuid4,
) -> Result<(), DbError> {
    sqlx::query("DELETE FROM members WHERE user_id = $1")
        .bind(user_id.to_string())
        .execute(db)
        .await?;
    Ok(())
}
