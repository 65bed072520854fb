//! Projects and their members: `/api/projects/*`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::backends::BackendInfo;
use super::common::{CreatedAtPage, Uuid4, default_true, null_as_default, utc};
use super::users::User;

/// A member's role in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectRole {
    /// Manages the project, its members and backends.
    Admin,
    /// Manages members, short of granting `admin`.
    Manager,
    /// Uses the project.
    User,
}

/// What a member may do in a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberPermissions {
    /// Whether the member may create SSH fleets.
    pub can_manage_ssh_fleets: bool,
    /// Whether the member may read and write secrets.
    #[serde(default)]
    pub can_manage_secrets: bool,
}

/// A project member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// The user.
    pub user: User,
    /// Their role.
    pub project_role: ProjectRole,
    /// What the role allows.
    pub permissions: MemberPermissions,
}

/// A project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// The project id.
    pub project_id: Uuid4,
    /// The unique project name.
    pub project_name: String,
    /// The creator.
    pub owner: User,
    /// When the project was created.
    #[serde(with = "utc::option", default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The backends; always empty in lists.
    pub backends: Vec<BackendInfo>,
    /// The members; always empty in lists.
    pub members: Vec<Member>,
    /// Whether every user may see and join the project.
    #[serde(default)]
    pub is_public: bool,
    /// The git repo of UI templates.
    #[serde(default)]
    pub templates_repo: Option<String>,
}

/// `POST /api/projects/list` request; the body may be absent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListProjectsRequest {
    /// Whether public projects the user has not joined are listed too.
    #[serde(default = "default_true")]
    pub include_not_joined: bool,
    /// Whether to answer `{total_count, projects}` instead of a bare list.
    #[serde(default, deserialize_with = "null_as_default")]
    pub return_total_count: bool,
    /// A case-insensitive substring of the project name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// The page, by creation time.
    #[serde(flatten)]
    pub page: CreatedAtPage<2000>,
}

impl Default for ListProjectsRequest {
    fn default() -> Self {
        Self {
            include_not_joined: true,
            return_total_count: false,
            name_pattern: None,
            page: CreatedAtPage::default(),
        }
    }
}

/// `POST /api/projects/list` response: the form depends on `return_total_count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProjectsList {
    /// With `return_total_count`.
    Counted {
        /// Projects matching the filter, over all pages.
        total_count: u64,
        /// This page.
        projects: Vec<Project>,
    },
    /// Without it, for 0.20 clients.
    Bare(Vec<Project>),
}

/// `POST /api/projects/create` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateProjectRequest {
    /// The project name, `^[a-zA-Z0-9-_]{1,50}$`.
    pub project_name: String,
    /// Whether every user may see and join it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub is_public: bool,
    /// The git repo of UI templates.
    #[serde(default)]
    pub templates_repo: Option<String>,
}

/// `POST /api/projects/delete` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteProjectsRequest {
    /// The project names.
    pub projects_names: Vec<String>,
}

/// One member to set or add.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSetting {
    /// The user name or e-mail address.
    pub username: String,
    /// The role to give.
    pub project_role: ProjectRole,
}

/// `POST /api/projects/{p}/set_members` and `add_members` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetMembersRequest {
    /// The members.
    pub members: Vec<MemberSetting>,
}

/// `POST /api/projects/{p}/remove_members` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMembersRequest {
    /// The user names.
    pub usernames: Vec<String>,
}

/// `POST /api/projects/{p}/update` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateProjectRequest {
    /// The new visibility, if it changes.
    #[serde(default)]
    pub is_public: Option<bool>,
    /// The new templates repo, if it changes.
    #[serde(default)]
    pub templates_repo: Option<String>,
    /// Whether to clear the templates repo.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reset_templates_repo: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_request_matches_the_default() {
        let request: ListProjectsRequest = serde_json::from_str("{}").expect("empty object");
        assert_eq!(request, ListProjectsRequest::default());
        assert!(request.include_not_joined);
    }

    #[test]
    fn the_member_secret_permission_defaults_to_false() {
        let permissions: MemberPermissions =
            serde_json::from_str(r#"{"can_manage_ssh_fleets": true}"#).expect("old server body");
        assert!(!permissions.can_manage_secrets);
    }
}
