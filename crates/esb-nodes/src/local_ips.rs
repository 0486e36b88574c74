//! The addresses other machines may reach this one by: for the box's server
//! certificate and the box URL `esb node add` prints.

use std::net::IpAddr;

/// Up, non-loopback, non-link-local interface addresses, IPv4 first; container
/// bridges (`docker*`, `br-*`, `veth*`) last, since other machines rarely route to them.
pub fn local_ips() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut found: Vec<(bool, bool, IpAddr)> = Vec::new();
    for ifa in addrs {
        if !ifa.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP) {
            continue;
        }
        let Some(addr) = ifa.address else { continue };
        let ip: IpAddr = if let Some(v4) = addr.as_sockaddr_in() {
            v4.ip().into()
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            v6.ip().into()
        } else {
            continue;
        };
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => v6.is_unicast_link_local(),
        };
        if ip.is_loopback() || ip.is_unspecified() || link_local {
            continue;
        }
        let bridge = ["docker", "br-", "veth"]
            .iter()
            .any(|p| ifa.interface_name.starts_with(p));
        if !found.iter().any(|(_, _, seen)| *seen == ip) {
            found.push((bridge, ip.is_ipv6(), ip));
        }
    }
    found.sort_by_key(|(bridge, v6, _)| (*bridge, *v6));
    found.into_iter().map(|(_, _, ip)| ip).collect()
}
