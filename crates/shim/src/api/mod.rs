//! The shim's HTTP API, with dstack's paths and payloads: [`router`] lists every route.
//!
//! - `body`: `JsonBody`, request bodies read as dstack's agents read them.
//! - `error`: `ApiError`, plain-text errors with their status.

mod body;
mod error;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use dstack_agents::shim::{
    ComponentInstallRequest, ComponentsResponse, HealthcheckResponse, InstanceHealthResponse,
    InstanceInfoResponse, SHIM_SERVICE_NAME, ShutdownRequest, TaskInfoResponse, TaskListResponse,
    TaskSubmitRequest, TaskTerminateRequest,
};
use tokio_util::sync::CancellationToken;

use self::body::{BODY_LIMIT, JsonBody};
use self::error::ApiError;
use crate::service::Shim;

/// What `POST /api/shutdown` fires: `graceful` lets requests in flight finish, `force` also
/// closes open connections.
#[derive(Debug, Clone, Default)]
pub struct ShutdownSignal {
    pub graceful: CancellationToken,
    pub force: CancellationToken,
}

#[derive(Debug, Clone)]
struct ApiState {
    shim: Arc<Shim>,
    shutdown: ShutdownSignal,
}

/// Every route of the shim.
pub fn router(shim: Arc<Shim>, shutdown: ShutdownSignal) -> Router {
    Router::new()
        .route("/api/healthcheck", get(healthcheck))
        .route("/api/shutdown", post(shutdown_shim))
        .route("/api/instance/health", get(instance_health))
        .route("/api/instance/info", get(instance_info))
        .route("/api/components", get(components))
        .route("/api/components/install", post(install_component))
        .route("/api/tasks", get(list_tasks).post(submit_task))
        .route("/api/tasks/{id}", get(get_task))
        .route("/api/tasks/{id}/terminate", post(terminate_task))
        .route("/api/tasks/{id}/remove", post(remove_task))
        .route("/metrics/tasks/{id}", get(task_gpu_metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(ApiState { shim, shutdown })
}

async fn healthcheck() -> Json<HealthcheckResponse> {
    Json(HealthcheckResponse {
        service: SHIM_SERVICE_NAME.to_owned(),
        version: crate::VERSION.to_owned(),
    })
}

/// Returns at once; the server stops afterwards. Containers are left running.
async fn shutdown_shim(
    State(state): State<ApiState>,
    JsonBody(request): JsonBody<ShutdownRequest>,
) {
    if request.force {
        state.shutdown.force.cancel();
    }
    state.shutdown.graceful.cancel();
}

/// DCGM is not wired in, so health is always unknown.
async fn instance_health() -> Json<InstanceHealthResponse> {
    Json(InstanceHealthResponse::default())
}

async fn instance_info(State(state): State<ApiState>) -> Json<InstanceInfoResponse> {
    Json(state.shim.instance_info())
}

async fn components(State(state): State<ApiState>) -> Json<ComponentsResponse> {
    Json(ComponentsResponse {
        components: state.shim.components().await,
    })
}

/// Returns at once; the download goes on in the background (see `GET /api/components`).
async fn install_component(
    State(state): State<ApiState>,
    JsonBody(request): JsonBody<ComponentInstallRequest>,
) -> Result<(), ApiError> {
    Ok(state.shim.install_component(&request)?)
}

async fn list_tasks(State(state): State<ApiState>) -> Json<TaskListResponse> {
    Json(TaskListResponse {
        tasks: state.shim.list_tasks(),
    })
}

async fn submit_task(
    State(state): State<ApiState>,
    JsonBody(request): JsonBody<TaskSubmitRequest>,
) -> Result<Json<TaskInfoResponse>, ApiError> {
    Ok(Json(state.shim.submit_task(request)?))
}

async fn get_task(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<TaskInfoResponse>, ApiError> {
    Ok(Json(state.shim.get_task(&id)?))
}

async fn terminate_task(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<TaskTerminateRequest>,
) -> Result<Json<TaskInfoResponse>, ApiError> {
    Ok(Json(state.shim.terminate_task(&id, request).await?))
}

async fn remove_task(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<(), ApiError> {
    Ok(state.shim.remove_task(&id).await?)
}

/// Prometheus GPU metrics of a task come from dcgm-exporter, which this shim does not run;
/// the answer is dstack's for a host without it.
async fn task_gpu_metrics(Path(_id): Path<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "DCGM Exporter is not available")
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "404 page not found")
}
