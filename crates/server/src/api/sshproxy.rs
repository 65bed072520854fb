//! `POST /api/sshproxy/get_upstream` (api.md §2.20): for `dstack-sshproxy` only, with the
//! token of `DSTACK_SSHPROXY_API_TOKEN`; without that variable every call is 403.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use dstack_core::api::sshproxy::{GetUpstreamRequest, Upstream};

use super::AppState;
use super::auth::check_service_token;
use super::body::JsonBody;
use super::error::ServerError;
use crate::services::ServiceError;

/// The caller presented the sshproxy token; checked before the body, as dstack does.
#[derive(Debug, Clone, Copy)]
pub struct SshproxyService;

impl FromRequestParts<AppState> for SshproxyService {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(expected) = &state.integrations.sshproxy_api_token else {
            return Err(ServerError::AccessDenied);
        };
        check_service_token(&parts.headers, &expected.0, ServerError::NotAuthenticated)?;
        Ok(Self)
    }
}

/// `get_upstream`: the jump chain to a job's container. No job has an upstream id until runs
/// land, so every id is unknown.
pub async fn get_upstream(
    _service: SshproxyService,
    JsonBody(request): JsonBody<GetUpstreamRequest>,
) -> Result<Json<Upstream>, ServerError> {
    Err(ServiceError::NotFound(format!("Upstream {} not found", request.id)).into())
}
