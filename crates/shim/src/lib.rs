//! dstack-shim, the host agent: task API, Docker driver, host and GPU discovery.

pub mod discovery;
pub mod docker;
pub mod gpu_lock;
pub mod settings;
pub mod task;
