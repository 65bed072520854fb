//! The keys of an SSH fleet: the CLI reads each `identity_file` (the fleet's, a host's, a
//! jump host's) and sends the key pair with the fleet, since the server cannot read the
//! user's files (config-cli.md §8). The public key comes from `<file>.pub`, or is derived
//! from the private key when there is no such file.

use std::path::Path;

use anyhow::Context;
use dstack_core::configuration::ssh::{SshHost, SshKey, SshParams, SshProxyParams};

use crate::paths::expand_home;

/// Fills `ssh_key` beside every `identity_file` in `ssh`.
pub fn load(ssh: &mut SshParams) -> anyhow::Result<()> {
    if let Some(file) = &ssh.identity_file {
        ssh.ssh_key = Some(read(file)?);
    }
    load_proxy(ssh.proxy_jump.as_mut())?;
    for host in &mut ssh.hosts {
        if let SshHost::Params(params) = host {
            if let Some(file) = &params.identity_file {
                params.ssh_key = Some(read(file)?);
            }
            load_proxy(params.proxy_jump.as_mut())?;
        }
    }
    Ok(())
}

fn load_proxy(proxy: Option<&mut SshProxyParams>) -> anyhow::Result<()> {
    if let Some(proxy) = proxy {
        proxy.ssh_key = Some(read(&proxy.identity_file)?);
    }
    Ok(())
}

/// The key pair of the private key file `identity_file` (`~` expanded).
fn read(identity_file: &str) -> anyhow::Result<SshKey> {
    let path = expand_home(identity_file);
    let private = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the identity file {}", path.display()))?;
    let public = match std::fs::read_to_string(public_path(&path)) {
        Ok(public) => public.trim().to_owned(),
        Err(_) => derive_public(&private)
            .with_context(|| format!("{} is not an OpenSSH private key", path.display()))?,
    };
    Ok(SshKey {
        public,
        private: Some(private),
    })
}

/// `<path>.pub`.
fn public_path(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".pub");
    name.into()
}

/// The OpenSSH public key line of a private key; its public half is readable even when the
/// private half is encrypted.
fn derive_public(private: &str) -> Result<String, ssh_key::Error> {
    ssh_key::PrivateKey::from_openssh(private)?
        .public_key()
        .to_openssh()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key made with `ssh-keygen -t ed25519 -C dstack-unit-test` for these tests only.
    const PRIVATE: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBdbi7jpnY0sDM8qd4vNJ5qiSJHdxYi1ZQPPOEmEOG34AAAAJhFOoKgRTqC\noAAAAAtzc2gtZWQyNTUxOQAAACBdbi7jpnY0sDM8qd4vNJ5qiSJHdxYi1ZQPPOEmEOG34A\nAAAEB4tPGbygGN9KHsFMzzZteLOHSPcGCmo09k1aDdFZ7kbl1uLuOmdjSwMzyp3i80nmqJ\nIkd3FiLVlA884SYQ4bfgAAAAEGRzdGFjay11bml0LXRlc3QBAgMEBQ==\n-----END OPENSSH PRIVATE KEY-----\n";
    const PUBLIC: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF1uLuOmdjSwMzyp3i80nmqJIkd3FiLVlA884SYQ4bfg dstack-unit-test";

    fn key_file(dir: &Path, with_public: bool) -> String {
        let path = dir.join("id");
        std::fs::write(&path, PRIVATE).unwrap();
        if with_public {
            std::fs::write(public_path(&path), format!("{PUBLIC}\n")).unwrap();
        }
        path.display().to_string()
    }

    fn ssh(file: &str) -> SshParams {
        serde_json::from_value(serde_json::json!({
            "identity_file": file,
            "hosts": ["a", {"hostname": "b", "identity_file": file,
                            "proxy_jump": {"hostname": "j", "user": "u", "identity_file": file}}],
        }))
        .unwrap()
    }

    #[test]
    fn every_identity_file_gets_its_key_pair() {
        let dir = tempfile::tempdir().unwrap();
        let mut params = ssh(&key_file(dir.path(), true));
        load(&mut params).unwrap();
        let expected = Some(SshKey {
            public: PUBLIC.to_owned(),
            private: Some(PRIVATE.to_owned()),
        });
        assert_eq!(params.ssh_key, expected);
        let SshHost::Params(host) = &params.hosts[1] else {
            panic!("a host with params")
        };
        assert_eq!(host.ssh_key, expected);
        assert_eq!(host.proxy_jump.as_ref().unwrap().ssh_key, expected);
        assert_eq!(params.hosts[0], SshHost::Hostname("a".to_owned()));
    }

    #[test]
    fn the_public_key_is_derived_without_a_pub_file() {
        let dir = tempfile::tempdir().unwrap();
        let key = read(&key_file(dir.path(), false)).unwrap();
        assert_eq!(key.public, PUBLIC);
    }

    #[test]
    fn a_missing_file_is_named() {
        let error = read("/nonexistent/id_test").unwrap_err();
        assert!(
            format!("{error:#}").contains("/nonexistent/id_test"),
            "{error:#}"
        );
    }
}
