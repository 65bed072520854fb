//! dstack-runner, the container agent: executor, repo setup, logs and metrics.
//!
//! - [`server`]: `dstack-runner start`, the API server and its [`lifecycle`]; [`sshd`]: the
//!   container's sshd; [`connections`]: SSH activity.
//! - [`api`]: the HTTP endpoints over the shared [`agent::Agent`]; [`logs_ws`]: the live log
//!   stream.
//! - [`state`]: which calls each API state accepts; [`history`]: the recorded events;
//!   [`quota`]: the hourly log quota; [`ansi`]: escape sequences out of stored logs.
//! - [`executor`]: prepares and runs the job; [`exec_job`]: the helper that starts the job in
//!   its session and as its user.
//! - [`user`], [`metrics`]: parsers of account files, cgroup files and nvidia-smi output.

pub mod agent;
pub mod ansi;
pub mod api;
pub mod cli;
pub mod config;
pub mod connections;
pub mod exec_job;
pub mod executor;
pub mod history;
pub mod lifecycle;
pub mod logs_ws;
pub mod metrics;
pub mod quota;
pub mod server;
pub mod sshd;
pub mod state;
pub mod user;

/// The version the runner reports in its healthcheck and `--version`. dstack servers enable
/// every runner feature for a version that is not a release, such as the default `latest`
/// (agents.md §1.10); release builds set `DSTACK_RUNNER_VERSION` (for example `0.22.5`, which
/// also keeps a dstack server from reinstalling the runner).
pub const VERSION: &str = match option_env!("DSTACK_RUNNER_VERSION") {
    Some(version) => version,
    None => "latest",
};
