//! Server info and health: `POST /api/server/get_info`, `GET /healthcheck`.

use axum::Json;
use dstack_core::api::server::{HealthcheckStatus, ServerInfo};

use super::version::SERVER_VERSION;

/// `POST /api/server/get_info`: the dstack version this server answers as; no auth.
pub async fn get_info() -> Json<ServerInfo> {
    Json(ServerInfo {
        server_version: Some(SERVER_VERSION.to_owned()),
    })
}

/// `GET /healthcheck`: answers while the server runs.
pub async fn healthcheck() -> Json<HealthcheckStatus> {
    Json(HealthcheckStatus {
        status: "running".to_owned(),
    })
}
