//! The job's process: started through the shell argv of the job spec in its own process
//! group, stdout and stderr on one pipe (so their order is kept), stopped by signalling the
//! whole group.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// How the runner becomes the job user: through its own `switch-user` helper, which sets
/// groups, gid and uid and then execs the job. The standard library cannot set
/// supplementary groups on a child without unsafe code, which this workspace forbids.
#[derive(Debug, Clone, Copy)]
pub struct SwitchUser<'a> {
    pub helper: &'a Path,
    pub uid: u32,
    pub gid: u32,
    pub groups: &'a [u32],
}

#[derive(Debug, Clone, Copy)]
pub struct JobCommand<'a> {
    pub argv: &'a [String],
    pub env: &'a BTreeMap<String, String>,
    pub working_dir: &'a Path,
    pub switch_user: Option<SwitchUser<'a>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("the job has no commands")]
    NoCommands,
    #[error("cannot create the output pipe: {0}")]
    Pipe(io::Error),
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
    let mut command = match job.switch_user {
        Some(switch) => {
            let groups: Vec<String> = switch.groups.iter().map(u32::to_string).collect();
            let mut command = Command::new(switch.helper);
            command
                .arg("switch-user")
                .args(["--uid", &switch.uid.to_string()])
                .args(["--gid", &switch.gid.to_string()])
                .args(["--groups", &groups.join(",")])
                .arg("--")
                .arg(program);
            command
        }
        None => Command::new(program),
    };
    let (mut reader, writer) = io::pipe().map_err(SpawnError::Pipe)?;
    let stderr = writer.try_clone().map_err(SpawnError::Pipe)?;
    command
        .args(args)
        .env_clear()
        .envs(job.env)
        .current_dir(job.working_dir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(stderr)
        .process_group(0);
    let child = command.spawn().map_err(|source| SpawnError::Start {
        program: program.clone(),
        source,
    })?;
    // The pipe's write ends must close in the runner, or the reader never sees the end.
    drop(command);
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
        match killpg(group, signal) {
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
