//! The job's working directory and repo directory (agents.md §3.7, §3.8): `~` is the job
//! user's home, and a relative repo dir is inside the working directory.

use std::path::{Component, Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("{what} {path:?}: ~user paths are not supported, use ~ or an absolute path")]
    OtherUsersHome { what: &'static str, path: String },
    #[error("working dir {0:?} is not an absolute path")]
    RelativeWorkingDir(String),
    #[error("repo dir is not set")]
    NoRepoDir,
}

/// The working directory: as configured with `~` expanded, or the runner's own (the image's
/// `WORKDIR`) when not configured.
pub fn resolve_working_dir(
    configured: Option<&str>,
    home: &str,
    runner_cwd: &Path,
) -> Result<PathBuf, PathError> {
    let Some(configured) = configured else {
        return Ok(runner_cwd.to_path_buf());
    };
    let path = expand_home("working dir", configured, home)?;
    if !path.is_absolute() {
        return Err(PathError::RelativeWorkingDir(configured.to_owned()));
    }
    Ok(normalize(&path))
}

/// The repo directory, relative to the working directory unless absolute.
pub fn resolve_repo_dir(
    configured: Option<&str>,
    home: &str,
    working_dir: &Path,
) -> Result<PathBuf, PathError> {
    let configured = configured
        .filter(|dir| !dir.is_empty())
        .ok_or(PathError::NoRepoDir)?;
    let path = expand_home("repo dir", configured, home)?;
    Ok(normalize(&working_dir.join(path)))
}

/// Where a file archive goes: like the repo dir, relative to the working directory.
pub fn resolve_archive_path(
    configured: &str,
    home: &str,
    working_dir: &Path,
) -> Result<PathBuf, PathError> {
    let path = expand_home("file path", configured, home)?;
    Ok(normalize(&working_dir.join(path)))
}

fn expand_home(what: &'static str, path: &str, home: &str) -> Result<PathBuf, PathError> {
    match path.strip_prefix('~') {
        None => Ok(PathBuf::from(path)),
        Some("") => Ok(PathBuf::from(home)),
        Some(rest) => match rest.strip_prefix('/') {
            Some(rest) => Ok(Path::new(home).join(rest)),
            None => Err(PathError::OtherUsersHome {
                what,
                path: path.to_owned(),
            }),
        },
    }
}

/// Drops `.` and resolves `..` lexically, as the paths are reported to the user.
fn normalize(path: &Path) -> PathBuf {
    let mut normalized = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normalized.pop();
            }
            other => normalized.push(other),
        }
    }
    normalized
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn working_dir_defaults_to_the_runner_cwd_and_expands_home() {
        let cwd = Path::new("/image/workdir");
        assert_eq!(
            resolve_working_dir(None, "/root", cwd),
            Ok(cwd.to_path_buf())
        );
        assert_eq!(
            resolve_working_dir(Some("~/work/./x/.."), "/home/a", cwd),
            Ok(PathBuf::from("/home/a/work"))
        );
        assert_eq!(
            resolve_working_dir(Some("~"), "/home/a", cwd),
            Ok(PathBuf::from("/home/a"))
        );
        assert_eq!(
            resolve_working_dir(Some("work"), "/home/a", cwd),
            Err(PathError::RelativeWorkingDir("work".to_owned()))
        );
        assert!(matches!(
            resolve_working_dir(Some("~bob/x"), "/home/a", cwd),
            Err(PathError::OtherUsersHome { .. })
        ));
    }

    #[test]
    fn repo_dir_is_inside_the_working_dir_unless_absolute() {
        let work = Path::new("/work");
        assert_eq!(
            resolve_repo_dir(Some("repo"), "/h", work),
            Ok(PathBuf::from("/work/repo"))
        );
        assert_eq!(
            resolve_repo_dir(Some("/workflow"), "/h", work),
            Ok(PathBuf::from("/workflow"))
        );
        assert_eq!(
            resolve_repo_dir(Some("~/r"), "/h", work),
            Ok(PathBuf::from("/h/r"))
        );
        assert_eq!(
            resolve_repo_dir(None, "/h", work),
            Err(PathError::NoRepoDir)
        );
    }
}
