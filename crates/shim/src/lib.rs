//! dstack-shim, the host agent: task API, Docker driver, host and GPU discovery.
//!
//! - [`server`]: startup and the HTTP server; [`api`]: its routes.
//! - [`service`]: [`Shim`](service::Shim), the operations behind the routes.
//! - [`runtime`]: Docker or host processes, chosen at startup.
//! - [`pipeline`]: a task's life from preparation to its container's exit; [`process`]: the
//!   same for tasks run as host processes.
//! - [`task`]: the task records and their status rules; [`gpu_lock`]: GPUs per task.
//! - [`docker`]: the Docker daemon calls and the container a task asks for.
//! - [`host`], [`discovery`]: CPUs, memory, disk, addresses and GPUs of the host.
//! - [`host_keys`]: a task's SSH keys in the host user's `authorized_keys`.
//! - [`components`]: the agent binaries on the host; [`settings`]: flags and environment.

pub mod api;
pub mod components;
pub mod discovery;
pub mod docker;
pub mod gpu_lock;
pub mod host;
pub mod host_keys;
pub mod pipeline;
pub mod process;
pub mod runtime;
pub mod server;
pub mod service;
pub mod settings;
pub mod task;

/// The version the shim reports. dstack servers enable every shim feature for a version
/// that is not a release, such as the default `latest`; release builds set
/// `DSTACK_SHIM_VERSION`.
pub const VERSION: &str = match option_env!("DSTACK_SHIM_VERSION") {
    Some(version) => version,
    None => "latest",
};
