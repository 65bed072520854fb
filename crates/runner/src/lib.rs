//! dstack-runner, the container agent: executor, repo setup, logs and metrics.

pub mod metrics;
pub mod user;
