//! A task as a Docker container: prepare, pull, create, start, wait for the exit, and
//! classify how it ended. Each step moves the task's status first; a step that fails ends
//! the task with the reason that names it:
//!
//! | step | failure |
//! |---|---|
//! | runner dir, GPUs, host SSH keys, mounts (`preparing`) | `executor_error` |
//! | pull (`pulling`), create (`creating`) | `creating_container_error`, with Docker's text |
//! | start, non-zero exit (`running`) | `container_exited_with_error`, with the exit code |
//! | exit 0 | `done_by_runner` |

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use dstack_agents::shim::{NetworkMode, TaskStatus};
use dstack_core::status::JobTerminationReason as Reason;

use super::{
    Acquired, LOG_LINES_IN_MESSAGE, Stop, advance, conclude, finish_task, prepare_host,
    with_last_output,
};
use crate::docker::container::{ContainerRequest, container_body, is_missing_nvidia_modeset};
use crate::docker::{DockerDriver, DockerError, RegistryAuth};
use crate::service::Shim;
use crate::task::Task;

/// Runs a submitted task to its end.
pub async fn run_task(shim: Arc<Shim>, docker: DockerDriver, id: String) {
    let mut acquired = Acquired::default();
    let outcome = run_steps(&shim, &docker, &id, &mut acquired).await;
    finish_task(&shim, &id, acquired, outcome);
}

/// Waits for the container of a task found running at startup, and records its exit.
pub async fn watch_exit(shim: Arc<Shim>, docker: DockerDriver, id: String) {
    let Ok(task) = shim.store.get(&id) else {
        return;
    };
    let outcome = wait_for_exit(&docker, &task).await;
    shim.gpu_lock.release(&id);
    conclude(&shim, &id, outcome);
}

async fn run_steps(
    shim: &Shim,
    docker: &DockerDriver,
    id: &str,
    acquired: &mut Acquired,
) -> Result<(), Stop> {
    let task = advance(shim, id, TaskStatus::Preparing, |_| ())?;
    prepare(shim, &task, acquired).await?;

    let task = advance(shim, id, TaskStatus::Pulling, |_| ())?;
    let auth = RegistryAuth {
        username: task.config.registry_username.clone(),
        password: task.config.registry_password.clone(),
    };
    if let Err(error) = docker
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
    let container_id = create_container(shim, docker, &task, true)
        .await
        .map_err(|error| Stop::failed(Reason::CreatingContainerError, error.to_string()))?;

    let task = advance(shim, id, TaskStatus::Running, |task| {
        task.container_id = container_id;
    })?;
    start_container(docker, shim, &task).await?;
    if task.cancel.is_cancelled() {
        // A terminate request saw the task running before the container had started, so
        // its stop found nothing to stop.
        docker
            .stop(&task.container_name, std::time::Duration::ZERO)
            .await
            .map_err(|error| Stop::failed(Reason::ExecutorError, error.to_string()))?;
        return Err(Stop::Superseded);
    }
    let ports = match task.config.network_mode {
        NetworkMode::Host => Vec::new(),
        NetworkMode::Bridge => docker
            .published_ports(&task.container_name)
            .await
            .map_err(|error| Stop::failed(Reason::ContainerExitedWithError, error.to_string()))?,
    };
    let task = advance(shim, id, TaskStatus::Running, |task| {
        task.ports = Some(ports)
    })?;
    wait_for_exit(docker, &task).await
}

async fn create_container(
    shim: &Shim,
    docker: &DockerDriver,
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
    docker.create(&task.container_name, body).await
}

/// Starts the container; on an NVIDIA host without `nvidia-modeset`, once more without the
/// `display` capability.
async fn start_container(docker: &DockerDriver, shim: &Shim, task: &Task) -> Result<(), Stop> {
    let failed = |error: String| async {
        let message = with_output(docker, task, error).await;
        Stop::failed(Reason::ContainerExitedWithError, message)
    };
    let Err(error) = docker.start(&task.container_name).await else {
        return Ok(());
    };
    if !is_missing_nvidia_modeset(shim.defaults.gpu_vendor, &task.config, &error.to_string()) {
        return Err(failed(error.to_string()).await);
    }
    tracing::info!(task = %task.config.id, "no nvidia-modeset; starting without the display capability");
    let retried = async {
        docker.remove(&task.container_name).await?;
        let container_id = create_container(shim, docker, task, false).await?;
        // The task may have been terminated meanwhile; its id only matters while it exists.
        let _ = shim
            .store
            .modify(&task.config.id, |task| task.container_id = container_id);
        docker.start(&task.container_name).await
    };
    match retried.await {
        Ok(()) => Ok(()),
        Err(error) => Err(failed(error.to_string()).await),
    }
}

/// The preparing step: the runner dir, the GPUs, host SSH keys, the host side of the mounts.
async fn prepare(shim: &Shim, task: &Task, acquired: &mut Acquired) -> Result<(), Stop> {
    create_task_dir(&shim.runner_dir(&task.container_name), "runner dir").await?;
    prepare_host(shim, task, acquired)?;
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

/// Creates a directory the task needs; a failure is an `executor_error`.
async fn create_task_dir(dir: &Path, what: &str) -> Result<(), Stop> {
    tokio::fs::create_dir_all(dir).await.map_err(|error| {
        Stop::failed(
            Reason::ExecutorError,
            format!("cannot create {what} {}: {error}", dir.display()),
        )
    })
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

async fn wait_for_exit(docker: &DockerDriver, task: &Task) -> Result<(), Stop> {
    let exit_code = docker
        .wait(&task.container_name)
        .await
        .map_err(|error| Stop::failed(Reason::ContainerExitedWithError, error.to_string()))?;
    if exit_code == 0 {
        return Ok(());
    }
    let message = with_output(
        docker,
        task,
        format!("container exited with code {exit_code}"),
    )
    .await;
    Err(Stop::failed(Reason::ContainerExitedWithError, message))
}

/// `summary`, followed by the container's last lines of output when it wrote any.
async fn with_output(docker: &DockerDriver, task: &Task, summary: String) -> String {
    let output = docker
        .tail_logs(&task.container_name, LOG_LINES_IN_MESSAGE)
        .await;
    with_last_output(summary, &output)
}
