//! SSH connections from the server to the hosts it manages (ARCHITECTURE.md principle 4).
//!
//! - [`SshTarget`]: how to reach one host (user, address, key, optional jump host);
//!   [`fleet_host_target`] makes one for a host of an SSH fleet, and
//!   [`RemoteConnectionInfo::target`] for the instance stored for that host.
//! - [`SshPool`]: one multiplexed SSH connection per target, opened lazily, shared by every
//!   caller, reconnected with a bounded back-off, closed when idle or when the host is removed.
//!   Over it: [`SshPool::run`] runs a command, [`SshPool::upload`] writes a file, and
//!   [`SshPool::forward`] gives a loopback address whose TCP connections reach a port on the
//!   host through `direct-tcpip` channels, so the HTTP clients of the agents work unchanged.
//! - [`HostKeyStore`]: trust on first use for host keys.
//! - [`deploy`]: the host checks and the shim deployment of SSH fleets; [`provision`]: the
//!   whole provisioning of an SSH fleet host on top of it; [`agent_address`]: its agents
//!   afterwards.
//!
//! dstack itself does not check host keys at all (OpenSSH with `StrictHostKeyChecking=no` and
//! `UserKnownHostsFile=/dev/null`, paramiko with `AutoAddPolicy`); we remember the first key
//! seen per host for the life of the process and refuse a different one.

mod agents;
pub mod deploy;
mod error;
mod exec;
mod fleet_host;
mod forward;
mod host_keys;
mod pool;
pub mod provision;
mod session;
mod target;

pub use agents::{AgentAddressError, agent_address};
pub use error::{ConnectError, SshError};
pub use exec::CommandOutput;
pub use fleet_host::{FleetHostError, RemoteConnectionInfo, fleet_host_target};
pub use host_keys::HostKeyStore;
pub use pool::{PoolSettings, SshPool};
pub use target::{KeyError, SshKey, SshTarget};
