//! SSH between the nodes of a multi-node job (agents.md §3.5): the job's key as
//! `~/.ssh/dstack_job`, a `~/.ssh/config` entry per node IP that logs in with it on the
//! nodes' sshd port, and the key's public half among the keys the container's sshd accepts.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dstack_core::api::jobs::JobSshKey;

use super::repo::Owner;

#[derive(Debug, thiserror::Error)]
#[error("cannot write {path}: {source}")]
pub struct ClusterSshError {
    path: PathBuf,
    source: io::Error,
}

/// What the nodes' SSH setup needs.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSsh<'a> {
    pub key: &'a JobSshKey,
    pub node_ips: &'a [String],
    pub home: &'a Path,
    pub owner: Owner,
    pub sshd_port: u16,
    /// The sshd's shared `authorized_keys`.
    pub authorized_keys: &'a Path,
}

/// Writes the key, the client config and the authorized key.
pub fn set_up_cluster_ssh(setup: ClusterSsh<'_>) -> Result<(), ClusterSshError> {
    let ssh_dir = setup.home.join(".ssh");
    let at = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ClusterSshError { path, source }
    };
    fs::create_dir_all(&ssh_dir).map_err(at(&ssh_dir))?;
    fs::set_permissions(&ssh_dir, fs::Permissions::from_mode(0o700)).map_err(at(&ssh_dir))?;
    chown(&ssh_dir, setup.owner).map_err(at(&ssh_dir))?;
    let key_path = ssh_dir.join("dstack_job");
    let mut private = setup.key.private.clone();
    if !private.ends_with('\n') {
        private.push('\n');
    }
    write_private(&key_path, private.as_bytes(), false, setup.owner).map_err(at(&key_path))?;
    let config_path = ssh_dir.join("config");
    let config = client_config(setup.node_ips, setup.sshd_port, &key_path);
    write_private(&config_path, config.as_bytes(), true, setup.owner).map_err(at(&config_path))?;
    let mut authorized = fs::OpenOptions::new()
        .append(true)
        .open(setup.authorized_keys)
        .map_err(at(setup.authorized_keys))?;
    writeln!(authorized, "{}", setup.key.public.trim()).map_err(at(setup.authorized_keys))
}

fn client_config(node_ips: &[String], port: u16, key: &Path) -> String {
    node_ips
        .iter()
        .map(|ip| {
            format!(
                "Host {ip}\n    Port {port}\n    StrictHostKeyChecking no\n    \
                 UserKnownHostsFile /dev/null\n    IdentityFile {}\n",
                key.display()
            )
        })
        .collect()
}

/// Writes (or appends to) an owner-only file.
fn write_private(path: &Path, contents: &[u8], append: bool, owner: Owner) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .open(path)?;
    file.write_all(contents)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    chown(path, owner)
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

    #[test]
    fn key_config_and_authorized_key_are_written() {
        let temp = tempfile::tempdir().unwrap();
        let authorized = temp.path().join("authorized_keys");
        fs::write(&authorized, "ssh-ed25519 AAAA project\n").unwrap();
        let key = JobSshKey {
            private: "PRIVATE".to_owned(),
            public: "ssh-ed25519 BBBB job\n".to_owned(),
        };
        let ips = ["10.0.0.1".to_owned(), "10.0.0.2".to_owned()];
        let setup = ClusterSsh {
            key: &key,
            node_ips: &ips,
            home: temp.path(),
            owner: None,
            sshd_port: 10022,
            authorized_keys: &authorized,
        };
        set_up_cluster_ssh(setup).unwrap();
        let key_path = temp.path().join(".ssh/dstack_job");
        assert_eq!(fs::read_to_string(&key_path).unwrap(), "PRIVATE\n");
        assert_eq!(fs::metadata(&key_path).unwrap().mode() & 0o777, 0o600);
        let config = fs::read_to_string(temp.path().join(".ssh/config")).unwrap();
        assert!(
            config.starts_with("Host 10.0.0.1\n    Port 10022\n"),
            "{config}"
        );
        assert!(config.contains(&format!("Host 10.0.0.2\n    Port 10022\n    StrictHostKeyChecking no\n    UserKnownHostsFile /dev/null\n    IdentityFile {}\n", key_path.display())));
        assert_eq!(
            fs::read_to_string(&authorized).unwrap(),
            "ssh-ed25519 AAAA project\nssh-ed25519 BBBB job\n"
        );
    }
}
