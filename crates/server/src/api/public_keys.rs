//! Public keys: `POST /api/users/public_keys/{list,add,delete}`, always the caller's own.

use axum::Json;
use axum::extract::State;
use dstack_core::api::users::{AddPublicKeyRequest, DeletePublicKeysRequest, PublicKeyInfo};

use super::AppState;
use super::auth::Authenticated;
use super::body::JsonBody;
use super::error::ServerError;
use crate::services::public_keys;

/// `list`: the caller's keys, newest first.
pub async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<Json<Vec<PublicKeyInfo>>, ServerError> {
    Ok(Json(public_keys::list(state.db.pool(), &caller).await?))
}

/// `add`: registers a key for the caller.
pub async fn add(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<AddPublicKeyRequest>,
) -> Result<Json<PublicKeyInfo>, ServerError> {
    Ok(Json(
        public_keys::add(state.db.pool(), &caller, &request).await?,
    ))
}

/// `delete`: removes the caller's keys with these ids; answers `null`.
pub async fn delete(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(request): JsonBody<DeletePublicKeysRequest>,
) -> Result<Json<()>, ServerError> {
    public_keys::delete(state.db.pool(), &caller, &request.ids).await?;
    Ok(Json(()))
}
