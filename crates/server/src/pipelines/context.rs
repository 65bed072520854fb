//! [`Scheduler`]: what every reconciler shares (the database, the wake-ups, the backends and
//! the connections to agents), and reaching an instance's shim and runner.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use dstack_agents::runner::RunnerClient;
use dstack_agents::shim::{ShimClient, ShimRuntime};
use dstack_core::api::common::Uuid4;
use dstack_core::api::jobs::JobProvisioningData;
use dstack_core::resources::CpuArch;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::hints::{Hints, Kind};
use crate::backends::local::{LOCAL_REGION, LocalBackend, LocalShim};
use crate::connect::provision::{AgentBinaries, RemoteBackendData};
use crate::connect::{RemoteConnectionInfo, SshPool, agent_address};
use crate::db::Database;
use crate::db::instances::InstanceRow;
use crate::services::ServiceError;

/// How long one call to an agent may take (dstack: 9 s).
const AGENT_TIMEOUT: Duration = Duration::from_secs(9);

/// The shared state of the pipelines.
#[derive(Clone)]
pub struct Scheduler {
    /// The database.
    pub db: Database,
    /// Wake-ups between pipelines and from the API.
    pub hints: Hints,
    /// Slices of this host.
    pub local: LocalBackend,
    /// One SSH connection per SSH fleet host.
    pub ssh: SshPool,
    http: reqwest::Client,
    agents: Arc<OnceCell<AgentBinaries>>,
}

/// Why an instance's agent cannot be reached.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// The instance has no provisioning data yet, or data we cannot read.
    #[error("the instance {0} is not provisioned")]
    NotProvisioned(String),
    /// The connection to the host failed.
    #[error("cannot reach the instance {instance}: {reason}")]
    Unreachable {
        /// The instance's name.
        instance: String,
        /// Why.
        reason: String,
    },
}

impl Scheduler {
    /// The scheduler's state.
    pub fn new(db: Database, hints: Hints, local: LocalBackend, ssh: SshPool) -> Self {
        let http = dstack_agents::http::plain_client_builder()
            .timeout(AGENT_TIMEOUT)
            .build()
            .unwrap_or_default();
        Self {
            db,
            hints,
            local,
            ssh,
            http,
            agents: Arc::default(),
        }
    }

    /// Wakes the pipelines of `kinds`.
    pub fn wake(&self, kinds: &[Kind]) {
        for kind in kinds {
            self.hints.hint(*kind);
        }
    }

    /// The loopback address at which `port` of the instance's host answers.
    fn address(&self, instance: &InstanceRow, port: u16) -> Result<String, ReachError> {
        if is_local(instance) {
            return Ok(format!("http://127.0.0.1:{port}"));
        }
        let connection = remote_connection(instance)?;
        let address = agent_address(&self.ssh, &connection, port).map_err(|error| {
            ReachError::Unreachable {
                instance: instance.name.clone(),
                reason: error.to_string(),
            }
        })?;
        Ok(format!("http://{address}"))
    }

    /// The agent binaries SSH hosts get, read once.
    pub async fn agent_binaries(&self) -> Result<AgentBinaries, String> {
        self.agents
            .get_or_try_init(|| async {
                let read = |path: PathBuf| async move {
                    tokio::fs::read(&path)
                        .await
                        .map(Arc::<[u8]>::from)
                        .map_err(|error| format!("cannot read {}: {error}", path.display()))
                };
                Ok(AgentBinaries {
                    arch: host_arch(),
                    shim: read(self.local.shim_binary().to_owned()).await?,
                    runner: read(self.local.runner_binary().to_owned()).await?,
                })
            })
            .await
            .cloned()
    }

    /// The shim of a provisioned instance.
    pub fn shim(&self, instance: &InstanceRow) -> Result<ShimClient, ReachError> {
        let port = shim_port(instance)?;
        let address = self.address(instance, port)?;
        ShimClient::with_http_client(&address, self.http.clone()).map_err(|error| {
            ReachError::Unreachable {
                instance: instance.name.clone(),
                reason: error.to_string(),
            }
        })
    }

    /// The runner listening on `host_port` of the instance's host.
    pub fn runner(
        &self,
        instance: &InstanceRow,
        host_port: u16,
    ) -> Result<RunnerClient, ReachError> {
        let address = self.address(instance, host_port)?;
        Ok(RunnerClient::with_http_client(self.http.clone(), address))
    }
}

/// Whether the instance is a slice of this host.
pub fn is_local(instance: &InstanceRow) -> bool {
    instance.remote_connection_info.is_none() && instance.region.as_deref() == Some(LOCAL_REGION)
}

/// The local shim of a local instance, from its provisioning data.
pub fn local_shim(instance: &InstanceRow) -> Option<LocalShim> {
    serde_json::from_str(&backend_data(instance)?).ok()
}

/// Whether the instance's jobs run in containers or as host processes: `runtime` in the
/// backend data of its provisioning data (local slices and SSH hosts both record it).
pub fn runtime_of(instance: &InstanceRow) -> ShimRuntime {
    backend_data(instance)
        .and_then(|backend| serde_json::from_str::<serde_json::Value>(&backend).ok())
        .and_then(|backend| serde_json::from_value(backend["runtime"].clone()).ok())
        .unwrap_or(ShimRuntime::Docker)
}

fn shim_port(instance: &InstanceRow) -> Result<u16, ReachError> {
    let port = if is_local(instance) {
        local_shim(instance).map(|shim| shim.shim_port)
    } else {
        backend_data(instance)
            .and_then(|data| RemoteBackendData::parse(&data).ok())
            .map(|data| data.shim_port)
    };
    port.ok_or_else(|| ReachError::NotProvisioned(instance.name.clone()))
}

fn backend_data(instance: &InstanceRow) -> Option<String> {
    let data: JobProvisioningData =
        serde_json::from_str(instance.job_provisioning_data.as_deref()?).ok()?;
    data.backend_data
}

/// How an SSH fleet host is reached, private keys included.
pub fn remote_connection(instance: &InstanceRow) -> Result<RemoteConnectionInfo, ReachError> {
    instance
        .remote_connection_info
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .ok_or_else(|| ReachError::NotProvisioned(instance.name.clone()))
}

/// The CPU architecture of this server, which its agent binaries are built for.
fn host_arch() -> CpuArch {
    if cfg!(target_arch = "aarch64") {
        CpuArch::Arm
    } else {
        CpuArch::X86
    }
}

/// A stored project id.
pub fn project_uuid(id: &str) -> Result<Uuid4, ServiceError> {
    Uuid::parse_str(id)
        .ok()
        .and_then(|id| Uuid4::try_from(id).ok())
        .ok_or_else(|| ServiceError::Invalid(format!("corrupt project id {id}")))
}
