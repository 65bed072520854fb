//! SEAM: fleets. Only `fleets/list` is here, answering `[]`: the CLI asks for the project's
//! fleets whenever a plan has no offers, and fails on a 404. The fleets work provides the real
//! module with this path; at merge that version replaces this file.

use axum::Json;
use dstack_core::api::fleets::{Fleet, ListProjectFleetsRequest};

use super::auth::ProjectMember;
use super::body::OptionalBody;
use super::error::ServerError;

/// `list`: the project's fleets; none until fleets exist.
pub async fn list(
    _project: ProjectMember,
    OptionalBody(_request): OptionalBody<ListProjectFleetsRequest>,
) -> Result<Json<Vec<Fleet>>, ServerError> {
    Ok(Json(Vec::new()))
}
