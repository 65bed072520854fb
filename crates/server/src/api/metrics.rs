//! Metrics: `GET /api/project/{project_name}/metrics/job/{run_name}` (api.md §2.13).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use dstack_core::api::metrics::{JobMetrics, JobMetricsQuery};

use super::AppState;
use super::auth::ProjectMember;
use super::body::QueryParams;
use super::error::ServerError;
use crate::services::metrics;

/// `job/{run_name}`: the latest samples of one job of the run.
pub async fn job(
    State(state): State<AppState>,
    project: ProjectMember,
    Path(params): Path<HashMap<String, String>>,
    QueryParams(query): QueryParams<JobMetricsQuery>,
) -> Result<Json<JobMetrics>, ServerError> {
    let run_name = params.get("run_name").map_or("", String::as_str);
    let found = metrics::job_metrics(&state.db, &project.access, run_name, &query);
    Ok(Json(found.await?))
}
