//! A task's pipeline: prepare, start the runner, wait for its exit, and classify how it
//! ended. Each runtime has its own steps; this module holds what they share: how a step
//! stops the pipeline (`Stop`), the status moves (`advance`), the host-side preparation
//! (`prepare_host`) and what is given back and recorded at the end (`finish_task`).
//!
//! - [`docker`]: the task as a Docker container.
//! - [`crate::process::pipeline`]: the task as a host process (no Docker).
//!
//! When the task is terminated or removed meanwhile, a pipeline stops at its next step and
//! leaves the outcome to the terminate request.

pub mod docker;

use std::path::Path;

use dstack_agents::shim::TaskStatus;
use dstack_core::status::JobTerminationReason as Reason;

use crate::host_keys::AuthorizedKeys;
use crate::service::Shim;
use crate::task::{Task, Termination};

/// How many lines of the runner's output a failure message quotes.
pub(crate) const LOG_LINES_IN_MESSAGE: usize = 5;

/// Why the pipeline stopped before the runner exited cleanly.
pub(crate) enum Stop {
    /// The task failed; record this.
    Failed(Termination),
    /// The task was terminated or removed by a request; it already has its outcome.
    Superseded,
}

impl Stop {
    pub(crate) fn failed(reason: Reason, message: impl Into<String>) -> Self {
        Self::Failed(Termination::new(reason, message))
    }
}

/// What the pipeline changed on the host for its task, undone when the task ends.
#[derive(Debug, Default)]
pub(crate) struct Acquired {
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

/// Gives back what the pipeline acquired and records how the task ended.
pub(crate) fn finish_task(shim: &Shim, id: &str, acquired: Acquired, outcome: Result<(), Stop>) {
    acquired.give_back(shim, id);
    conclude(shim, id, outcome);
}

/// Records how the task ended, unless a request already took it over.
pub(crate) fn conclude(shim: &Shim, id: &str, outcome: Result<(), Stop>) {
    let termination = match outcome {
        Ok(()) => Termination::new(Reason::DoneByRunner, ""),
        Err(Stop::Failed(termination)) => termination,
        Err(Stop::Superseded) => return,
    };
    if let Err(error) = shim.store.finish(id, termination) {
        tracing::debug!(%error, "task gone before its pipeline ended");
    }
}

/// The preparation every runtime needs on the host: the task's GPUs and host SSH keys; and
/// network volumes, which this shim does not support yet.
pub(crate) fn prepare_host(shim: &Shim, task: &Task, acquired: &mut Acquired) -> Result<(), Stop> {
    let id = &task.config.id;
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
    Ok(())
}

/// `summary`, followed by the runner's last lines of output when it wrote any.
pub(crate) fn with_last_output(summary: String, output: &str) -> String {
    if output.is_empty() {
        summary
    } else {
        format!("{summary}; last output:\n{output}")
    }
}

/// Moves the task to `next` and returns it as it is now; a task that was terminated or
/// removed meanwhile ends the pipeline.
pub(crate) fn advance(
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
