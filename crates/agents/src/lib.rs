//! Wire types of the dstack-shim and dstack-runner HTTP APIs and typed clients for them.

pub mod http;
pub mod runner;
pub mod shim;
