//! The process runtime: tasks run as host processes, for hosts without Docker (or hosts
//! that must not use it, such as test hosts in network namespaces sharing one Docker
//! daemon). A task is the runner binary started on the host, in its own process group, with
//! its own directories and a free loopback port; it speaks the same task API and reports
//! the same statuses and reasons as a container would.
//!
//! What a container gives and a host process does not: an image (a task naming one fails
//! with `creating_container_error`), CPU and memory limits (not enforced), mounts (an
//! instance mount works only where the path in the job is the host path), sshd inside the
//! job (the runner starts none; the host's sshd is there). Runners of a previous shim are
//! not taken back after a restart.
//!
//! - [`ProcessRuntime`]: the running runners by task, stopped on terminate and remove.
//! - [`pipeline`]: a task's steps; [`launch`]: the runner's arguments and environment.
//! - [`dirs`]: a task's directories; [`runner`]: one runner process; [`tree`]: signals.

pub mod dirs;
pub mod launch;
pub mod pipeline;
pub mod runner;
pub mod tree;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use dirs::TaskDirs;
use runner::RunnerProcess;

/// The runners of the tasks this shim started, by task id.
#[derive(Debug)]
pub struct ProcessRuntime {
    /// `<shim home>/tasks`: one directory per task.
    tasks_dir: PathBuf,
    runners: Mutex<HashMap<String, RunnerProcess>>,
}

impl ProcessRuntime {
    /// A runtime keeping task directories under `tasks_dir`.
    pub fn new(tasks_dir: PathBuf) -> Self {
        Self {
            tasks_dir,
            runners: Mutex::default(),
        }
    }

    /// The directories of task `id`.
    pub fn dirs(&self, id: &str) -> TaskDirs {
        TaskDirs::new(&self.tasks_dir, id)
    }

    /// Records the runner of task `id`, so that terminate can stop it.
    pub fn register(&self, id: &str, runner: RunnerProcess) {
        self.lock().insert(id.to_owned(), runner);
    }

    /// Forgets the runner of task `id` once it has exited.
    pub fn deregister(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Stops the runner of task `id`, if it has one, within `timeout`; see
    /// [`RunnerProcess::stop`].
    pub async fn stop(&self, id: &str, timeout: Duration) {
        let runner = self.lock().get(id).cloned();
        if let Some(runner) = runner {
            runner.stop(timeout).await;
        }
    }

    /// Stops what is left of task `id` and removes its directories.
    pub async fn remove(&self, id: &str) -> std::io::Result<()> {
        self.stop(id, Duration::ZERO).await;
        self.dirs(id).remove().await
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, RunnerProcess>> {
        // The map is only ever inserted into or removed from: a panic cannot leave it torn.
        self.runners
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
