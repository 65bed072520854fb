//! A task as a host process. The statuses are a container's, and so are the reasons:
//!
//! | step | failure |
//! |---|---|
//! | an image is named (`preparing`) | `creating_container_error`: Docker is needed |
//! | task dirs, GPUs, host SSH keys, mounts (`preparing`) | `executor_error` |
//! | nothing to pull (`pulling`), a free port (`creating`) | `creating_container_error` |
//! | start, no answer, non-zero exit (`running`) | `container_exited_with_error` |
//! | exit 0 | `done_by_runner` |
//!
//! The task is `running` with its `ports` once the runner's API answers on its port.

use std::sync::Arc;
use std::time::Duration;

use dstack_agents::runner::RunnerClient;
use dstack_agents::shim::{PortMapping, TaskStatus};
use dstack_core::status::JobTerminationReason as Reason;

use super::ProcessRuntime;
use super::dirs::TaskDirs;
use super::launch::RunnerLaunchSpec;
use super::runner::{RunnerCommand, RunnerExit, RunnerProcess};
use crate::pipeline::{
    Acquired, LOG_LINES_IN_MESSAGE, Stop, advance, finish_task, prepare_host, with_last_output,
};
use crate::service::Shim;
use crate::task::Task;

/// How long a started runner may take to answer on its port.
const RUNNER_START_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two checks of whether the runner answers.
const HEALTH_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Runs a submitted task to its end.
pub async fn run_task(shim: Arc<Shim>, processes: Arc<ProcessRuntime>, id: String) {
    let mut acquired = Acquired::default();
    let outcome = run_steps(&shim, &processes, &id, &mut acquired).await;
    processes.deregister(&id);
    finish_task(&shim, &id, acquired, outcome);
}

/// The message of a task that names an image on a host without Docker.
pub fn image_needs_docker(image: &str) -> String {
    format!(
        "this host runs jobs without Docker (process runtime); the configuration names the \
         image {image}, which needs Docker: remove `image` or install Docker"
    )
}

async fn run_steps(
    shim: &Shim,
    processes: &ProcessRuntime,
    id: &str,
    acquired: &mut Acquired,
) -> Result<(), Stop> {
    let task = advance(shim, id, TaskStatus::Preparing, |_| ())?;
    let image = task.config.image_name.trim();
    if !image.is_empty() {
        return Err(Stop::failed(
            Reason::CreatingContainerError,
            image_needs_docker(image),
        ));
    }
    let dirs = processes.dirs(id);
    prepare(shim, &task, &dirs, acquired).await?;

    advance(shim, id, TaskStatus::Pulling, |_| ())?;
    let task = advance(shim, id, TaskStatus::Creating, |_| ())?;
    let http_port = free_loopback_port().map_err(|error| {
        Stop::failed(
            Reason::CreatingContainerError,
            format!("no free loopback port for the runner: {error}"),
        )
    })?;

    let runner = start_runner(shim, &task, &dirs, http_port)?;
    processes.register(id, runner.clone());
    let task = match advance(shim, id, TaskStatus::Running, |task| {
        task.container_id = runner.pid().to_string();
    }) {
        Ok(task) if !task.cancel.is_cancelled() => task,
        // Terminated before the runner was registered, so the request found nothing to stop.
        _ => {
            runner.stop(Duration::ZERO).await;
            return Err(Stop::Superseded);
        }
    };
    tokio::select! {
        answered = wait_until_answering(http_port) => {
            if !answered {
                runner.stop(Duration::ZERO).await;
                let summary = format!(
                    "the runner did not answer on port {http_port} within {} s",
                    RUNNER_START_TIMEOUT.as_secs()
                );
                return Err(Stop::failed(
                    Reason::ContainerExitedWithError,
                    with_output(&dirs, summary).await,
                ));
            }
        }
        exit = runner.exited() => return classify(&dirs, exit).await,
        // The terminate request stops the runner; its exit ends the task.
        () = task.cancel.cancelled() => return Err(Stop::Superseded),
    }
    let ports = vec![PortMapping {
        container: shim.defaults.launch.http_port,
        host: http_port,
    }];
    advance(shim, id, TaskStatus::Running, |task| {
        task.ports = Some(ports)
    })?;
    let exit = runner.exited().await;
    classify(&dirs, exit).await
}

/// The preparing step: the task's directories, GPUs, host SSH keys; mounts are checked.
async fn prepare(
    shim: &Shim,
    task: &Task,
    dirs: &TaskDirs,
    acquired: &mut Acquired,
) -> Result<(), Stop> {
    dirs.create().map_err(|error| {
        Stop::failed(
            Reason::ExecutorError,
            format!(
                "cannot create the task's dirs in {}: {error}",
                dirs.root.display()
            ),
        )
    })?;
    prepare_host(shim, task, acquired)?;
    // Without a mount namespace, a job sees host paths as they are.
    if let Some(mount) = task
        .config
        .instance_mounts
        .iter()
        .find(|mount| mount.instance_path != mount.path)
    {
        return Err(Stop::failed(
            Reason::ExecutorError,
            format!(
                "this host runs jobs without Docker (process runtime) and cannot mount the \
                 instance path {} at {}: use the same path for both",
                mount.instance_path, mount.path
            ),
        ));
    }
    Ok(())
}

fn start_runner(
    shim: &Shim,
    task: &Task,
    dirs: &TaskDirs,
    http_port: u16,
) -> Result<RunnerProcess, Stop> {
    let path = std::env::var("PATH").ok();
    let spec = RunnerLaunchSpec {
        launch: &shim.defaults.launch,
        dirs,
        http_port,
        pass_env: &shim.defaults.env,
        path: path.as_deref(),
        gpu_vendor: shim.defaults.gpu_vendor,
        gpu_ids: &task.gpu_ids,
    };
    let program = &shim.defaults.runner_binary_path;
    RunnerProcess::spawn(RunnerCommand {
        program,
        args: &spec.args(),
        env: &spec.env(),
        current_dir: &dirs.work(),
        output: &dirs.runner_log(),
    })
    .map_err(|error| {
        Stop::failed(
            Reason::ContainerExitedWithError,
            format!("cannot start the runner {}: {error}", program.display()),
        )
    })
}

/// A port that is free on loopback now; the runner binds it right after.
fn free_loopback_port() -> std::io::Result<u16> {
    let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Polls the runner's healthcheck until it answers (`true`) or the start timeout passes.
async fn wait_until_answering(port: u16) -> bool {
    let client = RunnerClient::new(format!("http://127.0.0.1:{port}"));
    let answered = async {
        while client.healthcheck().await.is_err() {
            tokio::time::sleep(HEALTH_POLL_INTERVAL).await;
        }
    };
    tokio::time::timeout(RUNNER_START_TIMEOUT, answered)
        .await
        .is_ok()
}

/// Exit 0 is the runner's normal end; anything else is a failure quoting its last output.
async fn classify(dirs: &TaskDirs, exit: RunnerExit) -> Result<(), Stop> {
    let summary = match exit {
        RunnerExit::Code(0) => return Ok(()),
        RunnerExit::Code(code) => format!("the runner exited with code {code}"),
        RunnerExit::Signal(signal) => format!(
            "the runner exited with code {} (killed by signal {signal})",
            128 + signal
        ),
        RunnerExit::Unknown(detail) => format!("the runner's exit is unknown: {detail}"),
    };
    Err(Stop::failed(
        Reason::ContainerExitedWithError,
        with_output(dirs, summary).await,
    ))
}

/// `summary`, followed by the last lines of the runner's output when it wrote any.
async fn with_output(dirs: &TaskDirs, summary: String) -> String {
    let output = tokio::fs::read(dirs.runner_log()).await.unwrap_or_default();
    let output = String::from_utf8_lossy(&output);
    let lines: Vec<&str> = output.trim_end().lines().collect();
    let tail = lines[lines.len().saturating_sub(LOG_LINES_IN_MESSAGE)..].join("\n");
    with_last_output(summary, &tail)
}
