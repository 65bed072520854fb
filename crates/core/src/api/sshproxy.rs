//! The upstream lookup of `dstack-sshproxy`: `/api/sshproxy/get_upstream`.

use serde::{Deserialize, Serialize};

/// `sshproxy/get_upstream` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetUpstreamRequest {
    /// `JobConnectionInfo.sshproxy_upstream_id`.
    pub id: String,
}

/// One hop of the jump chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamHost {
    /// The host.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The SSH user.
    pub user: String,
    /// The key to log in with.
    pub private_key: String,
}

/// `sshproxy/get_upstream` response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upstream {
    /// The jump chain, target last.
    pub hosts: Vec<UpstreamHost>,
    /// Public keys allowed to connect.
    pub authorized_keys: Vec<String>,
}
