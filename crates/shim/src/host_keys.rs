//! [`AuthorizedKeys`]: the host user's `~/.ssh/authorized_keys`, to which a task's
//! `host_ssh_keys` are added while it runs, so its users can jump through the host.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A failure to read or change an `authorized_keys` file.
#[derive(Debug, thiserror::Error)]
pub enum HostKeysError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("user {0:?} not found in /etc/passwd")]
    UnknownUser(String),
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The `authorized_keys` file of one host user. It must exist already: the shim adds keys
/// for users that SSH was set up for, and never creates their `.ssh`.
#[derive(Debug, Clone)]
pub struct AuthorizedKeys {
    path: PathBuf,
}

impl AuthorizedKeys {
    /// The file of `user`, whose home is looked up in `passwd` (normally `/etc/passwd`).
    pub fn of_user(user: &str, passwd: &Path) -> Result<Self, HostKeysError> {
        let text = std::fs::read_to_string(passwd).map_err(|source| HostKeysError::Read {
            path: passwd.to_owned(),
            source,
        })?;
        let home = text
            .lines()
            .map(|line| line.split(':').collect::<Vec<_>>())
            .find(|fields| fields.len() >= 7 && fields[0] == user)
            .map(|fields| fields[5].to_owned())
            .ok_or_else(|| HostKeysError::UnknownUser(user.to_owned()))?;
        Ok(Self {
            path: Path::new(&home).join(".ssh/authorized_keys"),
        })
    }

    /// Adds the keys the file does not have yet; returns those it added, which are the ones
    /// to [`Self::remove`] later.
    pub fn add(&self, keys: &[String]) -> Result<Vec<String>, HostKeysError> {
        let text = self.read()?;
        let present: HashSet<_> = text.lines().filter_map(key_identity).collect();
        let added: Vec<String> = keys
            .iter()
            .filter(|key| key_identity(key).is_some_and(|identity| !present.contains(&identity)))
            .cloned()
            .collect();
        if added.is_empty() {
            return Ok(added);
        }
        let mut updated = text.clone();
        if !updated.is_empty() && !updated.ends_with('\n') {
            updated.push('\n');
        }
        for key in &added {
            updated.push_str(key.trim());
            updated.push('\n');
        }
        self.write(&text, &updated)?;
        Ok(added)
    }

    /// Removes every line holding one of `keys`, whatever its comment or options. Lines that
    /// are not keys are kept.
    pub fn remove(&self, keys: &[String]) -> Result<(), HostKeysError> {
        let gone: HashSet<_> = keys.iter().filter_map(|key| key_identity(key)).collect();
        let text = self.read()?;
        let kept: String = text
            .lines()
            .filter(|line| key_identity(line).is_none_or(|identity| !gone.contains(&identity)))
            .map(|line| format!("{line}\n"))
            .collect();
        if kept != text {
            self.write(&text, &kept)?;
        }
        Ok(())
    }

    fn read(&self) -> Result<String, HostKeysError> {
        std::fs::read_to_string(&self.path).map_err(|source| HostKeysError::Read {
            path: self.path.clone(),
            source,
        })
    }

    /// Keeps the previous content in `authorized_keys.bak`, then replaces the file in place
    /// so its owner and mode stay as they are.
    fn write(&self, previous: &str, updated: &str) -> Result<(), HostKeysError> {
        let backup = self.path.with_extension("bak");
        let write = |path: &Path, text: &str| {
            std::fs::write(path, text).map_err(|source| HostKeysError::Write {
                path: path.to_owned(),
                source,
            })
        };
        write(&backup, previous)?;
        write(&self.path, updated)
    }
}

/// A key's type and base64 blob, which identify it (its fingerprint is the hash of the
/// blob); options before it and the comment after it do not count. `None` for a line that
/// holds no key.
fn key_identity(line: &str) -> Option<(String, String)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.first().is_none_or(|word| word.starts_with('#')) {
        return None;
    }
    words.windows(2).find_map(|pair| {
        let (kind, blob) = (pair[0], pair[1]);
        let is_kind =
            kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-");
        let is_blob = blob.len() >= 16
            && blob
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
        (is_kind && is_blob).then(|| (kind.to_owned(), blob.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice0000000000000000000 alice@laptop";
    const BOB: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQBob00000000000000 bob";
    const CAROL: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYCarol00000 carol";

    fn file_with(text: &str) -> (tempfile::TempDir, AuthorizedKeys) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authorized_keys");
        std::fs::write(&path, text).unwrap();
        (dir, AuthorizedKeys { path })
    }

    #[test]
    fn keys_are_identified_by_type_and_blob() {
        assert_eq!(
            key_identity(ALICE),
            key_identity(
                "command=\"echo\" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAlice0000000000000000000 other"
            )
        );
        assert_ne!(key_identity(ALICE), key_identity(BOB));
        assert_eq!(
            key_identity("# ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQBob"),
            None
        );
        assert_eq!(key_identity("garbage"), None);
        assert_eq!(key_identity(""), None);
    }

    #[test]
    fn add_keeps_the_content_adds_only_new_keys_and_backs_up() {
        let (_dir, keys) = file_with(&format!("{ALICE}\nnot a key"));
        let added = keys.add(&[ALICE.into(), BOB.into()]).unwrap();
        assert_eq!(added, [BOB]);
        assert_eq!(keys.read().unwrap(), format!("{ALICE}\nnot a key\n{BOB}\n"));
        let backup = std::fs::read_to_string(keys.path.with_extension("bak")).unwrap();
        assert_eq!(backup, format!("{ALICE}\nnot a key"));
    }

    #[test]
    fn remove_takes_out_only_the_given_keys() {
        let (_dir, keys) = file_with(&format!("{ALICE}\n{BOB}\nbroken line\n{CAROL}\n"));
        keys.remove(&[ALICE.into(), CAROL.into()]).unwrap();
        assert_eq!(keys.read().unwrap(), format!("{BOB}\nbroken line\n"));
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let keys = AuthorizedKeys {
            path: dir.path().join("authorized_keys"),
        };
        assert!(matches!(
            keys.add(&[ALICE.into()]),
            Err(HostKeysError::Read { .. })
        ));
    }

    #[test]
    fn the_file_is_found_through_passwd() {
        let dir = tempfile::tempdir().unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nubuntu:x:1000:1000::/home/ubuntu:/bin/bash\n",
        )
        .unwrap();
        let keys = AuthorizedKeys::of_user("ubuntu", &passwd).unwrap();
        assert_eq!(keys.path, Path::new("/home/ubuntu/.ssh/authorized_keys"));
        assert!(matches!(
            AuthorizedKeys::of_user("alice", &passwd),
            Err(HostKeysError::UnknownUser(user)) if user == "alice"
        ));
    }
}
