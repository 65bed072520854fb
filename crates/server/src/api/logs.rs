//! Logs: `POST /api/project/{project_name}/logs/poll` (api.md §2.12).

use axum::Json;
use axum::extract::State;
use dstack_core::api::logs::{JobSubmissionLogs, PollLogsRequest};

use super::AppState;
use super::auth::ProjectMember;
use super::body::{JsonBody, check_bounds};
use super::error::ServerError;
use crate::services::logs;

/// `poll`: a page of a job submission's logs.
pub async fn poll(
    State(state): State<AppState>,
    project: ProjectMember,
    JsonBody(request): JsonBody<PollLogsRequest>,
) -> Result<Json<JobSubmissionLogs>, ServerError> {
    check_bounds("limit", Some(request.limit.0), 0, logs::MAX_LIMIT)?;
    Ok(Json(
        logs::poll(&state.db, &project.access, &request).await?,
    ))
}
