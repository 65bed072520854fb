//! What can go wrong on the way to a host and once connected.

use std::sync::Arc;
use std::time::Duration;

/// Why no SSH session to a host could be had. Cloneable so that the pool can hand the last
/// failure to every caller during the back-off that follows it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// The TCP connection failed: nothing listens, no route, or the name does not resolve.
    #[error("{host} is unreachable: {source}")]
    Unreachable {
        /// `user@host:port`.
        host: String,
        /// The socket error.
        source: Arc<std::io::Error>,
    },
    /// The jump host could not open a connection to the target.
    #[error("{host} is unreachable from the jump host {jump}: {reason}")]
    UnreachableViaJump {
        /// The target.
        host: String,
        /// The jump host.
        jump: String,
        /// What the jump host answered.
        reason: String,
    },
    /// The server did not accept the key.
    #[error("{host} refused the {key_type} key for user {user}")]
    AuthRefused {
        /// `user@host:port`.
        host: String,
        /// The user we logged in as.
        user: String,
        /// The key's algorithm, such as `ssh-ed25519`.
        key_type: String,
    },
    /// The host presented another key than the one seen first.
    #[error(
        "the host key of {host} changed: {expected} was seen first, now {found}; refusing to \
         connect (remove and add the host again if it was reinstalled)"
    )]
    HostKeyChanged {
        /// `host:port`.
        host: String,
        /// The fingerprint seen first.
        expected: String,
        /// The fingerprint presented now.
        found: String,
    },
    /// Connecting, the handshake or authentication took too long.
    #[error("{host} did not answer within {timeout:?} while {stage}")]
    TimedOut {
        /// `user@host:port`.
        host: String,
        /// What we were doing.
        stage: &'static str,
        /// The limit.
        timeout: Duration,
    },
    /// The SSH protocol failed (key exchange, a disconnect by the server, ...).
    #[error("SSH with {host} failed: {source}")]
    Protocol {
        /// `user@host:port`.
        host: String,
        /// The SSH library's error.
        source: Arc<russh::Error>,
    },
    /// The host was removed from the pool while the connection was wanted.
    #[error("{host} is no longer managed by this server")]
    Removed {
        /// `user@host:port`.
        host: String,
    },
}

/// Why an operation over a pooled connection failed.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    /// No connection could be had.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A channel could not be opened or failed midway.
    #[error("SSH channel to {host} failed: {source}")]
    Channel {
        /// `user@host:port`.
        host: String,
        /// The SSH library's error.
        source: russh::Error,
    },
    /// A command did not finish in time; its channel is closed.
    #[error("`{command}` on {host} did not finish within {timeout:?}")]
    CommandTimedOut {
        /// `user@host:port`.
        host: String,
        /// The command line.
        command: String,
        /// The limit.
        timeout: Duration,
    },
    /// A file could not be written on the host.
    #[error("cannot write {path} on {host}: {detail}")]
    Upload {
        /// `user@host:port`.
        host: String,
        /// The file on the host.
        path: String,
        /// The exit status and stderr of the writing command.
        detail: String,
    },
    /// The loopback listener of a forward could not be bound.
    #[error("cannot listen on a loopback port to forward to {host} port {port}: {source}")]
    ForwardListener {
        /// `user@host:port`.
        host: String,
        /// The port on the host.
        port: u16,
        /// The socket error.
        source: std::io::Error,
    },
}
