//! A local checkout read with the `git` command: the branch's remote-tracking commit, the
//! remote's URL, the git identity, and the diff that takes that commit to the working tree.
//!
//! The diff is `git diff --binary` output, which the runner applies with `git apply`, so it is
//! made by git itself rather than rebuilt here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::RepoError;

/// What a run needs to know about a checkout.
#[derive(Debug)]
pub struct Checkout {
    dir: PathBuf,
    /// The URL of the remote the branch tracks.
    pub remote_url: String,
    /// The remote branch's name on the remote, e.g. `main`.
    pub remote_branch: String,
    /// The remote-tracking branch's commit.
    pub commit: String,
    /// `user.name`, when set.
    pub user_name: Option<String>,
    /// `user.email`, when set.
    pub user_email: Option<String>,
}

impl Checkout {
    /// Reads the checkout whose top directory is `dir`; a subdirectory of a checkout is not a
    /// repo, as for dstack.
    pub fn read(dir: &Path) -> Result<Self, RepoError> {
        let top = git(dir, &["rev-parse", "--show-toplevel"])
            .ok()
            .filter(|output| output.status.success())
            .map(|output| PathBuf::from(stdout_line(&output)));
        let is_top = match (top.map(std::fs::canonicalize), std::fs::canonicalize(dir)) {
            (Some(Ok(top)), Ok(dir)) => top == dir,
            _ => false,
        };
        if !is_top {
            // Tell a missing git apart from a directory that is not a checkout.
            git(dir, &["--version"])?;
            return Err(RepoError::NotARepo(dir.to_owned()));
        }
        let branch = git(dir, &["symbolic-ref", "--quiet", "--short", "HEAD"])?;
        if !branch.status.success() {
            return Err(RepoError::DetachedHead(dir.to_owned()));
        }
        let branch = stdout_line(&branch);
        let remote = config(dir, &format!("branch.{branch}.remote"))?;
        let merge = config(dir, &format!("branch.{branch}.merge"))?;
        let (Some(remote), Some(merge)) = (remote, merge) else {
            return Err(RepoError::NoRemoteBranch);
        };
        let remote_branch = merge
            .strip_prefix("refs/heads/")
            .unwrap_or(&merge)
            .to_owned();
        let tracking = format!("refs/remotes/{remote}/{remote_branch}^{{commit}}");
        let commit = stdout_line(&checked(
            dir,
            &["rev-parse", "--verify", "--quiet", &tracking],
        )?);
        let remote_url = config(dir, &format!("remote.{remote}.url"))?.ok_or_else(|| {
            RepoError::InvalidUrl(format!("Remote named '{remote}' didn't exist"))
        })?;
        Ok(Self {
            dir: dir.to_owned(),
            remote_url,
            remote_branch,
            commit,
            user_name: config(dir, "user.name")?,
            user_email: config(dir, "user.email")?,
        })
    }

    /// The changes of tracked files against the remote-tracking commit, then each untracked
    /// file that is not ignored as a new file, all in `git diff --binary` form.
    pub fn diff(&self) -> Result<Vec<u8>, RepoError> {
        let mut diff = checked(&self.dir, &["diff", &self.commit, "--binary"])?.stdout;
        let untracked = checked(
            &self.dir,
            &["ls-files", "--others", "--exclude-standard", "-z"],
        )?
        .stdout;
        for path in untracked.split(|byte| *byte == 0).filter(|p| !p.is_empty()) {
            let path = String::from_utf8_lossy(path);
            // `--no-index` exits 1 when the files differ, which a new file always does.
            let output = git(
                &self.dir,
                &["diff", "--no-index", "--binary", "/dev/null", &path],
            )?;
            if output.status.code().is_some_and(|code| code > 1) {
                return Err(failure(&["diff", "--no-index", &path], &output));
            }
            diff.extend_from_slice(&output.stdout);
        }
        Ok(diff)
    }
}

/// Runs `git -C dir args`; only a git that cannot be started is an error here.
fn git(dir: &Path, args: &[&str]) -> Result<Output, RepoError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => RepoError::GitMissing,
            _ => RepoError::Git {
                command: args.join(" "),
                stderr: error.to_string(),
            },
        })
}

/// Runs git and requires success.
fn checked(dir: &Path, args: &[&str]) -> Result<Output, RepoError> {
    let output = git(dir, args)?;
    if output.status.success() {
        Ok(output)
    } else {
        Err(failure(args, &output))
    }
}

fn failure(args: &[&str], output: &Output) -> RepoError {
    RepoError::Git {
        command: args.join(" "),
        stderr: String::from_utf8_lossy(&output.stderr)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// A config value of the checkout (all scopes merged); `None` when unset or empty.
fn config(dir: &Path, key: &str) -> Result<Option<String>, RepoError> {
    let output = git(dir, &["config", "--get", key])?;
    Ok(Some(stdout_line(&output)).filter(|value| output.status.success() && !value.is_empty()))
}

fn stdout_line(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_owned()
}
