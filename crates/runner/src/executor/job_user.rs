//! Who the job runs as: `job_spec.user` resolved against the container's `/etc/passwd` and
//! `/etc/group` with [`crate::user::UserDb`], before anything of the job runs.

use std::io;
use std::path::{Path, PathBuf};

use dstack_core::api::jobs::UnixUser;
use dstack_core::status::JobTerminationReason;

use crate::user::home::{HomeState, effective_home};
use crate::user::{JobUser, UserDb, UserError, UserSpec};

#[derive(Debug, thiserror::Error)]
pub enum JobUserError {
    #[error("user {name:?} does not exist in {}", in_image(.image))]
    UnknownUser { name: String, image: Option<String> },
    #[error("group {name:?} does not exist in {}", in_image(.image))]
    UnknownGroup { name: String, image: Option<String> },
    #[error("the job's user names neither a uid nor a username")]
    NoUser,
    #[error("cannot read {path}: {source}")]
    ReadAccounts { path: PathBuf, source: io::Error },
}

fn in_image(image: &Option<String>) -> String {
    match image {
        Some(image) => format!("image {image:?}"),
        None => "the image".to_owned(),
    }
}

impl JobUserError {
    /// A user or group missing from the image is a container that cannot be created as
    /// configured: the job never started, so it is not `container_exited_with_error`.
    pub fn termination_reason(&self) -> JobTerminationReason {
        match self {
            Self::UnknownUser { .. } | Self::UnknownGroup { .. } => {
                JobTerminationReason::CreatingContainerError
            }
            Self::NoUser | Self::ReadAccounts { .. } => JobTerminationReason::ExecutorError,
        }
    }
}

/// The resolved user and the home directory the job gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub user: JobUser,
    pub home: String,
}

/// Resolves `spec` (`None`: the runner's own uid `own_uid`) against the account files in
/// `etc_dir`. `image` names the image in errors.
pub fn resolve_job_user(
    etc_dir: &Path,
    spec: Option<&UnixUser>,
    own_uid: u32,
    image: Option<&str>,
) -> Result<ResolvedUser, JobUserError> {
    let db = UserDb::from_contents(
        &read_accounts(&etc_dir.join("passwd"))?,
        &read_accounts(&etc_dir.join("group"))?,
    );
    let spec = match spec {
        Some(user) => UserSpec {
            uid: user.uid,
            gid: user.gid,
            username: user.username.clone(),
            groupname: user.groupname.clone(),
        },
        None => UserSpec {
            uid: Some(own_uid),
            ..UserSpec::default()
        },
    };
    let image = image.map(str::to_owned);
    let user = db.resolve(&spec).map_err(|error| match error {
        UserError::UnknownUser(name) => JobUserError::UnknownUser { name, image },
        UserError::UnknownGroup(name) => JobUserError::UnknownGroup { name, image },
        UserError::NoUser => JobUserError::NoUser,
    })?;
    let home = effective_home(user.home.as_deref(), home_state(user.home.as_deref()));
    Ok(ResolvedUser { user, home })
}

/// An image without the file has no accounts in it; that is not an error by itself.
fn read_accounts(path: &Path) -> Result<String, JobUserError> {
    match std::fs::read_to_string(path) {
        Ok(contents) => Ok(contents),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(String::new()),
        Err(source) => Err(JobUserError::ReadAccounts {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn home_state(home: Option<&str>) -> HomeState {
    match home.map(std::fs::metadata) {
        Some(Ok(metadata)) if metadata.is_dir() => HomeState::Directory,
        Some(Ok(_)) => HomeState::NotDirectory,
        _ => HomeState::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn etc() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/sh\nsvc:x:900:900::/nonexistent:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("group"),
            "root:x:0:\nsvc:x:900:\nops:x:901:svc\n",
        )
        .unwrap();
        dir
    }

    fn named(name: &str) -> UnixUser {
        UnixUser {
            uid: None,
            gid: None,
            username: Some(name.to_owned()),
            groupname: None,
        }
    }

    #[test]
    fn unknown_user_names_the_image_and_is_a_creating_container_error() {
        let error = resolve_job_user(etc().path(), Some(&named("alice")), 0, Some("debian:12"))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"user "alice" does not exist in image "debian:12""#
        );
        assert_eq!(
            error.termination_reason(),
            JobTerminationReason::CreatingContainerError
        );
        let error = resolve_job_user(etc().path(), Some(&named("alice")), 0, None).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"user "alice" does not exist in the image"#
        );
    }

    #[test]
    fn no_user_spec_is_the_runner_itself() {
        let resolved = resolve_job_user(etc().path(), None, 0, None).unwrap();
        assert_eq!(resolved.user.username.as_deref(), Some("root"));
    }

    #[test]
    fn system_account_without_home_gets_root_dir_and_its_groups() {
        let resolved = resolve_job_user(etc().path(), Some(&named("svc")), 0, None).unwrap();
        assert_eq!(resolved.home, "/");
        assert_eq!(resolved.user.groups, vec![900, 901]);
    }

    #[test]
    fn missing_account_files_leave_only_numeric_users() {
        let empty = tempfile::tempdir().unwrap();
        let numeric = UnixUser {
            uid: Some(4242),
            ..named("ignored")
        };
        let resolved = resolve_job_user(empty.path(), Some(&numeric), 0, None).unwrap();
        assert_eq!((resolved.user.uid, resolved.user.gid), (4242, 0));
        assert!(matches!(
            resolve_job_user(empty.path(), Some(&named("root")), 0, None),
            Err(JobUserError::UnknownUser { .. })
        ));
    }
}
