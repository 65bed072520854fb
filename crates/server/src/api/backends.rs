//! Backends: `POST /api/backends/list_types`.

use axum::Json;
use dstack_core::api::backends::BackendTypes;

/// `POST /api/backends/list_types`: the backend types this server can create; none yet, as
/// it has no cloud backends. No auth.
pub async fn list_types() -> Json<BackendTypes> {
    Json(Vec::new())
}
