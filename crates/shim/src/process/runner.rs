//! [`RunnerProcess`]: one task's runner, a child of the shim in a process group of its own,
//! with its exit watched by a tokio task so that the pipeline and a terminate request can
//! both wait for it.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::sync::watch;

use super::tree::{kill_tree, signal_group};

/// How a runner process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerExit {
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
    /// Its status could not be read.
    Unknown(String),
}

impl RunnerExit {
    fn of(status: io::Result<ExitStatus>) -> Self {
        use std::os::unix::process::ExitStatusExt;
        match status {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => Self::Code(code),
                (None, Some(signal)) => Self::Signal(signal),
                (None, None) => Self::Unknown(format!("{status:?}")),
            },
            Err(error) => Self::Unknown(error.to_string()),
        }
    }
}

/// What starts a runner: its program, arguments, environment (nothing else is inherited),
/// current dir, and the file its stdout and stderr go to.
#[derive(Debug, Clone, Copy)]
pub struct RunnerCommand<'a> {
    pub program: &'a Path,
    pub args: &'a [OsString],
    pub env: &'a [(String, String)],
    pub current_dir: &'a Path,
    pub output: &'a Path,
}

/// A started runner. Clones watch the same process.
#[derive(Debug, Clone)]
pub struct RunnerProcess {
    /// The runner's pid, which is also its process group's id.
    pid: Pid,
    exit: watch::Receiver<Option<RunnerExit>>,
}

impl RunnerProcess {
    /// Starts the runner as the leader of a new process group.
    pub fn spawn(command: RunnerCommand<'_>) -> io::Result<Self> {
        let output = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(command.output)?;
        let mut child = tokio::process::Command::new(command.program)
            .args(command.args)
            .env_clear()
            .envs(command.env.iter().map(|(name, value)| (name, value)))
            .current_dir(command.current_dir)
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output)
            .process_group(0)
            .spawn()?;
        let pid = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw)
            .ok_or_else(|| io::Error::other("the runner exited before its pid was read"))?;
        let (report, exit) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await;
            report.send_replace(Some(RunnerExit::of(status)));
        });
        Ok(Self { pid, exit })
    }

    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Waits for the runner to exit.
    pub async fn exited(&self) -> RunnerExit {
        let mut exit = self.exit.clone();
        let observed = match exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.clone(),
            // The watching task ended without a report: it panicked.
            Err(_) => None,
        };
        observed.unwrap_or_else(|| RunnerExit::Unknown("its exit was not observed".to_owned()))
    }

    /// Stops the runner: SIGTERM to its group, which makes it stop its job; then, after
    /// `timeout` (at once when zero), SIGKILL to its group and to everything it started.
    /// Returns once the runner has exited.
    pub async fn stop(&self, timeout: Duration) {
        if self.exit.borrow().is_none() {
            signal_group(self.pid, Signal::SIGTERM);
        }
        if tokio::time::timeout(timeout, self.exited()).await.is_err() {
            kill_tree(self.pid);
            self.exited().await;
        }
        // Whatever is left of its group once the runner is gone.
        signal_group(self.pid, Signal::SIGKILL);
    }
}
