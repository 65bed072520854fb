//! Users and their SSH public keys: `/api/users/*`, `/api/users/public_keys/*`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::common::{CreatedAtPage, Uuid4, default_true, null_as_default, utc};

/// A user's server-wide role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GlobalRole {
    /// Manages users and every project.
    Admin,
    /// Sees only their own projects.
    User,
}

/// What a user may do outside projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPermissions {
    /// Whether the user may create projects.
    pub can_create_projects: bool,
}

/// A user as other users see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// The user id.
    pub id: Uuid4,
    /// The unique user name.
    pub username: String,
    /// When the user was created.
    #[serde(with = "utc::option", default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The server-wide role.
    pub global_role: GlobalRole,
    /// The e-mail address, if known.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the user may log in.
    pub active: bool,
    /// Server-wide permissions.
    pub permissions: UserPermissions,
    /// The OpenSSH public key line, ending with a newline.
    #[serde(default)]
    pub ssh_public_key: Option<String>,
}

/// A user's API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserTokenCreds {
    /// The bearer token.
    pub token: String,
}

/// A user with their credentials, returned only to themselves or an admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserWithCreds {
    /// The public part.
    #[serde(flatten)]
    pub user: User,
    /// The API token.
    pub creds: UserTokenCreds,
    /// The PEM private key matching `ssh_public_key`.
    #[serde(default)]
    pub ssh_private_key: Option<String>,
}

/// `POST /api/users/list` request; the body may be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ListUsersRequest {
    /// Whether to answer `{total_count, users}` instead of a bare list.
    #[serde(default, deserialize_with = "null_as_default")]
    pub return_total_count: bool,
    /// A case-insensitive substring of the user name.
    #[serde(default)]
    pub name_pattern: Option<String>,
    /// The page, by creation time.
    #[serde(flatten)]
    pub page: CreatedAtPage<2000>,
}

/// `POST /api/users/list` response: the form depends on `return_total_count`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UsersList {
    /// With `return_total_count`.
    Counted {
        /// Users matching the filter, over all pages.
        total_count: u64,
        /// This page.
        users: Vec<User>,
    },
    /// Without it, for 0.20 clients.
    Bare(Vec<User>),
}

/// A request naming one user: `get_user`, `refresh_ssh_key`, `refresh_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsernameRequest {
    /// The user name.
    pub username: String,
}

/// `POST /api/users/create` and `update` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateUserRequest {
    /// The user name, `^[a-zA-Z0-9-_]{1,60}$`.
    pub username: String,
    /// The server-wide role.
    pub global_role: GlobalRole,
    /// The e-mail address.
    #[serde(default)]
    pub email: Option<String>,
    /// Whether the user may log in.
    #[serde(default = "default_true")]
    pub active: bool,
}

/// `POST /api/users/delete` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteUsersRequest {
    /// The user names.
    pub users: Vec<String>,
}

/// An SSH public key a user registered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicKeyInfo {
    /// The key id.
    pub id: Uuid,
    /// When it was added.
    #[serde(with = "utc")]
    pub added_at: DateTime<Utc>,
    /// The key's name, by default its comment.
    pub name: String,
    /// The key type, e.g. `ssh-ed25519`.
    #[serde(rename = "type")]
    pub key_type: String,
    /// The SHA256 fingerprint.
    pub fingerprint: String,
}

/// `POST /api/users/public_keys/add` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddPublicKeyRequest {
    /// The OpenSSH public key line.
    pub key: String,
    /// A name; the key's comment when unset.
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /api/users/public_keys/delete` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletePublicKeysRequest {
    /// The key ids.
    pub ids: Vec<Uuid>,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user_json(name: &str) -> serde_json::Value {
        json!({
            "id": "2a5fee57-e8f8-4a17-8f0a-3c086e605623", "username": name,
            "created_at": "2026-11-23T06:36:19.153292Z", "global_role": "user", "email": null,
            "active": true, "permissions": {"can_create_projects": true}, "ssh_public_key": null,
        })
    }

    #[test]
    fn user_lists_are_read_in_both_forms() {
        let bare: UsersList = serde_json::from_value(json!([user_json("bob")])).expect("bare");
        assert!(matches!(&bare, UsersList::Bare(users) if users.len() == 1));
        let counted: UsersList =
            serde_json::from_value(json!({"total_count": 2, "users": [user_json("bob")]}))
                .expect("counted");
        assert!(matches!(counted, UsersList::Counted { total_count: 2, .. }));
    }

    #[test]
    fn an_empty_list_request_takes_every_default() {
        let request: ListUsersRequest = serde_json::from_str("{}").expect("empty object");
        assert_eq!(request, ListUsersRequest::default());
        assert_eq!(request.page.limit.0, 2000);
    }

    #[test]
    fn creds_sit_beside_the_user_fields() {
        let mut body = user_json("carol");
        body["creds"] = json!({"token": "t"});
        body["ssh_private_key"] = json!(null);
        let user: UserWithCreds = serde_json::from_value(body.clone()).expect("user with creds");
        assert_eq!(user.user.username, "carol");
        assert_eq!(serde_json::to_value(&user).expect("serializes"), body);
    }
}
