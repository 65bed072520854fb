//! The job's code (agents.md §3.8): the uploaded tar of a local or virtual repo unpacked into
//! the repo directory, or a remote repo cloned there with the uploaded diff applied
//! ([`super::git`]); the directory then belongs to the job user.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use dstack_core::api::repos::{RemoteRepoCreds, RunRepoData};
use dstack_core::configuration::repos::RepoExistsAction;

use super::git::{GitAuth, GitCheckout, GitError, clone_repo};

#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    #[error("repo dir is not empty: {0}")]
    NotEmpty(PathBuf),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

fn io_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> RepoError + 'a {
    move |source| RepoError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The owner new files get: the job user, when the runner can switch to it.
pub type Owner = Option<(u32, u32)>;

/// What the repo step needs.
#[derive(Debug, Clone, Copy)]
pub struct RepoSetup<'a> {
    pub repo_dir: &'a Path,
    pub repo_data: Option<&'a RunRepoData>,
    /// The uploaded code, when there is one.
    pub code: Option<&'a Path>,
    /// `None` keeps what is there, as runners before 0.19 did.
    pub exists_action: Option<RepoExistsAction>,
    pub owner: Owner,
    /// Where a remote repo comes from and the secrets to fetch it.
    pub credentials: Option<&'a RemoteRepoCreds>,
    /// Clone only the job's branch.
    pub single_branch: bool,
    /// A runner-private directory for short-lived files (an SSH key during the clone).
    pub scratch_dir: &'a Path,
}

/// Sets up the repo. Returns whether code was unpacked or cloned.
pub fn setup_repo(setup: RepoSetup<'_>) -> Result<bool, RepoError> {
    let Some(repo_data) = setup.repo_data else {
        return Ok(false);
    };
    if !is_empty_dir(setup.repo_dir)? {
        return match setup.exists_action {
            Some(RepoExistsAction::Error) => Err(RepoError::NotEmpty(setup.repo_dir.to_path_buf())),
            Some(RepoExistsAction::Skip) | None => Ok(false),
        };
    }
    match repo_data {
        RunRepoData::Remote {
            repo_branch,
            repo_hash,
            repo_config_name,
            repo_config_email,
            ..
        } => {
            let credentials = setup.credentials;
            let clone_url = credentials.map_or("", |creds| creds.clone_url.as_str());
            let checkout = GitCheckout {
                clone_url,
                auth: credentials.map_or(GitAuth::None, |creds| auth_for(clone_url, creds)),
                branch: repo_branch.as_deref().filter(|branch| !branch.is_empty()),
                hash: repo_hash.as_deref().filter(|hash| !hash.is_empty()),
                single_branch: setup.single_branch,
                config_name: repo_config_name.as_deref(),
                config_email: repo_config_email.as_deref(),
                diff: setup.code,
                scratch_dir: setup.scratch_dir,
            };
            create_dir_owned(setup.repo_dir, setup.owner)?;
            clone_repo(checkout, setup.repo_dir)?;
        }
        RunRepoData::Local { .. } | RunRepoData::Virtual => {
            let Some(code) = setup.code else {
                return Ok(false);
            };
            create_dir_owned(setup.repo_dir, setup.owner)?;
            unpack_tar(code, setup.repo_dir)?;
        }
    }
    if let Some(owner) = setup.owner {
        chown_tree(setup.repo_dir, owner)?;
    }
    Ok(true)
}

/// A token goes with HTTP(S) URLs, a private key with every other (SSH) URL.
fn auth_for<'a>(clone_url: &str, creds: &'a RemoteRepoCreds) -> GitAuth<'a> {
    let secret = |value: &'a Option<String>| value.as_deref().filter(|value| !value.is_empty());
    if clone_url.starts_with("http://") || clone_url.starts_with("https://") {
        secret(&creds.oauth_token).map_or(GitAuth::None, GitAuth::OauthToken)
    } else {
        secret(&creds.private_key).map_or(GitAuth::None, GitAuth::PrivateKey)
    }
}

/// A missing directory, an empty one, or one that holds only `lost+found` (a fresh
/// filesystem mounted there) counts as empty.
fn is_empty_dir(dir: &Path) -> Result<bool, RepoError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(source) => return Err(io_error("read", dir)(source)),
    };
    for entry in entries {
        let entry = entry.map_err(io_error("read", dir))?;
        if entry.file_name() != "lost+found" {
            return Ok(false);
        }
    }
    Ok(true)
}

fn unpack_tar(archive: &Path, into: &Path) -> Result<(), RepoError> {
    let file = fs::File::open(archive).map_err(io_error("open", archive))?;
    let mut tar = tar::Archive::new(file);
    tar.set_preserve_permissions(true);
    tar.unpack(into)
        .map_err(io_error("unpack the code into", into))
}

/// `mkdir -p`, giving each directory it creates to `owner`.
pub fn create_dir_owned(dir: &Path, owner: Owner) -> Result<(), RepoError> {
    let missing: Vec<&Path> = dir.ancestors().take_while(|path| !path.exists()).collect();
    fs::create_dir_all(dir).map_err(io_error("create", dir))?;
    if let Some((uid, gid)) = owner {
        for path in missing {
            std::os::unix::fs::lchown(path, Some(uid), Some(gid))
                .map_err(io_error("change the owner of", path))?;
        }
    }
    Ok(())
}

/// `chown -R` without following symlinks.
pub fn chown_tree(path: &Path, (uid, gid): (u32, u32)) -> Result<(), RepoError> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(io_error("change the owner of", path))?;
    let metadata = fs::symlink_metadata(path).map_err(io_error("stat", path))?;
    if metadata.is_dir() {
        for entry in fs::read_dir(path).map_err(io_error("read", path))? {
            let entry = entry.map_err(io_error("read", path))?;
            chown_tree(&entry.path(), (uid, gid))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn code_tar(dir: &Path) -> PathBuf {
        let path = dir.join("code.tar");
        let mut builder = tar::Builder::new(fs::File::create(&path).unwrap());
        let mut header = tar::Header::new_gnu();
        header.set_size(4);
        header.set_mode(0o644);
        header.set_cksum();
        builder
            .append_data(&mut header, "src/foo", &b"bar\n"[..])
            .unwrap();
        builder.finish().unwrap();
        path
    }

    fn setup<'a>(
        repo_dir: &'a Path,
        code: Option<&'a Path>,
        data: &'a RunRepoData,
    ) -> RepoSetup<'a> {
        RepoSetup {
            repo_dir,
            repo_data: Some(data),
            code,
            exists_action: Some(RepoExistsAction::Error),
            owner: None,
            credentials: None,
            single_branch: false,
            scratch_dir: repo_dir,
        }
    }

    #[test]
    fn unpacks_the_code_of_a_virtual_repo() {
        let temp = tempfile::tempdir().unwrap();
        let code = code_tar(temp.path());
        let repo = temp.path().join("a/workflow");
        assert!(setup_repo(setup(&repo, Some(&code), &RunRepoData::Virtual)).unwrap());
        assert_eq!(fs::read_to_string(repo.join("src/foo")).unwrap(), "bar\n");
    }

    #[test]
    fn gives_the_repo_to_the_owner() {
        let temp = tempfile::tempdir().unwrap();
        let code = code_tar(temp.path());
        let repo = temp.path().join("workflow");
        let me = (
            fs::metadata(temp.path()).unwrap().uid(),
            fs::metadata(temp.path()).unwrap().gid(),
        );
        let owned = RepoSetup {
            owner: Some(me),
            ..setup(&repo, Some(&code), &RunRepoData::Virtual)
        };
        assert!(setup_repo(owned).unwrap());
        assert_eq!(fs::metadata(repo.join("src/foo")).unwrap().uid(), me.0);
    }

    #[test]
    fn a_non_empty_dir_is_an_error_or_skipped() {
        let temp = tempfile::tempdir().unwrap();
        let code = code_tar(temp.path());
        let repo = temp.path().join("workflow");
        fs::create_dir_all(&repo).unwrap();
        fs::write(repo.join("old"), "x").unwrap();
        let error = setup_repo(setup(&repo, Some(&code), &RunRepoData::Virtual)).unwrap_err();
        assert!(matches!(error, RepoError::NotEmpty(_)), "{error}");
        let skip = RepoSetup {
            exists_action: Some(RepoExistsAction::Skip),
            ..setup(&repo, Some(&code), &RunRepoData::Virtual)
        };
        assert!(!setup_repo(skip).unwrap());
        assert!(!repo.join("src").exists());
    }

    #[test]
    fn lost_and_found_alone_is_empty() {
        let temp = tempfile::tempdir().unwrap();
        let code = code_tar(temp.path());
        let repo = temp.path().join("workflow");
        fs::create_dir_all(repo.join("lost+found")).unwrap();
        assert!(setup_repo(setup(&repo, Some(&code), &RunRepoData::Virtual)).unwrap());
    }
}
