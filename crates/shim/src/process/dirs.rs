//! [`TaskDirs`]: where a task run as a host process keeps its files, all under
//! `<shim home>/tasks/<task id>`, so nothing of the job lands in the host's `/dstack`,
//! `/etc/profile` or `/root`.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A task's directories on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDirs {
    /// `<tasks dir>/<id>`: everything below; removed with the task.
    pub root: PathBuf,
}

impl TaskDirs {
    /// The directories of task `id` under `tasks_dir` (nothing is created).
    pub fn new(tasks_dir: &Path, id: &str) -> Self {
        Self {
            root: tasks_dir.join(id),
        }
    }

    /// The runner's `--temp-dir`: uploaded code and archives.
    pub fn temp(&self) -> PathBuf {
        self.root.join("runner")
    }

    /// The home of a job that names no user (`--job-home-dir`).
    pub fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    /// The runner's current directory, which is the job's working dir when its spec names
    /// none (the image's `WORKDIR` in a container).
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// The runner's `--dstack-dir` (the container's `/dstack`): the job's profile and MPI
    /// hostfile.
    pub fn dstack(&self) -> PathBuf {
        self.root.join("dstack")
    }

    /// The runner's `--etc-profile`, which it makes source the job's profile.
    pub fn etc_profile(&self) -> PathBuf {
        self.root.join("etc-profile")
    }

    /// The runner's stdout and stderr.
    pub fn runner_log(&self) -> PathBuf {
        self.root.join("runner.log")
    }

    /// Creates the directories. The root and the working dir can be entered by every user,
    /// so that a job naming another `user` can start in its working dir (provided the shim
    /// home itself can be entered); the home is the root user's own.
    pub fn create(&self) -> io::Result<()> {
        for (dir, mode) in [
            (self.root.clone(), 0o755),
            (self.temp(), 0o755),
            (self.home(), 0o700),
            (self.work(), 0o755),
            (self.dstack(), 0o755),
        ] {
            std::fs::create_dir_all(&dir)?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))?;
        }
        Ok(())
    }

    /// Removes everything of the task; a task without a directory is fine.
    pub async fn remove(&self) -> io::Result<()> {
        match tokio::fs::remove_dir_all(&self.root).await {
            Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dir_is_under_the_task_root_and_removal_is_idempotent() {
        let tasks = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::new(tasks.path(), "t1");
        dirs.create().unwrap();
        for dir in [dirs.temp(), dirs.home(), dirs.work(), dirs.dstack()] {
            assert!(dir.is_dir(), "{}", dir.display());
            assert!(dir.starts_with(tasks.path().join("t1")));
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(dirs.remove()).unwrap();
        assert!(!dirs.root.exists());
        runtime.block_on(dirs.remove()).unwrap();
    }
}
