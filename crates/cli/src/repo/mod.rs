//! Git repos of runs (config-cli.md §2.9, api.md §4.2 step 1): a remote repo named by a URL or
//! read from a local checkout, the credentials the server clones it with, and the diff of the
//! checkout's uncommitted work that goes up as the run's code.
//!
//! [`RemoteRepo`] is what the commands use; [`url`] parses remote URLs, `checkout` reads a
//! local checkout with the `git` command, and [`creds`] finds working clone credentials.

mod checkout;
pub mod creds;
pub mod url;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use dstack_core::api::repos::{RepoInfo, RunRepoData};
use sha2::{Digest, Sha256};

pub use self::url::GitRepoUrl;

/// Why a repo could not be used; each message is one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The `git` command is not on PATH.
    #[error("git is not installed: a run with a repo needs the `git` command")]
    GitMissing,
    /// A local path that does not exist.
    #[error("Path does not exist: {}", .0.display())]
    PathMissing(PathBuf),
    /// A local path that is a file.
    #[error("Path is not a directory: {}", .0.display())]
    NotADirectory(PathBuf),
    /// A directory that is not the top of a git checkout.
    #[error(
        "Git repo not found: {}. Use `files` to mount an arbitrary directory: https://dstack.ai/docs/concepts/tasks/#files",
        .0.display()
    )]
    NotARepo(PathBuf),
    /// HEAD is not on a branch.
    #[error("Git repo in 'detached HEAD' state: {}. Check out to a branch", .0.display())]
    DetachedHead(PathBuf),
    /// The checked-out branch tracks no remote branch.
    #[error("No remote branch is configured")]
    NoRemoteBranch,
    /// Not an `https` or `ssh` git URL.
    #[error("{0}")]
    InvalidUrl(String),
    /// A git command failed.
    #[error("git {command} failed: {stderr}")]
    Git {
        /// The git arguments.
        command: String,
        /// What git printed, on one line.
        stderr: String,
    },
    /// No credentials given, stored or found locally can read the repo.
    #[error("No valid default Git credentials found. Pass valid `--token` or `--git-identity`.")]
    NoCreds,
}

/// Where a repo comes from: `-P/--repo`, `repos[0]` or the working directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSource {
    /// A remote URL.
    Url(String),
    /// A local checkout.
    Dir(PathBuf),
}

impl RepoSource {
    /// A value that is a git URL, or else a local path made absolute against `base`.
    pub fn parse(value: &str, base: &Path) -> Self {
        if GitRepoUrl::parse(value).is_ok() {
            Self::Url(value.to_owned())
        } else {
            Self::Dir(crate::paths::resolve(value, base))
        }
    }
}

/// A git repo the server clones for a run: from a URL, or from a local checkout together with
/// its uncommitted changes.
#[derive(Debug, Clone)]
pub struct RemoteRepo {
    url: GitRepoUrl,
    repo_id: String,
    branch: Option<String>,
    hash: Option<String>,
    config_name: Option<String>,
    config_email: Option<String>,
    /// The checkout's diff against its remote-tracking commit; `None` for a URL.
    diff: Option<Vec<u8>>,
}

impl RemoteRepo {
    /// The repo at `url`, at `branch` and `hash` when given.
    pub fn from_url(
        url: &str,
        branch: Option<String>,
        hash: Option<String>,
    ) -> Result<Self, RepoError> {
        let url = GitRepoUrl::parse(url)?;
        Ok(Self {
            repo_id: url.repo_id(),
            url,
            branch,
            hash,
            config_name: None,
            config_email: None,
            diff: None,
        })
    }

    /// The checkout at `dir` (its top directory): its remote, the remote branch it tracks and
    /// that branch's commit, the git identity, and, with `with_diff`, the diff of the working
    /// tree against that commit.
    pub fn from_dir(dir: &Path, with_diff: bool) -> Result<Self, RepoError> {
        if !dir.exists() {
            return Err(RepoError::PathMissing(dir.to_owned()));
        }
        if !dir.is_dir() {
            return Err(RepoError::NotADirectory(dir.to_owned()));
        }
        let checkout = checkout::Checkout::read(dir)?;
        let url = GitRepoUrl::parse(&checkout.remote_url)?;
        let diff = if with_diff {
            Some(checkout.diff()?)
        } else {
            None
        };
        Ok(Self {
            repo_id: url.repo_id(),
            url,
            branch: Some(checkout.remote_branch),
            hash: Some(checkout.commit),
            config_name: checkout.user_name,
            config_email: checkout.user_email,
            diff,
        })
    }

    /// The id the server knows the repo by.
    pub fn repo_id(&self) -> &str {
        &self.repo_id
    }

    /// The parsed remote URL.
    pub fn url(&self) -> &GitRepoUrl {
        &self.url
    }

    /// What `repos/init` registers.
    pub fn repo_info(&self) -> RepoInfo {
        RepoInfo::Remote {
            repo_name: self.url.repo_name(),
        }
    }

    /// The run spec's `repo_data`.
    pub fn run_repo_data(&self) -> RunRepoData {
        RunRepoData::Remote {
            repo_name: self.url.repo_name(),
            repo_branch: self.branch.clone(),
            repo_hash: self.hash.clone(),
            repo_config_name: self.config_name.clone(),
            repo_config_email: self.config_email.clone(),
        }
    }

    /// The code to upload and its SHA-256 (the run spec's `repo_code_hash`): the diff, when
    /// there is one and it is not empty.
    pub fn code(&self) -> Option<(String, &[u8])> {
        let diff = self.diff.as_deref().filter(|diff| !diff.is_empty())?;
        Some((sha256_hex(diff), diff))
    }
}

/// Lower-case hex SHA-256, as dstack names uploaded blobs.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}
