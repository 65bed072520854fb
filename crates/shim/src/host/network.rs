//! The host's addresses, as `host_info.json` lists them.

use std::net::IpAddr;

/// Every address of an interface other than loopback, in CIDR form (`10.0.0.5/24`), IPv6
/// included. An address whose netmask cannot be read is left out.
pub fn interface_addresses() -> Result<Vec<String>, nix::Error> {
    let mut addresses = Vec::new();
    for interface in nix::ifaddrs::getifaddrs()? {
        let (Some(address), Some(netmask)) = (interface.address, interface.netmask) else {
            continue;
        };
        let pair = match (address.as_sockaddr_in(), netmask.as_sockaddr_in()) {
            (Some(ip), Some(mask)) => Some((IpAddr::V4(ip.ip()), mask.ip().to_bits().count_ones())),
            _ => match (address.as_sockaddr_in6(), netmask.as_sockaddr_in6()) {
                (Some(ip), Some(mask)) => {
                    Some((IpAddr::V6(ip.ip()), mask.ip().to_bits().count_ones()))
                }
                _ => None,
            },
        };
        if let Some((ip, prefix)) = pair
            && !ip.is_loopback()
        {
            addresses.push(format!("{ip}/{prefix}"));
        }
    }
    Ok(addresses)
}
