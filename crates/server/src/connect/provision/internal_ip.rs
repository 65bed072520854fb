//! The address the other hosts of a fleet reach an SSH host at (`internal_ip`): the one
//! configured, else the host's address in the fleet's `network`, else its first private
//! IPv4 address (its first IPv4 address when it has no private one).

use std::net::{IpAddr, Ipv4Addr};

/// Why the internal IP cannot be settled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InternalIpError {
    /// The configured `internal_ip` is not on any interface of the host.
    #[error("the internal IP {ip} is not an address of the host, which has {addresses}")]
    NotOnHost {
        /// The configured address.
        ip: String,
        /// The host's addresses, for the message.
        addresses: String,
    },
    /// The fleet's `network` is not a private IPv4 network.
    #[error("the network {network} is not a private IPv4 network written `ip/mask`")]
    BadNetwork {
        /// The configured network.
        network: String,
    },
    /// No address of the host lies in the fleet's `network`.
    #[error("the host has no address in the network {network}; its addresses are {addresses}")]
    NotInNetwork {
        /// The configured network.
        network: String,
        /// The host's addresses, for the message.
        addresses: String,
    },
}

/// Settles the internal IP from the host's interface `addresses` (`ip/prefix`, as in
/// `host_info.json`); `None` when the host has no IPv4 address and none was configured.
pub fn resolve_internal_ip(
    configured: Option<&str>,
    network: Option<&str>,
    addresses: &[String],
) -> Result<Option<String>, InternalIpError> {
    let host_ips: Vec<IpAddr> = addresses
        .iter()
        .filter_map(|address| address.split('/').next()?.parse().ok())
        .collect();
    let listed = || {
        if addresses.is_empty() {
            "none".to_owned()
        } else {
            addresses.join(", ")
        }
    };
    if let Some(ip) = configured {
        return match ip.parse::<IpAddr>() {
            Ok(parsed) if host_ips.contains(&parsed) => Ok(Some(ip.to_owned())),
            _ => Err(InternalIpError::NotOnHost {
                ip: ip.to_owned(),
                addresses: listed(),
            }),
        };
    }
    let ipv4s = host_ips.iter().filter_map(|ip| match ip {
        IpAddr::V4(ip) => Some(*ip),
        IpAddr::V6(_) => None,
    });
    let chosen = match network {
        Some(network) => {
            let (base, prefix) =
                parse_private_network(network).ok_or_else(|| InternalIpError::BadNetwork {
                    network: network.to_owned(),
                })?;
            let found = ipv4s.clone().find(|ip| in_network(*ip, base, prefix));
            Some(found.ok_or_else(|| InternalIpError::NotInNetwork {
                network: network.to_owned(),
                addresses: listed(),
            })?)
        }
        None => ipv4s
            .clone()
            .find(Ipv4Addr::is_private)
            .or_else(|| ipv4s.clone().next()),
    };
    Ok(chosen.map(|ip| ip.to_string()))
}

/// `a.b.c.d/prefix` with a private base address.
fn parse_private_network(network: &str) -> Option<(Ipv4Addr, u32)> {
    let (base, prefix) = network.split_once('/')?;
    let base: Ipv4Addr = base.parse().ok()?;
    let prefix: u32 = prefix.parse().ok().filter(|prefix| *prefix <= 32)?;
    base.is_private().then_some((base, prefix))
}

fn in_network(ip: Ipv4Addr, base: Ipv4Addr, prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(base) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn the_configured_ip_must_be_on_the_host() {
        let host = addresses(&["203.0.113.7/24", "10.1.0.5/16", "fe80::1/64"]);
        assert_eq!(
            resolve_internal_ip(Some("10.1.0.5"), None, &host),
            Ok(Some("10.1.0.5".to_owned()))
        );
        let error = resolve_internal_ip(Some("10.1.0.6"), None, &host).unwrap_err();
        assert!(
            matches!(error, InternalIpError::NotOnHost { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("10.1.0.5/16"), "{error}");
    }

    #[test]
    fn the_network_picks_the_address_in_it() {
        let host = addresses(&["10.1.0.5/16", "192.168.7.9/24"]);
        assert_eq!(
            resolve_internal_ip(None, Some("192.168.7.0/24"), &host),
            Ok(Some("192.168.7.9".to_owned()))
        );
        assert!(matches!(
            resolve_internal_ip(None, Some("172.16.0.0/12"), &host),
            Err(InternalIpError::NotInNetwork { .. })
        ));
        assert!(matches!(
            resolve_internal_ip(None, Some("8.8.8.0/24"), &host),
            Err(InternalIpError::BadNetwork { .. })
        ));
    }

    #[test]
    fn otherwise_the_first_private_ipv4_address() {
        let host = addresses(&["fe80::1/64", "203.0.113.7/24", "10.1.0.5/16"]);
        assert_eq!(
            resolve_internal_ip(None, None, &host),
            Ok(Some("10.1.0.5".to_owned()))
        );
        let public = addresses(&["203.0.113.7/24"]);
        assert_eq!(
            resolve_internal_ip(None, None, &public),
            Ok(Some("203.0.113.7".to_owned()))
        );
        assert_eq!(
            resolve_internal_ip(None, None, &addresses(&["fe80::1/64"])),
            Ok(None)
        );
    }
}
