//! [`Runtime`]: how the shim runs tasks, chosen once at startup from `--runtime`.

use std::path::PathBuf;
use std::sync::Arc;

use dstack_agents::shim::ShimRuntime;

use crate::docker::{DockerDriver, DockerError};
use crate::process::ProcessRuntime;
use crate::settings::RuntimeSetting;

/// Where the shim's tasks run.
#[derive(Debug)]
pub enum Runtime {
    /// In Docker containers.
    Docker(DockerDriver),
    /// As host processes (see [`crate::process`]).
    Process(Arc<ProcessRuntime>),
}

impl Runtime {
    /// Connects to Docker as `setting` asks: `docker` requires it, `process` never tries, and
    /// `auto` falls back to host processes when the daemon does not answer. Process tasks
    /// keep their directories under `tasks_dir`.
    pub async fn choose(setting: RuntimeSetting, tasks_dir: PathBuf) -> Result<Self, DockerError> {
        let process = || Self::Process(Arc::new(ProcessRuntime::new(tasks_dir)));
        Ok(match setting {
            RuntimeSetting::Docker => Self::Docker(DockerDriver::connect().await?),
            RuntimeSetting::Process => process(),
            RuntimeSetting::Auto => match DockerDriver::connect().await {
                Ok(docker) => Self::Docker(docker),
                Err(error) => {
                    tracing::warn!(%error, "no Docker: tasks run as host processes");
                    process()
                }
            },
        })
    }

    /// The runtime's name, as `host_info.json` gives it.
    pub fn kind(&self) -> ShimRuntime {
        match self {
            Self::Docker(_) => ShimRuntime::Docker,
            Self::Process(_) => ShimRuntime::Process,
        }
    }
}
