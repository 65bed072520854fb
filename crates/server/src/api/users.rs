//! Users: `POST /api/users/*`.

use axum::Json;
use axum::extract::State;
use dstack_core::api::users::{
    CreateUserRequest, DeleteUsersRequest, ListUsersRequest, User, UserWithCreds, UsernameRequest,
    UsersList,
};

use super::AppState;
use super::auth::{Authenticated, GlobalAdmin};
use super::body::{JsonBody, OptionalBody};
use super::error::ServerError;
use crate::services::users;

/// `get_my_user`: the caller's own account with their token.
pub async fn get_my_user(Authenticated(caller): Authenticated) -> Json<UserWithCreds> {
    Json(users::get_my_user(&caller))
}

/// `list`: admins see every user, others themselves.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    OptionalBody(request): OptionalBody<ListUsersRequest>,
) -> Result<Json<UsersList>, ServerError> {
    Ok(Json(users::list(state.db.pool(), &caller, request).await?))
}

/// `get_user`: one account; others than admins only their own.
pub async fn get_user(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<UsernameRequest>,
) -> Result<Json<UserWithCreds>, ServerError> {
    Ok(Json(
        users::get_user(state.db.pool(), &caller, &request.username).await?,
    ))
}

/// `create`: a new user (global admins only).
pub async fn create(
    State(state): State<AppState>,
    GlobalAdmin(caller): GlobalAdmin,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<Json<User>, ServerError> {
    Ok(Json(
        users::create(state.db.pool(), &caller, &request).await?,
    ))
}

/// `update`: role, e-mail and active flag (global admins only).
pub async fn update(
    State(state): State<AppState>,
    GlobalAdmin(caller): GlobalAdmin,
    JsonBody(request): JsonBody<CreateUserRequest>,
) -> Result<Json<User>, ServerError> {
    Ok(Json(
        users::update(state.db.pool(), &caller, &request).await?,
    ))
}

/// `refresh_token`: a new token for oneself, or anyone for admins.
pub async fn refresh_token(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<UsernameRequest>,
) -> Result<Json<UserWithCreds>, ServerError> {
    Ok(Json(
        users::refresh_token(state.db.pool(), &caller, &request.username).await?,
    ))
}

/// `refresh_ssh_key`: a new SSH keypair for oneself, or anyone for admins.
pub async fn refresh_ssh_key(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<UsernameRequest>,
) -> Result<Json<UserWithCreds>, ServerError> {
    Ok(Json(
        users::refresh_ssh_key(state.db.pool(), &caller, &request.username).await?,
    ))
}

/// `delete`: removes users (global admins only); answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    GlobalAdmin(caller): GlobalAdmin,
    JsonBody(request): JsonBody<DeleteUsersRequest>,
) -> Result<Json<()>, ServerError> {
    users::delete(state.db.pool(), &caller, &request.users).await?;
    Ok(Json(()))
}
