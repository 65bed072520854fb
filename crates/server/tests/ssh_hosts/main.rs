//! The server's SSH connection pool against real sshd processes in network namespaces.
//! Needs root (namespaces); see `host.rs`.

mod deploy;
mod host;
mod pool;
mod provision;
