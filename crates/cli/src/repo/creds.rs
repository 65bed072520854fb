//! Clone credentials, found the way dstack finds them: each candidate is tried with
//! `git ls-remote` against the remote, with git's own configs and prompts turned off so only
//! that candidate counts.
//!
//! The order: no auth over HTTPS (a public repo); then the SSH key or token the user gave (or
//! the server stored), which must work; then `~/.ssh/id_rsa`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use dstack_core::api::repos::RemoteRepoCreds;

use super::{GitRepoUrl, RepoError};

/// What the user gave or the server returned.
#[derive(Debug, Default)]
pub struct Candidates {
    /// `--git-identity`: a private key file.
    pub identity_file: Option<PathBuf>,
    /// A private key's text (stored with the repo on the server).
    pub private_key: Option<String>,
    /// `--token` or a stored OAuth token.
    pub oauth_token: Option<String>,
}

/// The first credentials that can read `url`.
pub fn find(url: &GitRepoUrl, candidates: &Candidates) -> Result<RemoteRepoCreds, RepoError> {
    if ls_remote(&url.as_https(None), None)? {
        return Ok(https_creds(url, None));
    }
    if let Some(file) = &candidates.identity_file {
        let key = read_private_key(file)?;
        return ssh_creds(url, file, key);
    }
    if let Some(key) = &candidates.private_key {
        let mut file = tempfile::NamedTempFile::new().map_err(io_failure)?;
        file.write_all(key.as_bytes()).map_err(io_failure)?;
        return ssh_creds(url, file.path(), key.clone());
    }
    if let Some(token) = &candidates.oauth_token {
        return if ls_remote(&url.as_https(Some(token)), None)? {
            Ok(https_creds(url, Some(token)))
        } else {
            Err(RepoError::NoCreds)
        };
    }
    if let Some(home) = std::env::var_os("HOME") {
        let default_key = Path::new(&home).join(".ssh").join("id_rsa");
        if default_key.exists()
            && let Ok(key) = read_private_key(&default_key)
            && let Ok(creds) = ssh_creds(url, &default_key, key)
        {
            return Ok(creds);
        }
    }
    Err(RepoError::NoCreds)
}

fn https_creds(url: &GitRepoUrl, token: Option<&str>) -> RemoteRepoCreds {
    RemoteRepoCreds {
        clone_url: url.as_https(None),
        private_key: None,
        oauth_token: token.map(str::to_owned),
    }
}

fn ssh_creds(url: &GitRepoUrl, key_file: &Path, key: String) -> Result<RemoteRepoCreds, RepoError> {
    let clone_url = url.as_ssh();
    if !ls_remote(&clone_url, Some(key_file))? {
        return Err(RepoError::NoCreds);
    }
    Ok(RemoteRepoCreds {
        clone_url,
        private_key: Some(key),
        oauth_token: None,
    })
}

/// A passphrase-free private key's text; anything else is not a usable credential.
fn read_private_key(file: &Path) -> Result<String, RepoError> {
    let file = std::path::absolute(file).map_err(io_failure)?;
    let usable = Command::new("ssh-keygen")
        .args(["-y", "-P", "", "-f"])
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !usable {
        return Err(RepoError::NoCreds);
    }
    std::fs::read_to_string(&file).map_err(|_| RepoError::NoCreds)
}

/// Whether `git ls-remote` can read `url`, with only `key_file` (if any) to authenticate.
fn ls_remote(url: &str, key_file: Option<&Path>) -> Result<bool, RepoError> {
    let mut command = Command::new("git");
    command
        .args([
            "-c",
            "credential.helper=",
            "ls-remote",
            "--symref",
            url,
            "HEAD",
        ])
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "")
        .env("SSH_ASKPASS", "")
        .env("GIT_CONFIG_SYSTEM", "/dev/null")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_DIR", "/dev/null")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(key_file) = key_file {
        command.env(
            "GIT_SSH_COMMAND",
            format!(
                "ssh -F none -i \"{}\" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o BatchMode=yes",
                key_file.display()
            ),
        );
    }
    match command.status() {
        Ok(status) => Ok(status.success()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Err(RepoError::GitMissing),
        Err(error) => Err(io_failure(error)),
    }
}

fn io_failure(error: std::io::Error) -> RepoError {
    RepoError::Git {
        command: "ls-remote".to_owned(),
        stderr: error.to_string(),
    }
}
