//! Reaching the agents of a provisioned SSH host: [`agent_address`] gives a loopback address
//! for the shim's port (from [`RemoteBackendData`](super::provision::RemoteBackendData)) or a
//! job's runner port on the host, over the pool's connection to the host.

use std::net::SocketAddr;

use super::error::SshError;
use super::fleet_host::{FleetHostError, RemoteConnectionInfo};
use super::pool::SshPool;

/// Why an agent of an SSH host cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum AgentAddressError {
    /// The stored connection settings cannot be used.
    #[error(transparent)]
    Connection(#[from] FleetHostError),
    /// The forward cannot be set up.
    #[error(transparent)]
    Ssh(#[from] SshError),
}

/// A loopback address whose connections reach `127.0.0.1:port` on the host that
/// `connection` describes. The forward is kept by the pool and shared; it connects lazily,
/// so an unreachable host shows as failing requests to the address.
pub fn agent_address(
    pool: &SshPool,
    connection: &RemoteConnectionInfo,
    port: u16,
) -> Result<SocketAddr, AgentAddressError> {
    let target = connection.target()?;
    Ok(pool.forward(&target, port)?)
}
