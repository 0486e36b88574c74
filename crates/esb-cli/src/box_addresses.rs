//! The addresses other machines may reach this box by: every address of its network
//! interfaces but loopback. The box's server certificate covers them, so a worker on a
//! node trusts the box's HTTPS endpoints at whichever address the node joined with.

use std::net::IpAddr;

/// This machine's non-loopback interface addresses (IPv6 link-local ones left out: a
/// URL cannot name them without a zone), sorted, without duplicates.
pub fn interface_addresses() -> Vec<IpAddr> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut ips: Vec<IpAddr> = addrs
        .filter_map(|a| a.address)
        .filter_map(|a| {
            if let Some(v4) = a.as_sockaddr_in() {
                Some(IpAddr::V4(v4.ip()))
            } else {
                a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
            }
        })
        .filter(|ip| !ip.is_loopback() && !is_link_local_v6(ip) && !ip.is_unspecified())
        .collect();
    ips.sort();
    ips.dedup();
    ips
}

fn is_link_local_v6(ip: &IpAddr) -> bool {
    matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_link_local_addresses_are_left_out() {
        let ips = interface_addresses();
        assert!(ips.iter().all(|ip| !ip.is_loopback() && !is_link_local_v6(ip)));
        assert!(is_link_local_v6(&"fe80::1".parse().expect("ip")));
        assert!(!is_link_local_v6(&"fd00::2".parse().expect("ip")));
    }
}
