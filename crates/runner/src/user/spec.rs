//! The job's `user`: the `user[:group]` text of a run configuration and the
//! `{uid, gid, username, groupname}` record the server sends as `job_spec.user`.

use std::str::FromStr;

/// Who the job runs as, before it is looked up in the container. Each side is a name or a
/// numeric id; a side left out is `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserSpec {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub username: Option<String>,
    pub groupname: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserSpecError {
    #[error("user is empty")]
    EmptyUser,
    #[error("group after ':' is empty")]
    EmptyGroup,
    #[error("id {0} is too large")]
    IdOutOfRange(String),
}

/// One side of `user[:group]`.
enum NameOrId {
    Name(String),
    Id(u32),
}

impl NameOrId {
    fn parse(text: &str) -> Result<Self, UserSpecError> {
        if text.bytes().all(|byte| byte.is_ascii_digit()) {
            text.parse()
                .map(Self::Id)
                .map_err(|_| UserSpecError::IdOutOfRange(text.to_owned()))
        } else {
            Ok(Self::Name(text.to_owned()))
        }
    }

    fn split(side: Option<Self>) -> (Option<u32>, Option<String>) {
        match side {
            Some(Self::Id(id)) => (Some(id), None),
            Some(Self::Name(name)) => (None, Some(name)),
            None => (None, None),
        }
    }
}

impl FromStr for UserSpec {
    type Err = UserSpecError;

    /// Reads `name`, `uid`, `name:group`, `uid:gid` and the mixed forms.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (user, group) = match text.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (text, None),
        };
        if user.is_empty() {
            return Err(UserSpecError::EmptyUser);
        }
        let group = match group {
            Some("") => return Err(UserSpecError::EmptyGroup),
            Some(group) => Some(NameOrId::parse(group)?),
            None => None,
        };
        let (uid, username) = NameOrId::split(Some(NameOrId::parse(user)?));
        let (gid, groupname) = NameOrId::split(group);
        Ok(Self {
            uid,
            gid,
            username,
            groupname,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn spec(
        uid: Option<u32>,
        gid: Option<u32>,
        username: Option<&str>,
        groupname: Option<&str>,
    ) -> UserSpec {
        UserSpec {
            uid,
            gid,
            username: username.map(str::to_owned),
            groupname: groupname.map(str::to_owned),
        }
    }

    #[test]
    fn reads_every_form() {
        let cases = [
            ("alice", spec(None, None, Some("alice"), None)),
            ("1000", spec(Some(1000), None, None, None)),
            ("alice:dev", spec(None, None, Some("alice"), Some("dev"))),
            ("1000:100", spec(Some(1000), Some(100), None, None)),
            ("alice:100", spec(None, Some(100), Some("alice"), None)),
            ("1000:dev", spec(Some(1000), None, None, Some("dev"))),
            ("0", spec(Some(0), None, None, None)),
        ];
        for (text, expected) in cases {
            assert_eq!(text.parse::<UserSpec>(), Ok(expected), "{text}");
        }
    }

    #[test]
    fn rejects_empty_sides_and_huge_ids() {
        assert_eq!("".parse::<UserSpec>(), Err(UserSpecError::EmptyUser));
        assert_eq!(":dev".parse::<UserSpec>(), Err(UserSpecError::EmptyUser));
        assert_eq!("alice:".parse::<UserSpec>(), Err(UserSpecError::EmptyGroup));
        assert_eq!(
            "4294967296".parse::<UserSpec>(),
            Err(UserSpecError::IdOutOfRange("4294967296".to_owned()))
        );
    }

    proptest! {
        #[test]
        fn never_panics(text in any::<String>()) {
            let _ = text.parse::<UserSpec>();
        }
    }
}
