//! The repo credentials in the job user's home (agents.md §3.5), so the job's own git can
//! fetch and push: a private key as `~/.ssh/id_rsa` for SSH URLs, an OAuth token in
//! `~/.config/gh/hosts.yml` (read by `gh auth git-credential`) for HTTPS URLs. A file already
//! there is never overwritten. The files go when the job ends ([`GitCredentialFiles`]).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use dstack_core::api::repos::RemoteRepoCreds;

use super::repo::Owner;

#[derive(Debug, thiserror::Error)]
pub enum GitCredentialsError {
    #[error("{0} already exists")]
    Exists(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// The credential file written for the job; removed when dropped.
#[derive(Debug, Default)]
pub struct GitCredentialFiles {
    path: Option<PathBuf>,
}

impl GitCredentialFiles {
    /// Where the credentials were written, if anywhere.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }
}

impl Drop for GitCredentialFiles {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = fs::remove_file(path);
        }
    }
}

/// Writes the credential that goes with the clone URL into `home`, owned by `owner`.
pub fn install_git_credentials(
    creds: &RemoteRepoCreds,
    home: &Path,
    owner: Owner,
) -> Result<GitCredentialFiles, GitCredentialsError> {
    let secret = |value: &Option<String>| value.clone().filter(|value| !value.is_empty());
    let url = creds.clone_url.as_str();
    let (path, contents) = if url.starts_with("https://") || url.starts_with("http://") {
        let Some(token) = secret(&creds.oauth_token) else {
            return Ok(GitCredentialFiles::default());
        };
        let host = url::Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        let contents = format!("{host}:\n  oauth_token: \"{token}\"\n");
        (home.join(".config/gh/hosts.yml"), contents)
    } else {
        let Some(mut key) = secret(&creds.private_key) else {
            return Ok(GitCredentialFiles::default());
        };
        if !key.ends_with('\n') {
            key.push('\n');
        }
        (home.join(".ssh/id_rsa"), key)
    };
    write_owner_only(&path, contents.as_bytes(), owner)?;
    Ok(GitCredentialFiles { path: Some(path) })
}

/// Creates `path` (0600) and the directories above it up to `home` (0700), all for `owner`.
fn write_owner_only(path: &Path, contents: &[u8], owner: Owner) -> Result<(), GitCredentialsError> {
    let io_error = |source| GitCredentialsError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent()
        && !dir.exists()
    {
        fs::create_dir_all(dir).map_err(io_error)?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_error)?;
        chown(dir, owner).map_err(io_error)?;
    }
    let mut file = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            return Err(GitCredentialsError::Exists(path.to_path_buf()));
        }
        Err(error) => return Err(io_error(error)),
    };
    file.write_all(contents).map_err(io_error)?;
    chown(path, owner).map_err(io_error)
}

fn chown(path: &Path, owner: Owner) -> io::Result<()> {
    match owner {
        Some((uid, gid)) => std::os::unix::fs::chown(path, Some(uid), Some(gid)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn creds(url: &str, token: Option<&str>, key: Option<&str>) -> RemoteRepoCreds {
        RemoteRepoCreds {
            clone_url: url.to_owned(),
            oauth_token: token.map(str::to_owned),
            private_key: key.map(str::to_owned),
        }
    }

    #[test]
    fn a_key_goes_to_id_rsa_owner_only_and_goes_away_after_the_job() {
        let home = tempfile::tempdir().unwrap();
        let written = install_git_credentials(
            &creds("git@h:o/r.git", Some("t"), Some("KEY")),
            home.path(),
            None,
        )
        .unwrap();
        let path = home.path().join(".ssh/id_rsa");
        assert_eq!(written.path(), Some(path.as_path()));
        assert_eq!(fs::read_to_string(&path).unwrap(), "KEY\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        assert_eq!(
            fs::metadata(home.path().join(".ssh")).unwrap().mode() & 0o777,
            0o700
        );
        drop(written);
        assert!(!path.exists());
    }

    #[test]
    fn a_token_goes_to_the_gh_hosts_file_and_an_existing_file_is_kept() {
        let home = tempfile::tempdir().unwrap();
        let https = creds("https://github.com/o/r.git", Some("gho_x"), None);
        let written = install_git_credentials(&https, home.path(), None).unwrap();
        let path = home.path().join(".config/gh/hosts.yml");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "github.com:\n  oauth_token: \"gho_x\"\n"
        );
        let again = install_git_credentials(&https, home.path(), None).unwrap_err();
        assert!(matches!(again, GitCredentialsError::Exists(_)), "{again}");
        assert!(path.exists(), "the existing file was removed");
        drop(written);
        let none =
            install_git_credentials(&creds("https://h/r", None, Some("K")), home.path(), None);
        assert_eq!(none.unwrap().path(), None);
    }
}
