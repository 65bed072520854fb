//! Where the runner keeps its files and finds the container's.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Uploaded code and archives (`/tmp/runner`, shared with the host).
    pub temp_dir: PathBuf,
    /// The container's account files, `passwd` and `group` (`/etc`).
    pub etc_dir: PathBuf,
    /// dstack's own directory in the container, for the MPI hostfile (`/dstack`).
    pub dstack_dir: PathBuf,
    /// The runner binary, started as `exec-job` to start the job in its session and as its user.
    pub job_launcher: PathBuf,
    /// The port of the container's sshd, whose connections count as activity; 0 for none.
    pub ssh_port: u16,
    /// The container's `/etc/profile`, which is made to source the job's profile.
    pub etc_profile: PathBuf,
    /// The home of a job run as the runner's own user (no `user` in its spec); `None` takes
    /// it from `/etc/passwd`.
    pub job_home_dir: Option<PathBuf>,
}

impl RunnerConfig {
    pub fn code_path(&self, repo_id: &str) -> PathBuf {
        self.temp_dir.join("repo_blobs").join(repo_id)
    }

    pub fn archive_path(&self, archive_id: uuid::Uuid) -> PathBuf {
        self.temp_dir
            .join("file_archives")
            .join(archive_id.to_string())
    }

    /// Where the container's sshd runs from (`/dstack/ssh`).
    pub fn sshd_dir(&self) -> PathBuf {
        self.dstack_dir.join("ssh")
    }

    /// The keys the container's sshd accepts for any user.
    pub fn sshd_authorized_keys(&self) -> PathBuf {
        self.sshd_dir().join("conf").join("authorized_keys")
    }

    /// The job's environment for login shells (`/dstack/profile`).
    pub fn profile(&self) -> PathBuf {
        self.dstack_dir.join("profile")
    }

    pub fn mpi_hostfile(&self) -> PathBuf {
        self.dstack_dir.join("mpi").join("hostfile")
    }
}
