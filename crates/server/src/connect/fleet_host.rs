//! [`SshTarget`]s for the hosts of an SSH fleet: a host's own settings, else the fleet's
//! (dstack's precedence), with the keys the CLI read from `identity_file` and sent along;
//! and [`RemoteConnectionInfo`], those settings as stored with each instance.

use dstack_core::configuration::ssh::{SshHost, SshKey as ConfigKey, SshParams, SshProxyParams};
use dstack_core::env::Env;
use serde::{Deserialize, Serialize};

use super::target::{KeyError, SshKey, SshTarget};

/// The SSH port when neither the host nor the fleet names one.
const DEFAULT_PORT: u16 = 22;

/// Why a fleet host cannot be reached with what its configuration says.
#[derive(Debug, thiserror::Error)]
pub enum FleetHostError {
    /// Neither the host nor the fleet names a user.
    #[error("no SSH user for host {hostname}: set `user` on the host or in `ssh_config`")]
    MissingUser {
        /// The host.
        hostname: String,
    },
    /// No private key came with the host, its fleet or its jump host.
    #[error("no private key for {hostname}: set `identity_file`")]
    MissingKey {
        /// The host or jump host.
        hostname: String,
    },
    /// The private key cannot be used.
    #[error("the private key for {hostname} cannot be used: {source}")]
    Key {
        /// The host or jump host.
        hostname: String,
        /// Why.
        source: KeyError,
    },
}

/// How the server logs in to `host` of the fleet `ssh` to deploy it: with the user's keys.
pub fn fleet_host_target(ssh: &SshParams, host: &SshHost) -> Result<SshTarget, FleetHostError> {
    let hostname = host.hostname().to_owned();
    let params = match host {
        SshHost::Hostname(_) => None,
        SshHost::Params(params) => Some(params.as_ref()),
    };
    let user = params
        .and_then(|p| p.user.clone())
        .or_else(|| ssh.user.clone())
        .ok_or_else(|| FleetHostError::MissingUser {
            hostname: hostname.clone(),
        })?;
    let port = params
        .and_then(|p| p.port)
        .or(ssh.port)
        .unwrap_or(DEFAULT_PORT);
    let key = params
        .and_then(|p| p.ssh_key.as_ref())
        .or(ssh.ssh_key.as_ref());
    let key = parse_key(key, &hostname)?;
    let jump = params
        .and_then(|p| p.proxy_jump.as_ref())
        .or(ssh.proxy_jump.as_ref());
    let target = SshTarget::new(hostname, port, user, key);
    match jump {
        Some(jump) => Ok(target.via(jump_target(jump)?)),
        None => Ok(target),
    }
}

/// How the server reaches an SSH host; stored with the instance (`remote_connection_info`),
/// private keys included.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RemoteConnectionInfo {
    /// The hostname or address.
    pub host: String,
    /// The SSH port.
    pub port: u16,
    /// The SSH user.
    pub ssh_user: String,
    /// The keys to log in with; the first one with a private part is used.
    pub ssh_keys: Vec<ConfigKey>,
    /// A jump host.
    pub ssh_proxy: Option<SshProxyParams>,
    /// The address other hosts of the fleet reach this one at.
    pub internal_ip: Option<String>,
    /// The fleet's private network (`ip/mask`), where the internal IP is looked for when
    /// `internal_ip` is not set.
    #[serde(default)]
    pub network: Option<String>,
    /// The fleet's `env`, for the shim.
    #[serde(default)]
    pub env: Env,
}

impl RemoteConnectionInfo {
    /// The target this host is reached at, through its jump host if it has one.
    pub fn target(&self) -> Result<SshTarget, FleetHostError> {
        let key = self.ssh_keys.iter().find(|key| key.private.is_some());
        let target = SshTarget::new(
            &self.host,
            self.port,
            &self.ssh_user,
            parse_key(key, &self.host)?,
        );
        match &self.ssh_proxy {
            Some(jump) => Ok(target.via(jump_target(jump)?)),
            None => Ok(target),
        }
    }
}

fn jump_target(jump: &SshProxyParams) -> Result<SshTarget, FleetHostError> {
    let key = parse_key(jump.ssh_key.as_ref(), &jump.hostname)?;
    Ok(SshTarget::new(
        &jump.hostname,
        jump.port.unwrap_or(DEFAULT_PORT),
        &jump.user,
        key,
    ))
}

fn parse_key(key: Option<&ConfigKey>, hostname: &str) -> Result<SshKey, FleetHostError> {
    let private =
        key.and_then(|key| key.private.as_deref())
            .ok_or_else(|| FleetHostError::MissingKey {
                hostname: hostname.to_owned(),
            })?;
    SshKey::parse(private).map_err(|source| FleetHostError::Key {
        hostname: hostname.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use ssh_key::rand_core::OsRng;
    use ssh_key::{Algorithm, LineEnding, PrivateKey};

    use super::*;

    fn private_key() -> String {
        let key = PrivateKey::random(&mut OsRng, Algorithm::Ed25519).unwrap();
        key.to_openssh(LineEnding::LF).unwrap().to_string()
    }

    fn ssh_params(value: serde_json::Value) -> SshParams {
        serde_json::from_value(value).expect("ssh_config")
    }

    #[test]
    fn hosts_take_the_fleet_settings_unless_they_have_their_own() {
        let (fleet_key, host_key, jump_key) = (private_key(), private_key(), private_key());
        let ssh = ssh_params(json!({
            "user": "ubuntu",
            "port": 2222,
            "identity_file": "~/.ssh/fleet",
            "ssh_key": {"public": "", "private": fleet_key},
            "proxy_jump": {
                "hostname": "bastion", "user": "jump", "identity_file": "~/.ssh/jump",
                "ssh_key": {"public": "", "private": jump_key}
            },
            "hosts": [
                "10.0.0.1",
                {"hostname": "10.0.0.2", "user": "root", "port": 22,
                 "identity_file": "~/.ssh/host",
                 "ssh_key": {"public": "", "private": host_key}}
            ]
        }));
        let plain = fleet_host_target(&ssh, &ssh.hosts[0]).unwrap();
        assert_eq!(plain.id(), "ubuntu@10.0.0.1:2222 via jump@bastion:22");
        let fleet_fingerprint = SshKey::parse(&fleet_key).unwrap().fingerprint();
        assert_eq!(plain.key.fingerprint(), fleet_fingerprint);
        let own = fleet_host_target(&ssh, &ssh.hosts[1]).unwrap();
        assert_eq!(own.id(), "root@10.0.0.2:22 via jump@bastion:22");
        assert_ne!(own.key.fingerprint(), fleet_fingerprint);
        let jump = own.proxy_jump.as_ref().unwrap();
        assert_eq!(
            jump.key.fingerprint(),
            SshKey::parse(&jump_key).unwrap().fingerprint()
        );
    }

    #[test]
    fn a_missing_user_or_key_names_the_host() {
        let ssh = ssh_params(json!({"hosts": ["10.0.0.1"]}));
        let error = fleet_host_target(&ssh, &ssh.hosts[0]).unwrap_err();
        assert!(
            matches!(error, FleetHostError::MissingUser { .. }),
            "{error}"
        );
        let ssh = ssh_params(json!({"user": "ubuntu", "hosts": ["10.0.0.1"]}));
        let error = fleet_host_target(&ssh, &ssh.hosts[0]).unwrap_err();
        assert!(error.to_string().contains("10.0.0.1"), "{error}");
        let ssh = ssh_params(json!({
            "user": "ubuntu", "ssh_key": {"public": "", "private": "garbage"},
            "hosts": ["10.0.0.1"]
        }));
        let error = fleet_host_target(&ssh, &ssh.hosts[0]).unwrap_err();
        assert!(matches!(error, FleetHostError::Key { .. }), "{error}");
    }
}
