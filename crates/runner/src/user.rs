//! Resolution of the job's user against the container's own `/etc/passwd` and `/etc/group`.
//!
//! - [`spec`]: the `user[:group]` spec ([`UserSpec`]).
//! - [`etc_files`]: readers for the two files.
//! - [`home`]: the home-directory fallback.
//! - [`UserDb::resolve`]: uid, gid, groups, home and shell of the job user ([`JobUser`]).
//!
//! An unknown numeric uid or gid is accepted, as Docker's `USER` accepts it; an unknown user
//! or group *name* is an error.

pub mod etc_files;
pub mod home;
pub mod spec;

use etc_files::{EtcFile, GroupEntry, PasswdEntry, parse_group, parse_passwd};
pub use spec::UserSpec;

/// The user the job's processes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobUser {
    pub uid: u32,
    pub gid: u32,
    /// Every gid the process gets, the primary one included, sorted, without duplicates.
    pub groups: Vec<u32>,
    /// `None` for a uid that has no passwd entry.
    pub username: Option<String>,
    /// As written in passwd; see [`home::effective_home`] for what the job gets.
    pub home: Option<String>,
    pub shell: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("user spec names neither a uid nor a username")]
    NoUser,
    #[error("user {0:?} does not exist in the image")]
    UnknownUser(String),
    #[error("group {0:?} does not exist in the image")]
    UnknownGroup(String),
}

/// The accounts of one container, read from its `/etc/passwd` and `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserDb {
    pub passwd: EtcFile<PasswdEntry>,
    pub group: EtcFile<GroupEntry>,
}

impl UserDb {
    /// Reads both files' contents; malformed lines are left out and listed in
    /// `malformed_lines` of each file.
    pub fn from_contents(passwd: &str, group: &str) -> Self {
        Self {
            passwd: parse_passwd(passwd),
            group: parse_group(group),
        }
    }

    /// Resolves `spec`: a given uid wins over a username; a given gid or group name makes
    /// that group the only one (as `USER user:group` does in Docker); otherwise a known user
    /// gets its primary group and every group that lists it as a member, and an unknown uid
    /// gets group 0.
    pub fn resolve(&self, spec: &UserSpec) -> Result<JobUser, UserError> {
        let account = match (spec.uid, &spec.username) {
            (Some(uid), _) => self.user_by_uid(uid),
            (None, Some(name)) => Some(
                self.user_by_name(name)
                    .ok_or_else(|| UserError::UnknownUser(name.clone()))?,
            ),
            (None, None) => return Err(UserError::NoUser),
        };
        let (gid, mut groups) = match (spec.gid, &spec.groupname, account) {
            (Some(gid), _, _) => (gid, vec![gid]),
            (None, Some(name), _) => {
                let group = self
                    .group_by_name(name)
                    .ok_or_else(|| UserError::UnknownGroup(name.clone()))?;
                (group.gid, vec![group.gid])
            }
            (None, None, Some(account)) => (account.gid, self.gids_listing(&account.name)),
            (None, None, None) => (0, Vec::new()),
        };
        groups.push(gid);
        groups.sort_unstable();
        groups.dedup();
        Ok(JobUser {
            uid: spec
                .uid
                .or(account.map(|account| account.uid))
                .unwrap_or_default(),
            gid,
            groups,
            username: account.map(|account| account.name.clone()),
            home: account.map(|account| account.home.clone()),
            shell: account.map(|account| account.shell.clone()),
        })
    }

    fn user_by_uid(&self, uid: u32) -> Option<&PasswdEntry> {
        self.passwd.entries.iter().find(|entry| entry.uid == uid)
    }

    fn user_by_name(&self, name: &str) -> Option<&PasswdEntry> {
        self.passwd.entries.iter().find(|entry| entry.name == name)
    }

    fn group_by_name(&self, name: &str) -> Option<&GroupEntry> {
        self.group.entries.iter().find(|entry| entry.name == name)
    }

    /// The gids of every group that lists `username` as a member.
    fn gids_listing(&self, username: &str) -> Vec<u32> {
        self.group
            .entries
            .iter()
            .filter(|entry| entry.members.iter().any(|member| member == username))
            .map(|entry| entry.gid)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
                          nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
                          alice:x:1000:1000:Alice:/home/alice:/bin/zsh\n\
                          this line is broken\n";
    const GROUP: &str =
        "root:x:0:\nsudo:x:27:alice\ndocker:x:999:bob,alice\nalice:x:1000:\nusers:x:100:\n";

    fn db() -> UserDb {
        UserDb::from_contents(PASSWD, GROUP)
    }

    fn spec(text: &str) -> UserSpec {
        text.parse().unwrap_or_default()
    }

    fn alice(gid: u32, groups: Vec<u32>) -> JobUser {
        JobUser {
            uid: 1000,
            gid,
            groups,
            username: Some("alice".to_owned()),
            home: Some("/home/alice".to_owned()),
            shell: Some("/bin/zsh".to_owned()),
        }
    }

    fn anonymous(uid: u32, gid: u32) -> JobUser {
        JobUser {
            uid,
            gid,
            groups: vec![gid],
            username: None,
            home: None,
            shell: None,
        }
    }

    #[test]
    fn known_name_gets_primary_and_supplementary_groups() {
        assert_eq!(
            db().resolve(&spec("alice")),
            Ok(alice(1000, vec![27, 999, 1000]))
        );
    }

    #[test]
    fn known_uid_gets_primary_and_supplementary_groups() {
        assert_eq!(
            db().resolve(&spec("1000")),
            Ok(alice(1000, vec![27, 999, 1000]))
        );
    }

    #[test]
    fn unknown_uid_is_accepted_with_group_zero() {
        assert_eq!(db().resolve(&spec("4242")), Ok(anonymous(4242, 0)));
    }

    #[test]
    fn unknown_uid_keeps_the_given_gid() {
        assert_eq!(db().resolve(&spec("4242:4343")), Ok(anonymous(4242, 4343)));
    }

    #[test]
    fn given_gid_is_the_only_group_of_a_known_user() {
        assert_eq!(db().resolve(&spec("1000:100")), Ok(alice(100, vec![100])));
    }

    #[test]
    fn group_by_name_and_by_gid_agree() {
        let by_name = db().resolve(&spec("alice:users"));
        assert_eq!(by_name, Ok(alice(100, vec![100])));
        assert_eq!(by_name, db().resolve(&spec("alice:100")));
    }

    #[test]
    fn unknown_user_name_is_an_error() {
        let error = db().resolve(&spec("mallory"));
        assert_eq!(error, Err(UserError::UnknownUser("mallory".to_owned())));
        assert_eq!(
            error.err().map(|error| error.to_string()),
            Some(r#"user "mallory" does not exist in the image"#.to_owned())
        );
    }

    #[test]
    fn unknown_group_name_is_an_error() {
        let error = db().resolve(&spec("alice:wheel"));
        assert_eq!(
            error.err().map(|error| error.to_string()),
            Some(r#"group "wheel" does not exist in the image"#.to_owned())
        );
    }

    #[test]
    fn uid_wins_over_username() {
        let both = UserSpec {
            uid: Some(0),
            username: Some("alice".to_owned()),
            ..UserSpec::default()
        };
        assert_eq!(
            db().resolve(&both).map(|user| user.username),
            Ok(Some("root".to_owned()))
        );
    }

    #[test]
    fn spec_without_user_is_an_error() {
        let group_only = UserSpec {
            gid: Some(100),
            ..UserSpec::default()
        };
        assert_eq!(db().resolve(&group_only), Err(UserError::NoUser));
    }

    #[test]
    fn malformed_passwd_lines_are_reported() {
        assert_eq!(db().passwd.malformed_lines, vec![4]);
    }

    proptest! {
        #[test]
        fn never_panics(
            passwd in any::<String>(),
            group in any::<String>(),
            uid in proptest::option::of(any::<u32>()),
            gid in proptest::option::of(any::<u32>()),
            username in proptest::option::of("[a-z]{0,4}"),
            groupname in proptest::option::of("[a-z]{0,4}"),
        ) {
            let spec = UserSpec { uid, gid, username, groupname };
            let _ = UserDb::from_contents(&passwd, &group).resolve(&spec);
            let _ = db().resolve(&spec);
        }
    }
}
