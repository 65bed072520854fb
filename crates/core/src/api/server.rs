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

/// `POST /api/auth/{provider}/authorize` request (SSO plugins only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    /// The CLI's local callback port, 1 to 65535.
    #[serde(default)]
    pub local_port: Option<u16>,
    /// The server URL as the browser sees it.
    #[serde(default)]
    pub base_url: Option<String>,
}

/// `POST /api/auth/{provider}/authorize` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationUrl {
    /// Where the browser logs in.
    pub authorization_url: String,
}

/// `POST /api/auth/{provider}/callback` request; answered with `UserWithCreds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCallbackRequest {
    /// The provider's authorization code.
    pub code: String,
    /// The state token; it must match the `oauth-state` cookie.
    pub state: String,
    /// The server URL as the browser sees it.
    #[serde(default)]
    pub base_url: Option<String>,
}
