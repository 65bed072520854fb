//! Runs the submitted job (agents.md §3.5).
//!
//! - [`prepare`]: resolves the job user, its home and the working and repo directories, before
//!   anything of the job runs; `POST /api/run` answers with the result.
//! - [`execute`]: sets up the repo, the working directory and the environment, starts the
//!   commands, streams their output into the agent and returns the job's final state.
//!
//! Modules: [`job_user`], [`paths`], [`env`](mod@env), [`profile`], [`repo`], [`git`] and
//! [`git_credentials`], [`cluster_ssh`],
//! [`files`], [`process`].

pub mod cluster_ssh;
pub mod env;
pub mod files;
pub mod git;
pub mod git_credentials;
pub mod job_user;
pub mod paths;
pub mod process;
pub mod profile;
pub mod repo;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use dstack_agents::runner::{JobInfo, SubmitBody};
use dstack_core::status::{JobStatus, JobTerminationReason};
use tokio::sync::watch;

use crate::agent::Agent;
use crate::config::RunnerConfig;
use crate::connections::{CHECK_INTERVAL, established_to_port};
use crate::history::JobOutcome;
use cluster_ssh::{ClusterSsh, set_up_cluster_ssh};
use env::{JobPlace, build_job_env, mpi_hostfile};
use files::{ArchiveTarget, unpack_archive};
use git_credentials::{GitCredentialFiles, install_git_credentials};
use job_user::{JobUserError, ResolvedUser, resolve_job_user};
use paths::{PathError, resolve_repo_dir, resolve_working_dir};
use process::{JobCommand, SwitchUser};
use repo::{RepoSetup, create_dir_owned, setup_repo};

/// dstack's runner gives a stopped job 10 s before it kills it.
const DEFAULT_STOP_GRACE: Duration = Duration::from_secs(10);
const DEFAULT_REPO_DIR: &str = "/workflow";

/// A job whose user and directories are known.
#[derive(Debug, Clone)]
pub struct PreparedJob {
    pub body: SubmitBody,
    pub user: ResolvedUser,
    /// Whether the runner switches to the job user (it runs as root and the job names one).
    pub switch_user: bool,
    pub working_dir: PathBuf,
    pub repo_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    User(#[from] JobUserError),
    #[error("cannot set the job's directories: {0}")]
    Path(#[from] PathError),
    #[error("cannot read the runner's current dir: {0}")]
    Cwd(io::Error),
}

impl PrepareError {
    pub fn outcome(&self) -> JobOutcome {
        let reason = match self {
            Self::User(error) => error.termination_reason(),
            Self::Path(_) | Self::Cwd(_) => JobTerminationReason::ExecutorError,
        };
        failed(reason, self.to_string(), None)
    }
}

fn failed(reason: JobTerminationReason, message: String, exit_status: Option<i32>) -> JobOutcome {
    JobOutcome {
        state: JobStatus::Failed,
        reason: Some(reason),
        message,
        exit_status,
    }
}

/// Resolves who the job runs as and where, from the container's own files.
pub fn prepare(config: &RunnerConfig, body: SubmitBody) -> Result<PreparedJob, PrepareError> {
    let spec = &body.job_spec;
    let image = spec
        .image_name
        .as_deref()
        .or_else(|| body.run.run_spec.configured_image());
    let own_uid = nix::unistd::getuid().as_raw();
    let mut user = resolve_job_user(&config.etc_dir, spec.user.as_ref(), own_uid, image)?;
    if let (None, Some(home)) = (&spec.user, &config.job_home_dir) {
        user.home = home.display().to_string();
    }
    let cwd = std::env::current_dir().map_err(PrepareError::Cwd)?;
    let working_dir = resolve_working_dir(spec.working_dir.as_deref(), &user.home, &cwd)?;
    let repo_dir = resolve_repo_dir(
        Some(spec.repo_dir.as_deref().unwrap_or(DEFAULT_REPO_DIR)),
        &user.home,
        &working_dir,
    )?;
    Ok(PreparedJob {
        switch_user: nix::unistd::geteuid().is_root() && spec.user.is_some(),
        body,
        user,
        working_dir,
        repo_dir,
    })
}

impl PreparedJob {
    pub fn info(&self) -> JobInfo {
        JobInfo {
            working_dir: self.working_dir.display().to_string(),
            username: self.user.user.username.clone().unwrap_or_default(),
        }
    }

    fn owner(&self) -> repo::Owner {
        self.switch_user
            .then_some((self.user.user.uid, self.user.user.gid))
    }
}

/// Runs the prepared job to its end. `stop` turns true when the job is to be stopped.
pub async fn execute(
    agent: Arc<Agent>,
    job: PreparedJob,
    stop: watch::Receiver<bool>,
) -> JobOutcome {
    // The repo step runs git, which may take a while: off the async workers.
    let setting_up = {
        let (agent, job) = (agent.clone(), job.clone());
        tokio::task::spawn_blocking(move || set_up(&agent, &job))
    };
    match setting_up.await {
        Ok(Ok((env, _credentials))) => run_commands(agent, &job, &env, stop).await,
        Ok(Err(outcome)) => outcome,
        Err(error) => failed(
            JobTerminationReason::ExecutorError,
            format!("the job's setup failed: {error}"),
            None,
        ),
    }
}

/// Repo, directories and environment, and the repo credentials in the job user's home
/// (removed when dropped, after the job); a failure is the job's outcome.
fn set_up(
    agent: &Agent,
    job: &PreparedJob,
) -> Result<(BTreeMap<String, String>, Option<GitCredentialFiles>), JobOutcome> {
    let config = agent.config();
    let spec = &job.body.job_spec;
    let executor_error =
        |message: String| failed(JobTerminationReason::ExecutorError, message, None);
    // As in dstack, a home of `/` (no real home) gets no credentials, and a failure here
    // only costs the job its own git access.
    let credentials = job
        .body
        .repo_credentials
        .as_ref()
        .filter(|_| job.user.home != "/")
        .and_then(|creds| {
            install_git_credentials(creds, Path::new(&job.user.home), job.owner())
                .inspect_err(|error| {
                    agent.runner_log(&format!("git credentials not set up: {error}"));
                })
                .ok()
        });
    set_up_nodes_ssh(agent, job);
    let repo_id = job.body.run.run_spec.repo_id.as_deref().unwrap_or_default();
    let code = config.code_path(repo_id);
    let repo_data = spec
        .repo_data
        .as_ref()
        .or(job.body.run.run_spec.repo_data.as_ref());
    let unpacked = setup_repo(RepoSetup {
        repo_dir: &job.repo_dir,
        repo_data,
        code: (!repo_id.is_empty() && code.is_file()).then_some(code.as_path()),
        exists_action: spec.repo_exists_action,
        owner: job.owner(),
        credentials: job.body.repo_credentials.as_ref(),
        single_branch: spec.single_branch.unwrap_or(false),
        scratch_dir: &config.temp_dir,
    })
    .map_err(|error| {
        failed(
            JobTerminationReason::ContainerExitedWithError,
            format!("cannot set up the repo: {error}"),
            None,
        )
    })?;
    if unpacked {
        agent.runner_log(&format!("set up the code in {}", job.repo_dir.display()));
    }
    let _ = std::fs::remove_dir_all(config.temp_dir.join("repo_blobs"));
    for mapping in &spec.file_archives {
        let target = ArchiveTarget {
            archive: &config.archive_path(mapping.id),
            path: &mapping.path,
        };
        let unpacked = unpack_archive(target, &job.user.home, &job.working_dir, job.owner())
            .map_err(|error| executor_error(format!("cannot set up files: {error}")))?;
        agent.runner_log(&format!("unpacked files into {}", unpacked.display()));
    }
    let _ = std::fs::remove_dir_all(config.temp_dir.join("file_archives"));
    create_dir_owned(&job.working_dir, job.owner())
        .map_err(|error| executor_error(format!("cannot create the working dir: {error}")))?;
    let hostfile_path = config.mpi_hostfile();
    let hostfile = mpi_hostfile(&job.body.cluster_info)
        .map_err(|error| executor_error(format!("cannot write the MPI hostfile: {error}")))?;
    write_file(&hostfile_path, &hostfile)
        .map_err(|error| executor_error(format!("cannot write the MPI hostfile: {error}")))?;
    let place = JobPlace {
        repo_dir: &job.repo_dir.display().to_string(),
        working_dir: &job.working_dir.display().to_string(),
        home: &job.user.home,
        mpi_hostfile: &hostfile_path.display().to_string(),
    };
    // The job's environment is a map of strings: inherited variables that are not UTF-8 are
    // left out rather than mangled.
    let inherited = std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)));
    let env = build_job_env(inherited, &job.body, place);
    // Only SSH sessions read the profile: the job itself runs without it.
    if let Err(error) = profile::install_profile(&config.profile(), &config.etc_profile, &env) {
        agent.runner_log(&format!("cannot write the job's shell profile: {error}"));
    }
    Ok((env, credentials))
}

/// SSH between the nodes of a multi-node job, when the container runs sshd and the job
/// user has a home; a failure only costs the nodes their SSH.
fn set_up_nodes_ssh(agent: &Agent, job: &PreparedJob) {
    let config = agent.config();
    let node_ips = &job.body.cluster_info.job_ips;
    let Some(key) = job.body.job_spec.ssh_key.as_ref() else {
        return;
    };
    if node_ips.len() < 2 || config.ssh_port == 0 || job.user.home == "/" {
        return;
    }
    let setup = ClusterSsh {
        key,
        node_ips,
        home: Path::new(&job.user.home),
        owner: job.owner(),
        sshd_port: config.ssh_port,
        authorized_keys: &config.sshd_authorized_keys(),
    };
    if let Err(error) = set_up_cluster_ssh(setup) {
        agent.runner_log(&format!("SSH between the nodes not set up: {error}"));
    }
}

fn write_file(path: &std::path::Path, contents: &str) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, contents)
}

/// What ended the wait for the job.
enum Ending {
    Exited(io::Result<ExitStatus>),
    Stopped,
    MaxDuration(u64),
    LogQuota,
}

async fn run_commands(
    agent: Arc<Agent>,
    job: &PreparedJob,
    env: &BTreeMap<String, String>,
    mut stop: watch::Receiver<bool>,
) -> JobOutcome {
    let spec = &job.body.job_spec;
    let user = &job.user.user;
    let launcher = agent.config().job_launcher.clone();
    let command = JobCommand {
        argv: &spec.commands,
        env,
        working_dir: &job.working_dir,
        launcher: &launcher,
        switch_user: job.switch_user.then_some(SwitchUser {
            uid: user.uid,
            gid: user.gid,
            groups: &user.groups,
        }),
    };
    agent.runner_log(&format!(
        "starting the job as uid {} gid {} in {}",
        user.uid,
        user.gid,
        job.working_dir.display()
    ));
    agent.record_running();
    let _tracking = track_connections(&agent);
    let sink = {
        let agent = agent.clone();
        move |bytes: &[u8]| agent.record_output(bytes)
    };
    let mut running = match process::spawn(command, sink) {
        Ok(running) => running,
        Err(error) => {
            return failed(
                JobTerminationReason::ContainerExitedWithError,
                error.to_string(),
                None,
            );
        }
    };
    let max_duration = spec.max_duration.filter(|seconds| *seconds > 0);
    let mut quota_exceeded = agent.watch_quota_exceeded();
    let ending = tokio::select! {
        status = running.wait() => Ending::Exited(status),
        () = stop_requested(&mut stop) => Ending::Stopped,
        () = stop_requested(&mut quota_exceeded) => Ending::LogQuota,
        () = elapsed(max_duration) => Ending::MaxDuration(max_duration.unwrap_or_default()),
    };
    let grace = spec
        .stop_duration
        .map_or(DEFAULT_STOP_GRACE, Duration::from_secs);
    match ending {
        Ending::Exited(status) => exit_outcome(status),
        Ending::Stopped => JobOutcome {
            state: JobStatus::Terminated,
            reason: None,
            message: "the job was stopped".to_owned(),
            exit_status: running.stop(grace).await.ok().map(exit_status),
        },
        Ending::MaxDuration(seconds) => JobOutcome {
            state: JobStatus::Terminated,
            reason: Some(JobTerminationReason::MaxDurationExceeded),
            message: format!("the job ran longer than its max_duration of {seconds}s"),
            exit_status: running.stop(grace).await.ok().map(exit_status),
        },
        Ending::LogQuota => failed(
            JobTerminationReason::LogQuotaExceeded,
            format!(
                "the job's output went over its hourly log quota of {} bytes",
                agent.log_quota().unwrap_or_default()
            ),
            running.stop(Duration::ZERO).await.ok().map(exit_status),
        ),
    }
}

/// Stops the task it holds when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Samples SSH connections into the container while the job runs.
fn track_connections(agent: &Arc<Agent>) -> Option<AbortOnDrop> {
    let port = agent.config().ssh_port;
    if port == 0 {
        return None;
    }
    let agent = agent.clone();
    Some(AbortOnDrop(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECK_INTERVAL);
        // A late tick is simply a later sample.
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            let open = ["/proc/net/tcp", "/proc/net/tcp6"]
                .iter()
                .filter_map(|path| std::fs::read_to_string(path).ok())
                .flat_map(|text| established_to_port(&text, port))
                .collect();
            agent.observe_connections(std::time::Instant::now(), open);
        }
    })))
}

/// Resolves once `flag` turns true; never if its sender is gone.
async fn stop_requested(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn elapsed(seconds: Option<u64>) {
    match seconds {
        Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
        None => std::future::pending().await,
    }
}

/// The exit code, or -1 when a signal ended the process.
fn exit_status(status: ExitStatus) -> i32 {
    status.code().unwrap_or(-1)
}

fn exit_outcome(status: io::Result<ExitStatus>) -> JobOutcome {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) if status.success() => JobOutcome {
            state: JobStatus::Done,
            reason: None,
            message: String::new(),
            exit_status: Some(0),
        },
        Ok(status) => {
            let message = match (status.code(), status.signal()) {
                (Some(code), _) => format!("the job's commands exited with code {code}"),
                (None, Some(signal)) => {
                    format!("the job's commands were killed by signal {signal}")
                }
                (None, None) => "the job's commands ended abnormally".to_owned(),
            };
            failed(
                JobTerminationReason::ContainerExitedWithError,
                message,
                Some(exit_status(status)),
            )
        }
        Err(error) => failed(
            JobTerminationReason::ExecutorError,
            format!("cannot wait for the job's commands: {error}"),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn exit_codes_map_to_states() {
        let done = exit_outcome(Ok(ExitStatus::from_raw(0)));
        assert_eq!(
            (done.state, done.reason, done.exit_status),
            (JobStatus::Done, None, Some(0))
        );
        let three = exit_outcome(Ok(ExitStatus::from_raw(3 << 8)));
        assert_eq!(three.state, JobStatus::Failed);
        assert_eq!(
            three.reason,
            Some(JobTerminationReason::ContainerExitedWithError)
        );
        assert_eq!(three.message, "the job's commands exited with code 3");
        assert_eq!(three.exit_status, Some(3));
        let killed = exit_outcome(Ok(ExitStatus::from_raw(9)));
        assert_eq!(killed.exit_status, Some(-1));
        assert_eq!(killed.message, "the job's commands were killed by signal 9");
    }
}
