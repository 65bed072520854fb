//! Users: accounts, roles, tokens and SSH keys.
//!
//! Tokens are stored only as sha256 hashes, so a token can be shown only when the caller
//! presents it (`get_my_user`) or when it is made (`refresh_token`, first start). An admin
//! reading another user's credentials gets an empty token; `refresh_token` issues a new one.

use chrono::Utc;
use dstack_core::api::common::Uuid4;
use dstack_core::api::users::{
    CreateUserRequest, GlobalRole, ListUsersRequest, User, UserPermissions, UserTokenCreds,
    UserWithCreds, UsersList,
};
use sqlx::AnyPool;
use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey};

use super::events::{self, EventTarget};
use super::{ServiceError, check_list_filters, hash_token, is_valid_name, new_token};
use crate::db::users::{self as user_rows, NewUser, UserFilter, UserRow};
use crate::db::{CreatedAtCursor, members};

/// The authenticated caller: their row and the token they presented.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user.
    pub user: UserRow,
    /// The token of this request.
    pub token: String,
}

impl Caller {
    /// Whether the caller is a global admin.
    pub fn is_admin(&self) -> bool {
        self.user.global_role == GlobalRole::Admin
    }
}

/// The public view of a user.
pub fn to_user(row: &UserRow) -> User {
    User {
        id: row.id,
        username: row.name.clone(),
        created_at: Some(row.created_at),
        global_role: row.global_role,
        email: row.email.clone(),
        active: row.active,
        // Default permissions: every user may create projects (dstack's default too).
        permissions: UserPermissions {
            can_create_projects: true,
        },
        ssh_public_key: row.ssh_public_key.clone(),
    }
}

fn with_creds(row: &UserRow, token: String) -> UserWithCreds {
    UserWithCreds {
        user: to_user(row),
        creds: UserTokenCreds { token },
        ssh_private_key: row.ssh_private_key.clone(),
    }
}

fn not_found() -> ServiceError {
    ServiceError::NotFound("User not found".to_owned())
}

/// The live user named `username`, or "not found".
async fn find_user(pool: &AnyPool, username: &str) -> Result<UserRow, ServiceError> {
    user_rows::find_by_name(pool, username)
        .await?
        .ok_or_else(not_found)
}

/// The caller's own account, with the token they presented.
pub fn get_my_user(caller: &Caller) -> UserWithCreds {
    with_creds(&caller.user, caller.token.clone())
}

/// Users a caller may see: admins see everyone, others only themselves.
pub async fn list(
    pool: &AnyPool,
    caller: &Caller,
    request: ListUsersRequest,
) -> Result<UsersList, ServiceError> {
    check_list_filters(request.name_pattern.as_deref(), request.page.limit.0)?;
    let filter = UserFilter {
        only_id: (!caller.is_admin()).then(|| caller.user.id.to_string()),
        name_contains: request.name_pattern.filter(|p| !p.is_empty()),
    };
    let page = request.page;
    let cursor = CreatedAtCursor::from(&page);
    let rows = user_rows::list_page(pool, &filter, &cursor).await?;
    let users = rows.iter().map(to_user).collect();
    if !request.return_total_count {
        return Ok(UsersList::Bare(users));
    }
    let total = user_rows::count(pool, &filter).await?;
    Ok(UsersList::Counted {
        total_count: u64::try_from(total).unwrap_or_default(),
        users,
    })
}

/// One user's account; others than admins may only ask about themselves, and are told
/// "not found" otherwise, as dstack does.
pub async fn get_user(
    pool: &AnyPool,
    caller: &Caller,
    username: &str,
) -> Result<UserWithCreds, ServiceError> {
    let row = find_user(pool, username).await?;
    if row.id == caller.user.id {
        return Ok(with_creds(&row, caller.token.clone()));
    }
    if !caller.is_admin() {
        return Err(not_found());
    }
    Ok(with_creds(&row, String::new()))
}

/// A new keypair for `comment`: the OpenSSH public line (ending with a newline, as dstack
/// sends it) and the private key in OpenSSH PEM form.
fn new_ssh_keypair(comment: &str) -> Result<(String, String), ServiceError> {
    let mut key =
        PrivateKey::random(&mut OsRng, Algorithm::Ed25519).map_err(ServiceError::SshKey)?;
    key.set_comment(comment);
    let public = key
        .public_key()
        .to_openssh()
        .map_err(ServiceError::SshKey)?;
    let private = key
        .to_openssh(LineEnding::LF)
        .map_err(ServiceError::SshKey)?;
    Ok((format!("{public}\n"), private.to_string()))
}

/// A user row with a fresh id and keypair.
fn new_user_row(request: &CreateUserRequest) -> Result<UserRow, ServiceError> {
    let (public, private) = new_ssh_keypair(&request.username)?;
    Ok(UserRow {
        id: Uuid4::new_random(),
        name: request.username.clone(),
        created_at: Utc::now(),
        global_role: request.global_role,
        email: request.email.clone(),
        active: request.active,
        ssh_public_key: Some(public),
        ssh_private_key: Some(private),
    })
}

/// Creates a user with `token`, made by `creator` (the new user themselves when `None`, as on
/// first start); a taken name is `AlreadyExists`.
pub async fn create_with_token(
    pool: &AnyPool,
    creator: Option<Uuid4>,
    request: &CreateUserRequest,
    token: &str,
) -> Result<UserRow, ServiceError> {
    if !is_valid_name(&request.username, 60) {
        return Err(ServiceError::Invalid(
            "Username should match regex '^[a-zA-Z0-9-_]{1,60}$'".to_owned(),
        ));
    }
    let row = new_user_row(request)?;
    let token_hash = hash_token(token);
    let mut tx = pool.begin().await?;
    user_rows::insert(
        &mut *tx,
        NewUser {
            user: &row,
            token_hash: &token_hash,
        },
    )
    .await?;
    let actor = creator.unwrap_or(row.id);
    events::record(
        &mut tx,
        Some(actor),
        "User created",
        &[EventTarget::user(&row)],
    )
    .await?;
    tx.commit().await?;
    Ok(row)
}

/// `users/create`: a new user with a fresh token.
pub async fn create(
    pool: &AnyPool,
    caller: &Caller,
    request: &CreateUserRequest,
) -> Result<User, ServiceError> {
    let row = create_with_token(pool, Some(caller.user.id), request, &new_token()).await?;
    Ok(to_user(&row))
}

/// `users/update`: role, e-mail and active flag of an existing user.
pub async fn update(
    pool: &AnyPool,
    caller: &Caller,
    request: &CreateUserRequest,
) -> Result<User, ServiceError> {
    let mut row = find_user(pool, &request.username).await?;
    // The e-mail address is named but not shown: the log is visible to the user's projects.
    let mut changed = Vec::new();
    if row.global_role != request.global_role {
        changed.push(format!(
            "global_role={}",
            user_rows::role_name(request.global_role)
        ));
    }
    if row.email != request.email {
        changed.push("email".to_owned());
    }
    if row.active != request.active {
        changed.push(format!("active={}", request.active));
    }
    row.global_role = request.global_role;
    row.email.clone_from(&request.email);
    row.active = request.active;
    let mut tx = pool.begin().await?;
    if !user_rows::update_profile(&mut *tx, &row).await? {
        return Err(not_found());
    }
    let message = if changed.is_empty() {
        "User updated, nothing changed".to_owned()
    } else {
        format!("User updated: {}", changed.join(", "))
    };
    let target = [EventTarget::user(&row)];
    events::record(&mut tx, Some(caller.user.id), &message, &target).await?;
    tx.commit().await?;
    Ok(to_user(&row))
}

/// `users/refresh_token`: a new token for oneself, or for anyone when admin.
pub async fn refresh_token(
    pool: &AnyPool,
    caller: &Caller,
    username: &str,
) -> Result<UserWithCreds, ServiceError> {
    let row = find_user(pool, username).await?;
    if row.id != caller.user.id && !caller.is_admin() {
        return Err(ServiceError::Forbidden);
    }
    let token = new_token();
    let mut tx = pool.begin().await?;
    if !user_rows::set_token_hash(&mut *tx, row.id, &hash_token(&token)).await? {
        return Err(not_found());
    }
    let target = [EventTarget::user(&row)];
    events::record(
        &mut tx,
        Some(caller.user.id),
        "API token refreshed",
        &target,
    )
    .await?;
    tx.commit().await?;
    Ok(with_creds(&row, token))
}

/// `users/refresh_ssh_key`: a new keypair for oneself, or for anyone when admin. Others than
/// the caller get an empty token back, as from `get_user`.
pub async fn refresh_ssh_key(
    pool: &AnyPool,
    caller: &Caller,
    username: &str,
) -> Result<UserWithCreds, ServiceError> {
    if !caller.is_admin() && !caller.user.name.eq_ignore_ascii_case(username) {
        return Err(ServiceError::Forbidden);
    }
    let mut row = find_user(pool, username).await?;
    let (public, private) = new_ssh_keypair(&row.name)?;
    row.ssh_public_key = Some(public);
    row.ssh_private_key = Some(private);
    let mut tx = pool.begin().await?;
    if !user_rows::set_ssh_keys(&mut *tx, &row).await? {
        return Err(not_found());
    }
    let target = [EventTarget::user(&row)];
    events::record(&mut tx, Some(caller.user.id), "SSH key refreshed", &target).await?;
    tx.commit().await?;
    let token = if row.id == caller.user.id {
        caller.token.clone()
    } else {
        String::new()
    };
    Ok(with_creds(&row, token))
}

/// `users/delete`: all the named users, or none when one does not exist.
pub async fn delete(
    pool: &AnyPool,
    caller: &Caller,
    usernames: &[String],
) -> Result<(), ServiceError> {
    // Writes only: on SQLite a transaction that reads first cannot take the write lock later
    // if another writer committed meanwhile.
    let mut tx = pool.begin().await?;
    for name in usernames {
        let id = user_rows::mark_deleted_by_name(&mut *tx, name)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("User {name} not found")))?;
        members::remove_user(&mut *tx, id).await?;
        let target = [EventTarget::user_with_id(id, name)];
        events::record(&mut tx, Some(caller.user.id), "User deleted", &target).await?;
    }
    tx.commit().await?;
    Ok(())
}
