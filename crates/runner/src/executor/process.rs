//! The job's process: started through the shell argv of the job spec in a session of its
//! own on a new pseudo-terminal, as dstack's runner does (so stdout and stderr are one stream
//! in order, programs see a terminal, and lines end in `\r\n`), stopped by signalling the
//! whole process group.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::pty::openpty;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, Uid, ttyname};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// The job user, which the runner's `exec-job` helper becomes (setting groups, gid and uid)
/// before it execs the job. The standard library cannot set supplementary groups on a child
/// without unsafe code, which this workspace forbids.
#[derive(Debug, Clone, Copy)]
pub struct SwitchUser<'a> {
    pub uid: u32,
    pub gid: u32,
    pub groups: &'a [u32],
}

#[derive(Debug, Clone, Copy)]
pub struct JobCommand<'a> {
    pub argv: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub working_dir: &'a Path,
    /// The runner binary, run as `exec-job`.
    pub launcher: &'a Path,
    pub switch_user: Option<SwitchUser<'a>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the job has no commands")]
    NoCommands,
    #[error("cannot open a pseudo-terminal: {0}")]
    Terminal(io::Error),
    #[error("cannot start {program:?}: {source}")]
    Start { program: String, source: io::Error },
}

/// A started job.
#[derive(Debug)]
pub struct RunningJob {
    child: Child,
    /// The job's process group; its id is the pid of the process started.
    group: Option<Pid>,
    output_closed: oneshot::Receiver<()>,
}

/// Starts the job. `sink` gets every chunk of output as it is read, on a thread of its own.
pub fn spawn(
    job: JobCommand<'_>,
    mut sink: impl FnMut(&[u8]) + Send + 'static,
) -> Result<RunningJob, SpawnError> {
    let (program, args) = job.argv.split_first().ok_or(SpawnError::NoCommands)?;
    let terminal = openpty(None, None).map_err(|errno| SpawnError::Terminal(errno.into()))?;
    let mut command = Command::new(job.launcher);
    command.arg("exec-job");
    if let Some(switch) = job.switch_user {
        // The job must own its terminal to reopen it (`/dev/tty`) or change its modes.
        let tty = ttyname(&terminal.slave).map_err(|errno| SpawnError::Terminal(errno.into()))?;
        nix::unistd::chown(&tty, Some(Uid::from_raw(switch.uid)), None)
            .map_err(|errno| SpawnError::Terminal(errno.into()))?;
        let groups: Vec<String> = switch.groups.iter().map(u32::to_string).collect();
        command
            .args(["--uid", &switch.uid.to_string()])
            .args(["--gid", &switch.gid.to_string()])
            .args(["--groups", &groups.join(",")]);
    }
    let slave = |fd: &OwnedFd| fd.try_clone().map_err(SpawnError::Terminal);
    command
        .arg("--")
        .arg(program)
        .args(args)
        .env_clear()
        .envs(job.env)
        .current_dir(job.working_dir)
        .stdin(slave(&terminal.slave)?)
        .stdout(slave(&terminal.slave)?)
        .stderr(terminal.slave);
    let child = command.spawn().map_err(|source| SpawnError::Start {
        program: program.clone(),
        source,
    })?;
    // The terminal's other end must close in the runner, or the reader never sees the end.
    drop(command);
    let mut reader = std::fs::File::from(terminal.master);
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let (closed, output_closed) = oneshot::channel();
    // A plain thread, not the runtime's blocking pool: a process the job left behind may
    // hold the pipe open forever, and the runtime must still be able to shut down.
    std::thread::spawn(move || {
        let mut buffer = vec![0; 32 * 1024];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => sink(&buffer[..read]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                // EIO: every process of the job has closed the terminal.
                Err(_) => break,
            }
        }
        let _ = closed.send(());
    });
    Ok(RunningJob {
        child,
        group,
        output_closed,
    })
}

/// How long the runner waits for the rest of the output once the job's process has exited.
/// Output still buffered in the pipe arrives at once; only a process the job left behind
/// keeps the pipe open for longer.
const OUTPUT_DRAIN: Duration = Duration::from_secs(2);

impl RunningJob {
    /// Waits for the job to exit on its own.
    pub async fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait().await?;
        self.drain_output().await;
        Ok(status)
    }

    /// Sends SIGINT to the job's process group, gives it `grace` to exit, then SIGKILLs
    /// the group. Whatever is left of the group is killed in the end.
    pub async fn stop(&mut self, grace: Duration) -> io::Result<ExitStatus> {
        self.signal(Signal::SIGINT);
        let status = match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                self.signal(Signal::SIGKILL);
                self.child.wait().await?
            }
        };
        self.signal(Signal::SIGKILL);
        self.drain_output().await;
        Ok(status)
    }

    fn signal(&self, signal: Signal) {
        // Never group 0: that would be the runner's own.
        let Some(group) = self.group.filter(|group| group.as_raw() > 0) else {
            return;
        };
        // Until the helper has made its session the group does not exist: signal the process.
        let sent = match killpg(group, signal) {
            Err(Errno::ESRCH) => kill(group, signal),
            other => other,
        };
        match sent {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(error) => tracing::warn!(%error, ?signal, "cannot signal the job's processes"),
        }
    }

    async fn drain_output(&mut self) {
        if tokio::time::timeout(OUTPUT_DRAIN, &mut self.output_closed)
            .await
            .is_err()
        {
            tracing::warn!("a process of the job keeps its output open; not waiting for it");
        }
    }
}
