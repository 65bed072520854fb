//! Server info and health: `server/get_info`, `/healthcheck`, `auth/*`.

use serde::{Deserialize, Serialize};

/// `POST /api/server/get_info` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The dstack version the server claims; `null` on dev builds.
    #[serde(default)]
    pub server_version: Option<String>,
}

/// `GET /healthcheck` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthcheckStatus {
    /// Always `running` while the server answers.
    pub status: String,
}

/// An SSO provider of `POST /api/auth/list_providers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthProvider {
    /// The provider name.
    pub name: String,
    /// Whether it can be used.
    pub enabled: bool,
}

/// `POST /api/auth/get_next_redirect` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GetNextRedirectRequest {
    /// The provider's authorization code.
    pub code: String,
    /// The state token handed out by `authorize`.
    pub state: String,
}

/// `POST /api/auth/get_next_redirect` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextRedirect {
    /// Where the browser goes next, if anywhere.
    #[serde(default)]
    pub redirect_url: Option<String>,
}
