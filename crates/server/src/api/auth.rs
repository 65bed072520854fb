//! Extractors named for what they prove about the caller (api.md §1.4, §1.5).
//!
//! - [`Authenticated`]: a valid bearer token of an active user.
//! - [`GlobalAdmin`]: the same, with the global `admin` role.
//! - [`ProjectMember`], [`ProjectManager`], [`ProjectAdmin`]: a role in the project of the
//!   path (global admins pass all three).
//! - [`MemberOrPublic`], [`ManagerOrPublic`]: the same, or any user when the project is public.
//!
//! A missing project is 404 before any role check, as dstack answers.

use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;

use super::AppState;
use super::error::ServerError;
use crate::db::users as user_rows;
use crate::services::projects::{self, ProjectAccess};
use crate::services::users::Caller;
use crate::services::{ServiceError, hash_token};

/// The caller presented a valid token of an active user.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

/// The caller is a global admin.
#[derive(Debug, Clone)]
pub struct GlobalAdmin(pub Caller);

/// The token of an `Authorization: Bearer` header; the scheme is matched in any case.
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(ServerError::NotAuthenticated)?;
        let user = user_rows::find_by_token_hash(state.db.pool(), &hash_token(token))
            .await
            .map_err(ServiceError::from)?
            .ok_or(ServerError::InvalidToken)?;
        Ok(Self(Caller {
            user,
            token: token.to_owned(),
        }))
    }
}

impl FromRequestParts<AppState> for GlobalAdmin {
    type Rejection = ServerError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
        if caller.is_admin() {
            Ok(Self(caller))
        } else {
            Err(ServerError::AccessDenied)
        }
    }
}

/// The caller and their access to the project named in the path.
async fn project_access(
    parts: &mut Parts,
    state: &AppState,
) -> Result<(Caller, ProjectAccess), ServerError> {
    let Authenticated(caller) = Authenticated::from_request_parts(parts, state).await?;
    // A map, so routes with more path parameters than the project (metrics) work too.
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
        .await
        .map_err(|_| ServerError::ProjectNotFound)?;
    let project_name = params
        .get("project_name")
        .ok_or(ServerError::ProjectNotFound)?;
    let access = projects::find_access(state.db.pool(), &caller, project_name)
        .await?
        .ok_or(ServerError::ProjectNotFound)?;
    Ok((caller, access))
}

/// Declares an extractor that passes when `$allows(&ProjectAccess)` holds.
macro_rules! project_extractor {
    ($(#[$doc:meta])* $name:ident, $allows:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name {
            /// The caller.
            pub caller: Caller,
            /// The project and the caller's role in it.
            pub access: ProjectAccess,
        }

        impl FromRequestParts<AppState> for $name {
            type Rejection = ServerError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &AppState,
            ) -> Result<Self, Self::Rejection> {
                let (caller, access) = project_access(parts, state).await?;
                let allows: fn(&ProjectAccess) -> bool = $allows;
                if allows(&access) {
                    Ok(Self { caller, access })
                } else {
                    Err(ServerError::AccessDenied)
                }
            }
        }
    };
}

project_extractor!(
    /// The caller has a role in the project (or is a global admin).
    ProjectMember,
    ProjectAccess::is_member
);
project_extractor!(
    /// The caller is the project's admin or manager (or a global admin).
    ProjectManager,
    ProjectAccess::is_manager
);
project_extractor!(
    /// The caller is the project's admin (or a global admin).
    ProjectAdmin,
    ProjectAccess::is_admin
);
project_extractor!(
    /// The caller is a member, or the project is public.
    MemberOrPublic,
    |access| access.is_member() || access.project.is_public
);
project_extractor!(
    /// The caller is a manager, or the project is public (the service then lets a
    /// non-member add only themselves).
    ManagerOrPublic,
    |access| access.is_manager() || access.project.is_public
);
