//! `ssh_config:` of an SSH fleet (spec §8): hosts the server reaches over SSH.

use serde::Serialize;

use super::error::{FieldPath, RuleViolation};
use super::fleet::Blocks;
use super::forms::{FormError, Forms, impl_deserialize_forms, impl_schema_forms};
use super::profile::config_struct;

config_struct! {
    /// A key pair; the CLI reads it from `identity_file` and sends it with the fleet.
    pub struct SshKey {
        /// The public key.
        pub public: String,
        /// The private key.
        #[serde(default)]
        pub private: Option<String>,
    }
}

config_struct! {
    /// A jump host between the server and a fleet host.
    pub struct SshProxyParams {
        /// The jump host.
        pub hostname: String,
        /// Its SSH port; 22 when unset.
        #[serde(default)]
        pub port: Option<u16>,
        /// The user on the jump host.
        pub user: String,
        /// The private key file for the jump host.
        pub identity_file: String,
        /// The key read from `identity_file`.
        #[serde(default)]
        pub ssh_key: Option<SshKey>,
    }
}

config_struct! {
    /// A fleet host with its own connection settings.
    pub struct SshHostParams {
        /// The hostname or IP address.
        pub hostname: String,
        /// The SSH port; the fleet's when unset.
        #[serde(default)]
        pub port: Option<u16>,
        /// The SSH user; the fleet's when unset.
        #[serde(default)]
        pub user: Option<String>,
        /// The private key file; the fleet's when unset.
        #[serde(default)]
        pub identity_file: Option<String>,
        /// A jump host; the fleet's when unset.
        #[serde(default)]
        pub proxy_jump: Option<SshProxyParams>,
        /// The address other hosts of the fleet reach this one at.
        #[serde(default)]
        pub internal_ip: Option<String>,
        /// The key read from `identity_file`.
        #[serde(default)]
        pub ssh_key: Option<SshKey>,
        /// How many blocks the host is split into.
        #[serde(default)]
        pub blocks: Option<Blocks>,
    }
}

/// A fleet host as written: a hostname, or an object. dstack sends back the same form.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SshHost {
    /// A hostname or IP address, with the fleet's settings.
    Hostname(String),
    /// A host with its own settings.
    Params(Box<SshHostParams>),
}

impl SshHost {
    /// The host's hostname or IP address.
    pub fn hostname(&self) -> &str {
        match self {
            Self::Hostname(hostname) => hostname,
            Self::Params(params) => &params.hostname,
        }
    }

    fn params(&self) -> Option<&SshHostParams> {
        match self {
            Self::Hostname(_) => None,
            Self::Params(params) => Some(params),
        }
    }
}

impl Forms for SshHost {
    type Object = SshHostParams;
    const EXPECTING: &'static str = "a hostname or {hostname, port, user, identity_file, ...}";

    fn from_object(params: SshHostParams) -> Result<Self, String> {
        Ok(Self::Params(Box::new(params)))
    }

    fn from_str(value: &str) -> Result<Self, FormError> {
        if value.trim().is_empty() {
            return Err(FormError::Invalid("a host cannot be empty".into()));
        }
        Ok(Self::Hostname(value.to_owned()))
    }
}
impl_deserialize_forms!(SshHost);
impl_schema_forms!(SshHost, "SshHost", [{"type": "string"}]);

config_struct! {
    /// How the server reaches the hosts of an SSH fleet.
    pub struct SshParams {
        /// The SSH user for every host.
        #[serde(default)]
        pub user: Option<String>,
        /// The SSH port for every host.
        #[serde(default)]
        pub port: Option<u16>,
        /// The private key file for every host.
        #[serde(default)]
        pub identity_file: Option<String>,
        /// The key read from `identity_file`.
        #[serde(default)]
        pub ssh_key: Option<SshKey>,
        /// A jump host for every host.
        #[serde(default)]
        pub proxy_jump: Option<SshProxyParams>,
        /// The hosts.
        pub hosts: Vec<SshHost>,
        /// The private network the hosts share, `ip/mask`.
        #[serde(default)]
        pub network: Option<String>,
    }
}

/// Parses a dotted IPv4 address.
fn parse_ipv4(text: &str) -> Option<[u8; 4]> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        *octet = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(octets)
}

/// Whether an IPv4 address is in a private range (10/8, 172.16/12, 192.168/16).
fn is_private(octets: [u8; 4]) -> bool {
    matches!(octets, [10, ..] | [192, 168, ..])
        || (octets[0] == 172 && (16..=31).contains(&octets[1]))
}

fn check_private_address(text: &str, path: FieldPath) -> Result<(), RuleViolation> {
    match parse_ipv4(text) {
        Some(octets) if is_private(octets) => Ok(()),
        _ => Err(RuleViolation::new(
            path,
            format!("\"{text}\" is not a private IPv4 address"),
        )),
    }
}

impl SshParams {
    /// Checks the rules of an SSH fleet's connection settings; paths are under `ssh_config`.
    pub fn check(&self) -> Result<(), RuleViolation> {
        let path = FieldPath::keys(&["ssh_config"]);
        if self.hosts.is_empty() {
            return Err(RuleViolation::new(
                path.key("hosts"),
                "must list at least one host",
            ));
        }
        if let Some(network) = &self.network {
            let (address, mask) = network.split_once('/').unwrap_or((network, ""));
            let mask_ok = mask.parse::<u8>().is_ok_and(|bits| bits <= 32);
            if !mask_ok {
                return Err(RuleViolation::new(
                    path.clone().key("network"),
                    format!("invalid network \"{network}\", expected `ip/mask`"),
                ));
            }
            check_private_address(address, path.clone().key("network"))?;
        }
        let with_internal_ip = self
            .hosts
            .iter()
            .filter(|host| host.params().is_some_and(|p| p.internal_ip.is_some()))
            .count();
        if with_internal_ip == 0 {
            return Ok(());
        }
        if with_internal_ip != self.hosts.len() {
            return Err(RuleViolation::new(
                path.key("hosts"),
                "internal_ip must be specified for all hosts or for none",
            ));
        }
        if self.network.is_some() {
            return Err(RuleViolation::new(
                path.key("network"),
                "`network` and `internal_ip` are mutually exclusive",
            ));
        }
        for (index, host) in self.hosts.iter().enumerate() {
            if let Some(ip) = host.params().and_then(|p| p.internal_ip.as_deref()) {
                check_private_address(
                    ip,
                    path.clone().key("hosts").index(index).key("internal_ip"),
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        for ok in ["10.0.0.1", "172.16.3.4", "192.168.1.1"] {
            assert!(parse_ipv4(ok).is_some_and(is_private), "{ok}");
        }
        for bad in ["8.8.8.8", "172.32.0.1", "10.0.0", "10.0.0.256"] {
            assert!(!parse_ipv4(bad).is_some_and(is_private), "{bad}");
        }
    }
}
