//! The box's own bridge network: every worker container of a box joins it, so boxes on
//! one daemon are isolated from each other, and its gateway address is how containers
//! reach the box's host. Docker picks a private subnet unless one is configured;
//! 172.50.0.0/16 is never used (reserved on the sites ESB runs at).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use esb_docker::bollard::Docker;
use esb_docker::bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use esb_docker::labels;

const RESERVED: (Ipv4Addr, u8) = (Ipv4Addr::new(172, 50, 0, 0), 16);

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("subnet {0:?} is not an IPv4 CIDR such as 10.88.0.0/24")]
    BadSubnet(String),
    #[error(
        "subnet {0} overlaps 172.50.0.0/16, which ESB never uses; choose another with --network-subnet"
    )]
    Reserved(String),
    #[error("a Docker network named {0} exists and does not belong to this box")]
    Taken(String),
    #[error("Docker network {name}: {detail}")]
    Docker { name: String, detail: String },
}

#[derive(Debug, Clone)]
pub struct BoxNetwork {
    pub name: String,
    /// The bridge's own address on the network: the box's host as containers see it.
    pub gateway: String,
    /// Whether this host has a route into the network (false under Docker Desktop,
    /// where containers live in a VM): then workers are reached via published ports.
    pub routable: bool,
}

/// The network `esb-<box>`, created on first use and reused after an agent restart.
pub async fn ensure(
    docker: &Docker,
    box_id: &str,
    subnet: Option<&str>,
) -> Result<BoxNetwork, NetworkError> {
    if let Some(s) = subnet {
        check_subnet(s)?;
    }
    let name = format!("esb-{box_id}");
    let docker_err = |e: esb_docker::bollard::errors::Error| NetworkError::Docker {
        name: name.clone(),
        detail: e.to_string(),
    };
    let existing = match docker.inspect_network(&name, None).await {
        Ok(n) => Some(n),
        Err(esb_docker::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => None,
        Err(e) => return Err(docker_err(e)),
    };
    let network = match existing {
        Some(n) => {
            let ours = n
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::BOX))
                .is_some_and(|b| b == box_id);
            if !ours {
                return Err(NetworkError::Taken(name));
            }
            n
        }
        None => {
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(HashMap::from([
                    (labels::MANAGED.to_string(), "true".to_string()),
                    (labels::BOX.to_string(), box_id.to_string()),
                ])),
                ipam: subnet.map(|s| Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(s.to_string()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            docker.create_network(request).await.map_err(docker_err)?;
            docker
                .inspect_network(&name, None)
                .await
                .map_err(docker_err)?
        }
    };
    let config = network
        .ipam
        .and_then(|i| i.config)
        .and_then(|c| {
            c.into_iter()
                .find(|c| c.subnet.as_deref().is_some_and(|s| s.contains('.')))
        })
        .unwrap_or_default();
    if let Some(s) = &config.subnet
        && let Err(e) = check_subnet(s)
    {
        // Docker chose it (its address pools were configured so): give it back.
        let _ = docker.remove_network(&name).await;
        return Err(e);
    }
    let gateway = config.gateway.ok_or_else(|| NetworkError::Docker {
        name: name.clone(),
        detail: "the network has no IPv4 gateway".into(),
    })?;
    let id = network.id.unwrap_or_default();
    let bridge = format!("/sys/class/net/br-{}", id.get(..12).unwrap_or(&id));
    Ok(BoxNetwork {
        name,
        gateway,
        routable: std::path::Path::new(&bridge).exists(),
    })
}

/// Removes the network (after its containers); a missing network is not an error.
pub async fn remove(docker: &Docker, name: &str) {
    match docker.remove_network(name).await {
        Ok(()) => {}
        Err(esb_docker::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => {}
        Err(e) => tracing::warn!("cannot remove Docker network {name}: {e}"),
    }
}

pub fn check_subnet(cidr: &str) -> Result<(), NetworkError> {
    let bad = || NetworkError::BadSubnet(cidr.to_string());
    let (addr, len) = cidr.split_once('/').ok_or_else(bad)?;
    let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len > 32 {
        return Err(bad());
    }
    let range = |a: Ipv4Addr, l: u8| {
        let size = 1u64 << (32 - u32::from(l));
        let start = u64::from(u32::from(a)) & !(size - 1);
        (start, start + size)
    };
    let (s1, e1) = range(addr, len);
    let (s2, e2) = range(RESERVED.0, RESERVED.1);
    if s1 < e2 && s2 < e1 {
        return Err(NetworkError::Reserved(cidr.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_checked_against_the_reserved_range() {
        assert!(check_subnet("10.88.0.0/24").is_ok());
        assert!(check_subnet("172.49.255.0/24").is_ok());
        assert!(matches!(
            check_subnet("172.50.3.0/24"),
            Err(NetworkError::Reserved(_))
        ));
        assert!(matches!(
            check_subnet("172.0.0.0/8"),
            Err(NetworkError::Reserved(_))
        ));
        assert!(matches!(
            check_subnet("10.0.0.0"),
            Err(NetworkError::BadSubnet(_))
        ));
        assert!(matches!(
            check_subnet("10.0.0.0/33"),
            Err(NetworkError::BadSubnet(_))
        ));
        assert!(matches!(
            check_subnet("x/8"),
            Err(NetworkError::BadSubnet(_))
        ));
    }
}
