//! Pure rules over a `FleetSpec`: what the server accepts, what it never sends back, and what
//! an apply may change in place (lifecycle.md §1.4, api.md §2.9).

use std::collections::{BTreeMap, BTreeSet};

use crate::api::fleets::FleetSpec;
use crate::configuration::ssh::{SshHost, SshParams, SshProxyParams};
use serde_json::Value;

/// Fields of a cloud fleet's configuration that an apply may change in place.
const CLOUD_UPDATABLE: &[&str] = &[
    "nodes",
    "reservation",
    "tags",
    "resources",
    "backends",
    "regions",
    "availability_zones",
    "instance_types",
    "spot_policy",
    "max_price",
];

/// Checks the rules the server adds to the configuration's own: every SSH host has a user and
/// a private key, and `internal_ip` is given for all hosts or none.
pub fn validate(spec: &FleetSpec) -> Result<(), String> {
    let configuration = &spec.configuration;
    configuration
        .check()
        .map_err(|violation| format!("{}: {}", violation.path, violation.message))?;
    let Some(ssh) = &configuration.ssh_config else {
        return Ok(());
    };
    for host in &ssh.hosts {
        let params = match host {
            SshHost::Hostname(_) => None,
            SshHost::Params(params) => Some(params.as_ref()),
        };
        let key = params
            .and_then(|p| p.ssh_key.as_ref())
            .or(ssh.ssh_key.as_ref());
        let user = params.and_then(|p| p.user.as_ref()).or(ssh.user.as_ref());
        let hostname = host.hostname();
        match key {
            None => return Err(format!("No ssh key specified for host {hostname}")),
            Some(key) if key.private.is_none() => {
                return Err(format!("Private key not provided for host {hostname}"));
            }
            Some(_) => {}
        }
        if user.is_none() {
            return Err(format!("No ssh user specified for host {hostname}"));
        }
    }
    let with_internal_ip = ssh
        .hosts
        .iter()
        .filter(|host| matches!(host, SshHost::Params(p) if p.internal_ip.is_some()))
        .count();
    if with_internal_ip != 0 && with_internal_ip != ssh.hosts.len() {
        return Err("internal_ip must be specified for all hosts".to_owned());
    }
    if with_internal_ip > 0 && ssh.network.is_some() {
        return Err("internal_ip is mutually exclusive with network".to_owned());
    }
    Ok(())
}

fn strip_proxy(proxy: &mut Option<SshProxyParams>) {
    if let Some(proxy) = proxy {
        proxy.ssh_key = None;
    }
}

/// The spec without SSH keys, as every response shows it.
pub fn without_keys(spec: &FleetSpec) -> FleetSpec {
    let mut spec = spec.clone();
    if let Some(ssh) = &mut spec.configuration.ssh_config {
        ssh.ssh_key = None;
        strip_proxy(&mut ssh.proxy_jump);
        for host in &mut ssh.hosts {
            if let SshHost::Params(params) = host {
                params.ssh_key = None;
                strip_proxy(&mut params.proxy_jump);
            }
        }
    }
    spec
}

/// The top-level keys whose values differ between two JSON objects.
fn changed_keys(current: &Value, new: &Value) -> BTreeSet<String> {
    let empty = serde_json::Map::new();
    let current = current.as_object().unwrap_or(&empty);
    let new = new.as_object().unwrap_or(&empty);
    current
        .keys()
        .chain(new.keys())
        .filter(|key| {
            current.get(*key).unwrap_or(&Value::Null) != new.get(*key).unwrap_or(&Value::Null)
        })
        .cloned()
        .collect()
}

fn only_updatable(changed: &BTreeSet<String>, updatable: &[&str]) -> Result<(), String> {
    let refused: Vec<&str> = changed
        .iter()
        .map(String::as_str)
        .filter(|key| !updatable.contains(key))
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "Cannot update {} in place; only {} can change",
            refused.join(", "),
            updatable.join(", ")
        ))
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// Hosts by hostname, in JSON form with `identity_file` (a client-side path) left out.
fn hosts_by_name(ssh: &SshParams) -> BTreeMap<String, Value> {
    ssh.hosts
        .iter()
        .map(|host| {
            let mut value = to_value(host);
            if let Some(object) = value.as_object_mut() {
                object.remove("identity_file");
                if let Some(proxy) = object.get_mut("proxy_jump").and_then(Value::as_object_mut) {
                    proxy.remove("identity_file");
                }
            }
            (host.hostname().to_owned(), value)
        })
        .collect()
}

/// Hosts an in-place update of an SSH fleet adds and removes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct HostChanges {
    /// Hostnames only in the new spec.
    pub added: Vec<String>,
    /// Hostnames only in the current spec.
    pub removed: Vec<String>,
    /// Hostnames in both whose settings differ.
    pub changed: Vec<String>,
}

/// How the hosts of `new` differ from those of `current`.
pub fn host_changes(current: &SshParams, new: &SshParams) -> HostChanges {
    let current = hosts_by_name(current);
    let new = hosts_by_name(new);
    HostChanges {
        added: new
            .keys()
            .filter(|h| !current.contains_key(*h))
            .cloned()
            .collect(),
        removed: current
            .keys()
            .filter(|h| !new.contains_key(*h))
            .cloned()
            .collect(),
        changed: current
            .iter()
            .filter(|(host, value)| new.get(*host).is_some_and(|other| other != *value))
            .map(|(host, _)| host.clone())
            .collect(),
    }
}

/// Whether applying `new` over the fleet's `current` spec can be done in place: only the
/// configuration may change; a cloud fleet only in its provisioning fields, an SSH fleet only
/// in which hosts it lists. The error says what cannot change.
pub fn check_can_update(current: &FleetSpec, new: &FleetSpec) -> Result<(), String> {
    only_updatable(
        &changed_keys(&to_value(current), &to_value(new)),
        &["configuration", "configuration_path"],
    )?;
    let (current, new) = (&current.configuration, &new.configuration);
    let changed = changed_keys(&to_value(current), &to_value(new));
    match (&current.ssh_config, &new.ssh_config) {
        (None, None) => only_updatable(&changed, CLOUD_UPDATABLE),
        (None, Some(_)) => Err("Fleet type changed from Cloud to SSH, cannot update".to_owned()),
        (Some(_), None) => Err("Fleet type changed from SSH to Cloud, cannot update".to_owned()),
        (Some(current_ssh), Some(new_ssh)) => {
            only_updatable(&changed, &["ssh_config"])?;
            only_updatable(
                &changed_keys(&to_value(current_ssh), &to_value(new_ssh)),
                &["hosts"],
            )?;
            let changes = host_changes(current_ssh, new_ssh);
            if changes.changed.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "Hosts configuration changed, cannot update: {}",
                    changes.changed.join(", ")
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn spec(configuration: Value) -> FleetSpec {
        serde_json::from_value(json!({
            "configuration": configuration,
            "profile": {"name": "default"},
        }))
        .expect("fleet spec")
    }

    fn ssh_fleet(hosts: Value) -> FleetSpec {
        spec(json!({
            "type": "fleet", "name": "my-fleet",
            "ssh_config": {
                "user": "ubuntu", "ssh_key": {"public": "pub", "private": "secret"},
                "hosts": hosts,
            },
        }))
    }

    #[test]
    fn keys_are_stripped_at_every_level() {
        let fleet = ssh_fleet(json!([
            "a",
            {"hostname": "b", "ssh_key": {"public": "p", "private": "s"},
             "proxy_jump": {"hostname": "j", "user": "u", "identity_file": "k",
                            "ssh_key": {"public": "p", "private": "s"}}},
        ]));
        let shown = serde_json::to_string(&without_keys(&fleet)).expect("json");
        assert!(
            !shown.contains("secret") && !shown.contains("\"s\""),
            "{shown}"
        );
        assert!(validate(&fleet).is_ok());
    }

    #[test]
    fn ssh_hosts_need_a_private_key_and_a_user() {
        let no_private = spec(json!({
            "type": "fleet",
            "ssh_config": {"user": "u", "ssh_key": {"public": "p"}, "hosts": ["h"]},
        }));
        assert!(validate(&no_private).is_err_and(|e| e.contains("Private key")));
        let no_user = spec(json!({
            "type": "fleet",
            "ssh_config": {"ssh_key": {"public": "p", "private": "s"}, "hosts": ["h"]},
        }));
        assert!(validate(&no_user).is_err_and(|e| e.contains("user")));
    }

    #[test]
    fn ssh_hosts_may_be_added_and_removed_but_not_changed() {
        let current = ssh_fleet(json!(["a", "b"]));
        assert_eq!(
            check_can_update(&current, &ssh_fleet(json!(["b", "c"]))),
            Ok(())
        );
        let changed = ssh_fleet(json!(["a", {"hostname": "b", "port": 2222}]));
        assert!(check_can_update(&current, &changed).is_err_and(|e| e.contains("b")));
        let mut other_user = ssh_fleet(json!(["a", "b"]));
        if let Some(ssh) = &mut other_user.configuration.ssh_config {
            ssh.user = Some("root".to_owned());
        }
        assert!(check_can_update(&current, &other_user).is_err_and(|e| e.contains("user")));
    }

    #[test]
    fn cloud_fleets_update_provisioning_fields_only() {
        let current =
            spec(json!({"type": "fleet", "name": "my-fleet", "nodes": {"min": 0, "max": 2}}));
        let more_nodes = spec(json!({"type": "fleet", "name": "my-fleet", "nodes": 3}));
        assert_eq!(check_can_update(&current, &more_nodes), Ok(()));
        let placement = spec(json!({
            "type": "fleet", "name": "my-fleet", "nodes": {"min": 0, "max": 2}, "placement": "cluster",
        }));
        assert!(check_can_update(&current, &placement).is_err_and(|e| e.contains("placement")));
        let to_ssh = ssh_fleet(json!(["a"]));
        assert!(check_can_update(&current, &to_ssh).is_err());
    }
}
