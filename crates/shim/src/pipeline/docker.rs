//! A task's pipeline: prepare, pull, create, start, wait for the exit, and classify how it
//! ended. Each step moves the task's status first; a step that fails ends the task with the
//! reason that names it:
//!
//! | step | failure |
//! |---|---|
//! | runner dir, GPUs, host SSH keys, mounts (`preparing`) | `executor_error` |
//! | pull (`pulling`), create (`creating`) | `creating_container_error`, with Docker's text |
//! | start, non-zero exit (`running`) | `container_exited_with_error`, with the exit code |
//! | exit 0 | `done_by_runner` |
//!
//! When the task is terminated or removed meanwhile, the pipeline stops at its next step and
//! leaves the outcome to the terminate request.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use dstack_agents::shim::{NetworkMode, TaskStatus};
use dstack_core::status::JobTerminationReason as Reason;

use crate::docker::DockerError;
use crate::docker::RegistryAuth;
use crate::docker::container::{ContainerRequest, container_body, is_missing_nvidia_modeset};
use crate::host_keys::AuthorizedKeys;
use crate::service::Shim;
use crate::task::{Task, Termination};

/// How many lines of the container's output a failure message quotes.
const LOG_LINES_IN_MESSAGE: usize = 5;

/// Why the pipeline stopped before the container exited cleanly.
enum Stop {
    /// The task failed; record this.
    Failed(Termination),
    /// The task was terminated or removed by a request; it already has its outcome.
    Superseded,
}

impl Stop {
    fn failed(reason: Reason, message: impl Into<String>) -> Self {
        Self::Failed(Termination::new(reason, message))
    }
}

/// What the pipeline changed on the host for its task, undone when the task ends.
#[derive(Debug, Default)]
struct Acquired {
    /// Keys added to a host user's `authorized_keys`.
    host_keys: Option<(AuthorizedKeys, Vec<String>)>,
}

impl Acquired {
    fn give_back(self, shim: &Shim, id: &str) {
        shim.gpu_lock.release(id);
        if let Some((file, keys)) = self.host_keys
            && let Err(error) = file.remove(&keys)
        {
            tracing::error!(%error, "the task's host SSH keys were not removed");
        }
    }
}

/// Runs a submitted task to its end.
pub async fn run_task(shim: Arc<Shim>, id: String) {
    let mut acquired = Acquired::default();
    let outcome = run_steps(&shim, &id, &mut acquired).await;
    acquired.give_back(&shim, &id);
    conclude(&shim, &id, outcome);
}

/// Waits for the container of a task found running at startup, and records its exit.
pub async fn watch_exit(shim: Arc<Shim>, id: String) {
    let Ok(task) = shim.store.get(&id) else {
        return;
    };
    let outcome = wait_for_exit(&shim, &task).await;
    shim.gpu_lock.release(&id);
    conclude(&shim, &id, outcome);
}

/// Records how the task ended, unless a request already took it over.
fn conclude(shim: &Shim, id: &str, outcome: Result<(), Stop>) {
    let termination = match outcome {
        Ok(()) => Termination::new(Reason::DoneByRunner, ""),
        Err(Stop::Failed(termination)) => termination,
        Err(Stop::Superseded) => return,
    };
    if let Err(error) = shim.store.finish(id, termination) {
        tracing::debug!(%error, "task gone before its pipeline ended");
    }
}

async fn run_steps(shim: &Shim, id: &str, acquired: &mut Acquired) -> Result<(), Stop> {
    let task = advance(shim, id, TaskStatus::Preparing, |_| ())?;
    prepare(shim, &task, acquired).await?;

    let task = advance(shim, id, TaskStatus::Pulling, |_| ())?;
    let auth = RegistryAuth {
        username: task.config.registry_username.clone(),
        password: task.config.registry_password.clone(),
    };
    if let Err(error) = shim
        .docker
        .ensure_image(&task.config.image_name, &auth, &task.cancel, |progress| {
            // A task terminated meanwhile is no longer pulling; its progress is moot.
            let _ = shim
                .store
                .modify(id, |task| task.image_pull_progress = Some(progress));
        })
        .await
    {
        return Err(Stop::failed(
            Reason::CreatingContainerError,
            error.to_string(),
        ));
    }

    let task = advance(shim, id, TaskStatus::Creating, |_| ())?;
    let container_id = create_container(shim, &task, true)
        .await
        .map_err(|error| Stop::failed(Reason::CreatingContainerError, error.to_string()))?;

    let task = advance(shim, id, TaskStatus::Running, |task| {
        task.container_id = container_id;
    })?;
    start_container(shim, &task).await?;
    if task.cancel.is_cancelled() {
        // A terminate request saw the task running before the container had started, so
        // its stop found nothing to stop.
        shim.docker
            .stop(&task.container_name, std::time::Duration::ZERO)
            .await
            .map_err(|error| Stop::failed(Reason::ExecutorError, error.to_string()))?;
        return Err(Stop::Superseded);
    }
    let ports = match task.config.network_mode {
        NetworkMode::Host => Vec::new(),
        NetworkMode::Bridge => shim
            .docker
            .published_ports(&task.container_name)
            .await
            .map_err(|error| Stop::failed(Reason::ContainerExitedWithError, error.to_string()))?,
    };
    let task = advance(shim, id, TaskStatus::Running, |task| {
        task.ports = Some(ports)
    })?;
    wait_for_exit(shim, &task).await
}

async fn create_container(
    shim: &Shim,
    task: &Task,
    nvidia_display: bool,
) -> Result<String, DockerError> {
    let body = container_body(
        &shim.defaults,
        ContainerRequest {
            config: &task.config,
            gpu_ids: &task.gpu_ids,
            runner_dir: &shim.runner_dir(&task.container_name),
            nvidia_display,
        },
    );
    shim.docker.create(&task.container_name, body).await
}

/// Starts the container; on an NVIDIA host without `nvidia-modeset`, once more without the
/// `display` capability.
async fn start_container(shim: &Shim, task: &Task) -> Result<(), Stop> {
    let failed = |error: String| async {
        let message = with_output(shim, task, error).await;
        Stop::failed(Reason::ContainerExitedWithError, message)
    };
    let Err(error) = shim.docker.start(&task.container_name).await else {
        return Ok(());
    };
    if !is_missing_nvidia_modeset(shim.defaults.gpu_vendor, &task.config, &error.to_string()) {
        return Err(failed(error.to_string()).await);
    }
    tracing::info!(task = %task.config.id, "no nvidia-modeset; starting without the display capability");
    let retried = async {
        shim.docker.remove(&task.container_name).await?;
        let container_id = create_container(shim, task, false).await?;
        // The task may have been terminated meanwhile; its id only matters while it exists.
        let _ = shim
            .store
            .modify(&task.config.id, |task| task.container_id = container_id);
        shim.docker.start(&task.container_name).await
    };
    match retried.await {
        Ok(()) => Ok(()),
        Err(error) => Err(failed(error.to_string()).await),
    }
}

/// The preparing step: the runner dir, the GPUs, host SSH keys, the host side of the mounts.
async fn prepare(shim: &Shim, task: &Task, acquired: &mut Acquired) -> Result<(), Stop> {
    let id = &task.config.id;
    let runner_dir = shim.runner_dir(&task.container_name);
    tokio::fs::create_dir_all(&runner_dir)
        .await
        .map_err(|error| {
            Stop::failed(
                Reason::ExecutorError,
                format!("cannot create runner dir {}: {error}", runner_dir.display()),
            )
        })?;
    if task.config.gpu != 0 {
        let gpu_ids = shim
            .gpu_lock
            .acquire(id, task.config.gpu)
            .map_err(|error| Stop::failed(Reason::ExecutorError, error.to_string()))?;
        shim.store
            .modify(id, |task| task.gpu_ids = gpu_ids)
            .map_err(|_| Stop::Superseded)?;
    }
    if !task.config.volumes.is_empty() {
        return Err(Stop::failed(
            Reason::ExecutorError,
            "network volumes are not supported by this shim yet; use instance volumes",
        ));
    }
    if !task.config.host_ssh_keys.is_empty() {
        let added = AuthorizedKeys::of_user(&task.config.host_ssh_user, Path::new("/etc/passwd"))
            .and_then(|file| Ok((file.clone(), file.add(&task.config.host_ssh_keys)?)))
            .map_err(|error| {
                Stop::failed(
                    Reason::ExecutorError,
                    format!("cannot add the host SSH keys: {error}"),
                )
            })?;
        acquired.host_keys = Some(added);
    }
    for mount in &task.config.instance_mounts {
        create_mount_point(Path::new(&mount.instance_path))
            .await
            .map_err(|error| {
                Stop::failed(
                    Reason::ExecutorError,
                    format!(
                        "cannot create instance mount point {}: {error}",
                        mount.instance_path
                    ),
                )
            })?;
    }
    Ok(())
}

/// Creates a missing host directory for an instance mount, writable by every user since
/// the job's user inside the container is not known here. Existing directories are left as
/// they are.
async fn create_mount_point(path: &Path) -> std::io::Result<()> {
    if tokio::fs::try_exists(path).await? {
        return Ok(());
    }
    tokio::fs::create_dir_all(path).await?;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).await
}

async fn wait_for_exit(shim: &Shim, task: &Task) -> Result<(), Stop> {
    let exit_code = shim
        .docker
        .wait(&task.container_name)
        .await
        .map_err(|error| Stop::failed(Reason::ContainerExitedWithError, error.to_string()))?;
    if exit_code == 0 {
        return Ok(());
    }
    let message = with_output(
        shim,
        task,
        format!("container exited with code {exit_code}"),
    )
    .await;
    Err(Stop::failed(Reason::ContainerExitedWithError, message))
}

/// `summary`, followed by the container's last lines of output when it wrote any.
async fn with_output(shim: &Shim, task: &Task, summary: String) -> String {
    let output = shim
        .docker
        .tail_logs(&task.container_name, LOG_LINES_IN_MESSAGE)
        .await;
    if output.is_empty() {
        summary
    } else {
        format!("{summary}; last output:\n{output}")
    }
}

/// Moves the task to `next` and returns it as it is now; a task that was terminated or
/// removed meanwhile ends the pipeline.
fn advance(
    shim: &Shim,
    id: &str,
    next: TaskStatus,
    update: impl FnOnce(&mut Task),
) -> Result<Task, Stop> {
    shim.store
        .advance(id, next, update)
        .and_then(|()| shim.store.get(id))
        .map_err(|error| {
            tracing::debug!(%error, "task pipeline stops");
            Stop::Superseded
        })
}
