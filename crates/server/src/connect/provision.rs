//! Provisioning one host of an SSH fleet (spec lifecycle.md §6): log in with the fleet's
//! key, check the host, add the keys to `authorized_keys`, install `dstack-runner` and
//! `dstack-shim` and start the shim in service mode, read the `host_info.json` it writes, and
//! turn that into what the instance row needs: instance type, internal IP, blocks, the job
//! provisioning data and the offer.
//!
//! - [`provision_host`]: the whole deployment; idempotent, so the instance pipeline calls it
//!   again after a [`ProvisionError::is_retryable`] failure (dstack retries until 10 minutes
//!   after the instance was created) and terminates the instance on any other.
//! - [`HostToProvision`], [`AgentBinaries`], [`HostLayout`]: what to install where.
//! - [`ProvisionedHost`], with [`RemoteBackendData`] in its job provisioning data: the result.
//!
//! The shim is left installed when its instance goes away, as dstack leaves it.

mod gpu_names;
mod instance_type;
mod internal_ip;

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dstack_agents::shim::{DEFAULT_SHIM_HTTP_PORT, HealthcheckResponse, HostInfo, ShimRuntime};
use dstack_core::api::jobs::{JobProvisioningData, SshConnectionParams};
use dstack_core::backend::BackendType;
use dstack_core::configuration::fleet::Blocks;
use dstack_core::env::EnvValue;
use dstack_core::offers::{InstanceOfferWithAvailability, InstanceType};
use dstack_core::resources::CpuArch;
use serde::{Deserialize, Serialize};

pub use self::instance_type::BlocksError;
use self::instance_type::{instance_type, total_blocks};
pub use self::internal_ip::InternalIpError;
use self::internal_ip::resolve_internal_ip;
use super::deploy::{self, DeployError, ShimDeployment, Supervisor};
use super::error::{ConnectError, SshError};
use super::fleet_host::{FleetHostError, RemoteConnectionInfo};
use super::pool::{SshPool, shell_quote};
use super::target::SshTarget;

/// The region of every SSH host.
const REGION: &str = "remote";
/// The SSH port of a jump host that names none.
const DEFAULT_SSH_PORT: u16 = 22;
/// How long the shim may take to answer its healthcheck once started (dstack: 20 × 3 s).
const HEALTHY_WITHIN: Duration = Duration::from_secs(60);
/// How long the shim may take to write `host_info.json` once healthy.
const HOST_INFO_WITHIN: Duration = Duration::from_secs(60);
/// How often `host_info.json` is looked for.
const HOST_INFO_EVERY: Duration = Duration::from_millis(250);
/// How long one command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long uploading a binary may take (tens of MiB over a slow link).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// The agent binaries this server installs, built for one CPU architecture. Cheap to clone.
#[derive(Clone)]
pub struct AgentBinaries {
    /// The architecture they run on.
    pub arch: CpuArch,
    /// `dstack-shim`.
    pub shim: Arc<[u8]>,
    /// `dstack-runner`, which the shim starts for each job.
    pub runner: Arc<[u8]>,
}

impl fmt::Debug for AgentBinaries {
    /// Sizes, not bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentBinaries")
            .field("arch", &self.arch)
            .field("shim_bytes", &self.shim.len())
            .field("runner_bytes", &self.runner.len())
            .finish()
    }
}

/// Where the agents go on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLayout {
    /// The directory of `dstack-shim` and `dstack-runner`.
    pub bin_dir: String,
    /// The shim's home: `shim.env`, its logs, `host_info.json`.
    pub working_dir: String,
    /// The shim's HTTP port on the host's loopback.
    pub shim_port: u16,
}

impl Default for HostLayout {
    /// dstack's: `/usr/local/bin`, `/root/.dstack` and port 10998. The commands run as the
    /// fleet's SSH user without `sudo`, so that user must be root or able to write there.
    fn default() -> Self {
        Self {
            bin_dir: "/usr/local/bin".to_owned(),
            working_dir: "/root/.dstack".to_owned(),
            shim_port: DEFAULT_SHIM_HTTP_PORT,
        }
    }
}

impl HostLayout {
    fn shim_path(&self) -> String {
        format!("{}/dstack-shim", self.bin_dir)
    }

    fn runner_path(&self) -> String {
        format!("{}/dstack-runner", self.bin_dir)
    }

    fn host_info_path(&self) -> String {
        format!("{}/host_info.json", self.working_dir)
    }
}

/// One SSH fleet host to provision.
#[derive(Debug, Clone, Copy)]
pub struct HostToProvision<'a> {
    /// How to reach it and the fleet's settings for it (`remote_connection_info`).
    pub connection: &'a RemoteConnectionInfo,
    /// The blocks it is shared in: the instance's `total_blocks`, `auto` when unset.
    pub blocks: Blocks,
    /// The project's public key, an `authorized_keys` line, added for the login user beside
    /// the fleet's own keys as dstack does.
    pub project_public_key: &'a str,
    /// What to install.
    pub agents: &'a AgentBinaries,
    /// Where.
    pub layout: &'a HostLayout,
}

/// What the server records in `backend_data` of an SSH host's job provisioning data: what
/// it needs to reach and drive the agents later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteBackendData {
    /// The shim's HTTP port on the host's loopback.
    pub shim_port: u16,
    /// How the shim runs jobs.
    pub runtime: ShimRuntime,
}

impl RemoteBackendData {
    /// Reads it back from `job_provisioning_data.backend_data`.
    pub fn parse(backend_data: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(backend_data)
    }
}

/// A provisioned host: the shim runs and answers.
#[derive(Debug, Clone)]
pub struct ProvisionedHost {
    /// The host's resources, named `instance` as dstack names SSH hosts.
    pub instance_type: InstanceType,
    /// Where the other hosts of the fleet reach it; `None` when it has no IPv4 address.
    pub internal_ip: Option<String>,
    /// How many blocks it is shared in.
    pub total_blocks: u32,
    /// How its shim runs jobs.
    pub runtime: ShimRuntime,
    /// The shim's healthcheck answer (its version).
    pub health: HealthcheckResponse,
    /// The pool's loopback forward to the shim.
    pub shim_address: SocketAddr,
    /// The instance's `job_provisioning_data`, with [`RemoteBackendData`] as `backend_data`.
    pub job_provisioning_data: JobProvisioningData,
    /// The instance's `offer`: price 0, one block of `total_blocks`.
    pub offer: InstanceOfferWithAvailability,
}

/// Why provisioning failed. The message is meant for the user (the instance's status or
/// termination message); [`Self::is_retryable`] says whether trying again may help.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The stored connection settings cannot be used (missing or encrypted key, ...).
    #[error(transparent)]
    Connection(#[from] FleetHostError),
    /// A host check or the shim deployment failed.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// SSH failed while installing the runner or reading `host_info.json`.
    #[error(transparent)]
    Ssh(#[from] SshError),
    /// `uname -m` printed an architecture dstack has no agents for.
    #[error("{host} has the CPU architecture {arch}; only x86_64 and aarch64 are supported")]
    UnsupportedArch {
        /// `user@host:port`.
        host: String,
        /// What `uname -m` printed.
        arch: String,
    },
    /// This server has no agents built for the host's architecture.
    #[error(
        "{host} is an {found} host, but this server only has dstack-shim and dstack-runner \
         for {available}"
    )]
    NoAgentsForArch {
        /// `user@host:port`.
        host: String,
        /// The host's architecture.
        found: &'static str,
        /// The agents' architecture.
        available: &'static str,
    },
    /// A variable of the fleet's `env` has no value.
    #[error("the fleet's env variable {name} has no value; set it as NAME=VALUE")]
    EnvNotSet {
        /// The variable.
        name: String,
    },
    /// The shim did not write a readable `host_info.json` in time.
    #[error(
        "the shim on {host} did not describe the host in {path} within {timeout:?}: \
         {last_error}"
    )]
    HostInfo {
        /// `user@host:port`.
        host: String,
        /// The file.
        path: String,
        /// The limit.
        timeout: Duration,
        /// Why the last read failed.
        last_error: String,
    },
    /// The host cannot be split into the configured blocks.
    #[error(transparent)]
    Blocks(#[from] BlocksError),
    /// The internal IP cannot be settled.
    #[error(transparent)]
    InternalIp(#[from] InternalIpError),
}

impl ProvisionError {
    /// Whether the same deployment may succeed later without a change to the fleet: the host
    /// was unreachable, slow, or its shim not up yet. dstack keeps such instances pending and
    /// tries again; every other failure terminates the instance.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Deploy(error) => deploy_is_retryable(error),
            Self::Ssh(error) => ssh_is_retryable(error),
            Self::HostInfo { .. } => true,
            Self::Connection(_)
            | Self::UnsupportedArch { .. }
            | Self::NoAgentsForArch { .. }
            | Self::EnvNotSet { .. }
            | Self::Blocks(_)
            | Self::InternalIp(_) => false,
        }
    }
}

fn deploy_is_retryable(error: &DeployError) -> bool {
    match error {
        DeployError::Ssh(error) => ssh_is_retryable(error),
        DeployError::Step { .. } | DeployError::NotHealthy { .. } => true,
        DeployError::Env { .. } | DeployError::PublicKey { .. } => false,
    }
}

fn ssh_is_retryable(error: &SshError) -> bool {
    match error {
        SshError::Connect(error) => connect_is_retryable(error),
        SshError::Channel { .. }
        | SshError::CommandTimedOut { .. }
        | SshError::Upload { .. }
        | SshError::ForwardListener { .. } => true,
    }
}

/// A refused key is retryable as in dstack: the user may fix `authorized_keys` on the host.
/// A changed host key is not: the pool keeps refusing it until the host is added again.
fn connect_is_retryable(error: &ConnectError) -> bool {
    match error {
        ConnectError::Unreachable { .. }
        | ConnectError::UnreachableViaJump { .. }
        | ConnectError::AuthRefused { .. }
        | ConnectError::TimedOut { .. }
        | ConnectError::Protocol { .. }
        | ConnectError::Removed { .. } => true,
        ConnectError::HostKeyChanged { .. } => false,
    }
}

/// Deploys the agents on `host` and describes it. Safe to call again on the same host: it
/// replaces the binaries and restarts the shim.
pub async fn provision_host(
    pool: &SshPool,
    host: &HostToProvision<'_>,
) -> Result<ProvisionedHost, ProvisionError> {
    let connection = host.connection;
    let layout = host.layout;
    let target = connection.target()?;
    let facts = deploy::inspect_host(pool, &target).await?;
    let arch = host_arch(&target, &facts.arch)?;
    if arch != host.agents.arch {
        return Err(ProvisionError::NoAgentsForArch {
            host: target.login(),
            found: arch.as_str(),
            available: host.agents.arch.as_str(),
        });
    }
    let env = shim_env(connection, layout)?;
    deploy::authorize_keys(pool, &target, &authorized_keys(host)).await?;
    install_runner(pool, &target, host).await?;
    let deployment = ShimDeployment {
        binary: Arc::clone(&host.agents.shim),
        binary_path: layout.shim_path(),
        working_dir: layout.working_dir.clone(),
        http_port: layout.shim_port,
        env,
        supervisor: Supervisor::for_host(&facts),
    };
    let health = deploy::deploy_shim(pool, &target, &deployment, HEALTHY_WITHIN).await?;
    let info = read_host_info(pool, &target, layout).await?;
    let runtime = info.runtime.unwrap_or(ShimRuntime::Docker);
    let instance_type = instance_type(&info, arch);
    let resources = &instance_type.resources;
    let gpus = u32::try_from(resources.gpus.len()).unwrap_or(u32::MAX);
    let total_blocks = total_blocks(host.blocks, resources.cpus, gpus)?;
    let internal_ip = resolve_internal_ip(
        connection.internal_ip.as_deref(),
        connection.network.as_deref(),
        &info.addresses,
    )?;
    let shim_address = pool.forward(&target, layout.shim_port)?;
    let backend_data = RemoteBackendData {
        shim_port: layout.shim_port,
        runtime,
    };
    Ok(ProvisionedHost {
        job_provisioning_data: job_provisioning_data(
            connection,
            &instance_type,
            internal_ip.clone(),
            backend_data,
        ),
        offer: offer(&instance_type, total_blocks),
        instance_type,
        internal_ip,
        total_blocks,
        runtime,
        health,
        shim_address,
    })
}

/// The architecture `uname -m` printed.
fn host_arch(target: &SshTarget, uname: &str) -> Result<CpuArch, ProvisionError> {
    match uname {
        "x86_64" | "amd64" => Ok(CpuArch::X86),
        "aarch64" | "arm64" => Ok(CpuArch::Arm),
        other => Err(ProvisionError::UnsupportedArch {
            host: target.login(),
            arch: other.to_owned(),
        }),
    }
}

/// `shim.env` beyond what [`deploy`] writes: where the runner is, then the fleet's `env`,
/// which may override it.
fn shim_env(
    connection: &RemoteConnectionInfo,
    layout: &HostLayout,
) -> Result<Vec<(String, String)>, ProvisionError> {
    let runner = ("DSTACK_RUNNER_BINARY_PATH".to_owned(), layout.runner_path());
    let fleet = connection.env.iter().map(|(name, value)| match value {
        EnvValue::Value(value) => Ok((name.to_owned(), value.clone())),
        EnvValue::Placeholder => Err(ProvisionError::EnvNotSet {
            name: name.to_owned(),
        }),
    });
    std::iter::once(Ok(runner)).chain(fleet).collect()
}

/// The fleet's public keys as the CLI sent them, then the project's.
fn authorized_keys(host: &HostToProvision<'_>) -> Vec<String> {
    host.connection
        .ssh_keys
        .iter()
        .map(|key| key.public.trim())
        .chain([host.project_public_key.trim()])
        .filter(|key| !key.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Puts `dstack-runner` where `DSTACK_RUNNER_BINARY_PATH` says, creating the directory.
async fn install_runner(
    pool: &SshPool,
    target: &SshTarget,
    host: &HostToProvision<'_>,
) -> Result<(), ProvisionError> {
    let mkdir = format!("mkdir -p {}", shell_quote(&host.layout.bin_dir));
    let output = pool.run(target, &mkdir, COMMAND_TIMEOUT).await?;
    if !output.success() {
        return Err(DeployError::Step {
            step: "creating the directory of the agents",
            host: target.login(),
            detail: format!("{}: {}", output.describe_exit(), output.stderr_text()),
        }
        .into());
    }
    let path = host.layout.runner_path();
    let runner = &host.agents.runner;
    pool.upload(target, &path, runner, 0o755, UPLOAD_TIMEOUT)
        .await?;
    Ok(())
}

/// Reads `host_info.json` until the shim has written all of it, at most
/// [`HOST_INFO_WITHIN`].
async fn read_host_info(
    pool: &SshPool,
    target: &SshTarget,
    layout: &HostLayout,
) -> Result<HostInfo, ProvisionError> {
    let path = layout.host_info_path();
    let command = format!("cat {}", shell_quote(&path));
    let deadline = tokio::time::Instant::now() + HOST_INFO_WITHIN;
    let mut attempts = tokio::time::interval(HOST_INFO_EVERY);
    loop {
        attempts.tick().await;
        let output = pool.run(target, &command, COMMAND_TIMEOUT).await?;
        let last_error = if output.success() {
            match serde_json::from_str(&output.stdout_text()) {
                Ok(info) => return Ok(info),
                Err(error) => format!("it cannot be parsed: {error}"),
            }
        } else {
            format!("{}: {}", output.describe_exit(), output.stderr_text())
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(ProvisionError::HostInfo {
                host: target.login(),
                path,
                timeout: HOST_INFO_WITHIN,
                last_error,
            });
        }
    }
}

fn job_provisioning_data(
    connection: &RemoteConnectionInfo,
    instance_type: &InstanceType,
    internal_ip: Option<String>,
    backend_data: RemoteBackendData,
) -> JobProvisioningData {
    JobProvisioningData {
        backend: BackendType::Remote,
        base_backend: None,
        instance_type: instance_type.clone(),
        instance_id: connection.host.clone(),
        hostname: Some(connection.host.clone()),
        internal_ip,
        public_ip_enabled: true,
        instance_network: connection.network.clone(),
        region: REGION.to_owned(),
        availability_zone: None,
        reservation: None,
        price: 0.0,
        username: connection.ssh_user.clone(),
        ssh_port: Some(connection.port),
        dockerized: true,
        ssh_proxy: connection
            .ssh_proxy
            .as_ref()
            .map(|jump| SshConnectionParams {
                hostname: jump.hostname.clone(),
                username: jump.user.clone(),
                port: jump.port.unwrap_or(DEFAULT_SSH_PORT),
            }),
        backend_data: Some(
            serde_json::to_string(&backend_data)
                .expect("a number and a unit enum always serialize"),
        ),
        gpu_driver: None,
    }
}

fn offer(instance_type: &InstanceType, total_blocks: u32) -> InstanceOfferWithAvailability {
    InstanceOfferWithAvailability::remote(instance_type.clone(), REGION, total_blocks)
}
