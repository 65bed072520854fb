//! Remote repos (agents.md §3.8): a clone with the container's own `git`, the commit checked
//! out, and the uploaded `git diff` of the user's working tree applied on top.
//!
//! Credentials never reach a command line, a log or the clone's `.git/config`: an OAuth token
//! travels as an HTTP header through `GIT_CONFIG_*` variables, and a private key is written to
//! a 0600 file named in `GIT_SSH_COMMAND`, removed when the clone is done.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Why a remote repo could not be set up. Messages include git's own words, never a secret.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("the image has no `git` executable, which a remote repo needs: install git in it")]
    GitMissing,
    #[error("remote repo has no clone URL (no repo credentials were sent)")]
    NoCloneUrl,
    #[error("cannot run git: {0}")]
    Spawn(io::Error),
    #[error("cannot clone {url}: {stderr}")]
    Clone { url: String, stderr: String },
    #[error("commit {hash} is not in {url}: {stderr}")]
    Checkout {
        hash: String,
        url: String,
        stderr: String,
    },
    #[error("cannot apply the uploaded diff to commit {base}: {stderr}")]
    Apply { base: String, stderr: String },
    #[error("git {step} failed: {stderr}")]
    Step { step: &'static str, stderr: String },
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// How the runner authenticates to the remote.
#[derive(Clone, Copy)]
pub enum GitAuth<'a> {
    /// Anonymous, or whatever the image's own git setup provides.
    None,
    /// An OAuth token, sent as HTTP basic auth over HTTPS.
    OauthToken(&'a str),
    /// A private key for SSH URLs.
    PrivateKey(&'a str),
}

impl std::fmt::Debug for GitAuth<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::None => "None",
            Self::OauthToken(_) => "OauthToken(<redacted>)",
            Self::PrivateKey(_) => "PrivateKey(<redacted>)",
        })
    }
}

/// What to clone and how.
#[derive(Debug, Clone, Copy)]
pub struct GitCheckout<'a> {
    pub clone_url: &'a str,
    pub auth: GitAuth<'a>,
    pub branch: Option<&'a str>,
    pub hash: Option<&'a str>,
    /// Fetch only `branch` (or the default branch).
    pub single_branch: bool,
    pub config_name: Option<&'a str>,
    pub config_email: Option<&'a str>,
    /// The uploaded `git diff`, when there is one.
    pub diff: Option<&'a Path>,
    /// Where the key file is written for the clone's duration.
    pub scratch_dir: &'a Path,
}

/// Clones into `repo_dir`, which is missing or holds nothing but `lost+found`.
///
/// The clone goes to a directory inside `repo_dir` first and its entries are moved up, since
/// git will not clone into a non-empty directory and a mount point cannot be replaced.
pub fn clone_repo(checkout: GitCheckout<'_>, repo_dir: &Path) -> Result<(), GitError> {
    if checkout.clone_url.is_empty() {
        return Err(GitError::NoCloneUrl);
    }
    git_version()?;
    let staging = repo_dir.join(".dstack-clone");
    fs::create_dir_all(&staging).map_err(io_error("create", &staging))?;
    let credentials = Credentials::new(checkout.auth, checkout.clone_url, checkout.scratch_dir)?;
    let mut clone = git(None, &credentials);
    clone.args(["clone", "--quiet", "--recurse-submodules"]);
    clone.arg(if checkout.single_branch {
        "--single-branch"
    } else {
        "--no-single-branch"
    });
    if let Some(branch) = checkout.branch {
        clone.args(["--branch", branch]);
    }
    clone.arg("--").arg(checkout.clone_url).arg(&staging);
    run(clone).map_err(|stderr| GitError::Clone {
        url: checkout.clone_url.to_owned(),
        stderr: stderr_of(stderr),
    })?;
    if let Some(hash) = checkout.hash {
        check_out(&staging, hash, &credentials).map_err(|stderr| GitError::Checkout {
            hash: hash.to_owned(),
            url: checkout.clone_url.to_owned(),
            stderr: stderr_of(stderr),
        })?;
    }
    drop(credentials);
    for (key, value) in [
        ("user.name", checkout.config_name),
        ("user.email", checkout.config_email),
    ] {
        if let Some(value) = value {
            run_in(&staging, ["config", key, value], "config")?;
        }
    }
    if let Some(diff) = checkout.diff {
        apply_diff(&staging, diff)?;
    }
    move_up(&staging, repo_dir)
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> GitError + 'a {
    move |source| GitError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

fn git_version() -> Result<(), GitError> {
    match Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(GitError::Step {
            step: "--version",
            stderr: stderr_of(output),
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(GitError::GitMissing),
        Err(error) => Err(GitError::Spawn(error)),
    }
}

/// A git command that never prompts and, with `credentials`, authenticates.
fn git(dir: Option<&Path>, credentials: &Credentials) -> Command {
    let mut command = Command::new("git");
    if let Some(dir) = dir {
        command.arg("-C").arg(dir);
    }
    command
        .stdin(Stdio::null())
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(credentials.env());
    command
}

/// Runs `command`; its output when it fails (`Err(None)` when it could not start).
fn run(mut command: Command) -> Result<Output, Option<Output>> {
    match command.output() {
        Ok(output) if output.status.success() => Ok(output),
        Ok(output) => Err(Some(output)),
        Err(error) => {
            tracing::warn!(%error, "cannot run git");
            Err(None)
        }
    }
}

fn stderr_of(output: impl Into<Option<Output>>) -> String {
    match output.into() {
        Some(output) => {
            let text = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            if text.is_empty() {
                format!("git exited with {}", output.status)
            } else {
                text
            }
        }
        None => "git could not be started".to_owned(),
    }
}

fn run_in<I, S>(dir: &Path, args: I, step: &'static str) -> Result<Output, GitError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = git(Some(dir), &Credentials::Anonymous);
    command.args(args);
    run(command).map_err(|output| GitError::Step {
        step,
        stderr: stderr_of(output),
    })
}

/// Checks out `hash` unless the clone already stands on it (then a branch stays checked out).
fn check_out(dir: &Path, hash: &str, credentials: &Credentials) -> Result<(), Option<Output>> {
    let mut head = git(Some(dir), credentials);
    head.args(["rev-parse", "HEAD"]);
    let head = run(head)?;
    if String::from_utf8_lossy(&head.stdout).trim() == hash {
        return Ok(());
    }
    let mut checkout = git(Some(dir), credentials);
    checkout.args([
        "-c",
        "advice.detachedHead=false",
        "checkout",
        "--quiet",
        "--recurse-submodules",
        hash,
        "--",
    ]);
    run(checkout).map(drop)
}

/// Applies the uploaded diff, binary patches included. An empty diff changes nothing.
fn apply_diff(dir: &Path, diff: &Path) -> Result<(), GitError> {
    let contents = fs::read(diff).map_err(io_error("read", diff))?;
    if contents.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    run_in(dir, [OsStr::new("apply"), diff.as_os_str()], "apply").map_err(|error| {
        let base = run_in(dir, ["rev-parse", "HEAD"], "rev-parse")
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
            .unwrap_or_else(|_| "HEAD".to_owned());
        match error {
            GitError::Step { stderr, .. } => GitError::Apply { base, stderr },
            other => other,
        }
    })?;
    Ok(())
}

/// Moves every entry of `staging` into its parent `repo_dir`, then removes `staging`.
fn move_up(staging: &Path, repo_dir: &Path) -> Result<(), GitError> {
    for entry in fs::read_dir(staging).map_err(io_error("read", staging))? {
        let entry = entry.map_err(io_error("read", staging))?;
        let target = repo_dir.join(entry.file_name());
        fs::rename(entry.path(), &target).map_err(io_error("move the clone to", &target))?;
    }
    fs::remove_dir(staging).map_err(io_error("remove", staging))
}

/// The secrets of one clone, as git reads them; the key file goes when this is dropped.
enum Credentials {
    Anonymous,
    /// `http.<origin>.extraHeader`, scoped to the clone URL's origin so no other host sees it.
    Header {
        origin: String,
        header: String,
    },
    KeyFile(tempfile::TempPath),
}

impl Credentials {
    fn new(auth: GitAuth<'_>, clone_url: &str, scratch_dir: &Path) -> Result<Self, GitError> {
        match auth {
            GitAuth::None => Ok(Self::Anonymous),
            GitAuth::OauthToken(token) => {
                // Any user name goes with a token; dstack's runner sends "anything".
                let basic = BASE64.encode(format!("anything:{token}"));
                Ok(Self::Header {
                    origin: origin_of(clone_url),
                    header: format!("Authorization: Basic {basic}"),
                })
            }
            GitAuth::PrivateKey(key) => {
                fs::create_dir_all(scratch_dir).map_err(io_error("create", scratch_dir))?;
                let file = tempfile::Builder::new()
                    .prefix(".git-key-")
                    .permissions(fs::Permissions::from_mode(0o600))
                    .tempfile_in(scratch_dir)
                    .map_err(io_error("create a key file in", scratch_dir))?;
                let (mut handle, path) = file.into_parts();
                let mut key = key.to_owned();
                // OpenSSH refuses a key without its final newline.
                if !key.ends_with('\n') {
                    key.push('\n');
                }
                handle
                    .write_all(key.as_bytes())
                    .map_err(io_error("write", &path))?;
                Ok(Self::KeyFile(path))
            }
        }
    }

    fn env(&self) -> Vec<(String, String)> {
        match self {
            Self::Anonymous => Vec::new(),
            Self::Header { origin, header } => vec![
                ("GIT_CONFIG_COUNT".to_owned(), "1".to_owned()),
                (
                    "GIT_CONFIG_KEY_0".to_owned(),
                    format!("http.{origin}.extraHeader"),
                ),
                ("GIT_CONFIG_VALUE_0".to_owned(), header.clone()),
            ],
            Self::KeyFile(path) => vec![(
                "GIT_SSH_COMMAND".to_owned(),
                format!(
                    "ssh -i '{}' -o IdentitiesOnly=yes -o BatchMode=yes \
                     -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null",
                    path.display()
                ),
            )],
        }
    }
}

/// `scheme://host[:port]/` of a URL; the URL itself when it does not parse.
fn origin_of(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) if parsed.has_host() => {
            let mut origin = parsed.clone();
            origin.set_path("/");
            origin.set_query(None);
            origin.set_fragment(None);
            let _ = origin.set_username("");
            let _ = origin.set_password(None);
            origin.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    #[test]
    fn a_token_is_a_header_scoped_to_the_clone_urls_origin() {
        let temp = tempfile::tempdir().unwrap();
        let url = "https://user@git.example.com:8443/org/repo.git?x=1";
        let credentials = Credentials::new(GitAuth::OauthToken("tok"), url, temp.path()).unwrap();
        let env = credentials.env();
        assert_eq!(
            env[1],
            (
                "GIT_CONFIG_KEY_0".to_owned(),
                "http.https://git.example.com:8443/.extraHeader".to_owned()
            )
        );
        // base64("anything:tok")
        assert_eq!(env[2].1, "Authorization: Basic YW55dGhpbmc6dG9r");
        assert_eq!(
            format!("{:?}", GitAuth::OauthToken("tok")),
            "OauthToken(<redacted>)"
        );
    }

    #[test]
    fn a_private_key_lives_in_an_owner_only_file_while_it_is_needed() {
        let temp = tempfile::tempdir().unwrap();
        let credentials =
            Credentials::new(GitAuth::PrivateKey("KEY"), "git@h:o/r.git", temp.path()).unwrap();
        let Credentials::KeyFile(path) = &credentials else {
            panic!("no key file");
        };
        let path = path.to_path_buf();
        assert_eq!(fs::read_to_string(&path).unwrap(), "KEY\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let ssh = &credentials.env()[0];
        assert_eq!(ssh.0, "GIT_SSH_COMMAND");
        assert!(
            ssh.1.contains(&format!("-i '{}'", path.display())),
            "{}",
            ssh.1
        );
        drop(credentials);
        assert!(!path.exists());
    }

    #[test]
    fn an_unparsable_url_is_its_own_origin() {
        assert_eq!(origin_of("not a url"), "not a url");
        assert_eq!(origin_of("http://h/a/b"), "http://h/");
    }
}
