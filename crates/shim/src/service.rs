//! [`Shim`]: the host agent's operations, as the HTTP API calls them.
//!
//! A submitted task runs in its own tokio task ([`crate::pipeline`]); terminate and remove
//! act on the task's container or process and record the outcome in the [`TaskStore`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use dstack_agents::shim::{
    ComponentInfo, ComponentInstallRequest, InstanceInfoResponse, TaskInfoResponse, TaskListItem,
    TaskStatus, TaskSubmitRequest, TaskTerminateRequest,
};

use crate::components::{Components, InstallError};
use crate::docker::DockerError;
use crate::docker::container::ContainerDefaults;
use crate::gpu_lock::GpuLock;
use crate::host::HostGpus;
use crate::runtime::Runtime;
use crate::task::{Task, TaskStore, TaskStoreError, Termination};

/// Why an operation of the shim failed.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("{0} is required")]
    MissingField(&'static str),
    #[error(transparent)]
    Store(#[from] TaskStoreError),
    #[error("task {id} is {status}; only a terminated task can be removed")]
    NotTerminated { id: String, status: TaskStatus },
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Install(#[from] InstallError),
    #[error("cannot remove the dirs of task {id}: {source}")]
    RemoveDirs { id: String, source: std::io::Error },
}

/// The host agent: its tasks, where they run, the host's GPUs.
#[derive(Debug)]
pub struct Shim {
    pub(crate) store: TaskStore,
    pub(crate) runtime: Runtime,
    pub(crate) gpu_lock: GpuLock,
    pub(crate) gpus: HostGpus,
    pub(crate) defaults: ContainerDefaults,
    /// `<shim home>/runners`: one temp dir per container, bound to its `/tmp/runner`.
    pub(crate) runners_dir: PathBuf,
    pub(crate) components: Components,
}

impl Shim {
    /// A shim with no tasks yet; see [`Self::restore_tasks`].
    pub fn new(
        runtime: Runtime,
        gpus: HostGpus,
        defaults: ContainerDefaults,
        home: &Path,
        shim_binary_path: PathBuf,
    ) -> Self {
        Self {
            components: Components::new(defaults.runner_binary_path.clone(), shim_binary_path),
            store: TaskStore::default(),
            runtime,
            gpu_lock: GpuLock::new(gpus.gpus.iter().map(|gpu| gpu.id.clone())),
            gpus,
            defaults,
            runners_dir: home.join("runners"),
        }
    }

    /// Takes back the containers a previous shim left: exited ones as terminated tasks,
    /// running ones as running tasks whose exit is watched again, with their GPUs locked.
    /// Host processes are not taken back.
    pub async fn restore_tasks(self: &Arc<Self>) -> Result<usize, ShimError> {
        let Runtime::Docker(docker) = &self.runtime else {
            return Ok(0);
        };
        let containers = docker.task_containers().await?;
        for container in &containers {
            let mut task = Task::new(TaskSubmitRequest {
                id: container.task_id.clone(),
                name: container.container_name.clone(),
                ..Default::default()
            });
            task.container_name.clone_from(&container.container_name);
            task.container_id.clone_from(&container.container_id);
            task.gpu_ids = self
                .gpu_lock
                .lock_ids(&container.task_id, &container.gpu_ids);
            task.status = if container.running {
                task.ports = Some(container.ports.clone());
                TaskStatus::Running
            } else {
                TaskStatus::Terminated
            };
            match self.store.insert(task) {
                Ok(task) if task.status == TaskStatus::Running => {
                    tokio::spawn(crate::pipeline::docker::watch_exit(
                        Arc::clone(self),
                        docker.clone(),
                        task.config.id,
                    ));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "container not restored"),
            }
        }
        Ok(containers.len())
    }

    /// `GET /api/instance/info`.
    pub fn instance_info(&self) -> InstanceInfoResponse {
        self.gpus.instance_info()
    }

    /// `GET /api/tasks`.
    pub fn list_tasks(&self) -> Vec<TaskListItem> {
        self.store.list()
    }

    /// `GET /api/tasks/{id}`.
    pub fn get_task(&self, id: &str) -> Result<TaskInfoResponse, ShimError> {
        Ok(self.store.get(id)?.info())
    }

    /// `POST /api/tasks`: records the task and starts its pipeline. A task run as a host
    /// process has no image; one that names an image fails in its pipeline, with a message.
    pub fn submit_task(
        self: &Arc<Self>,
        config: TaskSubmitRequest,
    ) -> Result<TaskInfoResponse, ShimError> {
        let needs_image = matches!(self.runtime, Runtime::Docker(_));
        for (field, value, required) in [
            ("id", &config.id, true),
            ("name", &config.name, true),
            ("image_name", &config.image_name, needs_image),
        ] {
            if required && value.trim().is_empty() {
                return Err(ShimError::MissingField(field));
            }
        }
        let task = self.store.insert(Task::new(config))?;
        let (shim, id) = (Arc::clone(self), task.config.id.clone());
        match &self.runtime {
            Runtime::Docker(docker) => {
                tokio::spawn(crate::pipeline::docker::run_task(shim, docker.clone(), id));
            }
            Runtime::Process(processes) => {
                tokio::spawn(crate::process::pipeline::run_task(
                    shim,
                    Arc::clone(processes),
                    id,
                ));
            }
        }
        Ok(task.info())
    }

    /// `POST /api/tasks/{id}/terminate`: stops a running container or runner process within
    /// `timeout` seconds and interrupts a task still being prepared. The task keeps the first
    /// reason it got.
    pub async fn terminate_task(
        &self,
        id: &str,
        request: TaskTerminateRequest,
    ) -> Result<TaskInfoResponse, ShimError> {
        let operation = self.store.get(id)?.operation;
        let _serialized = operation.lock().await;
        let termination = Termination {
            reason: request.termination_reason,
            message: request.termination_message,
        };
        self.store.request_termination(id, termination.clone())?;
        let task = self.store.get(id)?;
        task.cancel.cancel();
        let timeout = Duration::from_secs(request.timeout);
        match &self.runtime {
            Runtime::Docker(docker) if task.status == TaskStatus::Running => {
                docker.stop(&task.container_name, timeout).await?;
            }
            Runtime::Docker(_) => {}
            // A runner is registered from its start, before the task is running.
            Runtime::Process(processes) => processes.stop(id, timeout).await,
        }
        self.gpu_lock.release(id);
        Ok(self.store.finish(id, termination)?.info())
    }

    /// `POST /api/tasks/{id}/remove`: removes a terminated task's container and runner dir
    /// (or its process's dirs), then forgets the task.
    pub async fn remove_task(&self, id: &str) -> Result<(), ShimError> {
        let operation = self.store.get(id)?.operation;
        let _serialized = operation.lock().await;
        let task = self.store.get(id)?;
        if task.status != TaskStatus::Terminated {
            return Err(ShimError::NotTerminated {
                id: id.to_owned(),
                status: task.status,
            });
        }
        let docker = match &self.runtime {
            Runtime::Docker(docker) => docker,
            Runtime::Process(processes) => {
                processes
                    .remove(id)
                    .await
                    .map_err(|source| ShimError::RemoveDirs {
                        id: id.to_owned(),
                        source,
                    })?;
                self.store.remove(id)?;
                return Ok(());
            }
        };
        docker.remove(&task.container_name).await?;
        let runner_dir = self.runner_dir(&task.container_name);
        if let Err(error) = tokio::fs::remove_dir_all(&runner_dir).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            // The task is gone either way; a leftover directory only costs disk space.
            tracing::warn!(dir = %runner_dir.display(), %error, "runner dir not removed");
        }
        self.store.remove(id)?;
        Ok(())
    }

    /// `GET /api/components`: the runner and shim binaries found at their paths.
    pub async fn components(&self) -> Vec<ComponentInfo> {
        self.components.list().await
    }

    /// `POST /api/components/install`: starts replacing a binary.
    pub fn install_component(&self, request: &ComponentInstallRequest) -> Result<(), ShimError> {
        Ok(self.components.install(request.name, &request.url)?)
    }

    pub(crate) fn runner_dir(&self, container_name: &str) -> PathBuf {
        self.runners_dir.join(container_name)
    }
}
