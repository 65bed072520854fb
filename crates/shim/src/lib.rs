//! dstack-shim, the host agent: task API, Docker driver, host and GPU discovery.

pub mod discovery;
